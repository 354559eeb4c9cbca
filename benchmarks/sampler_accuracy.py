"""Accuracy against NFE for every sampler, on 8 samples of one configuration; wall time per sample.

For each method and number of flow-time steps, the same 8 noise draws are integrated.
Columns: NFE; solver error = RMS difference of the displacements from a tight dopri5
solution of the same noise (pure integration error, LJ σ); Pearson of the 8-sample
propensity with the 32-run MD propensity (type A); |F_s,A(q=7.25) − F_s,MD|; W₁ of |Δr|
(8 generated vs 8 MD runs); wall seconds per generated sample (N = 4096).

Run: PYTHONPATH=. python benchmarks/sampler_accuracy.py CKPT [--config 9] [--steps 1,2,4,8,16,32]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flow_metrics as fm  # noqa: E402

from glassgen.flow.model import load_model  # noqa: E402
from glassgen.sampling.sample import load_snapshot, sample  # noqa: E402
from glassgen.sampling.solvers import SolverConfig  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--config", type=int, default=9)
    ap.add_argument("--lag", type=float, default=4120.0)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--steps", default="1,2,4,8,16,32")
    ap.add_argument("--methods", default="euler,midpoint,heun,rk4,euler_maruyama,dopri5")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--ref-tol", type=float, default=1e-5, help="rtol = atol of the dopri5 reference")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    path = DATA / f"isoconfig_N4096T0.44_{a.config}_tc07.npz"
    snap = load_snapshot(path)
    z = np.load(path)
    md = z["positions"] - z["initial_positions"][None]
    md -= md.mean(axis=1, keepdims=True)
    sp = snap.species
    model = load_model(a.checkpoint)
    print(f"config {a.config}, N = {snap.n_particles}, {a.n} samples, torch threads {torch.get_num_threads()}")
    t = time.perf_counter()
    ref, ref_nfe = sample(model, snap, a.lag, a.n, SolverConfig("dopri5", 1, rtol=a.ref_tol, atol=a.ref_tol), seed=0,
                          force=True)  # the benchmark picks its configuration
    print(f"reference: dopri5 rtol=atol={a.ref_tol:g}, NFE {ref_nfe}, {time.perf_counter() - t:.1f} s")
    prop_md, fs_md = fm.propensity(md), fm.fs(md, sp)
    print(f"MD: F_s,A = {fs_md:.3f}, W1 floor (8 vs 8 runs) = {fm.w1(md[:8], md[8:16], sp):.4f}, "
          f"Pearson of 8-run vs 32-run propensity = {fm.pearson_a(fm.propensity(md[:8]), prop_md, sp):.3f}")
    print(f"{'method':<15}{'steps':>6}{'NFE':>6}{'solver err':>12}{'Pearson':>9}{'|ΔF_s|':>8}{'W1':>8}{'s/sample':>10}")
    for method in a.methods.split(","):
        for steps in ([1] if method == "dopri5" else [int(s) for s in a.steps.split(",")]):
            kw = {"rtol": 1e-3, "atol": 1e-3} if method == "dopri5" else {}
            t = time.perf_counter()
            d, nfe = sample(model, snap, a.lag, a.n, SolverConfig(method, steps, **kw), seed=0, force=True)
            wall = (time.perf_counter() - t) / a.n
            err = float(np.sqrt(np.mean((d - ref) ** 2)))
            print(f"{method:<15}{steps if method != 'dopri5' else 'tol':>6}{nfe:>6}{err:>12.4f}"
                  f"{fm.pearson_a(fm.propensity(d), prop_md, sp):>9.3f}{abs(fm.fs(d, sp) - fs_md):>8.3f}"
                  f"{fm.w1(d, md[: a.n], sp):>8.4f}{wall:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
