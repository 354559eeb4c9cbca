"""Pick a format from a file's content or name, read it, write another: ``glassgen convert``.

=============  ==============================  ====================  ===================
format         extensions                      reads into            writes from
=============  ==============================  ====================  ===================
h5md           .h5 .h5md .hdf5                 Trajectory/Ensemble   Trajectory/Ensemble
npz            .npz (BOTAN / GlassBench)       Ensemble (one lag)    Ensemble (one lag)
lammps-dump    .dump .lammpstrj .lammpsdump    Trajectory            Trajectory frames (an Ensemble
                                                                     is refused)
xyz            .xyz .extxyz                    Trajectory            Trajectory frames; Ensemble:
                                                                     initial + propensity
lammps-data    .data .lmp                      Trajectory (1 frame)  one configuration
=============  ==============================  ====================  ===================

Text inputs may be gzipped (``.gz``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from glassgen.core.atomic import check_writable
from glassgen.system.data import Ensemble, Trajectory
from glassgen.core.errors import InputError

FORMATS = ("h5md", "npz", "lammps-dump", "xyz", "lammps-data")
EXTENSIONS = {
    ".h5": "h5md", ".h5md": "h5md", ".hdf5": "h5md", ".npz": "npz",
    ".dump": "lammps-dump", ".lammpstrj": "lammps-dump", ".lammpsdump": "lammps-dump",
    ".xyz": "xyz", ".extxyz": "xyz", ".data": "lammps-data", ".lmp": "lammps-data",
}
OUTPUT_EXTENSION = {"h5md": ".h5", "npz": ".npz", "lammps-dump": ".dump", "xyz": ".xyz", "lammps-data": ".data"}
# Which reader takes which option (the rest is an error, not silently ignored).
OPTIONS = {"box": ("npz",), "time": ("npz",), "preset": ("npz",), "density": ("npz",), "dt": ("lammps-dump", "lammps-data"),
           "strict": ("lammps-dump", "xyz")}


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def format_from_name(path) -> str | None:
    """The format its extension names, or None."""
    return EXTENSIONS.get(_suffix(Path(path)))


def sniff(path) -> str | None:
    """The format the first bytes/lines of a file show, or None."""
    import gzip

    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic.startswith(b"\x89HDF\r\n\x1a\n"):
        return "h5md"
    if magic.startswith(b"PK\x03\x04"):
        return "npz"
    opener = gzip.open if magic.startswith(b"\x1f\x8b") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(40)]
    except (OSError, EOFError):
        return None
    lines = [h.strip() for h in head if h.strip()]
    if lines and lines[0].startswith("ITEM:"):
        return "lammps-dump"
    if len(lines) > 1 and lines[0].isdigit() and "lattice=" in lines[1].lower():
        return "xyz"
    if any(h.split()[1:] == ["atoms"] and h.split()[0].isdigit() for h in lines[1:]):
        return "lammps-data"
    return None


def input_format(path, given: str | None = None) -> str:
    if given is not None:
        if given not in FORMATS:
            raise InputError(str(path), f"unknown input format {given!r}; known: {', '.join(FORMATS)}")
        return given
    fmt = sniff(path) or format_from_name(path)
    if fmt is None:
        raise InputError(str(path), "cannot tell the file format from its content or name; give --format-in")
    return fmt


def output_format(path, given: str | None = None) -> str:
    fmt = given or format_from_name(path)
    if fmt is None:
        raise InputError(str(path), f"cannot tell the output format from the name; give --format-out ({', '.join(OUTPUT_EXTENSION)})")
    if fmt not in OUTPUT_EXTENSION:
        raise InputError(str(path), f"glassgen does not write {fmt!r}; it writes {', '.join(OUTPUT_EXTENSION)}")
    return fmt


def read_any(path, fmt: str | None = None, **options):
    """Read any supported input as a Trajectory or Ensemble (options as in :func:`convert`)."""
    from glassgen.io import lammps_data, lammps_dump, npz, xyz
    from glassgen.io import h5md
    from glassgen.io.common import check_input_file

    path = check_input_file(path)
    fmt = input_format(path, fmt)
    for key, value in options.items():
        if value not in (None, False) and fmt not in OPTIONS[key]:
            raise InputError(str(path), f"--{key} does not apply to {fmt} input")
    o = {k: v for k, v in options.items() if v not in (None, False)}
    if fmt == "h5md":
        return h5md.read(path)
    if fmt == "npz":
        return npz.read_npz(path, **o)
    if fmt == "lammps-dump":
        return lammps_dump.read_lammps_dump(path, **o)
    if fmt == "xyz":
        return xyz.read_xyz(path, **o)
    return lammps_data.read_lammps_data(path, **o)


def propensity(ens: Ensemble) -> np.ndarray:
    """Mean over runs of each particle's displacement length, (F,N): one row per lag."""
    return np.linalg.norm(ens.displacements(), axis=-1).mean(axis=0)


