"""H5MD 1.1 storage of trajectories and iso-configurational ensembles (layout: ``docs/formats.md``).

Trajectory::

    /h5md                           version [1, 1]; author, creator (glassgen + version)
    /particles/all/box              attrs dimension=D, boundary=["periodic"]*D
    /particles/all/box/edges/{step,time,value}   value (F,D): time-dependent, as MDAnalysis reads it
    /particles/all/position/{step,time,value}    value (F,N,D) float64, folded into [0, L)
    /particles/all/image/{step,time,value}       value (F,N,D) int32; unwrapped = position + image*L
    /particles/all/species                       (N,) int32, 0-based
    /parameters/glassgen            attrs kind, format_version, glassgen_version, units, meta (JSON)

Ensemble (glassgen extension): the same, with the initial configuration as the
single frame (time 0) of ``/particles/all``, plus

    /glassgen/ensemble/time         (F,) lags after the initial configuration
    /glassgen/ensemble/position     (R,F,N,D) float64 unwrapped, stored as they are
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from glassgen.core.version import __version__
from glassgen.core.atomic import atomic_path, check_writable
from glassgen.system.data import Ensemble, Trajectory
from glassgen.core.errors import InputError
from glassgen.system.pbc import fold, unfold

FORMAT_VERSION = 1


def _json_meta(meta: dict) -> str:
    return json.dumps({k: v for k, v in meta.items() if k != "source"}, default=_jsonable, sort_keys=True)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


def _write_header(f: h5py.File, kind: str, meta: dict) -> None:
    h = f.create_group("h5md")
    h.attrs["version"] = np.array([1, 1], dtype=np.int32)
    h.create_group("author").attrs["name"] = str(meta.get("author", "glassgen"))
    c = h.create_group("creator")
    c.attrs["name"], c.attrs["version"] = "glassgen", __version__
    p = f.create_group("parameters/glassgen")
    p.attrs["kind"] = kind
    p.attrs["format_version"] = FORMAT_VERSION
    p.attrs["glassgen_version"] = __version__
    p.attrs["units"] = "lj"
    p.attrs["meta"] = _json_meta(meta)
    for k, v in meta.items():  # scalars also as plain attributes, for h5ls/h5dump readers
        if isinstance(v, (int, float, str, np.integer, np.floating)) and k not in ("source", "meta"):
            p.attrs[k] = v


def _time_element(group: h5py.Group, name: str, value: np.ndarray, steps, times, growable: bool) -> None:
    g = group.create_group(name)
    kw = dict(maxshape=(None,) + value.shape[1:], chunks=(1,) + value.shape[1:]) if growable else {}
    g.create_dataset("value", data=value, **kw)
    g.create_dataset("step", data=np.asarray(steps, dtype=np.int64), **({"maxshape": (None,)} if growable else {}))
    g.create_dataset("time", data=np.asarray(times, dtype=np.float64), **({"maxshape": (None,)} if growable else {}))


def _steps(times: np.ndarray, meta: dict) -> np.ndarray:
    dt = meta.get("dt")
    if dt:
        return np.round(np.asarray(times) / float(dt)).astype(np.int64)
    return np.arange(len(times), dtype=np.int64)


def _write_particles(f, species, box, times, positions, meta, growable=False) -> None:
    box = np.asarray(box, dtype=np.float64)
    wrapped, image = fold(positions, box)
    steps = _steps(times, meta)
    p = f.create_group("particles/all")
    b = p.create_group("box")
    b.attrs["dimension"] = np.int32(box.shape[0])
    b.attrs["boundary"] = np.array(["periodic"] * box.shape[0], dtype=h5py.string_dtype())
    _time_element(b, "edges", np.tile(box, (len(times), 1)), steps, times, growable)
    _time_element(p, "position", wrapped, steps, times, growable)
    _time_element(p, "image", image.astype(np.int32), steps, times, growable)
    p.create_dataset("species", data=np.asarray(species, dtype=np.int32))


def write_trajectory(path, traj: Trajectory) -> None:
    """Write a trajectory as H5MD, atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _write_header(f, "trajectory", traj.meta)
        _write_particles(f, traj.species, traj.box, traj.times, traj.positions, traj.meta)


