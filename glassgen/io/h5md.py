"""glassgen's H5MD files: trajectories and iso-configurational ensembles, whole or streamed frame by frame.

The group layout is :mod:`glassgen.io.h5md_layout` (users: ``docs/formats.md``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from glassgen.core.atomic import atomic_path, check_writable
from glassgen.core.errors import InputError
from glassgen.io.h5md_layout import (get, json_meta, open_file, read_meta_group, read_particles, write_header,
                                     write_meta, write_particles)
from glassgen.system.data import Ensemble, Trajectory
from glassgen.system.pbc import fold, unfold


def write_trajectory(path, traj: Trajectory) -> None:
    """Write a trajectory as H5MD, atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        write_header(f, "trajectory", traj.meta)
        write_particles(f, traj.species, traj.box, traj.times, traj.positions, traj.meta)


def write_ensemble(path, ens: Ensemble) -> None:
    """Write an iso-configurational ensemble (H5MD + the ``/glassgen/ensemble`` extension), atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        write_header(f, "ensemble", ens.meta)
        write_particles(f, ens.species, ens.box, np.zeros(1), ens.initial[None], dict(ens.meta, dt=None))
        e = f.create_group("glassgen/ensemble")
        e.create_dataset("time", data=ens.times)
        e.create_dataset("position", data=ens.positions, chunks=(1, 1) + ens.positions.shape[2:])
        e.attrs["unwrapped"] = True


def read_meta(path) -> dict:
    """The ``meta`` of a glassgen H5MD file (a ``.partial`` one being written too), without reading its frames."""
    with open_file(path) as f:
        meta = read_meta_group(f, path)
    meta.pop("source", None)
    return meta


def stored_meta(meta: dict) -> dict:
    """``meta`` as a file stores it and :func:`read_meta` returns it (JSON types), for comparing the two."""
    return json.loads(json_meta(meta))


def reopen_trajectory(path) -> Path:
    """Turn a finished trajectory of :class:`TrajectoryWriter` back into ``PATH.partial`` with every frame
    complete, so that ``TrajectoryWriter(PATH, ..., resume=True)`` appends to it (extending a finished run)."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with h5py.File(path, "a") as f:
        value = f["particles/all/position/value"]
        if value.maxshape[0] is not None:
            raise InputError(str(path), "was not written frame by frame (by a rollout); it cannot be extended")
        # n_complete before the rename: a crash in between leaves a finished file that still reads as one
        f["parameters/glassgen"].attrs["n_complete"] = value.shape[0]
    os.replace(path, partial)
    return partial


def file_kind(path) -> str:
    """``"trajectory"`` or ``"ensemble"``."""
    with open_file(path) as f:
        if "glassgen/ensemble" in f:
            return "ensemble"
        return "trajectory"


def read_trajectory(path) -> Trajectory:
    """Read an H5MD trajectory; positions come back unwrapped (position + image*box)."""
    with open_file(path) as f:
        meta = read_meta_group(f, path)
        species, box, times, pos, image = read_particles(f, path)
    if np.any(box <= 0):
        raise InputError(str(path), f"box edges must be positive; got {box.tolist()}")
    return Trajectory(species, box, times, unfold(pos, image, box), meta)


def read_ensemble(path) -> Ensemble:
    """Read an ensemble file written by :func:`write_ensemble`."""
    with open_file(path) as f:
        if "glassgen/ensemble" not in f:
            raise InputError(str(path), "is a trajectory, not an ensemble (no /glassgen/ensemble group)")
        meta = read_meta_group(f, path)
        species, box, _, pos, image = read_particles(f, path)
        times = get(f, "glassgen/ensemble/time", path)
        runs = get(f, "glassgen/ensemble/position", path)
    return Ensemble(species, box, unfold(pos[0], image[0], box), times, runs, meta)


def read(path):
    """Read a glassgen H5MD file, trajectory or ensemble."""
    return read_ensemble(path) if file_kind(path) == "ensemble" else read_trajectory(path)


