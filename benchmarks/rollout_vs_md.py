"""Wall time to reach 10 τ_α: glassgen rollout against LAMMPS MD (same N, same machine, same threads).

Two state points of the Kob–Andersen mixture (density 1.2, LJ units):

- proof: N = 1000, T = 0.6, τ_α = 11.8 (measured, docs/simulate.md), so 10 τ_α = 118 LJ time; or, with
  ``--temperature 0.5 --tau-alpha 125.7 --lag 50``, the T = 0.5 proof (τ_α of its 16 reference MD trajectories,
  docs/rollout.md), 10 τ_α = 1257 LJ time;
- BOTAN: N = 4096, T = 0.44, τ_α ≈ 4120 (the shared data's tc07), 10 τ_α ≈ 41 200 LJ time.

MD: glassgen's LAMMPS engine (:class:`glassgen.md.lammps_engine.Engine`), NVE velocity Verlet with
dt = 0.005. The proof system starts random, is minimised, melted (5 LJ at T = 2) and held 10 LJ at T by
Nosé–Hoover; the BOTAN system starts from a shared-data configuration (else a minimised random one, melted
and held as above) and gets 2.5 LJ of NVT at T. Then a stretch of NVE steps is timed (after 100 untimed
steps that build the neighbour lists). MD costs the same per step at any length, so the time to 10 τ_α is
that per-step cost times the number of steps, **extrapolated linearly**.

Rollout: :func:`glassgen.chain.rollout.rollout` with a flow model's step function (graph rebuild, ODE sampler,
KA monitors, H5MD output all included; one untimed warm-up step first), redraws off (``max_resample = 0``:
with a trained model every redraw adds the cost of one more draw). The time per step is the timed rollout's
wall time over its steps; the time to 10 τ_α is that times 10 τ_α / lag (extrapolated likewise). Without
``--checkpoint`` the model has the architecture of ``experiments/recipes/flow-proof-T0.6.yaml`` if that exists, else the
defaults of glassgen.flow.recipe (local encoder) with **untrained weights**: the cost of a step does not
depend on the weights.

With ``--relax KIND [KIND ...]`` every rollout step is also corrected by :class:`glassgen.md.relax.Relaxer`
(``when = always``, at the state point's temperature), one table row per kind, all timed in the same run:
e.g. ``none`` (the model alone), ``quench`` (LAMMPS in the loop) and ``refine`` (L-BFGS + Brownian in torch).

``--trajectories M M4096``: the rollout advances M trajectories together (one network call per ODE step for all,
as ``glassgen rollout --trajectories M``; ``refine`` relaxes them together), all from the MD run's end state
with their own seeds. MD runs its trajectories one after another, so its cost for M is M times the timed one.
The table's costs are for all M trajectories.

    OMP_NUM_THREADS=1 python benchmarks/rollout_vs_md.py [--checkpoint CKPT] [--lag 5] [--ode-steps 8] [--relax none quench]
    OMP_NUM_THREADS=2 python benchmarks/rollout_vs_md.py --checkpoint flow-proof-T0.5-mem --temperature 0.5 \
        --tau-alpha 125.7 --lag 50 --checkpoint-4096 flow-T0.44-botan --trajectories 16 2 --relax none refine
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from glassgen.system import ka
from glassgen.system.data import Snapshot
from glassgen.flow import paths
from glassgen.sampling.sample import step_function
from glassgen.sampling.solvers import SolverConfig
from glassgen.sampling.defaults import ODE_STEPS
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.chain.rollout import RolloutConfig, rollout
from glassgen.md.lammps_engine import Engine, thermostat_commands, velocity_command

DT = 0.005
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "botan_ka3d_T0.44" / "isoconfig_N4096T0.44_1_tc07.npz"
PROOF_RECIPE = ROOT / "experiments" / "recipes" / "flow-proof-T0.6.yaml"


def start_configuration(n: int, use_shared: bool):
    """(species, positions) from the shared BOTAN data (N = 4096), or None: LAMMPS makes a random one."""
    if use_shared and n == 4096 and SHARED.is_file():
        z = np.load(SHARED)
        return z["types"].astype(np.int64), z["initial_positions"], f"shared data {SHARED.name}"
    return None, None, "random, minimised, melted at T = 2"


def md_seconds_per_step(n, temperature, steps, threads, use_shared, seed=11):
    """Seconds per NVE step of LAMMPS on a KA system at ``temperature`` (equilibrated enough to time).

    Returns ``(seconds per step, info, final configuration)``; the rollout starts from the latter.
    """
    species, x, how = start_configuration(n, use_shared)
    eng = Engine(threads=threads)
    eng.setup(n, ka.n_species_a(n), ka.box_edge(n), DT, "random", (seed, seed + 1, seed + 2))
    if x is not None:
        # LAMMPS gave ids 1..N_A type A: put the file's A particles there, B after them
        order = np.argsort(species, kind="stable")
        if not np.array_equal(eng.species(), species[order]):
            raise RuntimeError("species layout of the LAMMPS system differs from the data file's composition")
        eng.set_state(x[order], np.zeros((n, 3), np.int32))
        eng.command(velocity_command(temperature, seed + 3))
        eng.command(*thermostat_commands("nvt", temperature, temperature, 0.5))
        eng.run(500)
    else:
        eng.minimize()
        eng.command(velocity_command(2.0, seed + 3))
        eng.command(*thermostat_commands("nvt", 2.0, 2.0, 0.5))
        eng.run(1000)
        eng.command(*thermostat_commands("nvt", temperature, temperature, 0.5))
        eng.run(2000)
    eng.command(*thermostat_commands("nve"))
    eng.run(100)  # neighbour lists and set-up, not timed
    t0 = time.perf_counter()
    eng.run(steps)
    wall = time.perf_counter() - t0
    th = eng.thermo()
    end = Snapshot(eng.species(), np.full(3, ka.box_edge(n)), eng.positions() % ka.box_edge(n))
    eng.close()
    return wall / steps, {"start": how, "T_kinetic": th["temp"], "pe": th["pe"]}, end


def build_model(checkpoint):
    """(model, description): a checkpoint, or an untrained model of the proof recipe's architecture."""
    from glassgen.flow.model import load_model
    from glassgen.flow.recipe import FitRecipe
    from glassgen.flow.train import build_model as build

    if checkpoint:
        return load_model(checkpoint), f"checkpoint {checkpoint}"
    recipe, src = FitRecipe(), "glassgen.flow.recipe defaults (local encoder)"
    if PROOF_RECIPE.is_file():
        from glassgen.core.recipe import from_dict, load_yaml

        recipe, src = from_dict(FitRecipe, load_yaml(PROOF_RECIPE), str(PROOF_RECIPE)), f"architecture of {PROOF_RECIPE.name}"
        if recipe.encoder.checkpoint:
            recipe.encoder.checkpoint = str(PROOF_RECIPE.parent / recipe.encoder.checkpoint)
    # MD-like displacement scales per component (A, B) at lags 1, 5 and 4120; sampling cost ignores them
    prior = paths.PriorScale([1.0, 5.0, 4120.0], [[0.08, 0.09], [0.2, 0.22], [0.4, 0.45]])
    torch.manual_seed(0)
    m = build(recipe, prior).eval()
    enc = recipe.encoder
    return m, (f"UNTRAINED weights, {src}: encoder {enc.kind} width {enc.width} cutoff {enc.cutoff}, velocity hidden "
               f"{recipe.model.hidden} × {recipe.model.n_layers} layers cutoff {recipe.model.cutoff}")


