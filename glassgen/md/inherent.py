"""Inherent structures (Stillinger–Weber) of trajectory frames, through LAMMPS.

The inherent structure (IS) of a configuration is the local minimum of the potential energy that a
descent from it reaches. A trajectory of inherent structures keeps the basin-to-basin moves
(rearrangements) and drops the vibrations inside a basin, so it is the natural object for a chain whose
correction is a minimisation: a model trained on MD's IS-to-IS steps reads and writes the same kind of
configuration as the chain ``rollout --relax minimize --relax-when always`` builds (docs/rollout.md,
"Inherent-structure chain").

Every selected frame is minimised independently by conjugate gradient (``min_style cg``, force tolerance
1e-8, ``max_iterations`` iterations). Positions stay **unwrapped** (the relaxer's exact bookkeeping), so
IS-to-IS displacements are exact across boundary crossings. Contract: docs/simulate.md, "Inherent
structures".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from glassgen.system.data import Trajectory
from glassgen.core.errors import InputError

TIME_TOLERANCE = 1e-6  # relative: frame times written as floats are multiples of `every` up to rounding


def select_frames(times, every: float | None, source: str = "trajectory") -> np.ndarray:
    """Indices of the frames whose time is a multiple of ``every`` (all frames when ``every`` is None)."""
    times = np.asarray(times, dtype=np.float64)
    if every is None:
        return np.arange(len(times))
    if not np.isfinite(every) or every <= 0:
        raise InputError(source, f"--every must be a positive time; got {every}")
    k = np.round(times / every)
    keep = np.flatnonzero(np.abs(times - k * every) <= TIME_TOLERANCE * max(every, 1.0))
    if keep.size == 0:
        raise InputError(source, f"no frame time is a multiple of --every {every:g} (times {times[:5].tolist()}...)")
    return keep


def inherent_trajectory(traj: Trajectory, every: float | None = None, max_iterations: int = 1000,
                        progress: bool = False, threads: int = 1) -> Trajectory:
    """The inherent structures of a trajectory's frames (those at multiples of ``every``, or all).

    Args:
        traj: a 3D Kob–Andersen trajectory (species 0 = A, 1 = B).
        every: keep the frames at multiples of this time (LJ), e.g. the block starts of a
            ``glassgen simulate`` trajectory; None keeps all.
        max_iterations: conjugate-gradient iterations per frame (1000 converge N = 1000 at T = 0.6:
            a second minimisation then moves no particle by more than 1e-11 σ).

    Shapes:
        returns a :class:`Trajectory` with F' ≤ F frames, positions (F',N,3) unwrapped; metadata of
        ``traj`` plus ``inherent_structure`` = True and ``inherent_max_iterations``.
    """
    from glassgen.md.relax import RelaxConfig, Relaxer

    src = str(traj.meta.get("source", "trajectory"))
    if traj.dim != 3:
        raise InputError(src, f"inherent structures need 3D Kob–Andersen frames; got D = {traj.dim}")
    keep = select_frames(traj.times, every, src)
    out = np.empty((len(keep), traj.n_particles, 3))
    cfg = RelaxConfig(kind="minimize", when="always", max_iterations=max_iterations)
    with Relaxer(cfg, traj.species, traj.box, threads=threads) as r:
        for i, f in enumerate(tqdm(keep, desc=f"inherent {Path(src).name}", unit="frame", disable=not progress)):
            out[i] = r.relax(traj.positions[f])
    meta = dict(traj.meta, inherent_structure=True, inherent_max_iterations=int(max_iterations))
    return Trajectory(traj.species, traj.box, traj.times[keep], out, meta)


def inherent_files(inputs, out_dir, every: float | None = None, max_iterations: int = 1000,
                   progress: bool = True) -> list:
    """Write ``OUT_DIR/<name>.h5``, the inherent-structure trajectory of every input file.

    Each file is written atomically when it is complete, and an output that already exists is kept:
    an interrupted run, started again, continues with the first missing file.
    """
    from glassgen.io.h5md import file_kind, read_trajectory, write_trajectory

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, inputs):
        if file_kind(path) != "trajectory":
            raise InputError(str(path), "is not a glassgen trajectory (H5MD with frames); inherent structures need one")
        target = out_dir / (path.stem + ".h5")
        if target.resolve() == path.resolve():
            raise InputError(str(path), "the output folder must not hold the input files")
        if not target.exists():
            traj = read_trajectory(path)
            traj.meta.setdefault("source", str(path))
            write_trajectory(target, inherent_trajectory(traj, every, max_iterations, progress))
        written.append(target)
    return written
