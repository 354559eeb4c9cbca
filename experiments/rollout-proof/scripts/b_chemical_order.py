"""B-B contacts and inherent-structure energy of one model draw against MD (experiments/rollout-proof/record.md, "Species B and chemical order").

From frame t0 of reference trajectories 0-7 at temperature T (or of another folder's, --data): monitors of the MD frame, of MD at t0 + lag and of
one draw of that lag, each also after CG minimisation (inherent structure, IS), and B-B pairs within 1.15 per B
(z_BB). A second-order / memory model gets MD's last step and window at t0 (t0 must leave room for them).
Optional controls: the MD frame at t0 + lag displaced by Gaussian noise of each --noise amplitude (per component)
before the minimisation, and the quench of the chain (CG, then --quench Langevin times at T).

    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/b_chemical_order.py runs/flow-proof-T0.6-sig/best.safetensors
    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/b_chemical_order.py runs/flow-proof-T0.5-mem/best.safetensors \
        --T 0.5 --lag 50 --t0 200 --guidance 1.5 --noise 0.1 0.2 0.3 --quench 0.5 5 20
"""
import argparse

import numpy as np

from glassgen import read_trajectory
from glassgen.flow.model import load_model
from glassgen.system.data import Snapshot
from glassgen.sampling.sample import sample, step_function
from glassgen.stats.monitors import monitors
from glassgen.system.overlaps import project_overlaps
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.stats import coordination

p = argparse.ArgumentParser()
p.add_argument("checkpoint")
p.add_argument("--T", type=float, default=0.6)
p.add_argument("--lag", type=float, default=5.0)
p.add_argument("--t0", type=float, default=0.0)
p.add_argument("--denoiser", default=None, help="checkpoint fit with data.denoise: applied to the draw (and noise controls)")
p.add_argument("--level", type=float, nargs="*", default=[0.2], help="denoiser noise amplitudes to apply the draw at")
p.add_argument("--mean", action="store_true", help="apply the denoiser's posterior mean, v(t = 0, x = 0) (one Euler step "
                                                   "from a zero-width prior), instead of one draw")
p.add_argument("--data", default=None, help="folder of the trajectories traj_000..007 (default runs/proof-T{T}-test)")
p.add_argument("--guidance", type=float, default=1.0)
p.add_argument("--method", default="heun")
p.add_argument("--ode-steps", type=int, default=8)
p.add_argument("--gamma", type=float, default=1.0, help="noise level of euler_maruyama")
p.add_argument("--noise", type=float, nargs="*", default=[], help="control: MD frame + Gaussian noise, then IS")
p.add_argument("--quench", type=float, nargs="*", default=[], help="Langevin times of quench corrections")
p.add_argument("--project", type=float, nargs="*", default=[],
               help="pair-energy thresholds: the draw's overlaps pushed apart (glassgen.system.overlaps) before the IS")
a = p.parse_args()
model = load_model(a.checkpoint)
den = load_model(a.denoiser) if a.denoiser else None


def denoise(x, level, species, box, seed):
    """x plus one denoiser draw at noise amplitude ``level`` (heun x 8)."""
    kw = {"method": "euler", "ode_steps": 1, "noise_scale": 1e-12} if a.mean else {"method": "heun", "ode_steps": 8}
    return x + sample(den, Snapshot(species, box, x), level, 1, seed=seed, **kw)[0][0]

kw = {"history_guidance": a.guidance} if a.guidance != 1.0 else {}
if a.method == "euler_maruyama":
    kw["gamma"] = a.gamma
res = {}


def add(name, x, sp, box, raw=True):
    row = {"z_BB": coordination(x, sp, box, 1, 1, 1.15)}
    if raw:
        row.update(monitors(x, sp, box))
    res.setdefault(name, []).append(row)


for f in range(8):
    t = read_trajectory(f"{a.data or f'runs/proof-T{a.T:g}-test'}/traj_{f:03d}.h5")
    sp, box = t.species, t.box
    times = list(np.round(t.times, 6))
    at = lambda tt: t.positions[times.index(round(float(tt), 6))]
    x0, x1 = at(a.t0), at(a.t0 + a.lag)
    prev = x0 - at(a.t0 - a.lag) if model.history and a.t0 >= a.lag else None
    win = x0 - at(a.t0 - model.memory * a.lag) if prev is not None and model.memory and a.t0 >= model.memory * a.lag else None
    fn = step_function(model, sp, box, method=a.method, ode_steps=a.ode_steps, **kw)
    d = fn(x0[None], a.lag, [f], None if prev is None else prev[None], None if win is None else win[None])[0]
    res.setdefault("MSD one step", []).append({
        "draw A": (d[sp == 0] ** 2).sum(1).mean(), "draw B": (d[sp == 1] ** 2).sum(1).mean(),
        "MD A": ((x1 - x0)[sp == 0] ** 2).sum(1).mean(), "MD B": ((x1 - x0)[sp == 1] ** 2).sum(1).mean()})
    rng = np.random.default_rng(f)
    with Relaxer(RelaxConfig(kind="minimize", when="always", max_iterations=1000), sp, box) as cg:
        for name, x in (("MD t0", x0), (f"MD t0+{a.lag:g}", x1), ("draw", x0 + d)):
            add(name, x, sp, box, raw=name != "draw")
            add(name + " IS", cg.relax(x), sp, box)
            for q in a.quench:
                with Relaxer(RelaxConfig(kind="quench", when="always", time=q, temperature=a.T), sp, box) as rq:
                    add(f"{name} quench+{q:g}", rq.relax(x, seed=f), sp, box)
        for e in a.project:
            add(f"draw, project {e:g}, IS", cg.relax(project_overlaps(x0 + d, sp, box, energy=e)[0]), sp, box)
        for lev in (a.level if den else []):
            xd = denoise(x0 + d, lev, sp, box, f)
            add(f"draw, denoised at {lev:g}", xd, sp, box, raw=False)
            add(f"draw, denoised at {lev:g}, IS", cg.relax(xd), sp, box)
        for s in a.noise:
            xn = x1 + s * rng.standard_normal(x1.shape)
            add(f"MD t0+{a.lag:g} + noise {s:g}, IS", cg.relax(xn), sp, box)
            if den:
                add(f"MD t0+{a.lag:g} + noise {s:g}, denoised, IS", cg.relax(denoise(xn, s, sp, box, f)), sp, box)

print(f"{a.checkpoint}: T {a.T:g}, lag {a.lag:g}, t0 {a.t0:g}, {a.method} x {a.ode_steps}"
      + (f" (gamma {a.gamma:g})" if a.method == "euler_maruyama" else "") + f", guidance {a.guidance:g}; "
      "mean ± standard error over 8 starts")
for k, v in res.items():
    cols = [c for c in v[0] if c in ("e_pot", "gpeak_AB", "gpeak_BB", "z_BB", "draw A", "draw B", "MD A", "MD B")]
    print(f"{k:32s}", "  ".join(f"{c} {np.mean([x[c] for x in v]):.3f}±{np.std([x[c] for x in v]) / np.sqrt(len(v)):.3f}"
                               for c in cols))