def rollout_seconds_per_step(model, snap, lag, steps, method, ode_steps, workdir, seed=5, relax_cfg=None, guidance=1.0,
                             trajectories=1):
    """Seconds per rollout step of all ``trajectories`` (draws + monitors + output [+ relaxation]) from the MD run's
    final configuration."""
    kw = {"history_guidance": guidance} if guidance != 1.0 and model.history else {}  # second-order models only
    fn = step_function(model, snap.species, snap.box, SolverConfig(method, ode_steps), **kw)
    out = Path(tempfile.mkdtemp(dir=workdir))
    with (Relaxer(relax_cfg, snap.species, snap.box) if relax_cfg else nullcontext()) as relax:
        cfg = RolloutConfig(steps=1, lag=lag, seed=seed, max_resample=0, n_trajectories=trajectories)
        rollout(fn, snap, cfg, out / "warm.h5", progress=False, relax=relax)
        t0 = time.perf_counter()
        cfg = RolloutConfig(steps=steps, lag=lag, seed=seed, max_resample=0, n_trajectories=trajectories)
        rollout(fn, snap, cfg, out / "timed.h5", progress=False, relax=relax)
        return (time.perf_counter() - t0) / steps


def hms(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="flow checkpoint (default: untrained model, see above)")
    p.add_argument("--checkpoint-4096", default=None, help="checkpoint for N = 4096 (default: the same model)")
    p.add_argument("--lag", type=float, default=5.0, help="rollout lag at the proof state point [LJ]")
    p.add_argument("--temperature", type=float, default=0.6, help="proof state point temperature (N = 1000)")
    p.add_argument("--tau-alpha", type=float, default=11.8, help="τ_α of the proof state point [LJ]")
    p.add_argument("--history-guidance", type=float, default=1.0,
                   help="history guidance w of a second-order model (w != 1 costs two network calls per velocity)")
    p.add_argument("--method", default="heun")
    p.add_argument("--ode-steps", type=int, default=ODE_STEPS)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    p.add_argument("--md-steps", type=int, nargs=2, default=[4000, 2000], help="timed NVE steps, N = 1000 and 4096")
    p.add_argument("--rollout-steps", type=int, nargs=2, default=[6, 3], help="timed rollout steps, N = 1000 and 4096")
    p.add_argument("--repeats", type=int, default=3, help="MD/rollout pairs per state point (interleaved; medians)")
    p.add_argument("--no-4096", action="store_true", help="skip the N = 4096 state point")
    p.add_argument("--relax", nargs="+", default=["none"],
                   help="correct every rollout step, one row per kind: none, minimize, local, nvt, quench, project, refine")
    p.add_argument("--trajectories", type=int, nargs=2, default=[1, 1],
                   help="trajectories the rollout advances together, N = 1000 and 4096")
    p.add_argument("--relax-time", type=float, default=0.2, help="Langevin time of nvt / quench [LJ]")
    p.add_argument("--relax-iterations", type=int, default=RelaxConfig.max_iterations,
                   help="refine's L-BFGS budget (0: Brownian dynamics alone); the LAMMPS kinds keep 200 CG iterations")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    load0 = os.getloadavg()
    model, desc = build_model(a.checkpoint)
    model_big, desc_big = (model, desc) if not a.checkpoint_4096 else build_model(a.checkpoint_4096)
    points = [(f"proof T = {a.temperature:g}", 1000, a.temperature, a.tau_alpha, a.lag, a.md_steps[0], a.rollout_steps[0],
               model, a.trajectories[0])]
    if not a.no_4096:
        points.append(("BOTAN T = 0.44", 4096, 0.44, 4120.0, 4120.0, a.md_steps[1], a.rollout_steps[1], model_big,
                       a.trajectories[1]))
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for point in points:
            r, note = time_point(a, point, tmp)
            rows += r
            notes += note
    load1 = os.getloadavg()
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}; threads {a.threads} (LAMMPS and torch); repeats {a.repeats} interleaved, "
          f"medians; M trajectories per state point (MD: M × one timed trajectory)")
    print(f"rollout model: {desc}" + (f"; N = 4096: {desc_big}" if a.checkpoint_4096 else "")
          + f"; sampler {a.method}, {a.ode_steps} ODE steps; redraws off; relax time {a.relax_time:g}, "
          f"refine L-BFGS iterations {a.relax_iterations}"
          + (f"; history guidance {a.history_guidance:g}" if a.history_guidance != 1.0 else ""))
    print(f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} "
          f"on {os.cpu_count()} cores")
    print(f"{'state point':<16}{'N':>6}{'M':>4}{'relax':>8}{'MD s/LJ':>11}{'rollout s/LJ':>14}{'MD/rollout':>12}{'MD to 10τα':>13}"
          f"{'rollout to 10τα':>17}")
    for name, n, mt, kind, md_lj, ro_lj, ratio, t_md, t_ro in rows:
        print(f"{name:<16}{n:>6}{mt:>4}{kind:>8}{md_lj:>11.3g}{ro_lj:>14.3g}{ratio:>12.3g}{hms(t_md):>13}{hms(t_ro):>17}")
    print("times to 10 τα are extrapolated linearly from the timed stretches (MD and rollout cost the same per step at any length)")
    for line in notes:
        print("  " + line)


