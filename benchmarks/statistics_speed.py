"""Time the full statistics set on an ensemble (32 runs × 4096 particles × 10 lags) and a
4096-particle trajectory of 1000 frames, and a whole ``evaluate`` of each against a twin.

    python benchmarks/statistics_speed.py [--runs 32 --particles 4096 --lags 10 --frames 1000]

Synthetic KA-like data (perturbed simple-cubic lattice at density 1.2, 80:20 species,
caged vibrations plus spatially varying hops), so nothing needs downloading. Prints wall
and CPU seconds (the machine may be shared: CPU time is the load-independent figure) and the
peak resident memory.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glassgen.system.data import Ensemble, Trajectory  # noqa: E402
from glassgen.io.h5md import write_ensemble, write_trajectory  # noqa: E402
from glassgen.stats.evaluate import evaluate, statistics  # noqa: E402


def lattice(n, seed):
    rng = np.random.default_rng(seed)
    m = round(n ** (1 / 3))
    a = (n / 1.2) ** (1 / 3) / m
    g = (np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * a
    species = rng.permutation(np.r_[np.zeros(round(0.8 * n), int), np.ones(n - round(0.8 * n), int)])
    return g + rng.normal(0, 0.05, g.shape), species, m * a


def displacements(rng, x0, box, shape, t):
    rate = 0.01 * (1.1 + np.sin(2 * np.pi * x0[:, 0] / box))
    hops = rng.poisson(rate * t, shape[:-1])
    return 0.1 * rng.normal(size=shape) + rng.normal(size=shape) * np.sqrt(hops)[..., None] * 0.6


def make_ensemble(runs, n, lags, seed):
    rng = np.random.default_rng(seed)
    x0, species, box = lattice(n, 0)
    times = np.geomspace(1, 1000, lags)
    pos = np.stack([x0 + displacements(rng, x0, box, (runs, n, 3), t) for t in times], axis=1)
    return Ensemble(species, [box] * 3, x0, times, pos)


def make_trajectory(frames, n, seed):
    rng = np.random.default_rng(seed)
    x0, species, box = lattice(n, 0)
    walk = np.cumsum(rng.normal(0, 0.03, (frames, n, 3)), axis=0)
    return Trajectory(species, [box] * 3, np.arange(frames, dtype=float), x0 + walk + 0.05 * rng.normal(size=(frames, n, 3)))


def timed(fn):
    """Run fn → (result, wall s, CPU s, peak MiB of numpy/python allocations made inside fn)."""
    tracemalloc.start()
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    w, c = time.perf_counter() - w, time.process_time() - c
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, w, c, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=32)
    ap.add_argument("--particles", type=int, default=4096)
    ap.add_argument("--lags", type=int, default=10)
    ap.add_argument("--frames", type=int, default=1000)
    args = ap.parse_args()
    rows = []
    statistics(make_ensemble(2, 512, 2, 0))  # warm-up: module imports and first-call costs stay out of the timings
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ens = make_ensemble(args.runs, args.particles, args.lags, 1)
        _, w, c, m = timed(lambda: statistics(ens))
        rows.append((f"ensemble {args.runs} runs × {args.particles} × {args.lags} lags", "statistics set", w, c, m))
        write_ensemble(tmp / "gen.h5", ens)
        write_ensemble(tmp / "ref.h5", make_ensemble(args.runs, args.particles, args.lags, 2))
        del ens
        _, w, c, m = timed(lambda: evaluate(tmp / "gen.h5", tmp / "ref.h5", tmp / "ev_ens", progress=False))
        rows.append(("  same vs a twin", "evaluate (+splits, bootstrap, plots)", w, c, m))
        traj = make_trajectory(args.frames, args.particles, 3)
        _, w, c, m = timed(lambda: statistics(traj))
        rows.append((f"trajectory {args.particles} × {args.frames} frames", "statistics set", w, c, m))
        write_trajectory(tmp / "gen_t.h5", traj)
        write_trajectory(tmp / "ref_t.h5", make_trajectory(args.frames, args.particles, 4))
        del traj
        _, w, c, m = timed(lambda: evaluate(tmp / "gen_t.h5", tmp / "ref_t.h5", tmp / "ev_traj", progress=False))
        rows.append(("  same vs a twin", "evaluate (+splits, bootstrap, plots)", w, c, m))
    print(f"{'data':<44}{'what':<38}{'wall [s]':>9}{'CPU [s]':>9}{'peak MiB':>10}")
    for r in rows:
        print(f"{r[0]:<44}{r[1]:<38}{r[2]:>9.1f}{r[3]:>9.1f}{r[4]:>10.0f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak MiB: allocations made inside the timed call (tracemalloc), the input data excluded; "
          f"process peak resident memory {rss:.0f} MiB (includes building the synthetic data); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall time inflates when the machine is shared)")


if __name__ == "__main__":
    main()
