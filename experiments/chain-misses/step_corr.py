"""Memory of successive chain steps, per species: where a chain's long-time MSD excess comes from when its
one-step MSD is right.

For each trajectory the frames at t = k·LAG (k = 0 … K) give steps d_k = x_{k+1} − x_k. Printed per species,
averaged over particles and trajectories: the one-step MSD ⟨d_k²⟩, the correlation of successive steps
⟨d_k·d_{k+1}⟩ / ⟨d_k²⟩ (negative: the cage pulls a particle back), the same two steps apart, and the MSD over
10 steps. MSD(10 steps) ≈ 10 ⟨d²⟩ (1 + 2 c₁ + …), so a too-weak back-correlation alone makes the long-time MSD
too large. MD and chain files are read the same way (the frame nearest each k·LAG).

    python experiments/chain-misses/step_corr.py MD_DIR LAG K CHAIN_DIR ...
"""
import glob
import sys

import numpy as np

from glassgen.core.errors import InputError
from glassgen.io.h5md import read_trajectory


def step_stats(paths: list[str], lag: float, k: int) -> dict[int, np.ndarray]:
    """species -> (one-step MSD, c1, c2, MSD over 10 steps), means over trajectories."""
    per = {0: [], 1: []}
    for p in paths:
        tr = read_trajectory(p)
        idx = [tr.index_at(j * lag) for j in range(k + 1)]  # refuses a chain shorter than K steps
        x = tr.positions[idx]
        d = np.diff(x, axis=0)
        for s in per:
            ds, xs = d[:, tr.species == s], x[:, tr.species == s]
            msd1 = (ds ** 2).sum(-1).mean()
            per[s].append((msd1, (ds[:-1] * ds[1:]).sum(-1).mean() / msd1,
                           (ds[:-2] * ds[2:]).sum(-1).mean() / msd1, ((xs[10:] - xs[:-10]) ** 2).sum(-1).mean()))
    return {s: np.mean(v, axis=0) for s, v in per.items()}


def main():
    md, lag, k, chains = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    print(f"| source | species | ⟨d²⟩ (one step of {lag:g}) | c₁ = ⟨d_k·d_k+1⟩/⟨d²⟩ | c₂ | MSD over 10 steps |")
    print("|---|---|---|---|---|---|")
    for name, paths in [("MD", sorted(glob.glob(f"{md}/traj_0*.h5")))] + [
            (c.rstrip("/").split("/")[-1], sorted(glob.glob(f"{c}/rollout_0*.h5"))) for c in chains]:
        for s, (m1, c1, c2, m10) in step_stats(paths, lag, k).items():
            print(f"| {name} | {'AB'[s]} | {m1:.4f} | {c1:+.3f} | {c2:+.3f} | {m10:.4f} |")


if __name__ == "__main__":
    try:
        main()
    except InputError as e:  # a chain shorter than K steps: one line, not a traceback
        sys.exit(f"step_corr.py: {e}")
