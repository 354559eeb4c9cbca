"""Why a chain's first steps are slow at T = 0.5: one draw of the shipped memory model from MD frames, with no
history (a chain's first step), with MD's own previous step, and with MD's previous step and 3-step window (what
the model reads from step memory + 1 of a chain on), each raw and after the checkpoint's relaxation, against MD's next step.

    python experiments/chain-misses/true_history.py CHECKPOINT MD_DIR T0 [T0 ...]

The checkpoint's rollout defaults (lag, sampler, history guidance, noise scale, relaxation) are used; one draw per
MD trajectory and origin T0 (rollout seed 7 + trajectory index), so T0 must be at least memory × lag.
"""
import glob
import sys
from pathlib import Path

import numpy as np

from glassgen.core.checkpoint import read_checkpoint, resolve
from glassgen.io.h5md import read_trajectory
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.sampling.models import load_model
from glassgen.sampling.sample import sample
from glassgen.sampling.solvers import SolverConfig
from glassgen.stats.dynamics import fs_samples, msd_samples
from glassgen.system.data import Snapshot


def frame(tr, t):
    return tr.positions[tr.index_at(t)]


def setup(ckpt, md_dir, noise_scale=None):
    """What the one-step scripts of this folder share: the checkpoint's rollout defaults, its lag, the noise scale
    (the "C" or "CA,CB" string given, else the default), the model and its sampler, and the MD trajectories. A fit
    without rollout defaults (a bare best.safetensors) gets heun × 8 and lag None."""
    ro = read_checkpoint(resolve(ckpt))[1].get("defaults", {}).get("rollout", {})
    scale = [float(v) for v in noise_scale.split(",")] if noise_scale else ro.get("noise_scale")
    solver = SolverConfig(method=ro.get("method", "heun"), ode_steps=int(ro.get("ode_steps", 8)))
    md = [read_trajectory(p) for p in sorted(glob.glob(str(Path(md_dir) / "traj_0*.h5")))]
    lag = float(ro["lag"]) if "lag" in ro else None
    return ro, lag, scale, load_model(ckpt), solver, md


def draw(model, solver, ro, scale, tr, x, lag, previous, seed):
    """One draw (N,3) from configuration x of trajectory tr, given the previous step, with the checkpoint's history
    guidance and the noise scale given."""
    d, _ = sample(model, Snapshot(tr.species, tr.box, x, dict(tr.meta)), lag, 1, solver, seed=seed,
                  history_guidance=float(ro.get("history_guidance", 1.0)), noise_scale=scale, previous=previous)
    return d[0]


def row(name, dr, sp):
    return (f"| {name} | {fs_samples(dr, mask=sp == 0).mean():.4f} | {msd_samples(dr, mask=sp == 0).mean():.4f} | "
            f"{msd_samples(dr, mask=sp == 1).mean():.4f} |")


def main():
    ckpt, md_dir, t0s = sys.argv[1], Path(sys.argv[2]), [float(v) for v in sys.argv[3:]]
    ro = read_checkpoint(resolve(ckpt))[1]["defaults"]["rollout"]
    model = load_model(ckpt)
    lag, mem = float(ro["lag"]), int(model.memory)
    if not mem:
        sys.exit(f"true_history.py: {ckpt} is not a memory model (model.memory)")
    md = [read_trajectory(p) for p in sorted(glob.glob(str(md_dir / "traj_0*.h5")))]
    sp, box, temp = md[0].species, md[0].box, float(ro["relax_temperature"])
    solver = SolverConfig(method=ro["method"], ode_steps=int(ro["ode_steps"]))
    relax = Relaxer(RelaxConfig(kind=ro["relax"], when="always", temperature=temp, time=float(ro["relax_time"]),
                                max_iterations=int(ro["relax_iterations"])), sp, box)
    out = {k: [] for k in ("none", "previous", "previous + window")}
    raw = {k: [] for k in out}
    mdstep = []
    with relax:
        for t0 in t0s:
            for j, tr in enumerate(md):
                x0 = frame(tr, t0)
                hist = {"none": {}, "previous": {"previous": x0 - frame(tr, t0 - lag)},
                        "previous + window": {"previous": x0 - frame(tr, t0 - lag),
                                              "window": x0 - frame(tr, t0 - mem * lag)}}
                for k, h in hist.items():
                    d, _ = sample(model, Snapshot(sp, box, x0, dict(tr.meta)), lag, 1, solver, seed=7 + j,
                                  history_guidance=float(ro.get("history_guidance", 1.0)) if h else 1.0,
                                  noise_scale=ro.get("noise_scale"), **h)
                    raw[k].append(d[0])
                    out[k].append(relax.relax(x0 + d[0], seed=j) - x0)
                mdstep.append(frame(tr, t0 + lag) - x0)
            print(f"origin {t0:g} done", file=sys.stderr, flush=True)
    print(f"| history given | F_s,A({lag:g}) | MSD_A({lag:g}) | MSD_B({lag:g}) |\n|---|---|---|---|")
    for k in out:
        print(row(f"{k}, raw draw", np.stack(raw[k]), sp))
        print(row(f"{k}, after the relaxation", np.stack(out[k]), sp))
    print(row("**MD**, the next step", np.stack(mdstep), sp))


if __name__ == "__main__":
    main()
