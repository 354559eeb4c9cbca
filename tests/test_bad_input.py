"""Bad input of every kind: one InputError naming the file and the problem; CLI: one line, exit 2.

Each case builds a small broken file and says which words the message must hold.
The same cases run through the library (``convert_path``) and the command line
(``glassgen.cli.app.main``). Writes are atomic: an interrupted convert leaves no output.
"""
from __future__ import annotations

import sys

import h5py
import numpy as np
import pytest
from formats_fixtures import botan_like, dump_text, random_walk

import glassgen.cli.app
from glassgen.system.data import Trajectory
from glassgen.core.errors import InputError
from glassgen.io import convert_path
from glassgen.io.h5md import write_trajectory
from glassgen.system.pbc import check_cutoff, neighbour_graph

BOX = np.array([5.0, 6.0, 7.0])


def _npz(tmp, name="x.npz", **change):
    a = botan_like(n=40)
    a.update(change)
    np.savez(tmp / name, **{k: v for k, v in a.items() if v is not None})
    return tmp / name


def _dump(tmp, name="x.dump", frames=3, **kw):
    x, species = random_walk(box=BOX, frames=frames)
    text = dump_text(x, species, BOX, **kw)
    (tmp / name).write_text(text)
    return tmp / name, text


def _edit_dump(tmp, edit, **kw):
    path, text = _dump(tmp, **kw)
    path.write_text(edit(text))
    return path


def _h5(tmp, name="x.h5", edit=None):
    x, species = random_walk(box=BOX, frames=2)
    write_trajectory(tmp / name, Trajectory(species, BOX, [0.0, 1.0], x))
    if edit:
        with h5py.File(tmp / name, "a") as f:
            edit(f)
    return tmp / name


def _replace_dataset(key, value):
    def edit(f):
        del f[key]
        f[key] = value
    return edit


def _flatten_positions(f):
    for key in ("particles/all/position/value", "particles/all/image/value"):
        _replace_dataset(key, f[key][()].reshape(2, -1))(f)


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _folder_of_npz(tmp):
    d = tmp / "in"
    d.mkdir()
    np.savez(d / "a.npz", **botan_like(n=40))
    np.savez(d / "b.npz", **botan_like(n=45))
    return d


def _xyz(tmp, lattice='5 0 0 0 6 0 0 0 7', counts=(3, 3)):
    lines = []
    for n in counts:
        lines += [str(n), f'Lattice="{lattice}" Properties=species:S:1:pos:R:3'] + ["A 1.0 1.0 1.0"] * n
    (tmp / "x.xyz").write_text("\n".join(lines) + "\n")
    return tmp / "x.xyz"


def _data(tmp, tilt=False, drop=0):
    from glassgen.io import write_lammps_data

    x, species = random_walk(box=BOX, frames=1)
    path = write_lammps_data(tmp / "x.data", species, BOX, x[0])
    lines = path.read_text().splitlines()
    if tilt:
        lines.insert(lines.index("Masses") - 1, "0.5 0.0 0.0 xy xz yz")
    path.write_text("\n".join(lines[: len(lines) - drop]) + "\n")
    return path


def _drop_last_atom_of_frame(text, k):
    frames = text.split("ITEM: TIMESTEP")
    body = frames[k + 1].rstrip("\n").split("\n")
    body[body.index("ITEM: NUMBER OF ATOMS") + 1] = str(int(body[body.index("ITEM: NUMBER OF ATOMS") + 1]) - 1)
    frames[k + 1] = "\n".join(body[:-1]) + "\n"
    return "ITEM: TIMESTEP".join(frames)


def _far_outside(text):
    lines = text.split("\n")
    i = lines.index("ITEM: ATOMS id type x y z") + 1
    parts = lines[i].split()
    parts[2] = "40.0"  # 8 box edges away: not a particle between re-neighbourings
    lines[i] = " ".join(parts)
    return "\n".join(lines)


def _nan(text):
    lines = text.split("\n")
    i = lines.index("ITEM: ATOMS id type x y z ix iy iz") + 1
    parts = lines[i].split()
    parts[3] = "nan"
    lines[i] = " ".join(parts)
    return "\n".join(lines)


