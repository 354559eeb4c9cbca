"""LAMMPS text dumps (``dump atom`` / ``dump custom``) <-> :class:`glassgen.system.data.Trajectory`.

Reads every frame of an orthorhombic, fully periodic dump (``ITEM: BOX BOUNDS pp pp pp``,
any origin: the lower bound is subtracted). Columns: ``id type`` plus one of
``xu yu zu`` (unwrapped, used as they are), ``x y z`` or ``xs ys zs`` (wrapped,
scaled), ``xsu ysu zsu``, with or without ``ix iy iz``. Atoms are sorted by id;
LAMMPS types are 1-based, glassgen species are ``type - 1``. Time is
``ITEM: TIME`` when the dump has it, else ``timestep * dt``.

:func:`write_lammps_dump` writes ``id type x y z ix iy iz`` with TIMESTEP = time / dt,
which this reader (and MDAnalysis, OVITO and LAMMPS' ``read_dump``) read back.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from glassgen.core.atomic import atomic_path
from glassgen.system.data import Trajectory
from glassgen.core.errors import InputError
from glassgen.system.pbc import fold
from glassgen.io.common import fold_checked, open_text, unwrap_continuous

DEFAULT_DT = 0.005  # the usual KA time step in LJ units

# (column names, scaled?, unwrapped?) in order of preference.
POSITION_SETS = (
    (("xu", "yu", "zu"), False, True),
    (("xsu", "ysu", "zsu"), True, True),
    (("x", "y", "z"), False, False),
    (("xs", "ys", "zs"), True, False),
)
IMAGES = ("ix", "iy", "iz")


class _Lines:
    """A line reader that counts lines, so errors can say where the file went wrong."""

    def __init__(self, f, source: str):
        self.f, self.source, self.n = f, source, 0

    def next(self, frame: int, what: str) -> str:
        line = self.f.readline()
        if not line:
            raise InputError(self.source, f"truncated: frame {frame} ends at line {self.n} while reading {what}")
        self.n += 1
        return line.strip()

    def block(self, k: int, frame: int) -> list[str]:
        lines = list(itertools.islice(self.f, k))
        self.n += len(lines)
        if len(lines) < k:
            raise InputError(self.source, f"truncated: frame {frame} has {len(lines)} of {k} atom lines (file ends at line {self.n})")
        return lines


def _number(lines: _Lines, frame: int, what: str, kind):
    text = lines.next(frame, f"the {what}")
    try:
        return kind(text)
    except ValueError:
        raise InputError(lines.source, f"line {lines.n}: the {what} {text[:30]!r} is not {'an integer' if kind is int else 'a number'}") from None


def _box(lines: _Lines, header: str, frame: int) -> tuple[np.ndarray, np.ndarray]:
    flags = header.split()[3:]
    if any(f in ("xy", "xz", "yz", "abc", "origin") for f in flags):
        raise InputError(lines.source, f"frame {frame} (line {lines.n}): triclinic boxes are not supported")
    if flags and flags != ["pp", "pp", "pp"]:
        raise InputError(lines.source, f"frame {frame} (line {lines.n}): boundaries {' '.join(flags)} are not fully periodic (need pp pp pp)")
    lo, hi = [], []
    for axis in "xyz":
        parts = lines.next(frame, f"the {axis} box bounds").split()
        if len(parts) != 2:
            raise InputError(lines.source, f"line {lines.n}: expected '{axis}lo {axis}hi'; got {len(parts)} numbers (triclinic boxes are not supported)")
        try:
            lo.append(float(parts[0]))
            hi.append(float(parts[1]))
        except ValueError:
            raise InputError(lines.source, f"line {lines.n}: box bounds are not numbers") from None
    lo, hi = np.array(lo), np.array(hi)
    if not np.all(np.isfinite(hi - lo)) or np.any(hi - lo <= 0):
        raise InputError(lines.source, f"frame {frame} (line {lines.n}): box edges must be positive; got {(hi - lo).tolist()}")
    return lo, hi - lo


def _atoms(lines: _Lines, cols: list[str], n: int, frame: int) -> np.ndarray:
    first = lines.n + 1
    block = lines.block(n, frame)
    tokens = " ".join(block).split()
    if len(tokens) != n * len(cols):
        for k, line in enumerate(block):
            if len(line.split()) != len(cols):
                raise InputError(lines.source, f"line {first + k} (frame {frame}) has {len(line.split())} values, expected {len(cols)} ({' '.join(cols)}); truncated?")
    try:
        values = np.array(tokens, dtype=np.float64).reshape(n, len(cols))
    except ValueError:
        raise InputError(lines.source, f"frame {frame} (lines {first}-{lines.n}): non-numeric atom values") from None
    if not np.all(np.isfinite(values)):
        bad = first + int(np.argmax(~np.all(np.isfinite(values), axis=1)))
        raise InputError(lines.source, f"line {bad} (frame {frame}): NaN/inf atom values")
    return values


def _frames(path):
    """Yield one dict per frame: step, time (or None), lo, box, cols, data (n, ncol)."""
    source = str(path)
    with open_text(path) as f:
        lines = _Lines(f, source)
        frame, cur = 0, {}
        while True:
            line = f.readline()
            if not line:
                if cur:
                    raise InputError(source, f"truncated: frame {frame} ends at line {lines.n} before its ITEM: ATOMS block")
                return
            lines.n += 1
            line = line.strip()
            if not line:
                continue
            if not line.startswith("ITEM:"):
                raise InputError(source, f"line {lines.n}: expected an 'ITEM:' line; got {line[:40]!r} (not a LAMMPS text dump?)")
            item = line[5:].strip()
            if item.startswith("TIMESTEP"):
                cur["step"] = _number(lines, frame, "timestep", int)
            elif item.startswith("TIME"):
                cur["time"] = _number(lines, frame, "time", float)
            elif item.startswith("UNITS"):
                units = lines.next(frame, "the units")
                if units != "lj":
                    raise InputError(source, f"line {lines.n}: units {units!r}; glassgen works in LJ units (units lj)")
            elif item.startswith("NUMBER OF ATOMS"):
                cur["n"] = _number(lines, frame, "number of atoms", int)
            elif item.startswith("BOX BOUNDS"):
                cur["lo"], cur["box"] = _box(lines, line, frame)
            elif item.startswith("ATOMS"):
                missing = [k for k in ("step", "n", "box") if k not in cur]
                if missing:
                    raise InputError(source, f"frame {frame} (line {lines.n}): ITEM: ATOMS before {', '.join(missing)}")
                cur["cols"] = item.split()[1:]
                cur["data"] = _atoms(lines, cur["cols"], cur["n"], frame)
                yield cur
                frame, cur = frame + 1, {}
            else:
                raise InputError(source, f"line {lines.n}: unknown section 'ITEM: {item}'")


def _columns(cols: list[str], source: str):
    for need in ("id", "type"):
        if need not in cols:
            raise InputError(source, f"the dump has no '{need}' column (columns: {' '.join(cols)}); dump with 'id type x y z ix iy iz'")
    for names, scaled, unwrapped in POSITION_SETS:
        if all(c in cols for c in names):
            images = [cols.index(c) for c in IMAGES] if all(c in cols for c in IMAGES) and not unwrapped else None
            return [cols.index(c) for c in names], scaled, unwrapped, images
    raise InputError(source, f"the dump has no position columns (columns: {' '.join(cols)}); need x y z, xu yu zu, xs ys zs or xsu ysu zsu")


def read_lammps_dump(path, dt: float | None = None, strict: bool = False) -> Trajectory:
    """Read all frames of a LAMMPS text dump as a trajectory of unwrapped positions.

    Args:
        path: the dump file (``.gz`` is read transparently).
        dt: MD time step: time = timestep * dt when the dump has no ``ITEM: TIME``.
            Default 0.005, recorded in ``meta["assumptions"]``.
        strict: refuse wrapped coordinates without image flags over several frames
            instead of unwrapping them by minimum-image continuity.

    Shapes:
        returns Trajectory with species (N,) = type - 1, box (3,), times (F,), positions (F,N,3).
    """
    source = str(path)
    layout, types, frames = _read_frames(path, source)
    steps, times, boxes, xs = zip(*frames)
    box, pos = boxes[0], np.stack(xs)
    meta = {"source": source, "source_file": Path(path).name, "format_in": "lammps-dump", "units": "lj",
            "species_from": "LAMMPS type - 1", "first_timestep": steps[0]}
    assumptions = []
    if all(t is not None for t in times):
        t = np.array(times, dtype=np.float64)
        meta["time_from"] = "ITEM: TIME"
    else:
        if dt is None:
            dt = DEFAULT_DT
            assumptions.append(f"time = timestep * dt with dt = {dt:g} (default; pass --dt)")
        t = np.array(steps, dtype=np.float64) * dt
    if dt is not None:
        meta["dt"] = float(dt)

    _, _, unwrapped, images = layout
    if not unwrapped and images is None:
        pos = fold_checked(pos, box, "x y z columns", source)
        if pos.shape[0] > 1:
            if strict:
                raise InputError(source, "wrapped coordinates without image flags (ix iy iz): cannot unwrap exactly; dump xu yu zu or ix iy iz")
            pos, largest = unwrap_continuous(pos, box)
            meta["unwrapped_by"] = "minimum-image continuity between frames (no image flags)"
            meta["largest_frame_move"] = round(largest, 4)  # in box edges; must stay well below 0.5
            assumptions.append("unwrapped by minimum-image continuity: exact only if no particle moves half a box between frames")
    if assumptions:
        meta["assumptions"] = "; ".join(assumptions)
    return Trajectory(types - 1, box, t, pos, meta)


def _read_frames(path, source: str):
    """(column layout, LAMMPS types (N,), [(step, time or None, box, positions (N,3)) per frame]), atoms sorted by id.

    Positions are unwrapped where the dump has unwrapped columns or image flags, else as the dump wraps them.
    Every frame must have frame 0's columns, atoms, types and box.
    """
    frames, types, ids0, layout = [], None, None, None
    for k, fr in enumerate(_frames(path)):
        if layout is None:
            cols = fr["cols"]
            layout = _columns(cols, source)
        elif fr["cols"] != cols:
            raise InputError(source, f"frame {k}: columns change from '{' '.join(cols)}' to '{' '.join(fr['cols'])}'")
        data = fr["data"][np.argsort(fr["data"][:, cols.index("id")], kind="stable")]
        ids = data[:, cols.index("id")].astype(np.int64)
        if ids0 is None:
            if np.any(ids[1:] == ids[:-1]):
                raise InputError(source, f"frame {k}: duplicate atom ids")
            ids0, types = ids, data[:, cols.index("type")].astype(np.int64)
        elif ids.shape != ids0.shape:
            raise InputError(source, f"frame {k} has {ids.size} atoms, frame 0 has {ids0.size}: particle counts differ between frames")
        elif not np.array_equal(ids, ids0):
            raise InputError(source, f"frame {k}: atom ids differ from frame 0")
        elif not np.array_equal(data[:, cols.index("type")], types):
            raise InputError(source, f"frame {k}: atom types differ from frame 0")
        if frames and not np.allclose(fr["box"], frames[0][2], rtol=1e-12, atol=0):
            raise InputError(source, f"frame {k}: the box changes ({fr['box'].tolist()} vs {frames[0][2].tolist()}); only fixed boxes are supported")
        pos_cols, scaled, unwrapped, images = layout
        x = data[:, pos_cols] * fr["box"] if scaled else data[:, pos_cols] - fr["lo"]
        if images is not None:
            fold_checked(x, fr["box"], f"x y z columns of frame {k}", source)
            x = x + data[:, images] * fr["box"]
        frames.append((fr["step"], fr.get("time"), fr["box"], x))
    if not frames:
        raise InputError(source, "no frames: empty file or not a LAMMPS dump")
    if types.min() < 1:
        raise InputError(source, f"LAMMPS atom types start at 1; found type {types.min()}")
    return layout, types, frames


def dump_steps(times, dt: float | None = None, source: str | None = None) -> np.ndarray:
    """LAMMPS timesteps ``time / dt`` of frames at ``times`` (dt default 0.005); must be whole numbers."""
    dt = DEFAULT_DT if dt is None else float(dt)
    t = np.asarray(times, dtype=np.float64)
    steps = np.rint(t / dt)
    bad = np.flatnonzero(np.abs(t / dt - steps) > 1e-6)
    if bad.size:
        k = int(bad[0])
        raise InputError(source, f"frame {k}: time {float(t[k])!r} is not a whole number of MD steps of dt = {dt:g}, "
                         "and a LAMMPS dump stores integer timesteps")
    return steps.astype(np.int64)


def write_lammps_dump(path, species, box, positions, times, dt: float | None = None) -> Path:
    """Write frames as a LAMMPS text dump ``id type x y z ix iy iz``, atomically.

    ``x y z`` are folded into [0, L) and ``ix iy iz`` count box crossings, so
    ``x + ix * L`` is the unwrapped position; numbers are written with Python's
    shortest round-trip ``repr``. No ``ITEM: TIME``: MDAnalysis reads frames of
    exactly 9 + N lines, so time is carried by TIMESTEP alone.

    Args:
        species: (N,) 0-based ids, written as ``type = species + 1``; ``id`` is 1..N in this order.
        box: (3,) edges, written as bounds 0 .. L.
        positions: (N,3) or (F,N,3) unwrapped.
        times: (F,) frame times; TIMESTEP = time / dt (see :func:`dump_steps`).
        dt: MD time step (default 0.005, what :func:`read_lammps_dump` assumes without ``dt``).
    """
    x = np.asarray(positions, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    box = np.asarray(box, dtype=np.float64)
    species = np.asarray(species, dtype=np.int64)
    if x.ndim != 3 or x.shape[2] != 3 or box.shape != (3,) or species.shape != x.shape[1:2]:
        raise InputError(str(path), f"a LAMMPS dump needs species (N,), box (3,) and positions (F,N,3); got {species.shape}, {box.shape}, {x.shape}")
    steps = dump_steps(np.atleast_1d(times), dt, str(path))
    if steps.shape != x.shape[:1]:
        raise InputError(str(path), f"times must have shape ({x.shape[0]},); got {np.shape(times)}")
    n = x.shape[1]
    bounds = "".join(f"0.0 {edge!r}\n" for edge in box.tolist())
    ids, types = np.arange(1, n + 1).tolist(), (species + 1).tolist()
    wrapped, image = fold(x, box)
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for k, step in enumerate(steps.tolist()):
            fh.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n}\nITEM: BOX BOUNDS pp pp pp\n{bounds}"
                     "ITEM: ATOMS id type x y z ix iy iz\n")
            rows = zip(ids, types, *wrapped[k].T.tolist(), *image[k].T.tolist())
            fh.writelines("%d %d %r %r %r %d %d %d\n" % row for row in rows)
    return Path(path)
