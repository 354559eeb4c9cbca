"""The ``glassgen`` command line. Each command is a thin wrapper over a library function.

Bad input raises :class:`glassgen.core.errors.InputError`; :func:`main` prints it as one
line (``error: FILE: problem``) and exits with status 2, never with a traceback.
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer

from glassgen.core.version import __version__

from glassgen.cli import bench as cli_bench
from glassgen.cli import checkpoints as cli_checkpoints
from glassgen.cli import generate as cli_generate
from glassgen.core.errors import InputError
from glassgen.sampling.defaults import METHOD, ODE_STEPS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="glassgen: learn, sample and check long-time glassy dynamics (LJ units throughout).",
    pretty_exceptions_enable=False,
)


def _version(value: bool):
    if value:
        typer.echo(f"glassgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version.")):
    pass


@app.command()
def info(path: Path = typer.Argument(..., help="An H5MD trajectory or ensemble file, or a model checkpoint (path or shipped name).")):
    """Summarise a glassgen H5MD file (kind, particles, species, box, times) or a checkpoint (kind, domain, settings)."""
    from glassgen.io.h5md import read

    if path.suffix == ".safetensors" or (not path.exists() and path.suffix not in (".h5", ".h5md")):
        return cli_checkpoints.describe(path)
    obj = read(path)
    import numpy as np

    kind = type(obj).__name__.lower()
    n_per = np.bincount(obj.species)
    typer.echo(f"{path}: {kind}, N = {obj.species.size} (per species {n_per.tolist()}), box {obj.box.tolist()}")
    if kind == "ensemble":
        typer.echo(f"  runs R = {obj.n_runs}, lags {obj.times.tolist()}")
    else:
        typer.echo(f"  frames F = {obj.n_frames}, t = {obj.times[0]:g} .. {obj.times[-1]:g}")
    meta = {k: v for k, v in obj.meta.items() if k != "source"}
    if meta:
        typer.echo("  " + ", ".join(f"{k}={v}" for k, v in sorted(meta.items())))


# --- commands added by later modules go below, one block each ---------------------


# --- fit: one command, dispatch on the recipe's `task` through this plain dict -----------
# task -> (module, function); the function takes (recipe_path, device=, resume=, out=, max_minutes=).
FIT_TASKS = {
    "propensity": ("glassgen.encoder.train", "fit"),  # supervised BOTAN (docs/botan.md)
    "flow": ("glassgen.flow.train", "fit"),  # flow matching (docs/generative.md)
    "diffusion": ("glassgen.flow.train", "fit"),  # VP diffusion, same trainer
}


@app.command()
def fit(
    recipe: Path = typer.Argument(..., help="YAML recipe; its 'task' key picks what is trained."),
    device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu, cuda, cuda:1."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in the output folder."),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: the recipe's 'out')."),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Stop at the next checkpoint after this many minutes."),
):
    """Train a model from a recipe: task propensity (supervised BOTAN), flow or diffusion."""
    import importlib

    from glassgen.core.recipe import load_yaml

    task = load_yaml(recipe).get("task")
    if task not in FIT_TASKS:
        raise InputError(str(recipe), f"unknown task {task!r} (known: {', '.join(sorted(FIT_TASKS))})")
    module, func = FIT_TASKS[task]
    out_dir = getattr(importlib.import_module(module), func)(recipe, device=device, resume=resume, out=out, max_minutes=max_minutes)
    typer.echo(f"{recipe}: task {task} finished; outputs in {out_dir}")


# --- formats (glassgen/formats): glassgen convert ---------------------------------
@app.command()
def convert(
    src: Path = typer.Argument(..., help="Input file, or a folder of input files (e.g. BOTAN npz)."),
    dst: Path = typer.Argument(..., help="Output file, or output folder when SRC is a folder."),
    format_in: str = typer.Option(None, "--format-in", help="h5md, npz, lammps-dump, xyz or lammps-data (default: from content/extension)."),
    format_out: str = typer.Option(None, "--format-out", help="h5md, npz, lammps-dump, xyz or lammps-data (default: from extension; h5md for folders)."),
    preset: str = typer.Option(None, "--preset", help="npz input: 'botan' = density 1.2, time 4120, T 0.44, KA 3D."),
    box: str = typer.Option(None, "--box", help="npz input: box edge L, or three edges 'Lx,Ly,Lz'."),
    density: float = typer.Option(None, "--density", help="npz input: number density; box edge (N/density)^(1/3)."),
    time: float = typer.Option(None, "--time", help="npz input: the lag of 'positions' in LJ time units."),
    dt: float = typer.Option(None, "--dt", help="LAMMPS input: MD time step; time = timestep * dt (default 0.005)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse to unwrap wrapped multi-frame input without image flags."),
    frame: int = typer.Option(None, "--frame", help="Write only this frame of a trajectory (negative counts from the end)."),
    resume: bool = typer.Option(False, "--resume", help="Folder input: keep outputs that already exist."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs (without it, or --resume for a folder, they are refused)."),
):
    """Convert between H5MD, BOTAN npz, LAMMPS dump/data and extended XYZ (see docs/converters.md)."""
    from glassgen.io import convert_path

    outputs = convert_path(src, dst, format_in=format_in, format_out=format_out, frame=frame, resume=resume,
                           overwrite=overwrite, preset=preset, box=box, density=density, time=time, dt=dt, strict=strict)
    typer.echo(f"wrote {outputs[0]}" if len(outputs) == 1 and not src.is_dir() else f"wrote {len(outputs)} files into {dst}")


# --- glassgen.stats: evaluate (issue 4) ----------------------------------------------
@app.command()
def evaluate(
    generated: Path = typer.Argument(..., help="Generated ensemble/trajectory: an H5MD file or a folder of them."),
    reference: Path = typer.Argument(..., help="MD reference, same kind; folders are matched by file name."),
    outdir: Path = typer.Option(..., "-o", "--outdir", help="Folder for report.json and the PNG plots."),
    times: str = typer.Option("", "--times", help="Comma-separated lag times [LJ τ] to compare (default: all common ensemble times; trajectories: near τ_α and τ_α/10)."),
    q: float = typer.Option(7.25, "--q", help="Wave number of F_s [σ⁻¹]."),
    seed: int = typer.Option(0, "--seed", help="Seed of the half splits and bootstrap."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write PNG figures."),
    all_times: bool = typer.Option(False, "--all-times", help="Print every lag, not only the headline one."),
    long_time: bool = typer.Option(False, "--long-time", help="Rollout check: sets of trajectories (not matched by name), F_s/MSD/τ_α/χ₄/energy over time against MD (docs/rollout.md)."),
    t_min: float = typer.Option(None, "--t-min", help="With --long-time: use only common frames at multiples of this time (default: all common frames, equally spaced)."),
    # Chapman–Kolmogorov check (glassgen.chain.chapman); off unless --ck-model is given.
    ck_model: Path = typer.Option(None, "--ck-model", help="Flow checkpoint: also check two steps of τ vs one of 2τ vs REF at 2τ."),
    ck_lag: float = typer.Option(None, "--ck-lag", help="τ of the check [LJ]; REF needs the lag 2τ (ensembles) or frames 2τ apart."),
    ck_samples: int = typer.Option(16, "--ck-samples", min=4, help="Two-step chains and one-step draws per start configuration."),
    ck_starts: int = typer.Option(8, "--ck-starts", min=1, help="Start configurations taken from REF (evenly spread)."),
    ck_method: str = typer.Option(None, "--ck-method", help=f"Sampler of the check's draws (default {METHOD})."),
    ck_ode_steps: int = typer.Option(None, "--ck-ode-steps", help=f"Flow-time steps per draw (default {ODE_STEPS})."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier evaluate's files in OUTDIR, all of them (without it, they are refused)."),
):
    """Compare generated dynamics with MD: statistics, noise floors, verdicts (docs/statistics.md)."""
    from glassgen.core.atomic import check_writable, remove_stale
    from glassgen.stats.evaluate import OUTPUTS, evaluate as run_evaluate, summary_lines
    from glassgen.stats.features import Options

    if outdir.is_dir():  # (a new folder is made only once the inputs are known to be good)
        earlier = [outdir / name for name in OUTPUTS]
        check_writable(outdir / "report.json", overwrite, also=earlier)
        remove_stale(earlier)  # a plot or check this run does not make must not pass for one of its results
    if long_time:
        from glassgen.stats.longtime import evaluate_long_time

        res = evaluate_long_time(generated, reference, outdir, t_min=t_min, seed=seed, q=q)
        typer.echo((outdir / "longtime.md").read_text().rstrip())
        if res["failed"]:
            raise typer.Exit(1)
        return
    if (ck_model is None) != (ck_lag is None):
        raise InputError("--ck-model/--ck-lag", "the Chapman–Kolmogorov check needs both")
    if ck_model is not None:  # load model and starts first: bad input fails before the long evaluation
        from glassgen.chain.chapman import prepare_check, run_check, summary_lines as ck_lines

        from glassgen.sampling.solvers import SolverConfig

        solver = SolverConfig(**{k: v for k, v in (("method", ck_method), ("ode_steps", ck_ode_steps)) if v is not None})
        ck_in = prepare_check(ck_model, reference, ck_lag, ck_starts, solver)
    try:
        lags = [float(x) for x in times.split(",") if x.strip()]
    except ValueError:
        raise InputError("--times", f"expected comma-separated numbers; got {times!r}") from None
    report = run_evaluate(generated, reference, outdir, Options(q=q), times=lags or None, seed=seed, plots=plots)
    for line in summary_lines(report, all_times):
        typer.echo(line)
    typer.echo(f"report: {outdir / 'report.json'}" + (f"; plots: {', '.join(report.get('plots', []))}" if plots else ""))
    ok = report["verdict"] == "pass"
    if ck_model is not None:
        ck = run_check(ck_model, reference, ck_lag, outdir, n_samples=ck_samples, seed=seed, q=q, prepared=ck_in)
        typer.echo("")
        for line in ck_lines(ck):
            typer.echo(line)
        typer.echo(f"report: {outdir / 'chapman_kolmogorov.json'}")
        ok = ok and ck["verdict"] == "consistent" and ck["md_verdict"] != "fail"
    if not ok:
        raise typer.Exit(1)


# --- botan: glassgen predict ------------------------------------------------------------
@app.command()
def predict(
    checkpoint: Path = typer.Argument(..., help="A glassgen model checkpoint (.safetensors)."),
    snapshot: Path = typer.Argument(..., help="Configuration: H5MD ensemble/trajectory, or a BOTAN .npz."),
    output: Path = typer.Option(..., "--output", "-o", help="Per-particle propensity, .npz or .csv."),
    device: str = typer.Option("cpu", "--device", help="torch device."),
    density: float = typer.Option(1.2, "--density", help="Number density for .npz input (which stores no box)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output (without it, it is refused)."),
):
    """Predict the propensity of every particle of one configuration."""
    from glassgen.core.atomic import check_writable
    from glassgen.encoder.train import predict as _predict

    check_writable(output, overwrite)
    prop = _predict(checkpoint, snapshot, output, device=device, density=density)
    typer.echo(f"{output}: propensity of {prop.size} particles (mean {prop.mean():.4f})")


# --- quickstart: the whole pipeline on an embedded default -------------------------------
@app.command()
def quickstart(
    out: Path = typer.Option(Path("glassgen-quickstart"), "-o", "--out", help="Output folder (rerun to resume)."),
    train_steps: int = typer.Option(None, "--train-steps", help="Training steps of the demo model (default 150)."),
):
    """MD (LAMMPS, tiny preset) -> train a flow model -> sample -> evaluate vs MD -> rollout, in minutes."""
    from glassgen.cli.quickstart import run

    paths = run(out, echo=typer.echo, train_steps=train_steps)
    typer.echo("done: " + ", ".join(f"{k} {v}" for k, v in paths.items()))


# --- simulate (glassgen.md): reference MD with LAMMPS --------------------------
@app.command()
def simulate(
    recipe: Path = typer.Argument(None, help="Recipe YAML (keys and units: docs/simulate.md)."),
    preset: str = typer.Option(None, "--preset", help="Use a shipped recipe instead: tiny, demo, ka3d-T0.44."),
    out: Path = typer.Option(None, "-o", "--out", help="Output folder (default: ./simulate-NAME)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in OUT; finished work is kept."),
    np_: int = typer.Option(1, "--np", min=1, help="K MPI ranks when mpiexec/mpirun exists, else K OpenMP threads."),
):
    """Kob–Andersen MD with LAMMPS: equilibrate, then write H5MD trajectories and iso-configurational ensembles."""
    from glassgen.md import load_preset, load_recipe, mpi_launcher, simulate as run, simulate_mpi
    from glassgen.md.protocol import check_output

    if (recipe is None) == (preset is None):
        raise InputError("glassgen simulate", "give either a RECIPE file or --preset NAME")
    r = load_preset(preset) if preset else load_recipe(recipe)
    out = out if out is not None else Path(f"simulate-{r.name}")
    check_output(r, out, resume)
    launcher = mpi_launcher() if np_ > 1 else None
    if launcher:
        typer.echo(f"running LAMMPS on {np_} MPI ranks ({launcher})", err=True)
        code = simulate_mpi(preset or str(recipe), preset is not None, out, np_, resume, launcher)
        if code:
            raise typer.Exit(code)
    else:
        run(r, out, resume=resume, threads=np_)
    typer.echo(f"done: {out}")


@app.command()
def inherent(
    inputs: list[Path] = typer.Argument(..., help="Glassgen H5MD trajectories (3D Kob–Andersen)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder: one inherent-structure trajectory per input."),
    every: float = typer.Option(None, "--every", help="Keep only frames at multiples of this LJ time (e.g. the block length)."),
    max_iterations: int = typer.Option(1000, "--max-iterations", min=1, help="Conjugate-gradient iterations per frame."),
):
    """Inherent structures (energy minima) of every frame, via LAMMPS; rerun to continue (finished files kept)."""
    from glassgen.md.inherent import inherent_files

    written = inherent_files(inputs, out, every, max_iterations)
    typer.echo(f"wrote {len(written)} inherent-structure trajectories into {out}")


@app.command()
def branch(
    chains: list[Path] = typer.Argument(..., help="Rollout trajectories (H5MD), or folders of them (their rollout*.h5)."),
    lag: float = typer.Option(..., "--lag", help="MD time of each branch, LJ time (the chain's lag)."),
    temperature: float = typer.Option(..., "--temperature", help="Langevin temperature of the branches (the chain's)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder: one branch file per chain state."),
    window: int = typer.Option(3, "--window", min=1, help="Chain frames kept before each state (a memory model's W)."),
    every: int = typer.Option(1, "--every", min=1, help="Branch every this many chain steps."),
    damp: float = typer.Option(2.0, "--damp", help="Langevin damping time, LJ time."),
    seed: int = typer.Option(0, "--seed", help="Velocity and thermostat seed."),
    threads: int = typer.Option(1, "--threads", min=1, help="OpenMP threads of LAMMPS."),
):
    """MD branches from the states a rollout visits: on-chain training data (experiments/rollout-proof/record.md); rerun to continue."""
    from glassgen.md.branches import chain_branches

    files = []
    for c in chains:
        files.extend(sorted(c.glob("rollout*.h5")) if c.is_dir() else [c])
    if not files:
        raise InputError(str(chains[0]), "holds no rollout*.h5 chain files")
    written = chain_branches(files, out, lag, temperature, window=window, every=every, damp=damp, seed=seed,
                              threads=threads)
    typer.echo(f"{len(written)} branch files in {out}")


# --- checkpoints: glassgen upgrade-checkpoint (glassgen/cli/checkpoints.py) ----------------------
app.command("upgrade-checkpoint")(cli_checkpoints.upgrade_checkpoint)


# --- generation: glassgen sample, glassgen rollout (glassgen/cli/generate.py) ------------------
app.command()(cli_generate.sample)
app.command()(cli_generate.rollout)
app.command()(cli_generate.calibrate)


# --- speed: glassgen bench (glassgen/cli/bench.py) -------------------------------------------
app.command()(cli_bench.bench)


def main() -> None:
    try:
        app()
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; finished work is kept (rerun with --resume where the command has it)", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
