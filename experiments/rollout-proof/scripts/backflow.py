"""Back-flow of one draw against MD (experiments/rollout-proof/record.md, "Species B and chemical order"): from MD frames x(t0) of
reference trajectories 0-7 (t0 = 50, 100) with the MD history h = x(t0) - x(t0 - 5), the correlation
<next step . h> / <h^2> per species of (a) MD's next step x(t0 + 5) - x(t0), (b) one model draw from x(t0)
reading h, (c) the proof's correction (quench + 2 LJ Langevin at T = 0.6) of x(t0), then a draw from the
corrected frame reading h (the chain's situation), split into its correction and draw parts. An optional
second argument is the history guidance w of the draws (glassgen.sampling.sample; 1 = the model as trained).

    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/backflow.py runs/flow-proof-T0.6-sig/best.safetensors [W]
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
w = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
acc = {}
for f in range(8):
    t = read_trajectory(f"runs/proof-T0.6-test/traj_{f:03d}.h5")
    sp, box = t.species, t.box
    times = list(np.round(t.times, 6))
    with Relaxer(RelaxConfig(kind="quench", when="always", temperature=0.6, time=2.0), sp, box) as r:
        for t0 in (50.0, 100.0):
            i0, ip, inx = times.index(t0), times.index(t0 - 5), times.index(t0 + 5)
            x0 = t.positions[i0]
            h = x0 - t.positions[ip]
            parts = {"MD next step": t.positions[inx] - x0}
            d, _ = sample(m, Snapshot(sp, box, fold(x0, box)[0]), 5.0, 1, method="heun", ode_steps=8, seed=f,
                          previous=h, history_guidance=w)
            parts["draw from x(t0)"] = d[0]
            y = r.relax(x0, 1000 + f)
            d2, _ = sample(m, Snapshot(sp, box, fold(y, box)[0]), 5.0, 1, method="heun", ode_steps=8, seed=f,
                           previous=h, history_guidance=w)
            parts["corrected: correction"] = y - x0
            parts["corrected: draw"] = d2[0]
            parts["corrected: total"] = y - x0 + d2[0]
            for name, v in parts.items():
                for s in (0, 1):
                    k = sp == s
                    acc.setdefault((name, s), []).append((np.sum(v[k] * h[k], 1).mean(), np.sum(h[k] ** 2, 1).mean(),
                                                          np.sum(v[k] ** 2, 1).mean()))
print(f"{'':24s} {'<v.h>/<h2> A':>13s} {'B':>7s} {'<v2> A':>8s} {'B':>7s}")
for name in dict.fromkeys(n for n, _ in acc):
    a = [np.mean(acc[(name, s)], 0) for s in (0, 1)]
    print(f"{name:24s} {a[0][0] / a[0][1]:13.3f} {a[1][0] / a[1][1]:7.3f} {a[0][2]:8.4f} {a[1][2]:7.4f}")
