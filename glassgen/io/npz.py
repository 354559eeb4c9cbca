"""BOTAN / GlassBench iso-configurational ``.npz`` files <-> :class:`glassgen.system.data.Ensemble`.

A BOTAN file holds, for one initial configuration of N particles and R MD runs:

=====================  ==========  =============================================
key                    shape       meaning
=====================  ==========  =============================================
``types``              (N,) int8   species, 0 = A, 1 = B
``initial_positions``  (N,3)       the initial configuration, wrapped into [0, L)
``positions``          (R,N,3)     unwrapped positions of each run at ONE time
=====================  ==========  =============================================

It holds neither the box nor the time: the reader takes them as arguments (or
from a preset) and records in ``meta["assumptions"]`` where they came from.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from glassgen.core.atomic import atomic_path
from glassgen.system.data import Ensemble
from glassgen.core.errors import InputError
from glassgen.system.ka import box_edge
from glassgen.io.common import check_input_file, parse_box

KEYS = ("types", "initial_positions", "positions")

# GlassBench (built on the BOTAN data) lists t = 4120 LJ time units for the grid
# point "tc07", the alpha-relaxation time of the 3D KA mixture at T = 0.44.
PRESETS = {
    "botan": {
        "density": 1.2,
        "time": 4120.0,
        "time_tag": "tc07",
        "meta": {"units": "lj", "temperature": 0.44, "density": 1.2, "potential": "kob-andersen-3d", "preset": "botan"},
    },
}


def _load(path: Path) -> dict:
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic == b"\x93NUMPY":
        raise InputError(str(path), "is a single .npy array, expected an .npz archive with keys " + ", ".join(KEYS))
    if not magic.startswith(b"PK\x03\x04"):  # np.load would try to unpickle anything else
        raise InputError(str(path), "not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in KEYS if k not in f.files]
            if missing:
                raise InputError(str(path), f"missing key(s) {', '.join(missing)}; a BOTAN npz has {', '.join(KEYS)} (found: {', '.join(f.files) or 'none'})")
            return {k: f[k] for k in KEYS}
    except InputError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise InputError(str(path), "holds Python objects (pickled arrays); glassgen reads numeric arrays only") from None
        raise InputError(str(path), f"not a readable .npz file ({e})") from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise InputError(str(path), f"not a readable .npz file: truncated or another format ({type(e).__name__})") from None


def _check_arrays(a: dict, path: Path) -> None:
    types, x0, x = a["types"], a["initial_positions"], a["positions"]
    if types.ndim != 1:
        raise InputError(str(path), f"types must have shape (N,); got {types.shape}")
    n = types.shape[0]
    if not np.issubdtype(types.dtype, np.integer):
        raise InputError(str(path), f"types must be integers; got dtype {types.dtype}")
    for key, arr, want in (("initial_positions", x0, (n, 3)), ("positions", x, (None, n, 3))):
        if not np.issubdtype(arr.dtype, np.floating):
            raise InputError(str(path), f"{key} must be floating point; got dtype {arr.dtype}")
        if arr.ndim != len(want) or any(w is not None and s != w for s, w in zip(arr.shape, want)):
            shape = "(" + ",".join("R" if w is None else str(w) for w in want) + ")"
            raise InputError(str(path), f"{key} must have shape {shape} for N = {n} types; got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InputError(str(path), f"{key} contains {int(np.sum(~np.isfinite(arr)))} NaN/inf values")


def particle_count(path) -> int:
    """N of a BOTAN npz without reading the positions (for checking a folder before converting it)."""
    path = check_input_file(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            if "types" not in getattr(f, "files", ()):
                raise InputError(str(path), "missing key types")
            return int(f["types"].shape[0])
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise InputError(str(path), f"not a readable .npz file ({type(e).__name__})") from None


def read_npz(path, box=None, time: float | None = None, preset: str | None = None, density: float | None = None) -> Ensemble:
    """Read a BOTAN npz as an ensemble with one lag.

    Args:
        path: the ``.npz`` file.
        box: box edge(s) (one number for a cube, or three); overrides density/preset.
        time: the lag of ``positions`` after ``initial_positions`` in LJ time units.
        preset: ``"botan"``: density 1.2 (box from N), time 4120, T = 0.44, KA 3D.
        density: number density; the cubic box edge is then (N/density)^(1/3).

    Shapes:
        returns Ensemble with times (1,), initial (N,3), positions (R,1,N,3).
    """
    path = check_input_file(path)
    if preset is not None and preset not in PRESETS:
        raise InputError(str(path), f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    p = PRESETS.get(preset, {})
    a = _load(path)
    _check_arrays(a, path)
    n = a["types"].shape[0]
    assumptions = []

    edges = parse_box(box, str(path))
    if edges is None:
        rho = density if density is not None else p.get("density")
        if rho is None:
            raise InputError(str(path), "an npz file holds no box: give --box L (or three edges), --density, or --preset botan")
        if not np.isfinite(rho) or rho <= 0:
            raise InputError(str(path), f"density must be positive; got {rho}")
        edges = np.full(3, box_edge(n, rho))
        assumptions.append(f"box from density {rho:g}" + (f" (preset {preset})" if density is None else ""))
    else:
        assumptions.append("box given by the user")

    if time is None:
        if "time" not in p:
            raise InputError(str(path), "an npz file holds no time: give --time t (LJ units) or --preset botan")
        tag = re.search(r"_(tc\d+)", path.stem)
        if tag and tag.group(1) != p["time_tag"]:
            raise InputError(str(path), f"preset {preset} knows the time of {p['time_tag']} only, this file is {tag.group(1)}: give --time")
        time = p["time"]
        assumptions.append(f"time {time:g} from GlassBench ({p['time_tag']})")
    else:
        assumptions.append("time given by the user")

    meta = dict(p.get("meta", {"units": "lj"}))
    meta.update(source=str(path), source_file=path.name, format_in="botan-npz", assumptions="; ".join(assumptions))
    if density is not None:
        meta["density"] = float(density)
    outside = int(np.sum((a["initial_positions"] < 0) | (a["initial_positions"] >= edges)))
    if outside:  # folded by Ensemble; writing the npz back then cannot give the same numbers
        meta["folded_initial_coordinates"] = outside
    return Ensemble(a["types"], edges, a["initial_positions"], np.array([float(time)]), a["positions"][:, None], meta)


def write_npz(path, ens: Ensemble) -> Path:
    """Write an ensemble with exactly one lag as a BOTAN npz (uncompressed, ``types`` int8), atomically."""
    if ens.positions.shape[1] != 1:
        raise InputError(str(path), f"a BOTAN npz holds one time; this ensemble has {ens.positions.shape[1]} lags")
    if ens.species.size and ens.species.max() > np.iinfo(np.int8).max:
        raise InputError(str(path), "species ids above 127 do not fit the npz int8 types")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file handle: np.savez would append ".npz" to a bare name
            np.savez(
                fh,
                types=ens.species.astype(np.int8),
                initial_positions=ens.initial,
                positions=ens.positions[:, 0],
            )
    return Path(path)
