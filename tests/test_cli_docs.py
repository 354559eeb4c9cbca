"""docs/cli.md is the command-line app rendered by glassgen.cli.docs: regenerate it when a command changes."""
from pathlib import Path

from glassgen.cli.docs import render

ROOT = Path(__file__).resolve().parents[1]


def test_committed_cli_reference_is_the_generators_output():
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == render(), "docs/cli.md is stale: run `python -m glassgen.cli.docs docs/cli.md`"


def test_every_command_and_option_is_on_the_page():
    import typer.main

    from glassgen.cli.app import app

    page = render()
    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        assert f"## glassgen {name}\n" in page
        for p in cmd.params:
            for opt in p.opts:
                if opt.startswith("-"):
                    assert f"`{opt}`" in page, f"{name}: {opt} missing"


def test_generator_writes_the_file(tmp_path):
    from glassgen.cli.docs import main

    main([str(tmp_path / "cli.md")])
    assert (tmp_path / "cli.md").read_text() == render()
