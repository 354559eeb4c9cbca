"""Depth and cost of refine's minimiser against LAMMPS's conjugate gradient on the same raw draws.

For each mode: E_pot/N after, the largest force left, the RMS move, iterations and wall time (all draws
together for torch, one by one for LAMMPS, one thread).

    python experiments/lbfgs-refine/depth.py 'RUNS/raw06_*.h5' cg lbfgs:200:1 lbfgs:1000:0.1
"""
import glob
import sys
import time

import numpy as np
import torch

from glassgen.io.h5md import read_trajectory
from glassgen.md.refine import ka_energy_forces, refine
from glassgen.md.relax import RelaxConfig, Relaxer


def last_frame(path):
    t = read_trajectory(path)
    return t.positions[-1], t.species, t.box


def report(name, y, x, sp, box, wall, extra=""):
    e, f = ka_energy_forces(y, sp, box)
    fmax = np.linalg.norm(f, axis=-1).max(axis=1)
    rms = np.sqrt(((y - x) ** 2).sum(-1).mean(1))
    print(f"| {name} | {' '.join(f'{v:.4f}' for v in e / x.shape[1])} | {' '.join(f'{v:.3g}' for v in fmax)} "
          f"| {' '.join(f'{v:.3f}' for v in rms)} | {extra} | {wall:.2f} |", flush=True)


def main():
    torch.set_num_threads(1)
    frames = [last_frame(p) for p in sorted(glob.glob(sys.argv[1]))]
    x = np.stack([f[0] for f in frames])
    sp, box = frames[0][1], frames[0][2]
    print(f"{len(x)} draws: {sys.argv[1]}")
    print("| minimiser | E_pot/N after | largest force left (ε/σ) | RMS move (σ) | iterations | wall (s) |")
    print("|---|---|---|---|---|---|")
    report("raw draw", x, x, sp, box, 0.0)
    for mode in sys.argv[2:]:
        t0 = time.perf_counter()
        if mode == "cg":  # the quench's first stage: 200 CG iterations, LAMMPS, one configuration per call
            with Relaxer(RelaxConfig(kind="minimize", max_iterations=200), sp, box) as r:
                y = np.stack([r.relax(xj, 1) for xj in x])
            report("LAMMPS CG, 200 iterations", y, x, sp, box, time.perf_counter() - t0, "200")
        else:
            _, budget, fmax = mode.split(":")
            y, reps = refine(x, sp, box, [1] * len(x), min_steps=int(budget), fmax=float(fmax))
            report(f"L-BFGS ≤ {budget}, fmax {fmax}", y, x, sp, box, time.perf_counter() - t0,
                   " ".join(str(r["min_steps"]) for r in reps))


if __name__ == "__main__":
    main()
