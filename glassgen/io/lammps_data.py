"""LAMMPS data files (``atom_style atomic``) out and in, so MD can continue from a glassgen state.

Written layout (read back by ``read_data`` in LAMMPS and by :func:`read_lammps_data`)::

    LAMMPS data file written by glassgen 0.1.0, timestep = 0, units = lj

    N atoms
    2 atom types

    0.0 Lx xlo xhi
    0.0 Ly ylo yhi
    0.0 Lz zlo zhi

    Masses

    1 1.0
    2 1.0

    Atoms # atomic

    id type x y z ix iy iz        (x folded into [0, L), type = species + 1)

An optional ``Velocities`` section follows when velocities are given.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from glassgen.core.version import __version__
from glassgen.core.atomic import atomic_path
from glassgen.system.data import Trajectory
from glassgen.core.errors import InputError
from glassgen.system.ka import MASS
from glassgen.system.pbc import fold
from glassgen.io.common import fold_checked, open_text

DEFAULT_DT = 0.005
_HEADER = re.compile(r"^\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s+([xyz])lo\s+[xyz]hi")


def write_lammps_data(path, species, box, positions, velocities=None, masses=None, time: float = 0.0, dt: float = DEFAULT_DT) -> Path:
    """Write one configuration as a LAMMPS data file (atom_style atomic), atomically.

    Args:
        species: (N,) 0-based ids; LAMMPS type = species + 1.
        box: (3,) edges; the box is written from 0 to L.
        positions: (N,3) wrapped or unwrapped; written folded, with image flags.
        velocities: optional (N,3), written as a ``Velocities`` section.
        masses: one mass per type (default 1.0 each, the KA value).
        time, dt: recorded in the header as ``timestep = round(time / dt)``.
    """
    species = np.asarray(species, dtype=np.int64)
    x = np.asarray(positions, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    n = species.size
    if x.shape != (n, 3) or box.shape != (3,):
        raise InputError(str(path), f"LAMMPS data output needs (N,3) positions and a (3,) box; got {x.shape}, {box.shape}")
    n_types = int(species.max()) + 1 if n else 1
    masses = [MASS] * n_types if masses is None else [float(m) for m in masses]
    if len(masses) < n_types:
        raise InputError(str(path), f"{n_types} atom types but {len(masses)} masses")
    wrapped, image = fold(x, box)
    lines = [f"LAMMPS data file written by glassgen {__version__}, timestep = {int(round(time / dt))}, units = lj", ""]
    lines += [f"{n} atoms", f"{len(masses)} atom types", ""]
    lines += [f"0.0 {L!r} {a}lo {a}hi" for L, a in zip(box.tolist(), "xyz")]
    lines += ["", "Masses", ""] + [f"{t + 1} {m!r}" for t, m in enumerate(masses)]
    lines += ["", "Atoms # atomic", ""]
    rows = zip(range(1, n + 1), (species + 1).tolist(), *wrapped.T.tolist(), *image.T.tolist())
    lines += ["%d %d %r %r %r %d %d %d" % r for r in rows]
    if velocities is not None:
        v = np.asarray(velocities, dtype=np.float64)
        if v.shape != (n, 3):
            raise InputError(str(path), f"velocities must have shape ({n},3); got {v.shape}")
        lines += ["", "Velocities", ""] + ["%d %r %r %r" % r for r in zip(range(1, n + 1), *v.T.tolist())]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return Path(path)


def _sections(path):
    """Header lines and {section name: (first line number, [data lines])}."""
    header, sections, cur = [], {}, None
    with open_text(path) as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1:
                header.append((lineno, raw))  # the title line may hold anything
                continue
            line = raw.split("#")[0].strip()
            if not line:
                continue
            if line[0].isalpha():
                cur = line
                sections[cur] = (lineno, raw, [])
            elif cur is None:
                header.append((lineno, line))
            else:
                sections[cur][2].append((lineno, line))
    return header, sections


def read_lammps_data(path, dt: float = DEFAULT_DT, with_velocities: bool = False):
    """Read an ``atom_style atomic`` LAMMPS data file as a one-frame trajectory.

    Args:
        path: the data file.
        dt: converts the header's ``timestep = S`` (if any) to time S * dt.
        with_velocities: also return the (N,3) velocities (None without a section).

    Shapes:
        returns Trajectory with positions (1,N,3) unwrapped (x + image * L), species = type - 1;
        or (Trajectory, velocities) with ``with_velocities``.
    """
    source = str(path)
    header, sections = _sections(path)
    title = header[0][1] if header else ""
    units = re.search(r"units\s*=\s*(\w+)", title)
    if units and units.group(1) != "lj":
        raise InputError(source, f"units {units.group(1)!r}; glassgen works in LJ units")
    step = re.search(r"timestep\s*=\s*(\d+)", title)
    n, lo_v, box_v = _header_box(header[1:], source)
    a = _atom_rows(sections, n, source)
    types = a[:, 1].astype(np.int64)
    if n and types.min() < 1:
        raise InputError(source, f"LAMMPS atom types start at 1; found {types.min()}")
    x = a[:, 2:5] - lo_v
    fold_checked(x, box_v, "Atoms coordinates", source)  # validation only: far outside means a wrong box
    if a.shape[1] == 8:
        x = x + a[:, 5:8] * box_v
    meta = {"source": source, "source_file": Path(path).name, "format_in": "lammps-data", "units": "lj", "species_from": "LAMMPS type - 1"}
    time = int(step.group(1)) * dt if step else 0.0
    if step:
        meta["dt"] = float(dt)
    traj = Trajectory(types - 1, box_v, np.array([time]), x[None], meta)
    return (traj, _velocities(sections, n, source)) if with_velocities else traj


def _header_box(header, source: str):
    """(N, lower corner (3,), box edges (3,)) from the header lines after the title."""
    n, lo, box = None, {}, {}
    for lineno, line in header:
        parts = line.split()
        if parts[-3:] == ["xy", "xz", "yz"]:
            raise InputError(source, f"line {lineno}: triclinic boxes are not supported")
        if len(parts) == 2 and parts[1] == "atoms":
            if not parts[0].isdigit():
                raise InputError(source, f"line {lineno}: atom count {parts[0]!r} is not an integer")
            n = int(parts[0])
        m = _HEADER.match(line)
        if m:
            lo[m.group(3)], box[m.group(3)] = float(m.group(1)), float(m.group(2)) - float(m.group(1))
    if n is None:
        raise InputError(source, "no 'N atoms' line in the header: not a LAMMPS data file?")
    if sorted(box) != ["x", "y", "z"]:
        raise InputError(source, "the header must give xlo xhi, ylo yhi and zlo zhi")
    box_v, lo_v = np.array([box[a] for a in "xyz"]), np.array([lo[a] for a in "xyz"])
    if not np.all(np.isfinite(box_v)) or np.any(box_v <= 0):
        raise InputError(source, f"box edges must be positive; got {box_v.tolist()}")
    return n, lo_v, box_v


def _atom_rows(sections, n: int, source: str) -> np.ndarray:
    """The Atoms section as an (N, 5 or 8) float array 'id type x y z [ix iy iz]', sorted by id."""
    atoms = next((k for k in sections if k.split()[0] == "Atoms"), None)
    if atoms is None:
        raise InputError(source, "no Atoms section")
    start, raw, rows = sections[atoms]
    style = raw.split("#")[1].strip() if "#" in raw else "atomic"
    if style != "atomic":
        raise InputError(source, f"line {start}: atom style {style!r} is not supported (only atomic)")
    if len(rows) != n:
        raise InputError(source, f"Atoms section (line {start}) has {len(rows)} lines, the header says {n} atoms: truncated?")
    width = {len(r.split()) for _, r in rows}
    if not width <= {5, 8} or len(width) != 1:
        bad = next((ln, r) for ln, r in rows if len(r.split()) not in (5, 8) or len(r.split()) != len(rows[0][1].split()))
        raise InputError(source, f"line {bad[0]}: atomic Atoms lines are 'id type x y z [ix iy iz]'; got {len(bad[1].split())} values")
    try:
        a = np.array(" ".join(r for _, r in rows).split(), dtype=np.float64).reshape(n, -1)
    except ValueError:
        raise InputError(source, f"Atoms section (line {start}): non-numeric values") from None
    a = a[np.argsort(a[:, 0], kind="stable")]
    if np.any(a[1:, 0] == a[:-1, 0]):
        raise InputError(source, "duplicate atom ids")
    return a


def _velocities(sections, n: int, source: str):
    """(N,3) velocities sorted by atom id, or None without a Velocities section."""
    if "Velocities" not in sections:
        return None
    vs, _, vrows = sections["Velocities"]
    v = np.array(" ".join(r for _, r in vrows).split(), dtype=np.float64)
    if v.size != 4 * n:
        raise InputError(source, f"Velocities section (line {vs}) must have {n} lines 'id vx vy vz'")
    v = v.reshape(n, 4)
    return v[np.argsort(v[:, 0], kind="stable"), 1:]
