"""The ``glassgen`` command line. Each command is a thin wrapper over a library function.

Bad input raises :class:`glassgen.errors.InputError`; :func:`main` prints it as one
line (``error: FILE: problem``) and exits with status 2, never with a traceback.
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer

from . import __version__
from .errors import InputError

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
def info(path: Path = typer.Argument(..., help="An H5MD trajectory or ensemble file.")):
    """Summarise a glassgen H5MD file: kind, particles, species, box, times."""
    from .h5md import read

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


# --- simulate (glassgen.simulate): reference MD with LAMMPS --------------------------
@app.command()
def simulate(
    recipe: Path = typer.Argument(None, help="Recipe YAML (keys and units: docs/simulate.md)."),
    preset: str = typer.Option(None, "--preset", help="Use a shipped recipe instead: tiny, demo, ka3d-T0.44."),
    out: Path = typer.Option(None, "-o", "--out", help="Output folder (default: ./simulate-NAME)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in OUT; finished work is kept."),
    np_: int = typer.Option(1, "--np", min=1, help="K MPI ranks when mpiexec/mpirun exists, else K OpenMP threads."),
):
    """Kob–Andersen MD with LAMMPS: equilibrate, then write H5MD trajectories and iso-configurational ensembles."""
    from .simulate import load_preset, load_recipe, mpi_launcher, simulate as run, simulate_mpi
    from .simulate.protocol import check_output

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