def write_ensemble(path, ens: Ensemble) -> None:
    """Write an iso-configurational ensemble (H5MD + the ``/glassgen/ensemble`` extension), atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _write_header(f, "ensemble", ens.meta)
        _write_particles(f, ens.species, ens.box, np.zeros(1), ens.initial[None], dict(ens.meta, dt=None))
        e = f.create_group("glassgen/ensemble")
        e.create_dataset("time", data=ens.times)
        e.create_dataset("position", data=ens.positions, chunks=(1, 1) + ens.positions.shape[2:])
        e.attrs["unwrapped"] = True


def _open(path) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file")
    if path.is_dir():
        raise InputError(str(path), "is a folder, expected an H5MD file")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise InputError(str(path), "not a readable HDF5 file (truncated, still being written, or another format)") from None


def _get(f: h5py.File, key: str, path) -> np.ndarray:
    if key not in f:
        raise InputError(str(path), f"missing dataset /{key} (not an H5MD file written by glassgen or LAMMPS h5md?)")
    try:
        return f[key][()]
    except (OSError, KeyError) as e:
        raise InputError(str(path), f"cannot read /{key}: {e}") from None


def read_meta(path) -> dict:
    """The ``meta`` of a glassgen H5MD file (a ``.partial`` one being written too), without reading its frames."""
    with _open(path) as f:
        meta = _read_meta(f, path)
    meta.pop("source", None)
    return meta


def stored_meta(meta: dict) -> dict:
    """``meta`` as a file stores it and :func:`read_meta` returns it (JSON types), for comparing the two."""
    return json.loads(_json_meta(meta))


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
    with _open(path) as f:
        if "glassgen/ensemble" in f:
            return "ensemble"
        return "trajectory"


def _read_meta(f, path) -> dict:
    meta = {}
    if "parameters/glassgen" in f:
        p = f["parameters/glassgen"]
        if int(p.attrs.get("format_version", FORMAT_VERSION)) > FORMAT_VERSION:
            raise InputError(str(path), f"written by a newer glassgen (format {p.attrs['format_version']}); upgrade glassgen")
        meta = json.loads(p.attrs.get("meta", "{}"))
    meta["source"] = str(path)
    return meta


def _read_particles(f, path):
    species = _get(f, "particles/all/species", path)
    pos = _get(f, "particles/all/position/value", path)
    times = _get(f, "particles/all/position/time", path)
    if "particles/all/image/value" in f:
        image = _get(f, "particles/all/image/value", path)
        if image.shape != pos.shape:
            raise InputError(str(path), f"image shape {image.shape} differs from position shape {pos.shape}")
    else:
        image = np.zeros(pos.shape, dtype=np.int32)
    if "particles/all/box/edges/value" in f:
        edges = np.atleast_2d(_get(f, "particles/all/box/edges/value", path))
    else:
        raise InputError(str(path), "missing /particles/all/box/edges")
    if edges.ndim == 3:
        raise InputError(str(path), "triclinic boxes are not supported (box edges given as a matrix)")
    if not np.allclose(edges, edges[0]):
        raise InputError(str(path), "the box changes between frames; only fixed boxes are supported")
    box = edges[0]
    if pos.ndim != 3 or pos.shape[2] != box.shape[0]:
        raise InputError(str(path), f"/particles/all/position/value must be (F,N,{box.shape[0]}); got {pos.shape}")
    if not np.all(np.isfinite(pos)):
        raise InputError(str(path), "positions contain NaN/inf")
    return species, box, times, pos, image


def read_trajectory(path) -> Trajectory:
    """Read an H5MD trajectory; positions come back unwrapped (position + image*box)."""
    with _open(path) as f:
        meta = _read_meta(f, path)
        species, box, times, pos, image = _read_particles(f, path)
    if np.any(box <= 0):
        raise InputError(str(path), f"box edges must be positive; got {box.tolist()}")
    return Trajectory(species, box, times, unfold(pos, image, box), meta)


def read_ensemble(path) -> Ensemble:
    """Read an ensemble file written by :func:`write_ensemble`."""
    with _open(path) as f:
        if "glassgen/ensemble" not in f:
            raise InputError(str(path), "is a trajectory, not an ensemble (no /glassgen/ensemble group)")
        meta = _read_meta(f, path)
        species, box, _, pos, image = _read_particles(f, path)
        times = _get(f, "glassgen/ensemble/time", path)
        runs = _get(f, "glassgen/ensemble/position", path)
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
            new = json.loads(_json_meta(self.meta))
            changed = sorted(k for k in old.keys() & new.keys() & set(same) if old[k] != new[k])
            if changed:  # a resumed run must be the run that was interrupted (sampler, seed, correction ...)
                raise InputError(str(self.partial), "cannot resume with other settings: "
                                 + ", ".join(f"{k} was {old[k]!r}, now {new[k]!r}" for k in changed))
            self.truncate(done)
        else:
            self.f = h5py.File(self.partial, "w")
            _write_header(self.f, "trajectory", self.meta)
            d = self.box.shape[0]
            _write_particles(self.f, species, self.box, np.zeros(0), np.zeros((0, n, d)), self.meta, growable=True)
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
        p = self.f["parameters/glassgen"]
        p.attrs["meta"] = _json_meta(self.meta)
        for k, v in self.meta.items():  # the plain attributes of _write_header, kept in step
            if isinstance(v, (int, float, str, np.integer, np.floating)) and k not in ("source", "meta"):
                p.attrs[k] = v

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
