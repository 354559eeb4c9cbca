"""``glassgen sample`` and ``glassgen rollout``: the generative commands (registered in glassgen.cli.app).

Thin wrappers over :func:`glassgen.sampling.sample.sample` and :func:`glassgen.chain.rollout.rollout`; bad input
raises :class:`glassgen.core.errors.InputError`, which ``glassgen.cli.app.main`` prints as one line.
"""
from __future__ import annotations

from pathlib import Path

import typer

from glassgen.cli.settings import BUILTIN
from glassgen.core.errors import InputError

# Help shared by `glassgen sample` and `glassgen rollout` (one wording, one place).
CHECKPOINT_HELP = "A flow/diffusion checkpoint (.safetensors) from `glassgen fit`, or a shipped name (flow-proof-T0.6-sig; docs/checkpoints.md)."

DEVICE_HELP = "torch device of the model, e.g. cpu, cuda, cuda:1 (one this machine lacks is refused)."
OVERWRITE_HELP = "Replace an existing output (without it, an existing output is refused)."


def default(key: str, command: str = "rollout") -> str:
    """Help suffix of an option that a checkpoint's validated settings may set (glassgen.cli.settings)."""
    value = BUILTIN[command][key]
    return f" Default: the checkpoint's validated setting, else {'none' if value is None else value}."


