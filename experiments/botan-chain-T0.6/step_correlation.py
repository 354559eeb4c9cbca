"""Correlation of successive lag-τ moves, per species: c = <Δ_k · Δ_{k+1}> / <|Δ_k|²> over particles, steps k
and trajectories (c < 0: a move is partly undone by the next one). MD frames are taken τ apart from t = 0.

    python experiments/botan-chain-T0.6/step_correlation.py --lag 5 --md runs/report-T0.6-long \
        --chains runs/botan-chain-T0.6/sig-report runs/botan-chain-T0.6/sig-rerun-report
"""
import argparse
import glob

import numpy as np

from glassgen.io.h5md import read_trajectory


def moves(path, lag):
    """Successive lag-τ moves (K, N, D) of one trajectory's unwrapped frames at t = 0, τ, 2τ, ..., and its species."""
    traj = read_trajectory(path)
    k = np.rint(traj.times / lag)
    on_grid = np.flatnonzero(np.abs(traj.times - k * lag) <= 1e-6 * lag)
    steps, first = np.unique(k[on_grid], return_index=True)
    if not np.array_equal(steps, np.arange(steps.size)):
        raise SystemExit(f"{path}: frames are not every {lag:g} from t = 0")
    idx = on_grid[first]
    return np.diff(traj.positions[idx], axis=0), traj.species


def correlation(files, lag):
    num, den = {}, {}
    for p in files:
        d, s = moves(p, lag)
        for a in np.unique(s):
            da = d[:, s == a]
            num[a] = num.get(a, 0.0) + float((da[:-1] * da[1:]).sum())
            den[a] = den.get(a, 0.0) + float((da[:-1] ** 2).sum())
    return {int(a): num[a] / den[a] for a in num}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lag", type=float, required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--chains", nargs="+", default=[])
    a = ap.parse_args()
    print("| source | c_A | c_B |\n|---|---|---|")
    for name, files in [(a.md, sorted(glob.glob(f"{a.md}/traj_*.h5")))] + \
                       [(c, sorted(glob.glob(f"{c}/rollout_*.h5"))) for c in a.chains]:
        c = correlation(files, a.lag)
        print(f"| {name} | {c[0]:+.3f} | {c[1]:+.3f} |")


if __name__ == "__main__":
    main()
