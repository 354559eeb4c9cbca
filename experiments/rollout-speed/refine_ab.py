"""A/B of `refine` itself: the same raw draws refined with the checkpoint's budget by whichever glassgen is on
PYTHONPATH, so two commits can be timed side by side in one shell loop. Reads the step-1 frames of a
`glassgen rollout --relax none --steps 1` directory (M trajectories, refined together as a rollout does).

    PYTHONPATH=TREE python experiments/rollout-speed/refine_ab.py LABEL ROLLOUT_DIR T BROWNIAN_STEPS [THREADS]

Prints the wall time, the L-BFGS iterations summed over the batch, the pair-list rebuild events and a digest of
the refined positions (equal digests: bit-identical results).
"""
import glob
import hashlib
import sys
import time

import numpy as np
import torch

from glassgen.io.h5md import read_trajectory
from glassgen.md.refine import refine


def main():
    label, folder, temperature, steps = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 2)
    frames = [read_trajectory(p) for p in sorted(glob.glob(folder + "/*_0*.h5"))]
    x = np.stack([t.positions[1] for t in frames])
    start = time.perf_counter()
    y, reports = refine(x, frames[0].species, frames[0].box, list(range(len(x))), min_steps=200,
                        brownian_steps=steps, temperature=temperature, h=5e-4)
    wall = time.perf_counter() - start
    digest = hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()[:12]
    print(f"| {label} | {folder} | {len(x)} | {steps} | {wall:.1f} | {sum(r['min_steps'] for r in reports)} | "
          f"{reports[0]['builds']} | {digest} |", flush=True)


if __name__ == "__main__":
    main()
