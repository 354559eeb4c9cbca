"""One model draw against MD as a function of the lag, raw and between inherent structures (experiments/rollout-proof/record.md,
"Species B and chemical order"): from the first frame of reference trajectories 0-7 at T = 0.6, MSD_A and MSD_B
of one draw (heun x 8) at each lag, and of the inherent structures (CG minimisation) of start and end; MD at the
lags its frames have. Tells whether a model's draws grow with the lag between its training lags, which
`--relax-counts` relies on (each draw is then of lag - relax time).

    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/draw_vs_lag.py runs/flow-proof-T0.6-sig/best.safetensors 2.11 3 4 5
"""
import sys

import numpy as np

from glassgen import read_trajectory
from glassgen.system.data import Snapshot
from glassgen.flow.model import load_model
from glassgen.sampling.sample import sample
from glassgen.system.pbc import fold
from glassgen.md.relax import RelaxConfig, Relaxer

m = load_model(sys.argv[1])
lags = [float(a) for a in sys.argv[2:]]
res = {}
for f in range(8):
    t = read_trajectory(f"runs/proof-T0.6-test/traj_{f:03d}.h5")
    x0 = fold(t.positions[0], t.box)[0]
    sp = t.species
    times = list(np.round(t.times, 6))
    ms = lambda d: np.array([np.mean(np.sum(d[sp == s] ** 2, -1)) for s in (0, 1)])
    with Relaxer(RelaxConfig(kind="minimize", when="always"), sp, t.box) as r:
        is0 = r.relax(x0)
        for lag in lags:
            if round(lag, 6) in times:
                d = t.positions[times.index(round(lag, 6))] - t.positions[0]
                res.setdefault(("MD", lag), []).append(np.r_[ms(d), ms(r.relax(x0 + d) - is0)])
            d, _ = sample(m, Snapshot(sp, t.box, x0), lag, 1, method="heun", ode_steps=8, seed=f)
            res.setdefault(("draw", lag), []).append(np.r_[ms(d[0]), ms(r.relax(x0 + d[0]) - is0)])
print(f"{'':5s} {'lag':>5s} {'MSD_A':>7s} {'MSD_B':>7s} {'IS A':>7s} {'IS B':>7s}")
for (who, lag), v in sorted(res.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    a = np.mean(v, 0)
    print(f"{who:5s} {lag:5.2f} {a[0]:7.4f} {a[1]:7.4f} {a[2]:7.4f} {a[3]:7.4f}", flush=True)
