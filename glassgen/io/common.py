"""Helpers shared by the format modules: opening files, box options, species names, unwrapping."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from glassgen.system.data import check_wrapped
from glassgen.core.errors import InputError
from glassgen.system.pbc import minimum_image


def check_input_file(path) -> Path:
    """The path as a Path, or InputError if it is missing or a folder."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file")
    if path.is_dir():
        raise InputError(str(path), "is a folder, expected a file")
    return path


def open_text(path):
    """Open a text file for reading (transparently gunzipped when the name ends in ``.gz``)."""
    path = check_input_file(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def parse_box(value, source: str | None = None) -> np.ndarray | None:
    """Box edges from ``15.05``, ``"15 15 20"``, ``"15,15,20"`` or a sequence; one number means a cube.

    Shapes:
        returns (3,) float64, or None when ``value`` is None.
    """
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
        try:
            edges = [float(p) for p in parts]
        except ValueError:
            raise InputError(source, f"--box must be one edge length or three, e.g. 15.05 or '15,15,20'; got {value!r}") from None
    else:
        edges = np.atleast_1d(np.asarray(value, dtype=np.float64)).tolist()
    if len(edges) == 1:
        edges = edges * 3
    if len(edges) != 3:
        raise InputError(source, f"--box must be one edge length or three; got {len(edges)} numbers")
    box = np.asarray(edges, dtype=np.float64)
    if not np.all(np.isfinite(box)) or np.any(box <= 0):
        raise InputError(source, f"--box edges must be finite and positive; got {box.tolist()}")
    return box


# Chemical symbols for species 0, 1, 2, ... in files read by tools that want elements (ASE refuses
# "A"): Ar for KA's A and the smaller Ne for B, so viewers draw B smaller, then the other noble gases.
SPECIES_SYMBOLS = ("Ar", "Ne", "Kr", "Xe", "He", "Rn")


def species_name(k: int, names=SPECIES_SYMBOLS, source: str | None = None) -> str:
    """Name of species id k: ``names[k]`` (default: the chemical symbols Ar, Ne, Kr, Xe, He, Rn)."""
    if k >= len(names):
        raise InputError(source, f"species {k} has no name: only {len(names)} names ({', '.join(names)}); pass names=")
    return names[k]


def species_ids(tokens, source: str) -> np.ndarray:
    """Species ids from names: Ar, Ne, Kr, Xe, He, Rn -> 0..5; single letters A, B, C, ... -> 0, 1, 2, ...
    (files written before glassgen used chemical symbols); integers as given."""
    tokens = np.asarray(tokens)
    names = np.unique(tokens)
    lut = {}
    for name in names.tolist():
        if name in SPECIES_SYMBOLS:
            lut[name] = SPECIES_SYMBOLS.index(name)
        elif len(name) == 1 and "A" <= name <= "Z":
            lut[name] = ord(name) - ord("A")
        elif re.fullmatch(r"\d+", name):
            lut[name] = int(name)
        else:
            raise InputError(source, f"unknown species name {name!r}: glassgen reads {', '.join(SPECIES_SYMBOLS)} (0-5), "
                             "A, B, C, ... (0, 1, 2, ...), 0-based integers, or a species_id column")
    return np.array([lut[t] for t in tokens.tolist()], dtype=np.int64) if tokens.size else np.zeros(0, np.int64)


def fold_checked(x: np.ndarray, box: np.ndarray, what: str, source: str) -> np.ndarray:
    """Fold wrapped coordinates that stray slightly outside the box; far outside is an InputError.

    LAMMPS re-wraps only when it rebuilds its neighbour list, so dumped "wrapped"
    coordinates may lie up to about half the skin outside [0, L). Farther than
    ``glassgen.system.data.WRAP_TOLERANCE`` box lengths means a wrong box or corrupt data.
    """
    return check_wrapped(x, box, what, source)


def unwrap_continuous(wrapped: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, float]:
    """Unwrap frames of folded coordinates by assuming every frame-to-frame move is a minimum image.

    Exact only when no particle moves more than half a box edge between frames.

    Shapes:
        wrapped: (F,N,D) in [0, box); returns ((F,N,D) unwrapped, largest frame-to-frame
        move component as a fraction of the box edge).
    """
    if wrapped.shape[0] < 2:
        return wrapped.copy(), 0.0
    step = np.diff(wrapped, axis=0)
    moved = minimum_image(step, box)
    # Integer image changes keep the result exactly "wrapped + image * box".
    jumps = np.rint((moved - step) / box).astype(np.int64)
    image = np.concatenate([np.zeros((1,) + wrapped.shape[1:], np.int64), np.cumsum(jumps, axis=0)])
    largest = float(np.max(np.abs(moved) / box)) if moved.size else 0.0
    return wrapped + image * box, largest
