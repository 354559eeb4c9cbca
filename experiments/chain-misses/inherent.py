"""Inherent-structure energies of chain frames against MD frames at the same times: is an energy miss thermal
(the relaxation's) or structural (the basins the draws land in)?

Every trajectory's frame at each given time is minimised with refine's L-BFGS to a tight force tolerance
(no Brownian stage), all frames of one source together, one thread.

    python experiments/chain-misses/inherent.py CHAIN_DIR MD_DIR 700 1400
"""
import glob
import sys

import numpy as np
import torch

from glassgen.io.h5md import read_trajectory
from glassgen.md.refine import refine


def frames(trajs, t):
    """The frame at time t of every trajectory (each file is read once, by main)."""
    out = []
    for tr in trajs:
        out.append(tr.positions[tr.index_at(t)])
    return np.stack(out), trajs[0].species, trajs[0].box


def main():
    torch.set_num_threads(1)
    chain, md, times = sys.argv[1], sys.argv[2], [float(v) for v in sys.argv[3:]]
    print("| source | t | frames | E_pot/N (mean ± s.d.) | E_IS/N (mean ± s.d.) | L-BFGS iterations (median) |")
    print("|---|---|---|---|---|---|")
    for name, folder, pattern in (("MD", md, "traj_0*.h5"), ("chain", chain, "rollout_0*.h5")):
        trajs = [read_trajectory(p) for p in sorted(glob.glob(f"{folder}/{pattern}"))]
        for t in times:
            x, sp, box = frames(trajs, t)
            _, reps = refine(x, sp, box, [0] * len(x), min_steps=5000, fmax=0.01)
            e0 = np.array([r["e_start"] for r in reps])  # per particle
            e1 = np.array([r["e_end"] for r in reps])
            its = np.median([r["min_steps"] for r in reps])
            print(f"| {name} | {t:g} | {len(x)} | {e0.mean():.4f} ± {e0.std():.4f} | {e1.mean():.4f} ± {e1.std():.4f} "
                  f"| {its:g} |", flush=True)


if __name__ == "__main__":
    main()
