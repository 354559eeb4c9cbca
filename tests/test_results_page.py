"""docs/results.md is generated from the records in experiments/ (experiments/make_results.py)."""
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _render() -> str:
    return runpy.run_path(str(ROOT / "experiments" / "make_results.py"))["render"]()


def test_committed_results_page_is_the_generators_output():
    committed = (ROOT / "docs" / "results.md").read_text()
    assert committed == _render(), "docs/results.md is stale: run `python experiments/make_results.py > docs/results.md`"


def test_proof_verdict_table_is_the_recorded_script_output():
    recorded = (ROOT / "experiments" / "rollout-proof" / "verdict.md").read_text()
    table = recorded.split("<!-- proof_verdict.py output -->")[1].split("<!-- end -->")[0].strip()
    lines = table.splitlines()
    assert lines[0].startswith("| criterion |") and lines[-1].startswith("| rows passed |")
    criteria = runpy.run_path(str(ROOT / "experiments" / "rollout-proof" / "scripts" / "proof_verdict.py"))["CRITERIA"]
    assert len(lines) == 2 + len(criteria) + 1  # header, rule, one row per criterion of the script, rows passed
    assert [l.split(" | ")[0][2:] for l in lines[2:-1]] == [name for name, _ in criteria]
    assert table in (ROOT / "docs" / "results.md").read_text()


def test_every_record_row_names_a_command_and_its_record():
    page = (ROOT / "docs" / "results.md").read_text()
    rows = [l for l in page.splitlines() if l.startswith("| ") and "](../experiments/" in l]
    assert len(rows) >= 10
    for row in rows:
        cells = row.split(" | ")
        assert cells[3].strip(), row  # command
        link = row.split("](../experiments/")[1].split(")")[0]
        assert (ROOT / "experiments" / link).is_file(), link


def test_no_record_field_is_cut_by_a_yaml_comment():
    """An unquoted ' #' starts a YAML comment: 'every row (issue #28)' would silently become 'every row (issue'."""
    import yaml

    for path in sorted((ROOT / "experiments").glob("*/results.yaml")):
        text = path.read_text()
        flat = " ".join(" ".join(str(v).split()) for v in _scalars(yaml.safe_load(text)))
        for line in text.splitlines():
            if " #" in line and not line.lstrip().startswith("#"):
                tail = " ".join(line.split(" #", 1)[1].split()).rstrip("\"'")
                assert tail and tail in flat, f"{path.relative_to(ROOT)}: '{line.strip()}' loses '#{tail}' to a YAML comment"


def _scalars(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _scalars(v)
    elif isinstance(node, list):
        for v in node:
            yield from _scalars(v)
    else:
        yield node
