"""MD branches from the states a rollout chain visits (on-chain training data, "DAgger").

A model trained on equilibrium pairs (x(t0), x(t0 + τ)) is only ever shown equilibrium states; a chain of its
draws drifts off them (experiments/rollout-proof/record.md) and then asks the model about states it never saw. A branch
starts true MD at a chain state x_k and records where it is τ later, so a refit learns what the true dynamics
does from the states the chain actually visits (dataset aggregation: Ross, Gordon & Bagnell, AISTATS 2011).

Each branch is one glassgen H5MD trajectory ``CHAIN_kKKK.h5`` (chain file CHAIN.h5, step k) with frames
x_{k-W}, ..., x_k (the chain, at its own times) and x_k + MD(τ) at t_k + τ, and metadata ``origins`` =
[t_k]: training uses only t_k as an origin (docs/generative.md, "Branch files"), so the chain's own steps
are context (the history ``prev`` = x_k − x_{k−1} and memory window x_k − x_{k−W} a rollout reads), never
targets. The MD is Langevin dynamics at the chain's temperature from Maxwell–Boltzmann velocities, with a
weak friction (``damp`` LJ time ≫ the velocity decorrelation time) that removes the heat a relaxing
high-energy state releases without slowing the structural dynamics.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from glassgen.system.data import Trajectory
from glassgen.core.errors import InputError
from glassgen.io.h5md import read_trajectory, write_trajectory
from glassgen.md.protocol import derived_seed


def branch_name(chain_file, step: int) -> str:
    return f"{Path(chain_file).stem}_k{step:03d}.h5"


def branch_plan(chains, window: int, first_step: int | None = None, every: int = 1) -> list:
    """(chain index, step k) of every branch: steps from max(window, first_step) to the last, ``every`` apart."""
    first = window if first_step is None else max(int(first_step), window)
    return [(j, k) for j, c in enumerate(chains) for k in range(first, len(c.times), every)]


def chain_branches(chain_files, out, lag: float, temperature: float, window: int = 3, first_step: int | None = None,
                   every: int = 1, damp: float = 2.0, seed: int = 0, threads: int = 1, progress: bool = True) -> list:
    """Run one MD branch of ``lag`` LJ time from chain states and write each as a branch file in ``out``.

    Args:
        chain_files: rollout trajectories (``glassgen rollout`` output) of one system.
        out: folder of the branch files; files already there are kept (an interrupted job resumes).
        lag: MD time of each branch (the chain's lag τ), LJ time.
        temperature: Langevin temperature (the chain's).
        window: chain frames kept before x_k (a memory model's W; ≥ 1 for the history ``prev``).
        first_step, every: which chain steps branch (default: from ``window`` on, every step).
        damp: Langevin damping time (LJ time).
        seed: velocity and thermostat seed; each branch uses a seed derived from it, the chain file's
            name and k, so a file does not depend on which others exist or how the chains were split.

    Returns the paths of all branch files of the plan.
    """
    from glassgen.md.relax import RelaxConfig, Relaxer

    if window < 1:
        raise InputError("branches", f"window must be >= 1 chain frame (the history step); got {window}")
    if not (np.isfinite(lag) and lag > 0):
        raise InputError("branches", f"lag must be a positive LJ time; got {lag}")
    chains = [read_trajectory(f) for f in chain_files]
    if not chains:
        raise InputError("branches", "no chain trajectories given")
    c0 = chains[0]
    for f, c in zip(chain_files, chains):
        if not np.array_equal(c.species, c0.species) or not np.allclose(c.box, c0.box):
            raise InputError(str(f), "has other species or box than the first chain file; branch one system at a time")
        steps = np.diff(c.times)
        if len(steps) and not np.allclose(steps, steps[0], rtol=1e-6):
            raise InputError(str(f), "frames are not evenly spaced: not a rollout chain")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = branch_plan(chains, window, first_step, every)
    if not plan:
        raise InputError(str(chain_files[0]), f"no chain step has {window} earlier frames to branch from")
    todo = [(j, k) for j, k in plan if not (out / branch_name(chain_files[j], k)).exists()]
    cfg = RelaxConfig(kind="nvt", when="always", temperature=float(temperature), time=float(lag), damp=float(damp),
                      max_displacement=1.0)  # the cap never acts: thermal moves per step are ~1e-3 σ
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="branches", unit="branch")
    with Relaxer(cfg, c0.species, c0.box, threads=threads) as md:
        for j, k in todo:
            c, path = chains[j], out / branch_name(chain_files[j], k)
            x_end = md.relax(c.positions[k], derived_seed(seed, zlib.crc32(Path(chain_files[j]).stem.encode()), k))
            times = np.append(c.times[k - window:k + 1], c.times[k] + lag)
            frames = np.concatenate([c.positions[k - window:k + 1], x_end[None]])
            meta = {key: v for key, v in c.meta.items() if key in ("T", "density", "potential", "checkpoint", "lag")}
            meta.update(source=str(path), chain=str(chain_files[j]), chain_step=k,
                        origins=[float(c.times[k])], branch_md=f"Langevin T={temperature:g} damp={damp:g}",
                        branch_seed=seed)
            write_trajectory(path, Trajectory(c.species, c.box, times, frames, meta))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return [out / branch_name(chain_files[j], k) for j, k in plan]
