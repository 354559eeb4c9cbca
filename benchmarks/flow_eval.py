"""The generative model against MD on held-out configurations (issue 6, "Done means").

For each configuration: propensity Pearson (type A) of the mean over n generated samples vs
the 32-run MD propensity; Pearson of BOTAN's edge target (AA pairs, r0 < 1.35) from the
generated ensemble vs MD; F_s,A(q = 7.25) and α₂ generated vs MD; W₁ of |Δr_A| between 16
generated samples and 16 MD runs, next to the MD floor (two 16-run halves); potential energy
per particle and minimum pair distances of generated vs MD final configurations; quantiles of
|Δr_A| (16 generated samples, the 32 MD runs) and MSD_A.

Run: PYTHONPATH=. python benchmarks/flow_eval.py CKPT --configs 9 10 --n 128 --method heun --ode-steps 8
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flow_metrics as fm  # noqa: E402

from glassgen.flow import paths  # noqa: E402
from glassgen.flow.model import load_model  # noqa: E402
from glassgen.sampling.sample import load_snapshot, sample  # noqa: E402
from glassgen.sampling.solvers import SolverConfig  # noqa: E402
from glassgen.sampling.defaults import ODE_STEPS  # noqa: E402
from glassgen.system.ka import mean_energy, min_pair_distances  # noqa: E402
from glassgen.system.pbc import neighbour_graph  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"


@torch.no_grad()
def prior_draws(model, snap, lag, n, seed):
    """n draws of the model's prior for this snapshot (what the flow starts from), float64 (n,N,D)."""
    emb = model.embed(model.graph(snap.species, snap.positions, snap.box))
    scale = model.prior_scale(emb, float(lag))
    gen = torch.Generator().manual_seed(seed)
    return paths.draw_prior(scale.expand(n, -1, -1), (n,) + snap.positions.shape, gen).double().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--configs", type=int, nargs="+", default=[9, 10])
    ap.add_argument("--lag", type=float, default=4120.0)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--method", default="heun")
    ap.add_argument("--ode-steps", type=int, default=ODE_STEPS)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--noise-scale", type=float, nargs="+", default=None,
                    help="factor c on the prior's width, one or one per species (the sampler's --noise-scale)")
    ap.add_argument("--n-energy", type=int, default=4, help="configurations per side for energy / min distances")
    ap.add_argument("--symmetry", action="store_true", help="also the symmetry error over the box's 48 symmetries")
    ap.add_argument("--prior-only", action="store_true",
                    help="score the model's prior instead of its samples: Gaussian noise with its per-particle scale "
                         "(with model.mobility, the supervised BOTAN prediction), i.e. the baseline as a generator")
    a = ap.parse_args()
    model = load_model(a.checkpoint)
    print(f"{a.checkpoint}: {a.n} samples, {a.method} x {a.ode_steps} steps, noise scale {a.noise_scale or 1}, "
          f"threads {torch.get_num_threads()}")
    rows = []
    for c in a.configs:
        path = DATA / f"isoconfig_N4096T0.44_{c}_tc07.npz"
        snap, z = load_snapshot(path), np.load(path)
        sp, x0, box = snap.species, snap.positions, snap.box
        md = z["positions"] - z["initial_positions"][None]
        t = time.perf_counter()
        if a.prior_only:
            gen, nfe = prior_draws(model, snap, a.lag, a.n, seed=c), 0
        else:
            gen, nfe = sample(model, snap, a.lag, a.n, SolverConfig(a.method, a.ode_steps, batch_size=a.batch_size),
                              seed=c, noise_scale=a.noise_scale, force=True)  # the benchmark picks its configurations
        wall = time.perf_counter() - t
        g = neighbour_graph(x0, box, 1.35)
        src, dst = g["edge_index"]
        aa = (sp[src] == 0) & (sp[dst] == 0)
        ei, vec = g["edge_index"][:, aa], g["edge_vec"][aa]
        et_md, et_gen = fm.edge_target(md, vec, ei), fm.edge_target(gen, vec, ei)
        e_md = np.mean([mean_energy(x0 + md[r], sp, box) for r in range(a.n_energy)])
        e_gen = np.mean([mean_energy(x0 + gen[r], sp, box) for r in range(a.n_energy)])
        mp_md = min_pair_distances(x0 + md[0], sp, box)
        mp_gen = {k: min(min_pair_distances(x0 + gen[r], sp, box)[k] for r in range(a.n_energy)) for k in mp_md}
        mp_md = {k: min(min_pair_distances(x0 + md[r], sp, box)[k] for r in range(a.n_energy)) for k in mp_md}
        r = {"config": c, "nfe": nfe, "s/sample": wall / a.n,
             "pearson_node": fm.pearson_a(fm.propensity(gen), fm.propensity(md), sp),
             "pearson_edge": float(np.corrcoef(et_gen, et_md)[0, 1]),
             "Fs_gen": fm.fs(gen, sp), "Fs_md": fm.fs(md, sp), "a2_gen": fm.alpha2(gen, sp), "a2_md": fm.alpha2(md, sp),
             "W1": fm.w1(gen[:16], md[:16], sp), "W1_floor": fm.w1(md[:16], md[16:32], sp),
             "E_gen": e_gen, "E_md": e_md, "E_init": mean_energy(x0, sp, box),
             "minpair_gen": mp_gen, "minpair_md": mp_md}
        if a.symmetry:
            from glassgen.flow.symmetry import model_velocity, symmetry_error

            t = time.perf_counter()
            g_enc = model.graph(sp, x0, box)
            r["sym_err"] = symmetry_error(model_velocity(model, a.lag), g_enc, box, n_samples=1, scale=0.4)
            r["sym_s"] = time.perf_counter() - t
        rows.append(r)
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()), flush=True)
        a_ = sp == 0
        qs = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
        for name, d in (("generated", gen[:16]), ("MD", md[:32])):
            r_ = np.linalg.norm(d[:, a_], axis=-1)
            print(f"  |dr_A| {name:9s} quantiles {qs}: {np.round(np.quantile(r_, qs), 3).tolist()}, "
                  f"MSD_A {np.mean(r_ ** 2):.4f}", flush=True)
    keys = ["pearson_node", "pearson_edge", "Fs_gen", "Fs_md", "a2_gen", "a2_md", "W1", "W1_floor", "E_gen", "E_md"]
    print("mean over configs: " + " ".join(f"{k}={np.mean([r[k] for r in rows]):.4g}" for k in keys))


if __name__ == "__main__":
    main()
