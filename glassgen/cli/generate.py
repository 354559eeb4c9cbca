"""``glassgen sample`` and ``glassgen rollout``: the generative commands (registered in glassgen.cli.app).

Thin wrappers over :func:`glassgen.sampling.sample.sample` and :func:`glassgen.chain.rollout.rollout`; bad input
raises :class:`glassgen.core.errors.InputError`, which ``glassgen.cli.app.main`` prints as one line.
"""
from __future__ import annotations

from pathlib import Path

import typer

from glassgen.core.errors import InputError

# Help shared by `glassgen sample` and `glassgen rollout` (one wording, one place).
CHECKPOINT_HELP = "A flow/diffusion checkpoint (.safetensors) from `glassgen fit`."
RELAX_TIME_HELP = "Length of the nvt (or quench) Langevin run, LJ time; refine: of its Brownian run (0: FIRE only)."
RELAX_ITER_HELP = "Conjugate-gradient iterations of minimize, local and quench (1000 reach the inherent structure at N = 1000); FIRE steps of refine."
NOISE_HELP = "Prior noise factor c (sampling temperature): one number, or one per species as 1.03,1.01; `glassgen calibrate` measures it on training data (docs/generative.md, \"Noise scale\")."


def parse_floats(text, option: str):
    """``"1.03"`` or ``"1.03,1.01"`` -> list of floats (None stays None); a one-line error otherwise."""
    if text is None:
        return None
    try:
        return [float(v) for v in str(text).split(",")]
    except ValueError:
        raise InputError(option, f"not a comma-separated list of numbers: {text!r}") from None


def sample(
    checkpoint: Path = typer.Argument(..., help=CHECKPOINT_HELP),
    snapshot: Path = typer.Argument(..., help="Configuration: H5MD ensemble (its initial one) or trajectory (first frame), or a BOTAN .npz."),
    lag: float = typer.Option(..., "--lag", help="Lag τ in LJ time units."),
    n_samples: int = typer.Option(32, "-n", "--n-samples", help="Number of generated runs."),
    output: Path = typer.Option(..., "--output", "-o", help="Output H5MD ensemble."),
    method: str = typer.Option("heun", "--method", help="euler, heun, midpoint, rk4, euler_maruyama, dopri5, ..."),
    ode_steps: int = typer.Option(None, "--ode-steps", help="Uniform flow-time steps (default 16 unless --time-grid)."),
    time_grid: str = typer.Option(None, "--time-grid", help="Comma-separated increasing flow times, e.g. 0,0.5,0.8,1."),
    seed: int = typer.Option(None, "--seed", help="Seed of the noise (default: fresh)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Samples integrated together (memory)."),
    device: str = typer.Option("cpu", "--device", help="torch device."),
    relax: str = typer.Option("none", "--relax", help="Correct every sample with the true potential, as `rollout --relax` does: none, project or refine (no LAMMPS), minimize, local, nvt or quench. Stored as relax_* metadata; the statistics are then of model + correction."),
    relax_time: float = typer.Option(0.2, "--relax-time", help=RELAX_TIME_HELP),
    relax_iterations: int = typer.Option(200, "--relax-iterations", help=RELAX_ITER_HELP),
    relax_temperature: float = typer.Option(None, "--relax-temperature", help="T of the nvt (or quench) relaxation (default: the snapshot's T)."),
    noise_scale: str = typer.Option(None, "--noise-scale", help=NOISE_HELP),
):
    """Generate an iso-configurational ensemble of displacements after lag τ (positions unwrapped)."""
    from glassgen.core.atomic import check_writable
    from glassgen.sampling.sample import load_snapshot, relax_samples, sample as _sample, to_ensemble
    from glassgen.io.h5md import write_ensemble
    from glassgen.flow.model import checkpoint_metadata
    from glassgen.md.relax import config_from_options

    check_writable(output)
    grid = None
    if time_grid is not None:
        grid = parse_floats(time_grid, "--time-grid")
    steps = ode_steps if (ode_steps is not None or grid is not None) else 16
    snap = load_snapshot(snapshot)
    relax_cfg = config_from_options(relax, "always", relax_time, relax_temperature, snap.meta, checkpoint_metadata(checkpoint),
                                   max_iterations=relax_iterations)
    disp, nfe = _sample(str(checkpoint), snap, lag, n_samples, method=method, ode_steps=steps, time_grid=grid,
                        seed=seed, batch_size=batch_size, device=device, noise_scale=parse_floats(noise_scale, "--noise-scale"))
    meta = {"generator": "glassgen.flow", "checkpoint": str(checkpoint), "method": method, "nfe": nfe,
            "seed": -1 if seed is None else seed, "snapshot": str(snapshot), "noise_scale": noise_scale or "1"}
    note = ""
    if relax_cfg is not None:
        disp, rms = relax_samples(snap, disp, relax_cfg, seed=seed)
        meta.update(relax_cfg.meta())
        note = f"; relaxed ({relax}): particles moved {rms.mean():.3f} σ rms on average"
    write_ensemble(output, to_ensemble(snap, lag, disp, meta))
    typer.echo(f"{output}: {n_samples} generated runs of {snap.n_particles} particles at lag {lag:g} (NFE {nfe}){note}")


