"""Is the raw draw's width deficit in the cage escapes, and does a heavy-tailed prior restore them? One raw draw
(no history, no relaxation) from each MD trajectory's t = 0 frame, with the prior noise of a random share p of
the particles multiplied by k (a two-point scale mixture; p = 0 is the checkpoint's Gaussian prior), on top of
the checkpoint's noise scale. Prints, per species, MSD, the share of particles moved beyond R, MSD of the rest
(the in-cage part), alpha_2, and the Pearson correlation of the draws' |dr|^2 with MD's own step from the same
start; beside MD's step over the same lag from every origin.

    python experiments/chain-misses/tail_prior.py CHECKPOINT MD_DIR R P1:K1,P2:K2,... [--draws 2] [--lag L] [--noise-scale C]
"""
import argparse
import glob

import numpy as np
import torch

from glassgen.core.checkpoint import read_checkpoint, resolve
from glassgen.flow import paths
from glassgen.io.h5md import read_trajectory
from glassgen.sampling import sample as sample_mod
from glassgen.sampling.models import load_model
from glassgen.sampling.solvers import SolverConfig
from glassgen.system.data import Snapshot
from md_energy_mobility import origins  # this folder's script: every origin t0 = k·lag of a trajectory

_ORIGINAL = paths.draw_prior


def mixture_prior(p: float, k: float):
    """draw_prior with the noise of a random share p of the particles (per sample) scaled by k."""
    def draw_prior(scale, shape, generator=None, mass=None):
        x = _ORIGINAL(scale, shape, generator, mass)
        if p == 0:
            return x
        u = paths.draws(torch.rand, (*shape[:-1], 1), generator, scale.device, scale.dtype)
        return paths.remove_com(x * torch.where(u < p, k, 1.0), mass)
    return draw_prior


def stats(dr: np.ndarray, ref: np.ndarray | None, mask, r_cut: float) -> str:
    r2 = np.einsum("...d,...d->...", dr, dr)[..., mask]                 # (S, N_a)
    msd, m4 = r2.mean(), (r2 ** 2).mean()
    far = r2 > r_cut ** 2
    a2 = 3 * m4 / (5 * msd ** 2) - 1
    line = f"MSD {msd:.4f} | beyond {far.mean():.4f} | MSD in cage {r2[~far].mean():.4f} | alpha2 {a2:.2f}"
    if ref is not None:
        rr = np.einsum("...d,...d->...", ref, ref)[..., mask]
        c = np.mean([np.corrcoef(r2[s::len(rr)].mean(0), rr[s])[0, 1] for s in range(len(rr))])
        line += f" | Pearson with MD {c:.3f}"
    return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt"), ap.add_argument("md_dir"), ap.add_argument("r_cut", type=float), ap.add_argument("trials")
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--lag", type=float, help="for a checkpoint without rollout defaults (a fit's best.safetensors)")
    ap.add_argument("--noise-scale", help="c, or cA,cB, instead of the checkpoint's (1 without defaults)")
    a = ap.parse_args()
    model = load_model(a.ckpt)
    rollout = read_checkpoint(resolve(a.ckpt))[1].get("defaults", {}).get("rollout", {})
    lag = a.lag if a.lag is not None else float(rollout["lag"])
    c = [float(v) for v in a.noise_scale.split(",")] if a.noise_scale else rollout.get("noise_scale", 1.0)
    solver = SolverConfig(method=rollout.get("method", "heun"), ode_steps=int(rollout.get("ode_steps", 8)))
    md = [read_trajectory(p) for p in sorted(glob.glob(a.md_dir + "/traj_0*.h5"))]
    sp = md[0].species
    first = np.stack([t.positions[t.index_at(lag)] - t.positions[0] for t in md])
    every = np.stack([d for t in md for _, d in origins(t, lag)])
    print(f"{a.ckpt}, lag {lag:g}, noise scale {c}, {solver.method} x {solver.ode_steps}, {a.draws} draws per start")
    for s, name in ((0, "A"), (1, "B")):
        print(f"MD {name}, every origin ({len(every)} steps): {stats(every, None, sp == s, a.r_cut)}")
        print(f"MD {name}, origin 0: {stats(first, None, sp == s, a.r_cut)}")
    for trial in a.trials.split(","):
        p, k = (float(v) for v in trial.split(":"))
        sample_mod.paths.draw_prior = mixture_prior(p, k)
        dr = []
        for d in range(a.draws):
            for j, t in enumerate(md):
                snap = Snapshot(sp, t.box, t.positions[0], dict(t.meta))
                dr.append(sample_mod.sample(model, snap, lag, 1, solver, seed=7 + j + 1000 * d, noise_scale=c)[0][0])
        sample_mod.paths.draw_prior = _ORIGINAL
        dr = np.stack(dr)
        for s, name in ((0, "A"), (1, "B")):
            print(f"p {p:g} k {k:g} {name}: {stats(dr, first, sp == s, a.r_cut)}", flush=True)


if __name__ == "__main__":
    main()
