"""Entry points: :func:`simulate` (in-process, K OpenMP threads) and :func:`simulate_mpi` (K MPI ranks).

``python -m glassgen.md`` is the per-rank program that ``mpiexec`` starts.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from glassgen.core.atomic import atomic_path
from glassgen.md.lammps_engine import Engine, merged_input
from glassgen.md.protocol import Simulation, check_output, derived_seed
from glassgen.md.recipe import Recipe, load_preset, load_recipe


def output_plan(recipe: Recipe, out: Path) -> dict:
    """What is left to do in ``out``: unfinished units and the simulated time they need (LJ units)."""
    tr, en = recipe.trajectories, recipe.ensembles
    todo_traj = [c for c in range(tr.count) if not (out / f"traj_{c:03d}.h5").exists()]
    todo_ens = [c for c in range(en.configurations) if not (out / f"ens_{c:03d}.h5").exists()]
    last = max(todo_traj + todo_ens, default=-1)
    ck = out / "checkpoints"
    # States are made in order 0, 1, 2, ...: the highest saved one says what is left.
    have = max((c for c in range(last + 1) if (ck / f"state_{c:03d}.npz").exists()), default=-1)
    time = 0.0
    if last >= 0 and have < 0:
        eq = recipe.equilibration
        time += recipe.melt.time + recipe.quench.time + eq.multiple * eq.tau_alpha
    time += max(last - max(have, 0), 0) * recipe.spacing()
    time += len(todo_traj) * tr.length
    for c in todo_traj:  # an interrupted trajectory goes on from its last checkpointed frame
        if (ck / f"traj_{c:03d}.npz").exists() and (out / f"traj_{c:03d}.h5.partial").exists():
            with np.load(ck / f"traj_{c:03d}.npz") as z:
                time -= recipe.trajectory_frame_steps()[int(z["frame"])] * recipe.dt
    lag = recipe.ensemble_lag_steps()[-1] * recipe.dt if en.configurations else 0.0
    for c in todo_ens:
        done = len(list((ck / f"ens_{c:03d}").glob("run_*.npz"))) if (ck / f"ens_{c:03d}").is_dir() else 0
        time += (en.runs - done) * lag
    return {"trajectories": todo_traj, "ensembles": todo_ens, "time": time}


def _advance(bar, k: int) -> None:
    # The plan is an estimate (drift checks may extend equilibration): grow the total, never overrun it,
    # because tqdm drops an overrun total and its LJ-time format then fails mid-run.
    if bar.n + k > bar.total:
        bar.total = bar.n + k
    bar.update(k)


def simulate(recipe: Recipe, out, resume: bool = False, threads: int = 1, progress: bool = True, hook=None) -> list[Path]:
    """Run a recipe into the folder ``out``; returns the output files (existing ones included).

    Args:
        recipe: a validated recipe (:func:`load_recipe`, :func:`load_preset`).
        out: output folder; created if needed. A folder holding another run is an
            error unless ``resume`` is true and the recipe matches.
        resume: continue an interrupted run, skipping every finished state, run,
            trajectory and ensemble.
        threads: OpenMP threads per LAMMPS rank.
        progress: show a tqdm bar in simulated LJ time (root rank only).
        hook: ``hook(kind, index)`` after each finished unit (tests interrupt with it).
    """
    out = Path(out)
    check_output(recipe, out, resume)
    plan = output_plan(recipe, out)
    bar = None
    engine = Engine(threads=threads)  # collective: every rank has checked the folder before anyone writes
    if engine.is_root:
        if progress:
            from tqdm.auto import tqdm

            # Counted in MD steps, shown in LJ time: the ETA is wall time left for the simulated time left.
            bar = tqdm(total=recipe.steps(plan["time"]), unit_scale=recipe.dt, desc=f"simulate {recipe.name}",
                       dynamic_ncols=True,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} LJ time [{elapsed}<{remaining}]")
            engine.on_steps = lambda k, bar=bar: _advance(bar, k)
        if not (out / "recipe.yaml").exists():
            with atomic_path(out / "recipe.yaml") as tmp:
                tmp.write_text(yaml.safe_dump(recipe.to_dict(), sort_keys=False))
        (out / "checkpoints").mkdir(exist_ok=True)
    try:
        sy = recipe.system
        seeds = tuple(derived_seed(recipe.seed, 0, k) for k in range(3))
        engine.setup(sy.n, sy.n_a(), sy.edge(), recipe.dt, recipe.start, seeds)
        species = engine.species()
        sim = Simulation(recipe, out, engine, hook)
        n_states = max(recipe.trajectories.count, recipe.ensembles.configurations)
        for c in range(n_states):
            if c in plan["trajectories"]:
                sim.trajectory(c, species)
            if c in plan["ensembles"]:
                sim.ensemble(c, species)
        if engine.is_root:  # provenance: what LAMMPS ran in this session, as a plain input file
            with atomic_path(out / "lammps-input.lmp") as tmp:
                tmp.write_text(merged_input(engine.history))
    finally:
        if bar is not None:
            bar.close()
        engine.close(finalize_mpi=engine.size > 1)
    files = [out / f"traj_{c:03d}.h5" for c in range(recipe.trajectories.count)]
    return files + [out / f"ens_{c:03d}.h5" for c in range(recipe.ensembles.configurations)]


def mpi_launcher() -> str | None:
    """``mpiexec``/``mpirun`` beside this Python, else on PATH; None when there is none."""
    here = Path(sys.executable).parent
    for name in ("mpiexec", "mpirun"):
        if (here / name).exists() and os.access(here / name, os.X_OK):
            return str(here / name)
    for name in ("mpiexec", "mpirun"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def simulate_mpi(recipe_arg: str, preset: bool, out, ranks: int, resume: bool = False, launcher: str | None = None) -> int:
    """Run the recipe on ``ranks`` MPI ranks (one thread each) with the launcher; returns its exit code."""
    cmd = [launcher or mpi_launcher(), "-n", str(ranks), sys.executable, "-m", "glassgen.md",
           recipe_arg, "-o", str(out)] + (["--preset"] if preset else []) + (["--resume"] if resume else [])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, env=env).returncode


def main(argv=None) -> None:
    """Per-rank program: ``python -m glassgen.md RECIPE -o OUT [--preset] [--resume]``."""
    p = argparse.ArgumentParser(prog="python -m glassgen.md")
    p.add_argument("recipe")
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--preset", action="store_true", help="RECIPE is a preset name")
    p.add_argument("--resume", action="store_true")
    a = p.parse_args(argv)
    recipe = load_preset(a.recipe) if a.preset else load_recipe(a.recipe)
    simulate(recipe, a.out, resume=a.resume, threads=1)
