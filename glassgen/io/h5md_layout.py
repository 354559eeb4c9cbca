"""The H5MD 1.1 layout glassgen writes and reads, group by group (whole files: :mod:`glassgen.io.h5md`).

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

Documented for users in ``docs/formats.md``.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from glassgen.core.errors import InputError
from glassgen.core.version import __version__
from glassgen.system.pbc import fold

FORMAT_VERSION = 1


def json_meta(meta: dict) -> str:
    """``meta`` as the JSON string a file stores (``source`` left out: it is where the file was read from)."""
    return json.dumps({k: v for k, v in meta.items() if k != "source"}, default=_jsonable, sort_keys=True)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


def write_meta(p: h5py.Group, meta: dict) -> None:
    """Store ``meta`` in /parameters/glassgen: as JSON, and its scalars also as plain attributes (h5ls/h5dump)."""
    p.attrs["meta"] = json_meta(meta)
    for k, v in meta.items():
        if isinstance(v, (int, float, str, np.integer, np.floating)) and k not in ("source", "meta"):
            p.attrs[k] = v


def write_header(f: h5py.File, kind: str, meta: dict) -> None:
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
    write_meta(p, meta)


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


def write_particles(f, species, box, times, positions, meta, growable=False) -> None:
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


def open_file(path) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file")
    if path.is_dir():
        raise InputError(str(path), "is a folder, expected an H5MD file")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise InputError(str(path), "not a readable HDF5 file (truncated, still being written, or another format)") from None


def get(f: h5py.File, key: str, path) -> np.ndarray:
    if key not in f:
        raise InputError(str(path), f"missing dataset /{key} (not an H5MD file written by glassgen or LAMMPS h5md?)")
    try:
        return f[key][()]
    except (OSError, KeyError) as e:
        raise InputError(str(path), f"cannot read /{key}: {e}") from None


def read_meta_group(f, path) -> dict:
    meta = {}
    if "parameters/glassgen" in f:
        p = f["parameters/glassgen"]
        if int(p.attrs.get("format_version", FORMAT_VERSION)) > FORMAT_VERSION:
            raise InputError(str(path), f"written by a newer glassgen (format {p.attrs['format_version']}); upgrade glassgen")
        meta = json.loads(p.attrs.get("meta", "{}"))
    meta["source"] = str(path)
    return meta


def read_particles(f, path):
    species = get(f, "particles/all/species", path)
    pos = get(f, "particles/all/position/value", path)
    times = get(f, "particles/all/position/time", path)
    if "particles/all/image/value" in f:
        image = get(f, "particles/all/image/value", path)
        if image.shape != pos.shape:
            raise InputError(str(path), f"image shape {image.shape} differs from position shape {pos.shape}")
    else:
        image = np.zeros(pos.shape, dtype=np.int32)
    if "particles/all/box/edges/value" in f:
        edges = np.atleast_2d(get(f, "particles/all/box/edges/value", path))
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


