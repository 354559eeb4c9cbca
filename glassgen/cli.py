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


# --- botan / train_propensity: `glassgen fit` (dispatch on the recipe's task) and `glassgen predict` ---
# task -> (module, function); the function takes (recipe_path, device=, resume=, out=, max_minutes=).
FIT_TASKS = {"propensity": ("glassgen.train_propensity", "fit")}


@app.command()
def fit(
    recipe: Path = typer.Argument(..., help="YAML recipe; its 'task' key picks what is trained."),
    device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu, cuda, cuda:1."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in the output folder."),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default: the recipe's 'out')."),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Stop at the next checkpoint after this many minutes."),
):
    """Train a model from a recipe (task: propensity = supervised BOTAN)."""
    import importlib

    from .recipe import load_yaml

    task = load_yaml(recipe).get("task")
    if task not in FIT_TASKS:
        raise InputError(str(recipe), f"unknown task {task!r} (known: {', '.join(sorted(FIT_TASKS))})")
    module, func = FIT_TASKS[task]
    out_dir = getattr(importlib.import_module(module), func)(recipe, device=device, resume=resume, out=out, max_minutes=max_minutes)
    typer.echo(f"{recipe}: task {task} finished; outputs in {out_dir}")


@app.command()
def predict(
    checkpoint: Path = typer.Argument(..., help="A glassgen model checkpoint (.safetensors)."),
    snapshot: Path = typer.Argument(..., help="Configuration: H5MD ensemble/trajectory, or a BOTAN .npz."),
    output: Path = typer.Option(..., "--output", "-o", help="Per-particle propensity, .npz or .csv."),
    device: str = typer.Option("cpu", "--device", help="torch device."),
    density: float = typer.Option(1.2, "--density", help="Number density for .npz input (which stores no box)."),
):
    """Predict the propensity of every particle of one configuration."""
    from .train_propensity import predict as _predict

    prop = _predict(checkpoint, snapshot, output, device=device, density=density)
    typer.echo(f"{output}: propensity of {prop.size} particles (mean {prop.mean():.4f})")


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
