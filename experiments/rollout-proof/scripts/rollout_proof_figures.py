"""Figures and tables of the rollout proof in experiments/rollout-proof/record.md (after experiments/rollout-proof/rollout_proof.sh).

    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/rollout_proof_figures.py [RUNS_DIR] [ROLLOUT_FOLDER]

ROLLOUT_FOLDER defaults to proof-T0.6-rollout-geom-quench (experiments/rollout-proof/rollout_proof.sh's default output).

(a) calibration: the 12 training MD trajectories against the 16 independent ones (MD vs MD, on the
    5-LJ block grid); (b) the rollout against the 16 independent MD trajectories.
Writes experiments/rollout-proof/figures/rollout_md_vs_md.png, experiments/rollout-proof/figures/rollout_proof.png and prints both tables.
"""
import shutil
import sys
import tempfile
from pathlib import Path

from glassgen.io.h5md import read_folder
from glassgen.stats.longtime import compare, write_report

runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
rollout_dir = runs / (sys.argv[2] if len(sys.argv) > 2 else "proof-T0.6-rollout-geom-quench")
fig = Path(__file__).resolve().parents[1] / "figures"
test = read_folder(runs / "proof-T0.6-test")
cases = [("rollout_md_vs_md.png", read_folder(runs / "proof-T0.6-train"), ("MD, training set", "MD, independent"))]
if rollout_dir.is_dir():
    cases.append(("rollout_proof.png", read_folder(rollout_dir), ("rollout", "MD, independent")))
for name, gen, labels in cases:
    res = compare(gen, test, t_min=5.0)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(res, tmp, labels)
        shutil.copy(Path(tmp) / "longtime.png", fig / name)
        print(f"## {name}\n" + (Path(tmp) / "longtime.md").read_text())
