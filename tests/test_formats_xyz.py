"""Extended XYZ writer/reader: round trips, files ASE reads with the species kept, per-particle columns."""
from __future__ import annotations

import numpy as np
import pytest
from formats_fixtures import random_walk

from glassgen.system.data import Ensemble
from glassgen.core.errors import InputError
from glassgen.io import read_xyz, read_xyz_columns, write_any, write_xyz

BOX = np.array([5.0, 6.0, 7.0])


def test_round_trip_keeps_unwrapped_positions_and_columns(tmp_path):
    x, species = random_walk(box=BOX)
    prop = np.linspace(0.0, 1.0, species.size)
    path = write_xyz(tmp_path / "a.xyz", species, BOX, x, times=np.arange(5) * 0.5, columns={"propensity": prop})
    lines = path.read_text().splitlines()
    assert lines[0] == str(species.size)
    assert 'Lattice="5.0 0.0 0.0 0.0 6.0 0.0 0.0 0.0 7.0"' in lines[1]
    assert "Properties=species:S:1:pos:R:3:image:I:3:species_id:I:1:propensity:R:1" in lines[1] and "Time=0.0" in lines[1]
    rows = [ln.split() for ln in lines[2 : 2 + species.size]]
    assert [r[0] for r in rows] == [("Ar", "Ne")[s] for s in species]  # chemical symbols, A = Ar, B = Ne
    assert [int(r[7]) for r in rows] == species.tolist()  # species_id: the 0-based glassgen species
    pos = np.array([r[1:4] for r in rows], dtype=float)
    assert np.all((pos >= 0) & (pos < BOX))  # viewers get folded positions
    traj = read_xyz(path)
    assert traj.species.tolist() == species.tolist()
    np.testing.assert_allclose(traj.positions, x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(traj.times, np.arange(5) * 0.5)
    cols = read_xyz_columns(path)
    assert list(cols) == ["propensity"]
    np.testing.assert_array_equal(cols["propensity"], np.broadcast_to(prop, (5, species.size)))


def test_reads_files_without_image_column(tmp_path):
    x, species = random_walk(box=BOX, frames=3)
    head = 'Lattice="5 0 0 0 6 0 0 0 7" Properties=species:S:1:pos:R:3 pbc="T T T"'
    frames = []
    for k in range(3):
        w = np.mod(x[k], BOX)
        frames += [str(species.size), head] + [f"{'AB'[s]} {a!r} {b!r} {c!r}" for s, (a, b, c) in zip(species, w.tolist())]
    path = tmp_path / "w.xyz"
    path.write_text("\n".join(frames) + "\n")
    traj = read_xyz(path)
    np.testing.assert_allclose(traj.positions - traj.positions[0], x - x[0], atol=1e-12)
    assert "continuity" in traj.meta["unwrapped_by"]
    assert "frame index" in traj.meta["assumptions"] and traj.times.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(InputError, match="w.xyz: in-box positions without an image column"):
        read_xyz(path, strict=True)


def test_ensemble_to_xyz_has_propensity(tmp_path):
    rng = np.random.default_rng(0)
    x0 = rng.uniform(0, 1, (10, 3)) * BOX
    runs = x0 + rng.normal(0, 0.5, (4, 1, 10, 3))
    ens = Ensemble(np.zeros(10, int), BOX, x0, np.array([3.0]), runs)
    path = write_any(tmp_path / "e.xyz", ens)
    traj = read_xyz(path)
    np.testing.assert_allclose(traj.positions[0], x0, atol=1e-12)
    expected = np.linalg.norm(runs[:, 0] - x0, axis=-1).mean(axis=0)
    np.testing.assert_allclose(read_xyz_columns(path)["propensity"][0], expected, rtol=1e-12)


def test_writer_rejects_bad_columns(tmp_path):
    x, species = random_walk(box=BOX, frames=2)
    with pytest.raises(InputError, match="column 'p' must have shape"):
        write_xyz(tmp_path / "a.xyz", species, BOX, x, columns={"p": np.zeros(3)})
    with pytest.raises(InputError, match="bad column name"):
        write_xyz(tmp_path / "a.xyz", species, BOX, x, columns={"a:b": np.zeros(species.size)})
    assert not (tmp_path / "a.xyz").exists()


def _old_file(path, x, species, box):
    """An extended XYZ file as glassgen wrote it before chemical symbols: names A/B, no species_id."""
    from glassgen.system.pbc import fold

    w, img = fold(x, box)
    lattice = " ".join(repr(v) for v in np.diag(box).ravel().tolist())
    out = []
    for k in range(x.shape[0]):
        out += [str(species.size), f'Lattice="{lattice}" Properties=species:S:1:pos:R:3:image:I:3 Time={0.5 * k!r} pbc="T T T"']
        out += [f"{'AB'[s]} {a!r} {b!r} {c!r} {i} {j} {m}" for s, (a, b, c), (i, j, m) in zip(species, w[k].tolist(), img[k].tolist())]
    path.write_text("\n".join(out) + "\n")
    return path


def test_old_a_b_files_still_read(tmp_path):
    x, species = random_walk(box=BOX)
    traj = read_xyz(_old_file(tmp_path / "old.xyz", x, species, BOX))
    assert traj.species.tolist() == species.tolist() and set(species.tolist()) == {0, 1}
    np.testing.assert_allclose(traj.positions, x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(traj.times, np.arange(5) * 0.5)


def test_ase_reads_species_positions_and_cell(tmp_path):
    ase_io = pytest.importorskip("ase.io")
    x, species = random_walk(box=BOX)
    prop = np.linspace(0.0, 1.0, species.size)
    path = write_xyz(tmp_path / "a.xyz", species, BOX, x, times=np.arange(5) * 0.5, columns={"propensity": prop})
    frames = ase_io.read(path, index=":")
    assert len(frames) == 5
    for k, atoms in enumerate(frames):
        assert atoms.get_chemical_symbols() == [("Ar", "Ne")[s] for s in species]
        assert atoms.arrays["species_id"].tolist() == species.tolist()
        np.testing.assert_array_equal(atoms.cell.array, np.diag(BOX))
        assert atoms.pbc.all() and atoms.info["Time"] == pytest.approx(0.5 * k)
        assert np.all((atoms.positions >= 0) & (atoms.positions < BOX))
        np.testing.assert_allclose(atoms.positions + atoms.arrays["image"] * BOX, x[k], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(atoms.arrays["propensity"], prop)


def test_ase_written_file_reads_back(tmp_path):
    # The other direction: a file ASE writes from our frames (its own number format) is glassgen input.
    ase_io = pytest.importorskip("ase.io")
    x, species = random_walk(box=BOX, frames=3)
    frames = ase_io.read(write_xyz(tmp_path / "a.xyz", species, BOX, x, times=[0.0, 1.0, 2.5]), index=":")
    ase_io.write(tmp_path / "ase.xyz", frames, format="extxyz")
    traj = read_xyz(tmp_path / "ase.xyz")
    assert traj.species.tolist() == species.tolist()
    np.testing.assert_allclose(traj.positions, x, rtol=0, atol=1e-6)  # ASE writes 8 decimals
    assert traj.times.tolist() == [0.0, 1.0, 2.5]


def test_species_id_wins_and_must_agree_with_names(tmp_path):
    x, species = random_walk(box=BOX, frames=1)
    text = write_xyz(tmp_path / "a.xyz", species, BOX, x).read_text()
    assert read_xyz(tmp_path / "a.xyz").species.tolist() == species.tolist()
    # Names OVITO users may have renamed: species_id still gives the species.
    (tmp_path / "renamed.xyz").write_text(text.replace("\nAr ", "\nCu ").replace("\nNe ", "\nZn "))
    assert read_xyz(tmp_path / "renamed.xyz").species.tolist() == species.tolist()
    lines = text.splitlines()
    i = 2 + int(np.flatnonzero(species == 1)[0])
    lines[i] = lines[i].rsplit(" ", 1)[0] + " 0"  # an Ne row claiming species 0
    (tmp_path / "bad.xyz").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="bad.xyz: frame 0: species names and species_id disagree"):
        read_xyz(tmp_path / "bad.xyz")


def test_writer_refuses_what_ovito_or_ase_would_misread(tmp_path):
    x, species = random_walk(box=BOX, frames=1)
    with pytest.raises(InputError, match="bad column name 'type'"):  # OVITO maps type and species both to the particle type
        write_xyz(tmp_path / "a.xyz", species, BOX, x, columns={"type": species})
    with pytest.raises(InputError, match="species 6 has no name"):
        write_xyz(tmp_path / "a.xyz", np.arange(species.size) % 7, BOX, x)
    assert not (tmp_path / "a.xyz").exists()
