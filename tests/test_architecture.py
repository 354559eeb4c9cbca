"""The pipeline's layering (docs/architecture.md), checked by import-linter as CI runs it."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports")
needs_linter = pytest.mark.skipif(LINT is None, reason="import-linter not installed (it is in the test extra)")


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(pythonpath), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


@needs_linter
def test_layers_contract_is_kept():
    res = _lint(ROOT, ROOT)
    assert res.returncode == 0, res.stdout[-2000:]
    assert "0 broken" in res.stdout and "KEPT" in res.stdout


@needs_linter
def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    """The contract has teeth: a lazy import from a lower stage into a higher one is reported."""
    shutil.copytree(ROOT / "glassgen", tmp_path / "glassgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    pbc = tmp_path / "glassgen" / "system" / "pbc.py"
    pbc.write_text(pbc.read_text() + "\n\ndef _upward():\n    from glassgen.flow import model  # noqa: F401\n")
    res = _lint(tmp_path, tmp_path)
    assert res.returncode != 0
    assert "glassgen.system.pbc" in res.stdout and "BROKEN" in res.stdout
