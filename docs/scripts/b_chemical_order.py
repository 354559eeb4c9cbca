"""B-B contacts and inherent-structure energy of one model draw against MD (docs/rollout.md, "Species B and chemical order").

From the first frame of reference trajectories 0-7 at T = 0.6: monitors of the MD frame, of MD at t = 5 and of one
draw of lag 5 (heun x 8), each also after CG minimisation (inherent structure), and B-B pairs within 1.15 per B.

    OMP_NUM_THREADS=1 python docs/scripts/b_chemical_order.py runs/flow-proof-T0.6-sig/best.safetensors
"""
import numpy as np
from glassgen import read_trajectory
from glassgen.relax import RelaxConfig, Relaxer
from glassgen.flow.sample import sample
from glassgen.flow.model import load_model
from glassgen.data import Snapshot
from glassgen.pbc import fold
from glassgen.monitors import monitors
import sys
m = load_model(sys.argv[1])
res = {}
add = lambda k, v: res.setdefault(k, []).append(v)
for f in range(8):
    t = read_trajectory(f"runs/proof-T0.6-test/traj_{f:03d}.h5")
    x0 = fold(t.positions[0], t.box)[0]; sp = t.species
    i = list(np.round(t.times, 6)).index(5.0); x5 = x0 + t.positions[i] - t.positions[0]
    d, _ = sample(m, Snapshot(sp, t.box, x0), 5.0, 1, method="heun", ode_steps=8, seed=f)
    x1 = x0 + d[0]
    with Relaxer(RelaxConfig(kind="minimize", when="always"), sp, t.box) as r:
        for name, x in (("MD t=0", x0), ("MD t=5", x5), ("draw", x1)):
            add(name + " IS", monitors(r.relax(x), sp, t.box))
            if name != "draw": add(name, monitors(x, sp, t.box))
    # count BB pairs within 1.1 (first shell) per B
    for name, x in (("MD t=0", x0), ("draw", x1)):
        xb = x[sp == 1]; L = t.box[0]
        dd = xb[:, None] - xb[None]; dd -= L * np.round(dd / L); r = np.sqrt((dd ** 2).sum(-1)); np.fill_diagonal(r, 9)
        add(name + " zBB<1.15", {"z": (r < 1.15).sum(1).mean()})
for k, v in res.items():
    print(f"{k:16s}", " ".join(f"{c} {np.mean([x[c] for x in v]):.3f}" for c in v[0] if c in ("e_pot", "gpeak_AA", "gpeak_AB", "gpeak_BB", "z")))
