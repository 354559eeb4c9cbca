"""Joint structure of one generated step against MD: do neighbours keep their distance?

From the first frame of each MD trajectory in a folder, one displacement field of lag τ is
drawn from the model and compared with what MD did over the same τ from the same start.
Columns, mean over starts: pairs with KA pair energy > 5 ε after the step (per
configuration; MD has none), potential energy per particle, minimum AA distance, the
standard deviation of Δ|r_ij| over initial neighbour pairs (r < 1.35), and MSD_A.
A model that gets every particle's own law right but moves neighbours independently
passes MSD and fails the first three columns.

Run: PYTHONPATH=. python benchmarks/joint_structure.py CKPT [CKPT ...] --md runs/proof-T0.6-test --lag 5
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from glassgen import Snapshot
from glassgen.system import ka
from glassgen.sampling.sample import sample
from glassgen.sampling.solvers import SolverConfig
from glassgen.sampling.defaults import ODE_STEPS
from glassgen.io.h5md import read_trajectory
from glassgen.system.pbc import neighbour_graph
from glassgen.stats.lags import lag_pairs

R_NEIGHBOUR = 1.35


def row(species, box, x0, disp):
    """Joint-structure numbers of one configuration x0 moved by disp (N,3)."""
    g = neighbour_graph(x0 + disp, box, float(ka.CUTOFF.max()))
    src, dst = g["edge_index"]
    e = ka.pair_energy(g["edge_len"], species[src], species[dst])
    half = src < dst
    aa = (species[src] == 0) & (species[dst] == 0)
    g0 = neighbour_graph(x0, box, R_NEIGHBOUR)
    s0, d0 = g0["edge_index"]
    dr = np.linalg.norm(g0["edge_vec"] + disp[d0] - disp[s0], axis=-1) - g0["edge_len"]
    a = species == 0
    e_pot = ka.energy_per_particle(x0 + disp, species, box, graph=g).mean()
    return {"hot_pairs": int((e[half] > 5.0).sum()), "e_pot": float(e_pot),
            "rmin_AA": float(g["edge_len"][aa].min()), "std_dr": float(dr.std()),
            "msd_A": float((disp[a] ** 2).sum(-1).mean())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--md", required=True, help="folder of MD trajectories (H5MD) of the same state point")
    ap.add_argument("--lag", type=float, default=5.0)
    ap.add_argument("--starts", type=int, default=8)
    ap.add_argument("--method", default="heun")
    ap.add_argument("--ode-steps", type=int, default=ODE_STEPS)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    files = sorted(Path(a.md).glob("*.h5"))[: a.starts]
    starts = []
    for f in files:
        tr = read_trajectory(f)
        i, j = lag_pairs(tr.times, a.lag)
        k = int(np.flatnonzero(i == 0)[0])
        starts.append((tr, tr.positions[0], tr.positions[j[k]] - tr.positions[0]))
    tables = {"MD": [row(tr.species, tr.box, x0, d) for tr, x0, d in starts]}
    seconds = {"MD": float("nan")}
    for ck in a.checkpoints:
        t0, rows = time.perf_counter(), []
        for n, (tr, x0, _) in enumerate(starts):
            d, _ = sample(ck, Snapshot(tr.species, tr.box, x0), a.lag, 1, SolverConfig(a.method, a.ode_steps),
                          seed=n, force=True)  # MD frames of the model's own state point
            rows.append(row(tr.species, tr.box, x0, d[0]))
        tables[Path(ck).parent.name] = rows
        seconds[Path(ck).parent.name] = time.perf_counter() - t0
    keys = list(tables["MD"][0])
    print(f"lag {a.lag:g}, {len(starts)} starts from {a.md}, {a.method} x {a.ode_steps}; mean (min-max) per start")
    print("| source | " + " | ".join(keys) + " | s |")
    print("|---" * (len(keys) + 2) + "|")
    for name, rows in tables.items():
        cells = []
        for k in keys:
            v = np.array([r[k] for r in rows], dtype=float)
            cells.append(f"{v.mean():.4g} ({v.min():.3g}-{v.max():.3g})")
        print(f"| {name} | " + " | ".join(cells) + f" | {seconds[name]:.1f} |")


if __name__ == "__main__":
    main()