RELAX_TIME_HELP = "Length of the nvt (or quench) Langevin run, LJ time; refine: of its Brownian run (0: L-BFGS only)." + default("relax_time")
CORRECTOR_HELP = "Learned corrector checkpoint (path or shipped name) of --relax learned; it must share the model's state point."
PASSES_HELP = "Corrector draws per configuration under --relax learned, each from the last one's output."
RELAX_ITER_HELP = "Conjugate-gradient iterations of minimize, local and quench (1000 reach the inherent structure at N = 1000); L-BFGS iterations of refine." + default("relax_iterations")
FORCE_HELP = "Proceed with a snapshot, temperature or lag outside the model's training domain (recorded in the output's metadata as forced, out_of_domain)."
TEMPERATURE_HELP = "Temperature of the start configuration when its metadata has none (the domain check needs it)."
METHOD_HELP = "Sampler: euler, heun, midpoint, rk4, euler_maruyama, dopri5, ..." + default("method")
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
    lag: str = typer.Option(None, "--lag", help="Lag τ in LJ time units, or increasing lags as 2.5,5,10 (one ensemble with those lags, like an MD ensemble; the draws at each lag are independent, seeded --seed, --seed + 1, ...). Default: the checkpoint's validated lag, else required."),
    n_samples: int = typer.Option(32, "-n", "--n-samples", help="Number of generated runs."),
    output: Path = typer.Option(..., "--output", "-o", help="Output H5MD ensemble."),
    method: str = typer.Option(None, "--method", help=METHOD_HELP),
    ode_steps: int = typer.Option(None, "--ode-steps", help="Uniform flow-time steps (unless --time-grid)." + default("ode_steps", "sample")),
    time_grid: str = typer.Option(None, "--time-grid", help="Comma-separated increasing flow times, e.g. 0,0.5,0.8,1."),
    seed: int = typer.Option(None, "--seed", help="Seed of the noise (default: fresh)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Samples integrated together (memory)."),
    device: str = typer.Option("cpu", "--device", help=DEVICE_HELP),
    relax: str = typer.Option(None, "--relax", help="Correct every sample with the true potential, as `rollout --relax` does: none, project, refine or learned (no LAMMPS), minimize, local, nvt or quench. Stored as relax_* metadata; the statistics are then of model + correction." + default("relax", "sample")),
    relax_time: float = typer.Option(None, "--relax-time", help=RELAX_TIME_HELP),
    relax_iterations: int = typer.Option(None, "--relax-iterations", help=RELAX_ITER_HELP),
    relax_temperature: float = typer.Option(None, "--relax-temperature", help="T of the nvt (or quench) relaxation. Default: the checkpoint's validated setting, else the snapshot's T."),
    corrector: str = typer.Option(None, "--corrector", help=CORRECTOR_HELP + default("corrector", "sample")),
    corrector_passes: int = typer.Option(None, "--corrector-passes", help=PASSES_HELP + default("corrector_passes", "sample")),
    noise_scale: str = typer.Option(None, "--noise-scale", help=NOISE_HELP + " Default: the checkpoint's validated setting, else 1."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    temperature: float = typer.Option(None, "--temperature", help=TEMPERATURE_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
):
    """Generate an iso-configurational ensemble of displacements after lag τ, or at several lags (positions unwrapped)."""
    from glassgen.core.atomic import check_writable
    from glassgen.core.device import resolve_device
    from glassgen.sampling.models import load_model

    check_writable(output, overwrite)
    model = load_model(checkpoint, resolve_device(device))
    given = dict(method=method, ode_steps=ode_steps, time_grid=time_grid, noise_scale=noise_scale, relax=relax,
                 relax_time=relax_time, relax_iterations=relax_iterations, relax_temperature=relax_temperature,
                 corrector=corrector, corrector_passes=corrector_passes)
    typer.echo(write_samples(model, str(checkpoint), snapshot, parse_floats(lag, "--lag"), n_samples, output, seed,
                             given, batch_size=batch_size, force=force, temperature=temperature))


def write_samples(model, checkpoint: str, snapshot, lags, n_samples: int, output, seed=None, given: dict | None = None,
                  batch_size=None, force: bool = False, temperature=None) -> str:
    """What ``glassgen sample`` does after loading the model: the ensemble of ``snapshot`` (a path) at ``lags``
    (a list; None = the checkpoint's validated lag) written to ``output``; returns the command's message.

    ``given``: the command-line settings (None = not given; glassgen.cli.settings fills the rest)."""
    import numpy as np

    from glassgen.cli.settings import config_from_options, model_meta, resolve, start_meta
    from glassgen.io.h5md import write_ensemble
    from glassgen.sampling.domain import check_domain
    from glassgen.sampling.sample import load_snapshot, relax_samples, sample as _sample
    from glassgen.sampling.solvers import SolverConfig
    from glassgen.system.data import Ensemble
    from glassgen.system.pbc import fold

    opt, taken = resolve("sample", dict(given or {}, lag=lags[0] if lags else None), model.checkpoint)
    lags = lags or [opt["lag"]]
    if any(b <= a for a, b in zip(lags, lags[1:])):
        raise InputError("--lag", f"several lags must increase; got {','.join(f'{t:g}' for t in lags)}")
    solver = SolverConfig(opt["method"], opt["ode_steps"], parse_floats(opt["time_grid"], "--time-grid"),
                          batch_size=batch_size)
    snap = load_snapshot(snapshot)
    record = check_domain(model, snap, lags, temperature=temperature, force=force)
    relax_cfg = config_from_options(opt["relax"], "always", opt["relax_time"], opt["relax_temperature"],
                                    start_meta(snap, temperature), model_meta(model), max_iterations=opt["relax_iterations"],
                                    corrector=opt["corrector"], passes=opt["corrector_passes"])
    draws, rms = [], []
    for k, lag in enumerate(lags):  # lag k seeded seed + k: a single lag's draws are those of --lag alone
        s = None if seed is None else seed + k
        disp, nfe = _sample(model, snap, lag, n_samples, solver, s, force=force, temperature=temperature,
                            noise_scale=parse_floats(opt["noise_scale"], "--noise-scale"))
        if relax_cfg is not None:
            disp, moved = relax_samples(snap, disp, relax_cfg, seed=s, model=model)
            rms.append(moved)
        draws.append(disp)
    meta = {"generator": "glassgen.flow", "checkpoint": checkpoint, **solver.meta(), "nfe": nfe,
            "seed": -1 if seed is None else seed, "snapshot": str(snapshot), "noise_scale": opt["noise_scale"] or "1",
            "settings_from_checkpoint": ",".join(taken) or "none", **record, **(relax_cfg.meta() if relax_cfg else {})}
    initial = fold(snap.positions, snap.box)[0]  # as to_ensemble folds it; positions stay unwrapped
    write_ensemble(output, Ensemble(snap.species, snap.box, initial, np.array(lags, dtype=float),
                                    initial[None, None] + np.stack(draws, axis=1), meta))
    note = f"; relaxed ({opt['relax']}): particles moved {np.mean(rms):.3f} σ rms on average" if rms else ""
    return (f"{output}: {n_samples} generated runs of {snap.n_particles} particles at lag {','.join(f'{t:g}' for t in lags)} "
            f"(NFE {nfe}){note}" + (f"; FORCED outside the model's domain: {record['out_of_domain']}" if record else ""))


def rollout(
    checkpoint: Path = typer.Argument(..., help=CHECKPOINT_HELP),
    init: list[Path] = typer.Option(..., "--init", help="Start configuration: H5MD ensemble (initial) or trajectory (first frame), or BOTAN .npz. Repeat to start trajectory j from the j-th."),
    steps: int = typer.Option(..., "--steps", help="Number of chained draws K; the trajectory reaches K * lag."),
    lag: float = typer.Option(None, "--lag", help="Lag τ of one draw, LJ time units (use τ ≳ 1: see docs/rollout.md). Default: the checkpoint's validated lag, else required."),
    out: Path = typer.Option(..., "-o", "--output", help="Output H5MD trajectory (OUT_000.h5, ... for several)."),
    trajectories: int = typer.Option(None, "--trajectories", help="M independent trajectories (default: one per --init)."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed gives the identical trajectory."),
    method: str = typer.Option(None, "--method", help=METHOD_HELP),
    ode_steps: int = typer.Option(None, "--ode-steps", help="Flow-time steps per draw." + default("ode_steps")),
    max_resample: int = typer.Option(None, "--max-resample", help="Redraws allowed for a step that creates an overlap." + default("max_resample")),
    overlap_energy: float = typer.Option(None, "--overlap-energy", help="Largest allowed KA pair energy (ε_AA) before a redraw." + default("overlap_energy")),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted rollout from its last complete step."),
    device: str = typer.Option("cpu", "--device", help=DEVICE_HELP),
    relax: str = typer.Option(None, "--relax", help="Correct steps with the true potential: none, minimize (LAMMPS CG), local (CG of the overlap regions only), nvt (short Langevin at T), quench (minimize, then nvt), project (push pairs above 3 ε apart to 3 ε; no LAMMPS) refine (L-BFGS, then Brownian dynamics at T, in torch; no LAMMPS) or learned (a learned corrector's draw, --corrector; no LAMMPS)." + default("relax")),
    relax_when: str = typer.Option(None, "--relax-when", help="Relax steps that kept an overlap (overlap) or every step (always)." + default("relax_when")),
    relax_time: float = typer.Option(None, "--relax-time", help=RELAX_TIME_HELP),
    relax_iterations: int = typer.Option(None, "--relax-iterations", help=RELAX_ITER_HELP),
    relax_temperature: float = typer.Option(None, "--relax-temperature", help="T of the nvt (or quench) relaxation. Default: the checkpoint's validated setting, else the init file's T."),
    corrector: str = typer.Option(None, "--corrector", help=CORRECTOR_HELP + default("corrector")),
    corrector_passes: int = typer.Option(None, "--corrector-passes", help=PASSES_HELP + default("corrector_passes")),
    history: str = typer.Option(None, "--history", help="Second-order models: the previous step they read, chain (x_k - x_{k-1}, corrections included) or draw (the model's own last draw, before --relax)." + default("history")),
    relax_counts: bool = typer.Option(False, "--relax-counts", help="Count the Langevin run as real time: each draw is of lag - relax-time, the relaxation supplies the rest (needs nvt or quench, --relax-when always)."),
    history_guidance: float = typer.Option(None, "--history-guidance", help="Second-order models: guidance weight w on the history, v(none) + w (v(history) - v(none)); 1 = as trained, > 1 strengthens the back-flow (two network calls per velocity)." + default("history_guidance")),
    noise_scale: str = typer.Option(None, "--noise-scale", help=NOISE_HELP + " Default: the checkpoint's validated setting, else 1."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    temperature: float = typer.Option(None, "--temperature", help=TEMPERATURE_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier rollout at OUT, side files included (without it, an existing output is refused)."),
    batch_trajectories: int = typer.Option(None, "--batch-trajectories", help="Trajectories advanced together, one network call per ODE step for each chunk of this many (memory grows with it times N; a resume must use the same). Default: all; on a CPU batching does not pay: give 1 (docs/rollout.md)."),
):
    """Chain generated displacements into long trajectories, with physical monitors (docs/rollout.md).

    A checkpoint's validated settings (docs/checkpoints.md) are the defaults of every option marked so.
    \f
    Long: its 25 parameters fill the signature; the body (option resolution, checks, the run) is 39 lines."""
    from glassgen.chain.api import rollout as run_rollout
    from glassgen.chain.rollout import RolloutConfig
    from glassgen.cli.settings import config_from_options, model_meta, resolve, start_meta
    from glassgen.core.device import resolve_device
    from glassgen.md.relax import THERMAL
    from glassgen.sampling.domain import check_domain
    from glassgen.sampling.models import load_model
    from glassgen.sampling.sample import load_snapshot
    from glassgen.sampling.solvers import SolverConfig

    model = load_model(checkpoint, resolve_device(device))
    opt, taken = resolve("rollout", dict(
        lag=lag, method=method, ode_steps=ode_steps, max_resample=max_resample, overlap_energy=overlap_energy,
        relax=relax, relax_when=relax_when, relax_time=relax_time, relax_iterations=relax_iterations,
        relax_temperature=relax_temperature, history=history, history_guidance=history_guidance,
        noise_scale=noise_scale, corrector=corrector, corrector_passes=corrector_passes), model.checkpoint)
    lag, relax, relax_when, relax_time = opt["lag"], opt["relax"], opt["relax_when"], opt["relax_time"]
    trajectories = trajectories or len(init)
    if len(init) > 1 and trajectories != len(init):
        raise InputError("rollout", f"{len(init)} --init files but --trajectories {trajectories}; give one start or one per trajectory")
    if relax_counts and (relax not in THERMAL or relax_when != "always"):
        raise InputError("rollout", "--relax-counts needs a thermal relaxation every step: --relax nvt or quench with --relax-when always")
    cfg = RolloutConfig(steps=steps, lag=lag, n_trajectories=trajectories, seed=seed, max_resample=opt["max_resample"],
                        overlap_energy=opt["overlap_energy"], draw_lag=lag - relax_time if relax_counts else None,
                        history=opt["history"], batch_trajectories=batch_trajectories)
    snaps = [load_snapshot(p) for p in init]
    snap = snaps[0]
    record = check_domain(model, snaps, cfg.draw_lag, temperature=temperature, force=force)  # before any work
    relax_cfg = config_from_options(relax, relax_when, relax_time, opt["relax_temperature"], start_meta(snap, temperature),
                                    model_meta(model), max_iterations=opt["relax_iterations"],
                                    corrector=opt["corrector"], passes=opt["corrector_passes"])
    meta = {"checkpoint": str(checkpoint), "init": ",".join(map(str, init)), "noise_scale": opt["noise_scale"] or "1",
            "settings_from_checkpoint": ",".join(taken) or "none"}
    paths = run_rollout(model, snaps, cfg, out, SolverConfig(opt["method"], opt["ode_steps"]), relax=relax_cfg,
                        history_guidance=opt["history_guidance"], noise_scale=parse_floats(opt["noise_scale"], "--noise-scale"),
                        device=device, resume=resume, meta=meta, force=force, temperature=temperature,
                        overwrite=overwrite)
    typer.echo(f"wrote {', '.join(map(str, paths))}: {steps} steps of lag {lag:g} (t = {steps * lag:g})"
               + (f"; each a draw of {cfg.draw_lag:g} + {relax_time:g} of Langevin" if relax_counts else "")
               + (f"; FORCED outside the model's domain: {record['out_of_domain']}" if record else ""))
    _report_monitors(out, paths, model.checkpoint["info"].get("data_monitors"))


def _report_monitors(out: Path, paths: list, data_monitors) -> None:
    """Summarise the rollout's log against the training data's monitors: print it, write OUT.monitors.json, and
    exit 1 when the chain blew up."""
    import json

    from glassgen.chain.rollout import summarise_log
    from glassgen.core.atomic import atomic_path
    from glassgen.io.h5md import read_meta

    s = summarise_log(out.with_name(out.stem + ".log.csv"), data_monitors)
    s["blown_up"] = read_meta(paths[0]).get("blown_up_reason")
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
    if s["blown_up"]:
        typer.echo(f"blown up: {out}: {s['blown_up']}; files kept, marked blown_up in their metadata", err=True)
        raise typer.Exit(1)


def calibrate(
    checkpoint: Path = typer.Argument(..., help=CHECKPOINT_HELP),
    trajectories: list[Path] = typer.Argument(..., help="MD trajectories (H5MD) at the model's state point: training or validation data, not the reference of a check."),
    lag: float = typer.Option(..., "--lag", help="Lag τ of the draws, LJ time (the rollout's --lag)."),
    origins: int = typer.Option(4, "--origins", help="Start frames per trajectory (evenly spread)."),
    samples: int = typer.Option(2, "--samples", help="Draws per start."),
    trials: str = typer.Option("0.98,1,1.02,1.04,1.06", "--trials", help="Noise factors tried, all species together; the answer is interpolated between them."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws (the same noise at every trial factor)."),
    method: str = typer.Option(None, "--method", help="Sampler, as the rollout will use it." + default("method")),
    ode_steps: int = typer.Option(None, "--ode-steps", help="Flow-time steps per draw, as the rollout will use them." + default("ode_steps")),
    output: Path = typer.Option(None, "-o", "--output", help="Also write the result as JSON."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    device: str = typer.Option("cpu", "--device", help=DEVICE_HELP),
):
    """Measure the --noise-scale per species that makes one draw's MSD equal MD's (docs/generative.md)."""
    import json

    from tqdm import tqdm

    from glassgen.cli.settings import resolve
    from glassgen.core.atomic import atomic_path, check_writable
    from glassgen.core.device import resolve_device
    from glassgen.sampling.calibrate import calibrate_noise
    from glassgen.io.h5md import read_trajectory
    from glassgen.sampling.models import load_model
    from glassgen.sampling.solvers import SolverConfig

    dev = resolve_device(device)
    if output is not None:  # before the draws, which take minutes
        check_writable(output, overwrite)

    model = load_model(checkpoint, dev)
    opt, _ = resolve("rollout", dict(lag=lag, method=method, ode_steps=ode_steps), model.checkpoint)
    facs = parse_floats(trials, "--trials")
    if len(facs) < 2 or any(c <= 0 for c in facs):
        raise InputError("--trials", f"give at least two positive factors; got {trials!r}")
    trajs = [read_trajectory(p) for p in trajectories]
    per_trial = len(trajs) * origins
    with tqdm(total=per_trial * (len(facs) + 1), desc="calibrate", unit="draw") as bar:
        res = calibrate_noise(model, trajs, lag, origins=origins, samples=samples, trials=facs, seed=seed,
                              solver=SolverConfig(opt["method"], opt["ode_steps"]), progress=bar.update)
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
