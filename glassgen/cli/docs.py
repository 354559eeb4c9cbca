"""docs/cli.md, the command-line reference, rendered from the Typer app itself.

    python -m glassgen.cli.docs docs/cli.md      # or no argument: print to stdout

Every command's docstring, usage, arguments and options (with defaults) come from the app, so the page
cannot drift from the code: tests/test_cli_docs.py checks that the committed docs/cli.md equals this output.
Only the parameters' own attributes are read (names, help, default, required, flag), not a help screen
formatted for a terminal, so the page does not depend on the terminal's width or on rich.
"""
from __future__ import annotations

import sys
from pathlib import Path

HEADER = """# Command-line reference

Generated from the command-line app by `python -m glassgen.cli.docs docs/cli.md` (do not edit by hand;
`tests/test_cli_docs.py` fails when this page and the app differ). What each command is for, with examples,
is in the topic pages linked from the [README](../README.md); `glassgen COMMAND --help` prints the same text.
"""


def _cell(text) -> str:
    """One markdown table cell: a single line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _type_name(param) -> str:
    typ = getattr(param, "type_descriptor", None)  # typer keeps the annotation
    annotation = getattr(typ, "annotation", None)
    if annotation is not None:
        import typing

        if typing.get_args(annotation):  # list[Path], Optional[float]: the written form
            return str(annotation).replace("pathlib.", "").replace("typing.", "")
        return getattr(annotation, "__name__", str(annotation))
    click_type = getattr(param, "type", None)
    return getattr(click_type, "name", "") or ""


def _default(param) -> str:
    if getattr(param, "is_flag", False):
        return "off" if not param.default else "on"
    if param.required or param.default is None or callable(param.default):
        return "–"
    value = param.default
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "–"
    return f"`{value}`"


def _usage(name: str, command) -> str:
    parts = [f"glassgen {name}", "[OPTIONS]"]
    for p in command.params:
        if type(p).__name__.endswith("Argument") and not p.hidden:
            word = p.name.upper() + ("..." if p.nargs == -1 else "")
            parts.append(word if p.required else f"[{word}]")
    return " ".join(parts)


def _param_row(param) -> str:
    names = ", ".join(f"`{o}`" for o in list(param.opts) + list(param.secondary_opts))
    if type(param).__name__.endswith("Argument"):
        names = f"`{param.name.upper()}`" + (" (one or more)" if param.nargs == -1 else "")
    kind = "" if getattr(param, "is_flag", False) else _type_name(param)
    if getattr(param, "multiple", False):
        kind += ", repeatable"
    need = "required" if param.required else _default(param)
    return f"| {names} | {_cell(kind)} | {need} | {_cell(getattr(param, 'help', '') or '')} |"


def _help(cmd) -> str:
    """A command's help as ``--help`` shows it: the docstring up to a ``\\f`` (Click's cut; notes for developers
    follow it)."""
    return (cmd.help or "").split("\f", 1)[0]


def render() -> str:
    """The markdown page for every command of ``glassgen.cli.app.app``, in the order they are registered."""
    import typer.main

    from glassgen.cli.app import app

    group = typer.main.get_command(app)
    commands = {name: cmd for name, cmd in group.commands.items() if not cmd.hidden}
    out = [HEADER, f"{_cell(group.help)}", "", "| command | what it does |", "|---|---|"]
    out += [f"| [`glassgen {n}`](#glassgen-{n}) | {_cell(_help(c))} |" for n, c in commands.items()]
    out += ["", "`glassgen --version` prints the version."]
    for name, cmd in commands.items():
        out += ["", f"## glassgen {name}", "", " ".join(_help(cmd).split()), "", "```", _usage(name, cmd), "```"]
        params = [p for p in cmd.params if not p.hidden]
        if params:
            out += ["", "| argument / option | type | default | meaning |", "|---|---|---|---|"]
            out += [_param_row(p) for p in params]
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if not argv:
        sys.stdout.write(text)
        return
    from glassgen.core.atomic import atomic_path

    with atomic_path(Path(argv[0])) as tmp:
        Path(tmp).write_text(text)


if __name__ == "__main__":
    main()
