"""Seconds per chain step of a rollout of M trajectories: all advanced together (batched) or one at a time.

A chain step advances every one of the M trajectories by one draw. Two tables, from one run:

1. **rollout**: :func:`glassgen.chain.rollout.rollout` with the shipped model's step function, everything a step
   costs included (graph build, encoder, ODE sampler, KA monitors of every trajectory, H5MD output), with
   ``batch_trajectories`` = M (batched: one network call per ODE step for all M) against 1 (one at a time,
   as glassgen did before batching). ``--relax none`` and no redraws (``max_resample = 0``), so that the
   step is the model's cost alone; a relaxation adds its own cost per trajectory (``refine`` batched too).
2. **draw only**: the sampler alone, M configurations in one disjoint graph
   (:func:`glassgen.sampling.batch.draw_batch`) against M calls of one; beside them M samples of *one*
   configuration on its one graph (:func:`glassgen.sampling.sample.draw`), the iso-configurational batch
   dimension: a batch dimension over M different graphs would need per-sample edge lists (padding, gathers)
   and cannot be cheaper, so this column bounds what that design could gain over the disjoint graph.

Starts are synthetic: M simple-cubic lattices of N = 1000 particles at density 1.2 (species 80:20 in random
order), each jittered by its own Gaussian noise of 0.05 σ. A lattice at this density has as many neighbours
within the model's cutoff as the liquid (18 within 1.5 σ), so the graphs, hence the costs, are the liquid's.
Repeats alternate batched and one at a time; medians are printed.

    nice -n 15 python benchmarks/rollout_batch.py [--checkpoint flow-proof-T0.6-sig] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from glassgen.chain.rollout import RolloutConfig, rollout, step_seed
from glassgen.sampling.batch import draw_batch
from glassgen.sampling.models import load_model
from glassgen.sampling.sample import draw, step_function
from glassgen.sampling.solvers import SolverConfig
from glassgen.system import ka
from glassgen.system.data import Snapshot

SEED = 1


def lattice_starts(m: int, n_side: int = 10, seed: int = 0) -> list[Snapshot]:
    """m jittered simple-cubic lattices of n_side³ KA particles at density 1.2 (one species order for all)."""
    n = n_side ** 3
    edge = ka.box_edge(n)
    g = (np.arange(n_side) + 0.5) * edge / n_side
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    rng = np.random.default_rng(seed)
    species = rng.permutation((np.arange(n) >= ka.n_species_a(n)).astype(np.int64))
    return [Snapshot(species, np.full(3, edge), (x + rng.normal(0, 0.05, x.shape)) % edge) for _ in range(m)]


def rollout_seconds(step, snaps, batch, lag, steps, workdir) -> tuple[float, float]:
    """(wall, CPU) seconds per chain step of a rollout of len(snaps) trajectories, ``batch`` advanced together.

    A chain step is timed from the first draw of step k to the first draw of step k + 1 (so it holds all of
    step k: draws, monitors, output), for k = 2 .. steps + 1: the first step (files, first calls) is not timed.
    """
    marks = {step_seed(SEED, k, 0): k for k in range(2, steps + 3)}
    times = {}

    def timed(positions, lag, seeds, *history):
        if seeds[0] in marks:
            times[marks[seeds[0]]] = (time.perf_counter(), time.process_time())
        return step(positions, lag, seeds, *history)

    timed.history, timed.memory = step.history, step.memory
    kw = dict(lag=lag, n_trajectories=len(snaps), seed=SEED, max_resample=0, batch_trajectories=batch)
    rollout(timed, snaps, RolloutConfig(steps=steps + 2, **kw), Path(tempfile.mkdtemp(dir=workdir)) / "chain.h5",
            progress=False)
    first, last = times[2], times[steps + 2]
    return (last[0] - first[0]) / steps, (last[1] - first[1]) / steps


def draw_seconds(model, snaps, lag, solver, how: str, prev) -> tuple[float, float]:
    """(wall, CPU) seconds of the draws of one chain step: ``together``, ``alone`` (one call each) or ``shared``
    (M samples of the first configuration on its one graph)."""
    sp, box, m = snaps[0].species, snaps[0].box, len(snaps)
    x = np.stack([s.positions for s in snaps])
    t0, c0 = time.perf_counter(), time.process_time()
    if how == "together":
        draw_batch(model, sp, box, x, lag, solver, list(range(m)), prev)
    elif how == "alone":
        for j in range(m):
            draw_batch(model, sp, box, x[j:j + 1], lag, solver, [j], None if prev is None else prev[j:j + 1])
    else:
        draw(model, snaps[0], lag, m, solver, 0, prev, None, 1.0, None, None)
    return time.perf_counter() - t0, time.process_time() - c0


def median(runs, i: int) -> float:
    return statistics.median(r[i] for r in runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="flow-proof-T0.6-sig", help="flow model: shipped name or checkpoint path")
    p.add_argument("--trajectories", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--lag", type=float, default=None, help="default: the checkpoint's validated lag")
    p.add_argument("--steps", type=int, default=2, help="timed chain steps per rollout (after an untimed first)")
    p.add_argument("--repeats", type=int, default=3, help="batched / one-at-a-time pairs (alternating; medians)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = load_model(a.checkpoint)
    d = model.checkpoint["defaults"].get("rollout", {})
    lag = a.lag or d.get("lag", 5.0)
    solver = SolverConfig(d.get("method", "heun"), d.get("ode_steps", 8))
    load0 = os.getloadavg()
    roll, draws = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in a.trajectories:
            snaps = lattice_starts(m)
            step = step_function(model, snaps[0].species, snaps[0].box, solver)
            prev = np.random.default_rng(2).normal(0, 0.1, (m, len(snaps[0].species), 3)) if model.history else None
            draw_seconds(model, snaps[:1], lag, solver, "together", None if prev is None else prev[:1])  # first call
            for k in range(a.repeats):
                for how in (("together", "alone", "shared") if k % 2 == 0 else ("shared", "alone", "together")):
                    draws.setdefault((m, how), []).append(draw_seconds(model, snaps, lag, solver, how, prev))
                for batch in ((m, 1) if k % 2 == 0 else (1, m)):
                    roll.setdefault((m, batch), []).append(rollout_seconds(step, snaps, batch, lag, a.steps, tmp))
    load1 = os.getloadavg()
    n = len(lattice_starts(1)[0].species)
    print(f"model {a.checkpoint} ({model.checkpoint['path']}); N = {n} (synthetic jittered lattices); lag {lag:g}; "
          f"{solver.method} × {solver.ode_steps} ODE steps; --relax none, max_resample 0; torch threads {a.threads}; "
          f"{a.repeats} repeats alternating, medians; load average {load0[0]:.1f} before, {load1[0]:.1f} after; "
          f"{os.cpu_count()} CPUs; MALLOC_MMAP_THRESHOLD_ {os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}")
    for i, clock in enumerate(("wall-clock", "CPU (process time)")):
        print(f"\nrollout, {clock}: seconds per chain step (all M trajectories advance once)")
        print(f"{'M':>4} {'one at a time':>14} {'batched':>9} {'one / batched':>14} {'batched per trajectory':>23}")
        for m in a.trajectories:
            one, together = median(roll[(m, 1)], i), median(roll[(m, m)], i)
            print(f"{m:>4} {one:>14.3f} {together:>9.3f} {one / together:>14.2f} {together / m:>23.3f}")
        print(f"\ndraw only, {clock}: seconds of one chain step's draws")
        print(f"{'M':>4} {'M calls of 1':>13} {'disjoint M':>11} {'one / batched':>14} {'M samples, 1 graph':>19} "
              f"{'disjoint / 1 graph':>19}")
        for m in a.trajectories:
            one, tog, shared = (median(draws[(m, h)], i) for h in ("alone", "together", "shared"))
            print(f"{m:>4} {one:>13.3f} {tog:>11.3f} {one / tog:>14.2f} {shared:>19.3f} {tog / shared:>19.2f}")


if __name__ == "__main__":
    main()