def rollout(
    checkpoint: Path = typer.Argument(..., help=CHECKPOINT_HELP),
    init: list[Path] = typer.Option(..., "--init", help="Start configuration: H5MD ensemble (initial) or trajectory (first frame), or BOTAN .npz. Repeat to start trajectory j from the j-th."),
    steps: int = typer.Option(..., "--steps", help="Number of chained draws K; the trajectory reaches K * lag."),
    lag: float = typer.Option(..., "--lag", help="Lag τ of one draw, LJ time units (use τ ≳ 1: see docs/rollout.md)."),
    out: Path = typer.Option(..., "-o", "--output", help="Output H5MD trajectory (OUT_000.h5, ... for several)."),
    trajectories: int = typer.Option(None, "--trajectories", help="M independent trajectories (default: one per --init)."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed gives the identical trajectory."),
    method: str = typer.Option("heun", "--method", help="Sampler: euler, heun, midpoint, rk4, euler_maruyama, dopri5, ..."),
    ode_steps: int = typer.Option(8, "--ode-steps", help="Flow-time steps per draw."),
    max_resample: int = typer.Option(5, "--max-resample", help="Redraws allowed for a step that creates an overlap."),
    overlap_energy: float = typer.Option(20.0, "--overlap-energy", help="Largest allowed KA pair energy (ε_AA) before a redraw."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted rollout from its last complete step."),
    device: str = typer.Option("cpu", "--device", help="torch device."),
    relax: str = typer.Option("none", "--relax", help="Correct steps with the true potential: none, minimize (LAMMPS CG), local (CG of the overlap regions only), nvt (short Langevin at T), quench (minimize, then nvt), project (push pairs above 3 ε apart to 3 ε; no LAMMPS) or refine (FIRE, then Brownian dynamics at T, in torch; no LAMMPS)."),
    relax_when: str = typer.Option("overlap", "--relax-when", help="Relax steps that kept an overlap (overlap) or every step (always)."),
    relax_time: float = typer.Option(0.2, "--relax-time", help=RELAX_TIME_HELP),
    relax_iterations: int = typer.Option(200, "--relax-iterations", help=RELAX_ITER_HELP),
    relax_temperature: float = typer.Option(None, "--relax-temperature", help="T of the nvt (or quench) relaxation (default: the init file's T)."),
    history: str = typer.Option("chain", "--history", help="Second-order models: the previous step they read, chain (x_k - x_{k-1}, corrections included) or draw (the model's own last draw, before --relax)."),
    relax_counts: bool = typer.Option(False, "--relax-counts", help="Count the Langevin run as real time: each draw is of lag - relax-time, the relaxation supplies the rest (needs nvt or quench, --relax-when always)."),
    history_guidance: float = typer.Option(1.0, "--history-guidance", help="Second-order models: guidance weight w on the history, v(none) + w (v(history) - v(none)); 1 = as trained, > 1 strengthens the back-flow (two network calls per velocity)."),
    noise_scale: str = typer.Option(None, "--noise-scale", help=NOISE_HELP),
):
    """Chain generated displacements into long trajectories, with physical monitors (docs/rollout.md)."""
    import json

    from glassgen.core.atomic import atomic_path
    from glassgen.flow.model import checkpoint_metadata
    from glassgen.sampling.sample import load_snapshot, step_function
    from glassgen.md.relax import THERMAL, Relaxer, config_from_options
    from glassgen.chain.rollout import RolloutConfig, rollout as run_rollout, summarise_log

    trajectories = trajectories or len(init)
    if len(init) > 1 and trajectories != len(init):
        raise InputError("rollout", f"{len(init)} --init files but --trajectories {trajectories}; give one start or one per trajectory")
    if relax_counts and (relax not in THERMAL or relax_when != "always"):
        raise InputError("rollout", "--relax-counts needs a thermal relaxation every step: --relax nvt or quench with --relax-when always")
    cfg = RolloutConfig(steps=steps, lag=lag, n_trajectories=trajectories, seed=seed, max_resample=max_resample,
                        overlap_energy=overlap_energy, draw_lag=lag - relax_time if relax_counts else None,
                        history=history)
    snaps = [load_snapshot(p) for p in init]
    snap = snaps[0]
    relax_cfg = config_from_options(relax, relax_when, relax_time, relax_temperature, snap.meta, checkpoint_metadata(checkpoint),
                                   max_iterations=relax_iterations)
    step = step_function(str(checkpoint), snap.species, snap.box, method=method, ode_steps=ode_steps, device=device,
                         history_guidance=history_guidance, noise_scale=parse_floats(noise_scale, "--noise-scale"))
    meta = {"checkpoint": str(checkpoint), "method": method, "ode_steps": ode_steps, "init": ",".join(map(str, init)),
            "history": bool(step.history), "memory": int(step.memory), "history_guidance": history_guidance, "noise_scale": noise_scale or "1"}
    meta.update({k: v for k, v in snap.meta.items() if k in ("T", "temperature", "density", "potential")})
    start = snaps if len(snaps) > 1 else snap
    if relax_cfg is None:
        paths = run_rollout(step, start, cfg, out, resume=resume, meta=meta)
    else:
        with Relaxer(relax_cfg, snap.species, snap.box) as relaxer:
            paths = run_rollout(step, start, cfg, out, resume=resume, meta=meta, relax=relaxer)
    s = summarise_log(out.with_name(out.stem + ".log.csv"), checkpoint_metadata(checkpoint).get("data_monitors"))
    typer.echo(f"wrote {', '.join(map(str, paths))}: {steps} steps of lag {lag:g} (t = {steps * lag:g})"
               + (f"; each a draw of {cfg.draw_lag:g} + {relax_time:g} of Langevin" if relax_counts else ""))
    typer.echo(f"monitors: {s['resampled']} redraws, {s['overlaps_kept']} overlaps kept, {s['relaxed']} relaxed"
               + (f" ({s['relax_unconverged']} refinements not converged)" if s["relax_unconverged"] else "") + ", "
               f"E_pot/N from {s['e_pot_first']:.3f} to {s['e_pot_last']:.3f} (range {s['e_pot_min']:.3f}..{s['e_pot_max']:.3f})")
    report = out.with_name(out.stem + ".monitors.json")
    with atomic_path(report) as tmp:
        tmp.write_text(json.dumps(s, indent=1))
    for name, c in s["monitors"].items():
        flag = "  <-- beyond 3 std" if abs(c["z"]) > 3 else ""
        typer.echo(f"  {name:10s} {c['source']} {c['reference']:.3f} ± {c['std']:.3f}; rollout start {c['start']:.3f}, "
                   f"last quarter {c['end']:.3f} ({c['z']:+.1f} std){flag}")
    typer.echo(f"monitor report: {report}")


def calibrate(
    checkpoint: Path = typer.Argument(..., help="A flow checkpoint (.safetensors) from `glassgen fit`."),
    trajectories: list[Path] = typer.Argument(..., help="MD trajectories (H5MD) at the model's state point: training or validation data, not the reference of a check."),
    lag: float = typer.Option(..., "--lag", help="Lag τ of the draws, LJ time (the rollout's --lag)."),
    origins: int = typer.Option(4, "--origins", help="Start frames per trajectory (evenly spread)."),
    samples: int = typer.Option(2, "--samples", help="Draws per start."),
    trials: str = typer.Option("0.98,1,1.02,1.04,1.06", "--trials", help="Noise factors tried, all species together; the answer is interpolated between them."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws (the same noise at every trial factor)."),
    method: str = typer.Option("heun", "--method", help="Sampler, as the rollout will use it."),
    ode_steps: int = typer.Option(8, "--ode-steps", help="Flow-time steps per draw, as the rollout will use them."),
    output: Path = typer.Option(None, "-o", "--output", help="Also write the result as JSON."),
):
    """Measure the --noise-scale per species that makes one draw's MSD equal MD's (docs/generative.md)."""
    import json

    from tqdm import tqdm

    from glassgen.core.atomic import atomic_path
    from glassgen.sampling.calibrate import calibrate_noise
    from glassgen.io.h5md import read_trajectory

    facs = parse_floats(trials, "--trials")
    if len(facs) < 2 or any(c <= 0 for c in facs):
        raise InputError("--trials", f"give at least two positive factors; got {trials!r}")
    trajs = [read_trajectory(p) for p in trajectories]
    per_trial = len(trajs) * origins
    with tqdm(total=per_trial * (len(facs) + 1), desc="calibrate", unit="draw") as bar:
        res = calibrate_noise(str(checkpoint), trajs, lag, origins=origins, samples=samples, trials=facs, seed=seed,
                              method=method, ode_steps=ode_steps, progress=bar.update)
    res.update({"checkpoint": str(checkpoint), "trajectories": [str(p) for p in trajectories]})
    typer.echo(f"{res['pairs']} MD pairs of lag {lag:g}, {samples} draws each; one-draw MSD per species:")
    for c, m in res["trial_msd"].items():
        typer.echo(f"  factor {c:<6g} " + "  ".join(f"{v:.4f}" for v in m))
    typer.echo("  MD            " + "  ".join(f"{v:.4f}" for v in res["md_msd"]))
    typer.echo("  chosen        " + "  ".join(f"{v:.4f}" for v in res["check_msd"])
               + "   (draws at the chosen factors)")
    if output is not None:
        with atomic_path(output) as tmp:
            tmp.write_text(json.dumps(res, indent=1))
    typer.echo("--noise-scale " + ",".join(f"{c:.4f}" for c in res["noise_scale"]))