def time_point(a, point, tmp):
    """Table rows (one per relax kind) and notes of one state point: MD and every rollout kind interleaved."""
    name, n, temp, tau, lag, md_steps, ro_steps, m, mt = point
    md, ro, start = [], {kind: [] for kind in a.relax}, None
    for k in range(a.repeats):
        for who in (("md", *a.relax) if k % 2 == 0 else (*a.relax, "md")):  # alternate who runs first
            if who == "md":
                s, info, end = md_seconds_per_step(n, temp, md_steps, a.threads, use_shared=True)
                md.append(s)
                start = start or end  # the first MD run runs first: its end state starts every rollout
                continue
            budget = {"max_iterations": a.relax_iterations} if who == "refine" else {}  # LAMMPS kinds: their CG default
            rc = None if who == "none" else RelaxConfig(kind=who, when="always", time=a.relax_time, temperature=temp, **budget)
            ro[who].append(rollout_seconds_per_step(m, start, lag, ro_steps, a.method, a.ode_steps, tmp, relax_cfg=rc,
                                                    guidance=a.history_guidance, trajectories=mt))
    md_lj = mt * statistics.median(md) / DT
    rows = [(name, n, mt, kind, md_lj, statistics.median(v) / lag, md_lj / (statistics.median(v) / lag), 10 * tau * md_lj,
             10 * tau * statistics.median(v) / lag) for kind, v in ro.items()]
    notes = [f"{name}: MD {md_steps} NVE steps timed ({info['start']}; T_kin at end {info['T_kinetic']:.3f}, "
             f"E_pot/N {info['pe']:.3f}), s/step {' '.join(f'{x:.3e}' for x in md)}; rollout lag {lag:g}, "
             f"{ro_steps} steps timed, s/step " + "; ".join(f"{kind} {' '.join(f'{x:.3f}' for x in v)}" for kind, v in ro.items())]
    return rows, notes


if __name__ == "__main__":
    main()
