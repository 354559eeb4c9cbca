"""Can the sampler itself fix the draw's energy? An energy tilt, measured (experiments/rollout-proof/record.md, "Why the energy drifts at T = 0.5").

The draw p_θ(Δ | x) is tilted towards exp(−k U(x + Δ)) (k in 1/ε): for flow times t ≥ --start the velocity
gets the term a linearised (Tweedie) guidance gives for the linear path,

    Δv_i = k s_i² (1 − t) / t² · F_i(x + x̂1),    x̂1 = x_t + (1 − t) v (the predicted endpoint),

with F the Kob–Andersen force (capped at --cap per particle) and s_i the prior scale of i's species. k = 0 is the
plain sampler. From frame t0 of reference trajectories 0..7 (MD's last step and window as history, as in
b_chemical_order.py), per k: the draw's MSD per species, B–B pairs within 1.15 per B (z_BB) raw and in the inherent
structure (IS), and the IS energy. --repeats R > 1 also draws R times per start with different seeds and reports
the within-start spread of E_pot/N after the chain's correction (quench + 0.5 LJ at T): what a best-of-n or
resampling correction would have to work with. --symmetries G > 1 averages the (guided) velocity over G of the
box's 48 symmetries (identity first, the rest in a random order per start), v̄ = (1/G) Σ_g R_gᵀ v(R_g x), with
MD's last step and window rotated alike: is the draw's imprecision the network's lack of equivariance?

    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/energy_tilt.py runs/flow-proof-T0.5-mem/best.safetensors --k 0 0.1 0.5
    OMP_NUM_THREADS=2 python experiments/rollout-proof/scripts/energy_tilt.py runs/flow-proof-T0.5-mem/best.safetensors --k 0 --symmetries 48
"""
import argparse

import numpy as np
import torch

from glassgen import read_trajectory
from glassgen.flow import paths
from glassgen.sampling import solvers
from glassgen.flow.context import box_symmetries
from glassgen.flow.model import load_model
from glassgen.system.ka import forces, mean_energy
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.stats import coordination

p = argparse.ArgumentParser()
p.add_argument("checkpoint")
p.add_argument("--T", type=float, default=0.5)
p.add_argument("--lag", type=float, default=50.0)
p.add_argument("--t0", type=float, default=200.0)
p.add_argument("--guidance", type=float, default=1.5, help="history guidance w")
p.add_argument("--k", type=float, nargs="*", default=[0.0], help="tilt strengths in 1/epsilon")
p.add_argument("--start", type=float, default=0.5, help="flow time from which the tilt acts")
p.add_argument("--cap", type=float, default=50.0, help="largest force per particle the tilt uses")
p.add_argument("--ode-steps", type=int, default=8)
p.add_argument("--starts", type=int, default=8)
p.add_argument("--repeats", type=int, default=1)
p.add_argument("--symmetries", type=int, default=1, help="average the velocity over this many box symmetries")
p.add_argument("--noise-scale", type=float, default=1.0, help="prior width factor c (to give back the mobility the tilt takes)")
a = p.parse_args()
if a.symmetries < 1:
    p.error(f"--symmetries must be at least 1, got {a.symmetries}")
model = load_model(a.checkpoint).eval()


