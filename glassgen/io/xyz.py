"""Extended XYZ in and out, for looking at frames in OVITO or ASE with per-particle columns.

Each frame::

    N
    Lattice="Lx 0 0 0 Ly 0 0 0 Lz" Properties=species:S:1:pos:R:3:image:I:3:species_id:I:1[:propensity:R:1 ...] Time=t pbc="T T T"
    Ar x y z ix iy iz 0 [propensity ...]

``pos`` is folded into [0, L) (what viewers expect) and ``image`` holds the box
crossings, so the unwrapped position ``pos + image * L`` survives the round trip.
``species`` holds chemical symbols, because ASE reads that column as elements:
species 0, 1, 2, ... are Ar, Ne, Kr, Xe, He, Rn (KA: A = Ar, B = Ne).
``species_id`` repeats the 0-based glassgen species as an integer; it is not
called ``type`` because OVITO maps ``type`` and ``species`` both to its particle
type (OVITO 3.17 then drops one of the two columns). Reading takes ``species_id`` when
present, else the names: the symbols above, or A, B, C, ... as glassgen wrote
them before (0, 1, 2, ...).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from glassgen.core.atomic import atomic_path
from glassgen.system.data import Trajectory
from glassgen.core.errors import InputError
from glassgen.system.pbc import fold
from glassgen.io.common import SPECIES_SYMBOLS, fold_checked, open_text, species_ids, species_name, unwrap_continuous

# Column names write_xyz keeps for itself; OVITO also reads type/element/atom_types as the particle type.
RESERVED = ("species", "pos", "image", "species_id", "type", "element", "atom_types")
_KEYVAL = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|(\S+))')


def _comment(line: str, source: str, frame: int) -> dict:
    kv = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _KEYVAL.finditer(line)}
    if "lattice" not in kv:
        raise InputError(source, f"frame {frame}: no Lattice=\"...\" in the comment line; glassgen needs the periodic box")
    try:
        cell = np.array(kv["lattice"].split(), dtype=np.float64).reshape(3, 3)
    except ValueError:
        raise InputError(source, f"frame {frame}: Lattice must be 9 numbers; got {kv['lattice']!r}") from None
    if np.any(np.abs(cell - np.diag(np.diag(cell))) > 1e-12 * np.abs(cell).max()):
        raise InputError(source, f"frame {frame}: triclinic boxes are not supported (Lattice is not diagonal)")
    box = np.diag(cell).copy()
    if not np.all(np.isfinite(box)) or np.any(box <= 0):
        raise InputError(source, f"frame {frame}: box edges must be positive; got {box.tolist()}")
    if "pbc" in kv and kv["pbc"].split() != ["T", "T", "T"]:
        raise InputError(source, f"frame {frame}: pbc=\"{kv['pbc']}\"; glassgen needs a fully periodic box")
    props = kv.get("properties", "species:S:1:pos:R:3").split(":")
    if len(props) % 3:
        raise InputError(source, f"frame {frame}: Properties must be name:type:count triples; got {kv.get('properties')!r}")
    cols, start = {}, 0
    for name, kind, count in zip(props[::3], props[1::3], props[2::3]):
        cols[name] = (kind.upper(), start, int(count))
        start += int(count)
    for need in ("species", "pos"):
        if need not in cols:
            raise InputError(source, f"frame {frame}: Properties has no '{need}' column")
    origin = np.array(kv["origin"].split(), dtype=np.float64) if "origin" in kv else np.zeros(3)
    time = float(kv["time"]) if "time" in kv else None
    return {"box": box, "origin": origin, "cols": cols, "ncol": start, "time": time}


def _frames(path):
    source = str(path)
    with open_text(path) as f:
        lineno, frame = 0, 0
        while True:
            line = f.readline()
            lineno += 1
            if not line.strip():
                if not line:
                    return
                continue
            try:
                n = int(line)
            except ValueError:
                raise InputError(source, f"line {lineno}: expected the atom count of frame {frame}; got {line.strip()[:40]!r}") from None
            comment = f.readline()
            lineno += 1
            if not comment:
                raise InputError(source, f"truncated: frame {frame} ends at line {lineno - 1} before its comment line")
            head = _comment(comment, source, frame)
            rows = [f.readline() for _ in range(n)]
            lineno += n
            if rows and not rows[-1]:
                got = sum(1 for r in rows if r)
                raise InputError(source, f"truncated: frame {frame} has {got} of {n} atom lines (file ends at line {lineno - n + got})")
            tokens = " ".join(rows).split()
            if len(tokens) != n * head["ncol"]:
                bad = next(k for k, r in enumerate(rows) if len(r.split()) != head["ncol"])
                raise InputError(source, f"line {lineno - n + bad + 1} (frame {frame}) has {len(rows[bad].split())} values, expected {head['ncol']}")
            head["table"] = np.array(tokens).reshape(n, head["ncol"])
            yield head
            frame += 1


def _column(fr: dict, name: str, source: str, frame: int) -> np.ndarray:
    kind, start, count = fr["cols"][name]
    raw = fr["table"][:, start : start + count]
    if kind == "S":
        return raw
    try:
        return raw.astype(np.float64 if kind == "R" else np.int64) if count > 1 else raw[:, 0].astype(np.float64 if kind == "R" else np.int64)
    except ValueError:
        raise InputError(source, f"frame {frame}: column {name!r} is not numeric") from None


def _species(fr: dict, source: str, frame: int) -> np.ndarray:
    """Species ids of one frame: the species_id column when there is one, else from the names."""
    names = fr["table"][:, fr["cols"]["species"][1]]
    if "species_id" not in fr["cols"]:
        return species_ids(names, source)
    kind, _, count = fr["cols"]["species_id"]
    if kind != "I" or count != 1:
        raise InputError(source, f"frame {frame}: species_id must be one integer column (species_id:I:1)")
    ids = _column(fr, "species_id", source, frame)
    if ids.size and ids.min() < 0:
        raise InputError(source, f"frame {frame}: species_id must be 0-based (>= 0); found {ids.min()}")
    pairs = set(zip(names.tolist(), ids.tolist()))
    if len(pairs) != len({n for n, _ in pairs}) or len(pairs) != len({i for _, i in pairs}):
        raise InputError(source, f"frame {frame}: species names and species_id disagree: {sorted(pairs)[:6]}")
    return ids


def _read(path):
    source = str(path)
    frames = list(_frames(path))
    if not frames:
        raise InputError(source, "no frames: empty file")
    first = frames[0]
    species = _species(first, source, 0)
    pos, img, times, extra = [], [], [], {}
    for k, fr in enumerate(frames):
        if fr["table"].shape[0] != species.size:
            raise InputError(source, f"frame {k} has {fr['table'].shape[0]} atoms, frame 0 has {species.size}: particle counts differ between frames")
        if not np.allclose(fr["box"], first["box"], rtol=1e-12, atol=0):
            raise InputError(source, f"frame {k}: the box changes; only fixed boxes are supported")
        if k and not np.array_equal(_species(fr, source, k), species):
            raise InputError(source, f"frame {k}: species differ from frame 0")
        x = _column(fr, "pos", source, k)
        if x.shape[1] != 3:
            raise InputError(source, f"frame {k}: pos must have 3 components")
        pos.append(x - fr["origin"])
        img.append(_column(fr, "image", source, k) if "image" in fr["cols"] else None)
        times.append(fr["time"])
        for name, (kind, _, _) in fr["cols"].items():
            if name not in ("species", "pos", "image", "species_id") and kind in ("R", "I"):
                extra.setdefault(name, []).append(_column(fr, name, source, k))
    return first["box"], species, pos, img, times, {k: np.stack(v) for k, v in extra.items() if len(v) == len(frames)}


def read_xyz(path, strict: bool = False) -> Trajectory:
    """Read an extended XYZ file (one or more frames) as a trajectory.

    Args:
        path: the file (``.gz`` read transparently).
        strict: with several frames of in-box positions and no ``image`` column,
            raise instead of unwrapping by minimum-image continuity.

    Shapes:
        returns Trajectory with positions (F,N,3); times from ``Time=`` (frame index if absent).
    """
    source = str(path)
    box, species, pos, img, times, _ = _read(path)
    x = np.stack(pos)
    meta = {"source": source, "source_file": Path(path).name, "format_in": "xyz", "units": "lj"}
    assumptions = []
    if all(i is not None for i in img):
        fold_checked(x, box, "pos", source)  # validation only: far outside the box means a wrong box
        x = x + np.stack(img) * box
    elif x.shape[0] > 1 and np.all((x >= 0) & (x < box)):
        if strict:
            raise InputError(source, "in-box positions without an image column over several frames: cannot unwrap exactly")
        x, largest = unwrap_continuous(x, box)
        meta["unwrapped_by"] = "minimum-image continuity between frames (no image column)"
        meta["largest_frame_move"] = round(largest, 4)
        assumptions.append("unwrapped by minimum-image continuity: exact only if no particle moves half a box between frames")
    if any(t is None for t in times):
        times = list(range(len(times)))
        assumptions.append("no Time= in the file: frame index used as time")
    if assumptions:
        meta["assumptions"] = "; ".join(assumptions)
    return Trajectory(species, box, np.array(times, dtype=np.float64), x, meta)


def read_xyz_columns(path) -> dict:
    """The extra numeric per-particle columns of an extended XYZ file, name -> (F,N) (or (F,N,k)) array."""
    return _read(path)[5]


def write_xyz(path, species, box, positions, times=None, columns: dict | None = None, names=SPECIES_SYMBOLS) -> Path:
    """Write frames as extended XYZ, atomically, for glassgen, ASE and OVITO.

    Args:
        species: (N,) 0-based ids, written as chemical symbols Ar, Ne, ... and as ``species_id``.
        box: (3,) edges.
        positions: (N,3) or (F,N,3), wrapped or unwrapped.
        times: (F,) times for ``Time=``; omitted when None.
        columns: extra per-particle columns, name -> (N,) or (F,N) array (e.g. propensity).
        names: the ``species`` names of ids 0, 1, ...; names that are not chemical
            symbols give files ASE cannot read.
    """
    x = np.asarray(positions, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    box = np.asarray(box, dtype=np.float64)
    species = np.asarray(species, dtype=np.int64)
    if x.ndim != 3 or x.shape[2] != 3 or box.shape != (3,):
        raise InputError(str(path), f"extended XYZ output needs 3D positions (N,3) or (F,N,3); got {x.shape}")
    f_, n, _ = x.shape
    cols = {}
    for name, v in (columns or {}).items():
        if not re.fullmatch(r"[A-Za-z_]\w*", name) or name.lower() in RESERVED:
            raise InputError(str(path), f"bad column name {name!r}")
        v = np.asarray(v, dtype=np.float64)
        if v.shape not in ((n,), (f_, n)):
            raise InputError(str(path), f"column {name!r} must have shape ({n},) or ({f_},{n}); got {v.shape}")
        cols[name] = np.broadcast_to(v, (f_, n))
    if times is not None and np.shape(times) != (f_,):
        raise InputError(str(path), f"times must have shape ({f_},); got {np.shape(times)}")
    lattice = " ".join(f"{v!r}" for v in np.diag(box).ravel().tolist())
    props = "species:S:1:pos:R:3:image:I:3:species_id:I:1" + "".join(f":{c}:R:1" for c in cols)
    label = np.array([species_name(k, names, str(path)) for k in range(int(species.max()) + 1 if species.size else 0)])
    fmt = "%s %r %r %r %d %d %d %d" + " %r" * len(cols) + "\n"
    wrapped, image = fold(x, box)
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for k in range(f_):
            time = f" Time={float(times[k])!r}" if times is not None else ""
            fh.write(f'{n}\nLattice="{lattice}" Properties={props}{time} pbc="T T T"\n')
            rows = zip(label[species].tolist(), *wrapped[k].T.tolist(), *image[k].T.tolist(), species.tolist(), *(c[k].tolist() for c in cols.values()))
            fh.writelines(fmt % row for row in rows)
    return Path(path)