# name -> (build(tmp) -> (src, extra CLI args), words the message must contain)
CASES = {
    "npz missing key": (lambda t: (_npz(t, positions=None), ["--preset", "botan"]), "missing key(s) positions"),
    "npz wrong shape": (lambda t: (_npz(t, positions=np.zeros((3, 41, 3))), ["--preset", "botan"]), "positions must have shape (R,40,3)"),
    "npz wrong dtype": (lambda t: (_npz(t, positions=np.zeros((3, 40, 3), int)), ["--preset", "botan"]), "positions must be floating point"),
    "npz float types": (lambda t: (_npz(t, types=np.zeros(40)), ["--preset", "botan"]), "types must be integers"),
    "npz NaN": (lambda t: (_npz(t, positions=np.full((3, 40, 3), np.nan)), ["--preset", "botan"]), "positions contains 360 NaN/inf"),
    "npz inf": (lambda t: (_npz(t, initial_positions=np.full((40, 3), np.inf)), ["--preset", "botan"]), "initial_positions contains"),
    "npz zero box": (lambda t: (_npz(t), ["--box", "0", "--time", "1"]), "--box edges must be finite and positive"),
    "npz negative box": (lambda t: (_npz(t), ["--box", "5,-5,5", "--time", "1"]), "--box edges must be finite and positive"),
    "npz not npz": (lambda t: ((t / "x.npz").write_text("hello") and t / "x.npz", ["--preset", "botan"]), "not a readable .npz file"),
    "npz truncated": (lambda t: (_truncate(_npz(t)), ["--preset", "botan"]), "not a readable .npz file"),
    "npz far outside": (lambda t: (_npz(t), ["--box", "1.0", "--time", "1"]), "lie far outside the box"),
    "npz counts differ between files": (lambda t: (_folder_of_npz(t), ["--preset", "botan"]), "particle counts differ between files"),
    "dump counts differ between frames": (lambda t: (_edit_dump(t, lambda s: _drop_last_atom_of_frame(s, 1)), []),
                                          "particle counts differ between frames"),
    "dump far outside": (lambda t: (_edit_dump(t, _far_outside, columns="id type x y z"), []), "lie far outside the box"),
    "dump NaN": (lambda t: (_edit_dump(t, _nan), []), "NaN/inf"),
    "dump triclinic": (lambda t: (_edit_dump(t, lambda s: s.replace("BOUNDS pp pp pp", "BOUNDS xy xz yz pp pp pp")), []), "triclinic boxes are not supported"),
    "dump truncated": (lambda t: (_truncate(_dump(t)[0], 0.9), []), "truncated: frame 2"),
    "dump truncated header": (lambda t: (_edit_dump(t, lambda s: s + "ITEM: TIMESTEP\n900\nITEM: NUMBER OF ATOMS\n"), []), "truncated: frame 3"),
    "dump zero box": (lambda t: (_edit_dump(t, lambda s: s.replace("\n0.0 5.0\n", "\n0.0 0.0\n")), []), "box edges must be positive"),
    "dump no type column": (lambda t: (_dump(t, columns="id x y z")[0], []), "no 'type' column"),
    "dump non-periodic": (lambda t: (_edit_dump(t, lambda s: s.replace("BOUNDS pp pp pp", "BOUNDS pp pp fs")), []), "not fully periodic"),
    "h5md truncated": (lambda t: (_truncate(_h5(t)), []), "not a readable HDF5 file"),
    "h5md not HDF5": (lambda t: ((t / "x.h5").write_text("just text\n") and t / "x.h5", []), "not a readable HDF5 file"),
    "h5md missing dataset": (lambda t: (_h5(t, edit=lambda f: f.__delitem__("particles/all/species")), []), "missing dataset /particles/all/species"),
    "h5md NaN": (lambda t: (_h5(t, edit=_replace_dataset("particles/all/position/value", np.full((2, 24, 3), np.nan))), []), "NaN/inf"),
    "h5md wrong shape": (lambda t: (_h5(t, edit=_flatten_positions), []), "must be (F,N,3)"),
    "h5md zero box": (lambda t: (_h5(t, edit=_replace_dataset("particles/all/box/edges/value", np.zeros((2, 3)))), []), "box edges must be positive"),
    "h5md species count": (lambda t: (_h5(t, edit=_replace_dataset("particles/all/species", np.zeros(7, np.int32))), []), "species must have shape (24,)"),
    "xyz triclinic": (lambda t: (_xyz(t, lattice="5 0 0 1 6 0 0 0 7"), []), "triclinic boxes are not supported"),
    "xyz counts differ between frames": (lambda t: (_xyz(t, counts=(3, 4)), []), "particle counts differ between frames"),
    "xyz zero box": (lambda t: (_xyz(t, lattice="0 0 0 0 6 0 0 0 7"), []), "box edges must be positive"),
    "data triclinic": (lambda t: (_data(t, tilt=True), []), "triclinic boxes are not supported"),
    "data truncated": (lambda t: (_data(t, drop=3), []), "truncated"),
    "missing file": (lambda t: (t / "nothing.dump", []), "no such file"),
    "option for another format": (lambda t: (_dump(t)[0], ["--box", "5"]), "--box does not apply to lammps-dump input"),
}