def write_any(path, obj, fmt: str | None = None, frame: int | None = None) -> Path:
    """Write a Trajectory or Ensemble in the format named by ``fmt`` or the extension, atomically.

    ``frame`` picks one frame of a trajectory (default: all frames; the last one
    for a LAMMPS data file). Ensembles go to xyz / lammps-data as their initial
    configuration (xyz with ``propensity`` columns, one per lag); a LAMMPS dump
    holds one trajectory, so an Ensemble is refused there.
    """
    from glassgen.io import lammps_data, lammps_dump, npz, xyz
    from glassgen.io import h5md

    fmt = output_format(path, fmt)
    if isinstance(obj, Trajectory) and frame is not None:
        if not -obj.n_frames <= frame < obj.n_frames:
            raise InputError(str(path), f"--frame {frame} is out of range: the trajectory has {obj.n_frames} frames")
        k = frame % obj.n_frames
        obj = Trajectory(obj.species, obj.box, obj.times[k : k + 1], obj.positions[k : k + 1], obj.meta)
    elif frame is not None:
        raise InputError(str(path), "--frame applies to trajectories, not ensembles")
    if fmt == "h5md":
        (h5md.write_ensemble if isinstance(obj, Ensemble) else h5md.write_trajectory)(path, obj)
    elif fmt == "npz":
        if not isinstance(obj, Ensemble):
            raise InputError(str(path), "an npz file holds an iso-configurational ensemble; the input is a trajectory")
        npz.write_npz(path, obj)
    elif fmt == "lammps-dump":
        if isinstance(obj, Ensemble):
            raise InputError(str(path), f"a LAMMPS dump holds one trajectory, the input is an ensemble of {obj.positions.shape[0]} runs; "
                             "convert it to h5md, or to xyz for its initial configuration with propensity")
        lammps_dump.write_lammps_dump(path, obj.species, obj.box, obj.positions, obj.times, dt=obj.meta.get("dt"))
    elif fmt == "xyz":
        if isinstance(obj, Ensemble):
            p = propensity(obj)
            cols = {"propensity": p[0]} if len(p) == 1 else {f"propensity_{k + 1}": row for k, row in enumerate(p)}
            xyz.write_xyz(path, obj.species, obj.box, obj.initial, np.zeros(1), cols)
        else:
            xyz.write_xyz(path, obj.species, obj.box, obj.positions, obj.times)
    else:
        x = obj.initial if isinstance(obj, Ensemble) else obj.positions[-1]
        t = 0.0 if isinstance(obj, Ensemble) else float(obj.times[-1])
        lammps_data.write_lammps_data(path, obj.species, obj.box, x, time=t, dt=float(obj.meta.get("dt") or lammps_data.DEFAULT_DT))
    return Path(path)