def read_folder(path, kind: str | None = None) -> list:
    """Read one file, or every ``*.h5``/``*.h5md`` file of a folder (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".h5", ".h5md"))
        if not files:
            raise InputError(str(path), "folder holds no .h5/.h5md files")
    else:
        files = [path]
    items = [read(p) for p in files]
    if kind is not None:
        for p, it in zip(files, items):
            if (kind == "ensemble") != isinstance(it, Ensemble):
                raise InputError(str(p), f"expected an {kind} file")
    return items


class TrajectoryWriter:
    """Stream frames into an H5MD trajectory, flushing after each one; resumable.

    Frames go to ``PATH.partial``; :meth:`close` renames it to ``PATH``. With
    ``resume=True`` an existing ``PATH.partial`` is reopened and its complete
    frames are kept (``n_frames`` says how many), so an interrupted job goes on
    where it stopped. Metadata keys named in ``same`` must then equal the file's (else
    InputError): settings that would splice two different runs into one file.
    """

    def __init__(self, path, species, box, meta: dict | None = None, resume: bool = False, same=()):
        self.path = check_writable(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.box = np.asarray(box, dtype=np.float64)
        self.meta = dict(meta or {})
        n = len(species)
        if resume and self.partial.exists():
            self.f = h5py.File(self.partial, "a")
            done = int(self.f["parameters/glassgen"].attrs.get("n_complete", 0))
            have = self.f["particles/all/species"].shape[0]
            if have != n:
                raise InputError(str(self.partial), f"cannot resume: file has {have} particles, run has {n}")
            old = json.loads(self.f["parameters/glassgen"].attrs.get("meta", "{}"))
            new = json.loads(json_meta(self.meta))
            changed = sorted(k for k in old.keys() & new.keys() & set(same) if old[k] != new[k])
            if changed:  # a resumed run must be the run that was interrupted (sampler, seed, correction ...)
                raise InputError(str(self.partial), "cannot resume with other settings: "
                                 + ", ".join(f"{k} was {old[k]!r}, now {new[k]!r}" for k in changed))
            self.truncate(done)
        else:
            self.f = h5py.File(self.partial, "w")
            write_header(self.f, "trajectory", self.meta)
            d = self.box.shape[0]
            write_particles(self.f, species, self.box, np.zeros(0), np.zeros((0, n, d)), self.meta, growable=True)
            self.f["parameters/glassgen"].attrs["n_complete"] = 0
        self.n_frames = int(self.f["parameters/glassgen"].attrs["n_complete"])

    def truncate(self, k: int) -> None:
        """Keep the first ``k`` frames (resume after a partly written step); also used to grow by one."""
        for name in ("box/edges", "position", "image"):
            for ds in ("value", "step", "time"):
                self.f[f"particles/all/{name}/{ds}"].resize(k, axis=0)
        self.f["parameters/glassgen"].attrs["n_complete"] = k

    def last_positions(self, back: int = 0) -> np.ndarray:
        """Unwrapped positions of the last complete frame (``back`` frames before it), (N,D)."""
        p, k = self.f["particles/all"], self.n_frames - 1 - back
        return unfold(p["position/value"][k], p["image/value"][k], self.box)

    def last_time(self) -> float:
        return float(self.f["particles/all/position/time"][self.n_frames - 1])

    def append(self, time: float, positions) -> None:
        """Add one frame of unwrapped positions (N,D) and flush it to disk."""
        x = np.asarray(positions, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise InputError(str(self.path), f"frame at t = {time} contains NaN/inf positions")
        wrapped, image = fold(x, self.box)
        k = self.n_frames
        self.truncate(k + 1)
        p = self.f["particles/all"]
        step = int(round(time / float(self.meta["dt"]))) if self.meta.get("dt") else k
        for name, val in (("box/edges", self.box), ("position", wrapped), ("image", image.astype(np.int32))):
            p[f"{name}/value"][k] = val
            p[f"{name}/step"][k] = step
            p[f"{name}/time"][k] = time
        self.n_frames = k + 1
        self.f["parameters/glassgen"].attrs["n_complete"] = self.n_frames
        self.f.flush()

    def mark(self, **meta) -> None:
        """Store ``meta`` in the file (the run's metadata with these keys set), e.g. a verdict reached at its end."""
        self.meta.update(meta)
        write_meta(self.f["parameters/glassgen"], self.meta)

    def close(self) -> Path:
        """Finish the file and move it to its final name."""
        self.f["parameters/glassgen"].attrs.__delitem__("n_complete")
        self.f.close()
        os.replace(self.partial, self.path)
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self.f.close()  # keep the .partial for --resume
