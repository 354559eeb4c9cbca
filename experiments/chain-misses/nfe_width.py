"""Is the raw draw's width deficit the ODE solver's? One raw draw (no history, c = 1, no relaxation) from each MD
trajectory's t = 0 frame at several solver budgets; F_s,A, MSD_A and MSD_B of the draws and the wall time.

    python experiments/chain-misses/nfe_width.py CHECKPOINT MD_DIR LAG K1,K2,... [METHOD]
"""
import glob
import sys
import time

import numpy as np

from glassgen.io.h5md import read_trajectory
from glassgen.sampling.models import load_model
from glassgen.sampling.sample import sample
from glassgen.sampling.solvers import SolverConfig
from glassgen.stats.dynamics import fs_samples, msd_samples
from glassgen.system.data import Snapshot


def main():
    ckpt, md_dir, lag = sys.argv[1], sys.argv[2], float(sys.argv[3])
    budgets = [int(k) for k in sys.argv[4].split(",")]
    method = sys.argv[5] if len(sys.argv) > 5 else "heun"
    model = load_model(ckpt)
    md = [read_trajectory(p) for p in sorted(glob.glob(md_dir + "/traj_0*.h5"))]
    sp = md[0].species
    for k in budgets:
        start, dr = time.time(), []
        for j, tr in enumerate(md):
            snap = Snapshot(sp, tr.box, tr.positions[0], dict(tr.meta))
            d, nfe = sample(model, snap, lag, 1, SolverConfig(method=method, ode_steps=k), seed=7 + j)
            dr.append(d[0])
        dr = np.stack(dr)
        print(f"{method} x {k} ({nfe} evaluations): F_s,A {fs_samples(dr, mask=sp == 0).mean():.4f} "
              f"MSD_A {msd_samples(dr, mask=sp == 0).mean():.4f} MSD_B {msd_samples(dr, mask=sp == 1).mean():.4f} "
              f"({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
