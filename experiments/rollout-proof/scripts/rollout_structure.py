"""Structure of the last frames of a rollout against the last frames of MD (docs/rollout.md, "Against the training data").

The monitors of glassgen.stats.monitors (energy, minimum distances, g_ab first peaks) on the final frame of each of the
16 rollouts and of the 16 reference MD trajectories, mean ± std over trajectories.

    python experiments/rollout-proof/scripts/rollout_structure.py [ROLLOUT_DIR] [MD_DIR]
    # default: runs/proof-T0.6-rollout-hist-quench2.0-historydraw runs/proof-T0.6-test
"""
import sys
from pathlib import Path

import numpy as np

from glassgen import read_trajectory
from glassgen.stats.monitors import NAMES, monitors

roll = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/proof-T0.6-rollout-hist-quench2.0-historydraw")
md = Path(sys.argv[2] if len(sys.argv) > 2 else "runs/proof-T0.6-test")
rows = {name: [read_trajectory(f) for f in files]
        for name, files in (("MD", sorted(md.glob("traj_0*.h5"))), ("rollout", sorted(roll.glob("rollout_0*.h5"))))}
t_end = min(t.times[-1] for t in rows["rollout"])
print(f"{'monitor':16s} {'MD (t = %g)' % t_end:>22s} {'rollout':>22s}")
vals = {}
for name, items in rows.items():
    vals[name] = []
    for t in items:
        i = int(np.argmin(np.abs(t.times - t_end)))
        vals[name].append(monitors(t.positions[i], t.species, t.box))
for k in NAMES:
    cells = [f"{np.mean([r[k] for r in vals[n]]):.3f} ± {np.std([r[k] for r in vals[n]]):.3f}" for n in ("MD", "rollout")]
    print(f"{k:16s} {cells[0]:>22s} {cells[1]:>22s}")