@pytest.mark.parametrize("case", sorted(CASES))
def test_library_raises_input_error(tmp_path, case):
    build, words = CASES[case]
    src, args = build(tmp_path)
    opts = {"preset": None, "box": None, "time": None}
    for flag, value in zip(args[::2], args[1::2]):
        opts[flag.lstrip("-")] = float(value) if flag == "--time" else value
    with pytest.raises(InputError) as e:
        convert_path(src, tmp_path / "out" / "o.h5" if not src.is_dir() else tmp_path / "out", progress=False, **opts)
    msg = str(e.value)
    assert e.value.source and src.name in msg, msg  # names the file (or a file inside the folder)
    assert words in msg, msg
    assert "\n" not in msg
    assert not (tmp_path / "out" / "o.h5").exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_prints_one_line_and_exits_2(tmp_path, case, monkeypatch, capsys):
    build, words = CASES[case]
    src, args = build(tmp_path)
    monkeypatch.setattr(sys, "argv", ["glassgen", "convert", *args, str(src), str(tmp_path / "o.h5")])
    with pytest.raises(SystemExit) as e:
        glassgen.cli.app.main()
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err


def test_cutoff_larger_than_half_the_box_names_the_source():
    with pytest.raises(InputError, match=r"^conf.h5: cutoff 3.0 is not smaller than half the smallest box edge \(2.5\)"):
        check_cutoff(3.0, BOX, "conf.h5")
    x, _ = random_walk(box=BOX, frames=1)
    with pytest.raises(InputError, match="conf.h5: cutoff 2.6"):
        neighbour_graph(x[0], BOX, 2.6, source="conf.h5")


# ---- atomic writes -----------------------------------------------------------------

def _only_inputs_left(folder, inputs):
    assert sorted(p.name for p in folder.iterdir()) == sorted(inputs)


def test_h5md_write_interrupted_leaves_nothing(tmp_path, monkeypatch):
    src = _npz(tmp_path)
    real = h5py.Group.create_dataset

    def fail_on_runs(self, name, *a, **k):
        if name == "position" and self.name == "/glassgen/ensemble":
            raise RuntimeError("disk full")
        return real(self, name, *a, **k)

    monkeypatch.setattr(h5py.Group, "create_dataset", fail_on_runs)
    with pytest.raises(RuntimeError, match="disk full"):
        convert_path(src, tmp_path / "o.h5", preset="botan")
    _only_inputs_left(tmp_path, ["x.npz"])


def test_npz_write_interrupted_leaves_nothing(tmp_path, monkeypatch):
    h5 = convert_path(_npz(tmp_path), tmp_path / "o.h5", preset="botan")[0]

    def half(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        raise OSError("no space left on device")

    monkeypatch.setattr(np, "savez", half)
    with pytest.raises(OSError, match="no space"):
        convert_path(h5, tmp_path / "back.npz")
    _only_inputs_left(tmp_path, ["x.npz", "o.h5"])


def test_cli_interrupt_leaves_no_output(tmp_path, monkeypatch, capsys):
    src, _ = _dump(tmp_path)
    from pathlib import Path

    def interrupted(self, text):
        open(self, "w").write(text[: len(text) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", interrupted)
    monkeypatch.setattr(sys, "argv", ["glassgen", "convert", str(src), str(tmp_path / "o.data")])
    with pytest.raises(SystemExit) as e:
        glassgen.cli.app.main()
    assert e.value.code == 130
    _only_inputs_left(tmp_path, ["x.dump"])