@torch.no_grad()
def draw(x0, sp, box, prev, win, seed, k):
    graph, lag = model.graph(sp, x0, box), torch.tensor([a.lag])
    syms = box_symmetries(box)
    order = [0] + list(1 + np.random.default_rng(100 + seed).permutation(len(syms) - 1))
    if a.symmetries > len(syms):
        raise SystemExit(f"--symmetries {a.symmetries}: this box has only {len(syms)} symmetries")
    fields = []  # (R, conditional field, unconditional field) in the frame rotated by R
    for r in syms[order[:a.symmetries]]:
        rn, emb = r.numpy(), model.embed(graph, r)
        vc, scale = model.velocity_fn(emb, lag, previous=(prev @ rn.T)[None],
                                      window=None if win is None else (win @ rn.T)[None])
        vu, _ = model.velocity_fn(emb, lag)
        fields.append((r, vc, vu))
    s2 = scale[0].double().numpy() ** 2  # (N,1); the prior scale does not depend on the symmetry

    def v(t, x):
        u = 0
        for r, vc, vu in fields:  # (R x) in row layout is x @ Rᵀ; Rᵀ v is v @ R
            rr = r.to(x.dtype)
            u = u + ((1 - a.guidance) * vu(t, x @ rr.T) + a.guidance * vc(t, x @ rr.T)) @ rr
        u = u / len(fields)
        tf = float(t)
        if k == 0 or tf < a.start or tf >= 1:
            return u
        f = forces(x0 + (x + (1 - tf) * u)[0].double().numpy(), sp, box)
        f *= np.minimum(1.0, a.cap / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12))
        return u + paths.remove_com(torch.from_numpy(k * s2 * (1 - tf) / tf ** 2 * f)[None].to(u))

    gen = torch.Generator().manual_seed(seed)
    x = paths.draw_prior(a.noise_scale * scale.expand(1, -1, -1), (1,) + x0.shape, gen)
    return solvers.odeint(v, x, "heun", a.ode_steps)[0][0].double().numpy()


def z_bb(x, sp, box):
    return coordination(x, sp, box, 1, 1, 1.15)


print(f"{a.checkpoint}: T {a.T:g}, lag {a.lag:g}, t0 {a.t0:g}, heun x {a.ode_steps}, guidance {a.guidance:g}, "
      f"tilt from t = {a.start:g}, cap {a.cap:g}, noise scale {a.noise_scale:g}, {a.symmetries} box symmetries; mean ± standard error over {a.starts} starts")
for k in a.k:
    rows = []
    for f in range(a.starts):
        t = read_trajectory(f"runs/proof-T{a.T:g}-test/traj_{f:03d}.h5")
        sp, box = t.species, t.box
        times = list(np.round(t.times, 6))
        at = lambda tt: t.positions[times.index(round(float(tt), 6))]
        x0, x1 = at(a.t0), at(a.t0 + a.lag)
        prev = x0 - at(a.t0 - a.lag)
        win = x0 - at(a.t0 - model.memory * a.lag) if model.memory else None
        with Relaxer(RelaxConfig(kind="minimize", when="always", max_iterations=1000), sp, box) as cg, \
                Relaxer(RelaxConfig(kind="quench", when="always", time=0.5, temperature=a.T), sp, box) as rq:
            eq = []
            for rep in range(a.repeats):
                d = draw(x0, sp, box, prev, win, 1000 * rep + f, k)
                eq.append(mean_energy(rq.relax(x0 + d, seed=f), sp, box))
                if rep == 0:
                    y_is = cg.relax(x0 + d)
                    row = {"MSD A": (d[sp == 0] ** 2).sum(1).mean(), "MSD B": (d[sp == 1] ** 2).sum(1).mean(),
                           "z_BB": z_bb(x0 + d, sp, box), "z_BB IS": z_bb(y_is, sp, box),
                           "E IS": mean_energy(y_is, sp, box), "E quench+0.5": eq[0]}
            if a.repeats > 1:
                row["E quench+0.5 spread"] = np.std(eq, ddof=1)
            if k == a.k[0]:
                md_is = cg.relax(x1)
                row.update({"MD MSD A": ((x1 - x0)[sp == 0] ** 2).sum(1).mean(), "MD E IS": mean_energy(md_is, sp, box),
                            "MD E quench+0.5": mean_energy(rq.relax(x1, seed=f), sp, box)})
        rows.append(row)
    print(f"k {k:g}:", "  ".join(f"{c} {np.mean([r[c] for r in rows]):.3f}±{np.std([r[c] for r in rows]) / np.sqrt(len(rows)):.3f}"
                               for c in rows[0]), flush=True)
