"""Is a chain's memory lost in the vibrations or in the basins? The frames t = 0, lag, ..., K·lag of every trajectory
are minimised to their inherent structures (refine's L-BFGS, tight tolerance, no Brownian stage); per species the
one-step ⟨Δ²⟩ and step correlation c₁ = ⟨Δ_k·Δ_k+1⟩ / ⟨Δ²⟩ of the inherent structures' steps, beside those of the
frames themselves, for the MD and each chain (MD_DIR "-": the chains only).

    python experiments/chain-misses/is_steps.py MD_DIR LAG K CHAIN_DIR [CHAIN_DIR ...]
"""
import glob
import sys

import numpy as np
import torch

from glassgen.io.h5md import read_trajectory
from glassgen.md.refine import refine


def steps(folder, pattern, lag, k):
    trajs = [read_trajectory(p) for p in sorted(glob.glob(f"{folder}/{pattern}"))]
    sp, box = trajs[0].species, trajs[0].box
    x = np.stack([tr.positions[[tr.index_at(i * lag) for i in range(k + 1)]] for tr in trajs])  # (M, K+1, N, 3)
    m = x.shape[0]
    flat = x.reshape(-1, *x.shape[2:])
    inh, _ = refine(flat, sp, box, [0] * len(flat), min_steps=5000, fmax=0.01)
    return sp, np.diff(x, axis=1), np.diff(np.asarray(inh).reshape(m, k + 1, *x.shape[2:]), axis=1)


def stats(d, mask):
    d = d[:, :, mask]
    d2 = (d * d).sum(-1).mean()
    return d2, (d[:, :-1] * d[:, 1:]).sum(-1).mean() / d2


def main():
    torch.set_num_threads(1)
    md, lag, k, chains = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    print("| source | species | frames: ⟨d²⟩ | frames: c₁ | inherent structures: ⟨Δ²⟩ | inherent structures: c₁ |"
          "\n|---|---|---|---|---|---|")
    for name, folder, pattern in [("MD", md, "traj_0*.h5")] * (md != "-") + [(c.rstrip("/").split("/")[-1], c, "rollout_0*.h5")
                                                               for c in chains]:
        sp, d, di = steps(folder, pattern, lag, k)
        for s, label in ((0, "A"), (1, "B")):
            (a2, a1), (b2, b1) = stats(d, sp == s), stats(di, sp == s)
            print(f"| {name} | {label} | {a2:.4f} | {a1:+.3f} | {b2:.4f} | {b1:+.3f} |", flush=True)


if __name__ == "__main__":
    main()
