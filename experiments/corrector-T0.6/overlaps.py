"""Pairs above 5 ε per configuration and E_pot/N: MD frames, MD frames with Gaussian noise of width w, raw draws of
a chain model, and those draws after a learned corrector (issue #28, "Raw draws before correction").

    python experiments/corrector-T0.6/overlaps.py --md ../runs/validation-T0.6/traj_00*.h5 \
        [--model flow-proof-T0.6-sig --lag 5 --draws 4] [--corrector CKPT --passes 1 2 --settings euler 1 0]
        [--noise 0.05 0.1 0.2]
--settings METHOD ODE_STEPS NOISE_SCALE replaces the corrector checkpoint's own sampler settings (to choose them);
--starts W ... (fixed-level correctors) the width each walk down the levels starts from, one row set per width.
Prints one table row per source: configurations, mean/max pairs above 5 ε, share with none, mean E_pot/N.
"""
from __future__ import annotations

import argparse

import numpy as np

import glassgen
from glassgen.system import ka
from glassgen.system.pbc import fold, neighbour_graph


def hot_pairs(x, species, box, energy=5.0) -> int:
    g = neighbour_graph(fold(x, box)[0], box, 1.0)
    src, dst = g["edge_index"]
    keep = src < dst
    e = ka.pair_energy(g["edge_len"][keep], species[src[keep]], species[dst[keep]])
    return int(np.sum(e > energy))


def row(name, configs, species, box):
    pairs = np.array([hot_pairs(x, species, box) for x in configs])
    e = np.array([ka.mean_energy(fold(x, box)[0], species, box) for x in configs])
    print(f"| {name} | {len(configs)} | {pairs.mean():.2f} | {pairs.max()} | {np.mean(pairs == 0):.1%} | "
          f"{np.median(e):.4g} | {np.mean(e[pairs == 0]) if (pairs == 0).any() else float('nan'):.4f} |", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--md", nargs="+", required=True)
    p.add_argument("--every", type=int, default=10, help="use every k-th frame of each MD file")
    p.add_argument("--noise", type=float, nargs="*", default=[])
    p.add_argument("--model")
    p.add_argument("--lag", type=float, default=5.0)
    p.add_argument("--draws", type=int, default=2)
    p.add_argument("--corrector")
    p.add_argument("--passes", type=int, nargs="*", default=[1])
    p.add_argument("--starts", type=float, nargs="*", default=[None])
    p.add_argument("--settings", nargs=3, action="append", default=[], metavar=("METHOD", "ODE_STEPS", "NOISE"))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    frames, rng = [], np.random.default_rng(a.seed)
    for f in a.md:
        t = glassgen.read(f)
        frames += [t.frame(i) for i in range(0, len(t.times), a.every)]
    sp, box = frames[0].species, frames[0].box
    print(f"{len(frames)} MD frames from {len(a.md)} files\n")
    print("| source | configurations | pairs > 5 ε (mean) | max | share with none | median E_pot/N | mean E_pot/N (none) |")
    print("|---|---|---|---|---|---|---|")
    row("MD", [s.positions for s in frames], sp, box)
    for w in a.noise:
        row(f"MD + noise {w:g}", [s.positions + w * rng.standard_normal(s.positions.shape) for s in frames], sp, box)
    if not a.model:
        return
    from glassgen.sampling.sample import step_function
    from glassgen.sampling.solvers import SolverConfig
    from glassgen.sampling.sample import _as_model

    model = _as_model(a.model)
    step = step_function(model, sp, box, SolverConfig(**{k: v for k, v in model.checkpoint["defaults"]["sample"].items()
                                                          if k in ("method", "ode_steps")}))
    starts = np.stack([fold(s.positions, box)[0] for s in frames])
    raw = []
    for d in range(a.draws):
        seeds = [int(a.seed * 1000003 + d * 10007 + i) for i in range(len(starts))]
        raw.append(starts + step(starts, a.lag, seeds))
    raw = np.concatenate(raw)
    row(f"raw draws {a.model} lag {a.lag:g}", raw, sp, box)
    if not a.corrector:
        return
    from glassgen.md.relax import RelaxConfig
    from glassgen.sampling.corrector import Corrector

    for (method, ode, noise), start in ((m, w) for m in a.settings or [(None, None, None)] for w in a.starts):
        c = Corrector(RelaxConfig(kind="learned", when="always", corrector=a.corrector, passes=1), sp, box, model)
        if method:
            c.step = step_function(c.model, sp, box, SolverConfig(method, int(ode)), noise_scale=float(noise))
        if start is not None:
            c.levels = [w for w in sorted(set(c.model.checkpoint["info"]["denoise"]["levels"]), reverse=True)
                        if w <= start + 1e-9]
        name = f"corrector {method or 'own'} {ode or ''} noise {noise or ''} levels {','.join(f'{w:g}' for w in c.levels)}"
        x = raw.copy()
        for k in range(1, max(a.passes) + 1):
            x = c.relax_batch(x, [int(a.seed * 7919 + k * 104729 + i) for i in range(len(x))])
            if k in a.passes:
                row(f"{name} × {k}", x, sp, box)
        y = c.relax_batch(np.stack([s.positions for s in frames]), list(range(len(frames))))
        row(f"MD after {name} × 1", y, sp, box)

if __name__ == "__main__":
    main()
