"""One inherent-structure step against MD (experiments/rollout-proof/record.md, "Inherent-structure chain"): from the inherent
structures y(t0) of reference trajectories 0-7 (t0 = 50, 100; runs/proof-T0.6-test-is from `glassgen inherent`),
with the MD history h = y(t0) - y(t0 - 5), the mean squared step per species of
(a) MD's IS step y(t0 + 5) - y(t0),
(b) one model draw from y(t0) reading h, before and after the chain's minimisation (CG, 1000 iterations),
(c) MD's IS step plus Gaussian noise of the draw's error size, minimised: whether a minimisation returns a
    noisy but right step to MD's basin, or to the start.
The fraction of particles whose minimised position is within 0.1 sigma of MD's y(t0 + 5) is printed too.

    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/is_step.py runs/flow-proof-T0.6-is/best.safetensors [NOISE] [ODE_STEPS]
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
noise = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
ode_steps = int(sys.argv[3]) if len(sys.argv) > 3 else 8
acc = {}
for f in range(8):
    t = read_trajectory(f"runs/proof-T0.6-test-is/traj_{f:03d}.h5")
    sp, box = t.species, t.box
    times = list(np.round(t.times, 6))
    with Relaxer(RelaxConfig(kind="minimize", when="always", max_iterations=1000), sp, box) as r:
        for t0 in (50.0, 100.0):
            i0, ip, inx = times.index(t0), times.index(t0 - 5), times.index(t0 + 5)
            y0, target = t.positions[i0], t.positions[inx]
            h = y0 - t.positions[ip]
            d, _ = sample(m, Snapshot(sp, box, fold(y0, box)[0]), 5.0, 1, method="heun", ode_steps=ode_steps, seed=f,
                          previous=h)
            noisy = target + np.random.default_rng(f).normal(0, noise / np.sqrt(3), target.shape)
            parts = {"MD IS step": target, "draw (raw)": y0 + d[0], "draw, minimised": r.relax(y0 + d[0]),
                     f"MD step + noise {noise:g}, minimised": r.relax(noisy)}
            for name, y in parts.items():
                for s in (0, 1):
                    k = sp == s
                    acc.setdefault((name, s), []).append((np.sum((y - y0)[k] ** 2, 1).mean(),
                                                          np.mean(np.linalg.norm((y - target)[k], axis=1) < 0.1)))
print(f"{'':32s} {'<step2> A':>10s} {'B':>7s} {'at MD IS A':>11s} {'B':>6s}")
for name in dict.fromkeys(n for n, _ in acc):
    a = [np.mean(acc[(name, s)], 0) for s in (0, 1)]
    print(f"{name:32s} {a[0][0]:10.4f} {a[1][0]:7.4f} {a[0][1]:11.3f} {a[1][1]:6.3f}")