def convert(src, dst, format_in: str | None = None, format_out: str | None = None, frame: int | None = None,
            overwrite: bool = True, **options) -> Path:
    """Convert one file.

    Args:
        src, dst: input and output files.
        format_in, format_out: override the detected formats (see the module table).
        frame: one frame of a trajectory input (see :func:`write_any`).
        overwrite: False refuses an existing ``dst`` (the CLI's default).
        **options: box, time, preset, density (npz input); dt (LAMMPS inputs); strict (dump/xyz).
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.resolve() == dst.resolve():
        raise InputError(str(dst), "the output would overwrite the input")
    check_writable(dst, overwrite)
    fmt_out = output_format(dst, format_out)  # fail on a bad output name before reading
    return write_any(dst, read_any(src, format_in, **options), fmt_out, frame)


def _stem(path: Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name[: -len(_suffix(path))] if _suffix(path) else name


def convert_folder(src, dst, format_in: str | None = None, format_out: str | None = None, resume: bool = False,
                   progress: bool = True, overwrite: bool = True, **options) -> list[Path]:
    """Convert every input file of folder ``src`` into ``dst/<stem>.<ext>`` (default H5MD, ``.h5``).

    All files must hold the same number of particles. With ``resume`` existing
    outputs (complete, since writes are atomic) are kept and skipped; without it, ``overwrite=False``
    refuses them.
    """
    from tqdm import tqdm

    from glassgen.io import npz

    src, dst = Path(src), Path(dst)
    if dst.exists() and not dst.is_dir():
        raise InputError(str(dst), "the input is a folder, so the output must be a folder too")
    files = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith(".") and format_from_name(p))
    if format_in is not None:
        files = [p for p in files if format_from_name(p) == format_in]
    kinds = {format_from_name(p) for p in files}
    if not files:
        raise InputError(str(src), f"folder holds no {format_in or 'known'} input files ({', '.join(EXTENSIONS)})")
    if len(kinds) > 1:
        raise InputError(str(src), f"folder mixes formats ({', '.join(sorted(kinds))}); choose one with --format-in")
    fmt_in = kinds.pop()
    fmt_out = format_out or "h5md"
    output_format(dst / f"x{OUTPUT_EXTENSION.get(fmt_out, '')}", fmt_out)
    if fmt_in == "npz":  # cheap check of all files before the long part
        counts = {p: npz.particle_count(p) for p in files}
        first = files[0]
        for p, n in counts.items():
            if n != counts[first]:
                raise InputError(str(p), f"has {n} particles but {first.name} has {counts[first]}: particle counts differ between files")
    targets = [dst / (_stem(p) + OUTPUT_EXTENSION[fmt_out]) for p in files]
    check_writable(targets[0], overwrite or resume, also=targets, resumable=True)
    dst.mkdir(parents=True, exist_ok=True)
    out, n0 = [], None
    for p, target in tqdm(list(zip(files, targets)), desc=f"convert {src.name}", unit="file", disable=not progress):
        if resume and target.exists():
            out.append(target)
            continue
        obj = read_any(p, fmt_in, **options)
        n0 = obj.species.size if n0 is None else n0
        if obj.species.size != n0:
            raise InputError(str(p), f"has {obj.species.size} particles, earlier files {n0}: particle counts differ between files")
        out.append(write_any(target, obj, fmt_out))
    return out


def convert_path(src, dst, **kwargs) -> list[Path]:
    """:func:`convert_folder` when ``src`` is a folder, else :func:`convert`; returns the outputs."""
    if Path(src).is_dir():
        return convert_folder(src, dst, **kwargs)
    kwargs.pop("resume", None)
    kwargs.pop("progress", None)
    if Path(dst).is_dir():  # into an existing folder, under the input's name
        dst = Path(dst) / (_stem(Path(src)) + OUTPUT_EXTENSION.get(kwargs.get("format_out") or "h5md", ""))
    return [convert(src, dst, **kwargs)]
