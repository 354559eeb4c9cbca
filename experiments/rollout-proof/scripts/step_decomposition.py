"""Where species B's excess motion enters a corrected chain (experiments/rollout-proof/record.md, "Species B and chemical order"):
a rollout as in the proof (lag 5, --relax quench --relax-time 2.0, --history draw, --max-resample 0) from the first
frames of reference trajectories 0-3, splitting every step x_{k+1} - x_k into the model's draw and the
correction's displacement, per species, early and late in the chain; MD's own 5-LJ steps beside it.

    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/step_decomposition.py runs/flow-proof-T0.6-sig/best.safetensors /tmp/decomp
"""
import sys
from pathlib import Path

import numpy as np

from glassgen import read_trajectory
from glassgen.system.data import Snapshot
from glassgen.sampling.sample import step_function
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.chain.rollout import RolloutConfig, rollout

ckpt, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
md = [read_trajectory(f"runs/proof-T0.6-test/traj_{f:03d}.h5") for f in range(4)]
sp, box = md[0].species, md[0].box
starts = [Snapshot(sp, box, t.positions[0], {"T": 0.6}) for t in md]
inner = step_function(ckpt, sp, box, method="heun", ode_steps=8)
draws = []  # (M,N,3) per step, in chain order


def step_fn(positions, lag, seeds, previous=None):
    d = inner(positions, lag, seeds, previous)
    draws.append(d.copy())
    return d


step_fn.history = inner.history
cfg = RolloutConfig(steps=30, lag=5.0, n_trajectories=4, seed=0, max_resample=0, history="draw")
with Relaxer(RelaxConfig(kind="quench", when="always", temperature=0.6, time=2.0), sp, box) as r:
    files = rollout(step_fn, starts, cfg, out / "r.h5", progress=False, relax=r)
x = np.stack([read_trajectory(f).positions for f in files], 1)  # (K+1, M, N, 3) unwrapped
step = np.diff(x, axis=0)
drawn = np.stack(draws)
corr = step - drawn
ms = lambda d, s: float(np.mean(np.sum(d[..., sp == s, :] ** 2, -1)))
dot = lambda a, b, s: float(np.mean(np.sum(a[..., sp == s, :] * b[..., sp == s, :], -1)))
print(f"{'steps':10s} {'sp':2s} {'draw':>7s} {'corr':>7s} {'2 d.c':>7s} {'step':>7s}")
for lo, hi in ((0, 1), (1, 5), (5, 15), (15, 30)):
    for s, name in ((0, "A"), (1, "B")):
        sl = slice(lo, hi)
        print(f"{lo:2d}-{hi - 1:2d}      {name:2s} {ms(drawn[sl], s):7.4f} {ms(corr[sl], s):7.4f} "
              f"{2 * dot(drawn[sl], corr[sl], s):7.4f} {ms(step[sl], s):7.4f}")
times = np.round(md[0].times, 6)
blocks = [list(times).index(5.0 * k) for k in range(31)]
for s, name in ((0, "A"), (1, "B")):
    d = np.concatenate([np.diff(t.positions[blocks], axis=0) for t in md])
    print(f"MD 5-LJ step {name}: {ms(d, s):.4f}")
# Long-time MSD = n <step^2> + 2 sum_m (n - m) <step_k . step_{k+m}>: the back-flow (negative correlation of
# successive steps) decides it as much as the step size does.
print(f"{'correlation / <step^2>':34s} {'A':>7s} {'B':>7s}")
late = slice(5, None)
for m in (1, 2, 3):
    row = [np.mean([dot(step[k], step[k + m], s) for k in range(5, 30 - m)]) / ms(step[late], s) for s in (0, 1)]
    print(f"rollout step_k . step_k+{m}            {row[0]:7.3f} {row[1]:7.3f}")
    mdrow = []
    for s in (0, 1):
        d = np.stack([np.diff(t.positions[blocks], axis=0) for t in md], 1)  # (30, M, N, 3)
        mdrow.append(np.mean([dot(d[k], d[k + m], s) for k in range(5, 30 - m)]) / ms(d[late], s))
    print(f"MD      step_k . step_k+{m}            {mdrow[0]:7.3f} {mdrow[1]:7.3f}")
for name, a, b in (("draw_k+1 . step_k", drawn[6:], step[5:-1]), ("draw_k+1 . draw_k", drawn[6:], drawn[5:-1]),
                   ("corr_k+1 . step_k", corr[6:], step[5:-1]), ("corr_k+1 . draw_k+1", corr[6:], drawn[6:])):
    print(f"rollout {name:26s} {dot(a, b, 0) / ms(step[late], 0):7.3f} {dot(a, b, 1) / ms(step[late], 1):7.3f}")
