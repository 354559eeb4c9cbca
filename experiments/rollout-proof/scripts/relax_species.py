"""Where the species-B excess of corrected rollouts comes from (experiments/rollout-proof/record.md, "Species B").

From the first frame of reference trajectories 0-3 at T = 0.6: MSD per species of MD at t = 5, of the quench + 2.0
correction applied to the MD frame itself, of one model draw of lag 5, and of that draw after the correction.

    OMP_NUM_THREADS=2 python experiments/rollout-proof/scripts/relax_species.py [CHECKPOINT]   # default runs/flow-proof-T0.6-hist/best.safetensors
    (needs runs/proof-T0.6-test; the draw is a first step: no history)
"""
import sys

import numpy as np
from glassgen import read_trajectory
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.sampling.sample import sample
from glassgen.flow.model import load_model
from glassgen.system.data import Snapshot
from glassgen.system.ka import mean_energy
from glassgen.system.pbc import fold
m = load_model(sys.argv[1] if len(sys.argv) > 1 else "runs/flow-proof-T0.6-hist/best.safetensors")
out = {k: [] for k in ("md5", "relax_md", "draw", "draw_relax")}
energy = {"md5": [], "draw": []}  # E_pot/N of MD at t = 5 and of the raw draw
for f in range(4):
    t = read_trajectory(f"runs/proof-T0.6-test/traj_{f:03d}.h5")
    i = list(np.round(t.times, 6)).index(5.0)
    x0, x5 = t.positions[0], t.positions[i]
    sp = t.species
    ms = lambda d: [np.mean(np.sum(d[sp == s] ** 2, -1)) for s in (0, 1)]
    out["md5"].append(ms(x5 - x0))
    with Relaxer(RelaxConfig(kind="quench", when="always", time=2.0, temperature=0.6), sp, t.box) as r:
        xr = r.relax(fold(x0, t.box)[0], 7 + f)
        out["relax_md"].append(ms(xr - fold(x0, t.box)[0]))
        d, _ = sample(m, Snapshot(sp, t.box, x0), 5.0, 1, method="heun", ode_steps=8, seed=f)
        out["draw"].append(ms(d[0]))
        x1 = fold(x0, t.box)[0] + d[0]
        energy["md5"].append(mean_energy(x5, sp, t.box))
        energy["draw"].append(mean_energy(x1, sp, t.box))
        xr1 = r.relax(x1, 100 + f)
        out["draw_relax"].append(ms(xr1 - fold(x0, t.box)[0]))
for k, v in out.items():
    a = np.mean(v, 0)
    print(f"{k:12s} MSD_A {a[0]:.4f} MSD_B {a[1]:.4f} B/A {a[1]/a[0]:.2f}")
print("E_pot/N of MD at t = 5 {:.3f}, of the raw draw {:.3f}".format(*(np.mean(energy[k]) for k in ("md5", "draw"))))
