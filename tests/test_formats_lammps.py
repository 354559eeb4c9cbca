"""LAMMPS dump reader and LAMMPS data writer/reader, checked against generated text and real LAMMPS."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from formats_fixtures import dump_text, random_walk

from glassgen.core.errors import InputError
from glassgen.io import read_lammps_data, read_lammps_dump, write_lammps_data
from glassgen.system.pbc import fold

BOX = np.array([5.0, 6.0, 7.0])
LO = np.array([-1.0, 2.0, 0.5])


@pytest.fixture(scope="module")
def walk():
    return random_walk(box=BOX)


@pytest.mark.parametrize("columns", ["id type x y z ix iy iz", "id type xu yu zu", "id type xs ys zs ix iy iz",
                                     "id type xsu ysu zsu", "type x y z vx ix iy iz id"])
def test_dump_unwraps_exactly(tmp_path, walk, columns):
    x, species = walk
    path = tmp_path / "a.dump"
    text = dump_text(x, species, BOX, LO, columns, steps=np.arange(5) * 200)
    path.write_text(text)
    traj = read_lammps_dump(path)
    assert traj.species.tolist() == species.tolist()  # sorted by id, type - 1
    np.testing.assert_allclose(traj.box, BOX, rtol=0, atol=1e-12)  # origin subtracted, edges kept
    np.testing.assert_allclose(traj.positions, x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(traj.times, np.arange(5) * 200 * 0.005)
    assert "dt = 0.005" in traj.meta["assumptions"]
    assert "unwrapped_by" not in traj.meta


def test_fixture_has_coordinates_slightly_outside_the_box(walk):
    # The reader tests above are only meaningful if some wrapped x lie outside [lo, lo+L).
    x, _ = walk
    image = np.floor(x[0] / BOX)
    w1 = x[1] - image * BOX  # frame 1 keeps frame 0's images, as between re-neighbourings
    assert np.any((w1 < 0) | (w1 >= BOX))


def test_dump_without_images_unwraps_by_continuity(tmp_path, walk):
    x, species = walk
    path = tmp_path / "w.dump"
    path.write_text(dump_text(x, species, BOX, LO, "id type x y z"))
    traj = read_lammps_dump(path)
    assert "continuity" in traj.meta["unwrapped_by"] and "continuity" in traj.meta["assumptions"]
    assert np.all((traj.positions[0] >= 0) & (traj.positions[0] < BOX))  # frame 0 folded
    np.testing.assert_allclose(traj.positions - traj.positions[0], x - x[0], rtol=0, atol=1e-12)
    assert 0 < traj.meta["largest_frame_move"] < 0.5
    with pytest.raises(InputError, match="image flags"):
        read_lammps_dump(path, strict=True)


def test_single_frame_without_images_is_folded(tmp_path, walk):
    x, species = walk
    path = tmp_path / "one.dump"
    path.write_text(dump_text(x[1:2], species, BOX, LO, "id type x y z", rebuild_every=1))
    traj = read_lammps_dump(path, strict=True)
    np.testing.assert_allclose(traj.positions[0], fold(x[1], BOX)[0], atol=1e-12)


def test_dump_time_item_and_dt(tmp_path, walk):
    x, species = walk
    path = tmp_path / "t.dump"
    path.write_text(dump_text(x, species, BOX, LO, steps=np.arange(5) * 10))
    np.testing.assert_allclose(read_lammps_dump(path, dt=0.002).times, np.arange(5) * 10 * 0.002)
    assert "assumptions" not in read_lammps_dump(path, dt=0.002).meta
    path.write_text(dump_text(x, species, BOX, LO, times=[0.0, 0.5, 1.25, 2.0, 3.0]))
    traj = read_lammps_dump(path)
    assert traj.times.tolist() == [0.0, 0.5, 1.25, 2.0, 3.0] and traj.meta["time_from"] == "ITEM: TIME"


def test_data_file_round_trip(tmp_path, walk):
    x, species = walk
    v = np.random.default_rng(3).normal(size=x[0].shape)
    path = write_lammps_data(tmp_path / "c.data", species, BOX, x[3], velocities=v, time=1.5, dt=0.005)
    text = path.read_text()
    assert "Atoms # atomic" in text and "\nMasses\n" in text and "0.0 5.0 xlo xhi" in text
    traj, vel = read_lammps_data(path, with_velocities=True)
    assert traj.species.tolist() == species.tolist()
    np.testing.assert_allclose(traj.positions[0], x[3], rtol=0, atol=1e-12)  # images kept
    np.testing.assert_array_equal(vel, v)
    assert traj.times[0] == pytest.approx(1.5)
    atoms = text.split("Atoms # atomic\n\n")[1].split("\n\nVelocities")[0].splitlines()
    xyz = np.array([line.split()[2:5] for line in atoms], dtype=float)
    assert np.all((xyz >= 0) & (xyz < BOX))  # folded, with the crossings in the image flags


# ---- real LAMMPS ---------------------------------------------------------------------

LMP = shutil.which("lmp")


def _lattice(n_side=6, density=1.2):
    edge = (n_side**3 / density) ** (1 / 3)
    g = (np.arange(n_side) + 0.5) * edge / n_side
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    species = (np.arange(len(x)) % 5 == 0).astype(np.int64)
    return x, species, np.full(3, edge)


@pytest.mark.skipif(LMP is None, reason="LAMMPS executable lmp not installed")
def test_real_lammps_reads_our_data_and_its_dumps_read_back(tmp_path):
    """glassgen data file -> LAMMPS MD (KA pair styles) -> dumps in three column styles -> glassgen reader.

    Neighbour lists are rebuilt only every 20 steps, so dumped wrapped x lie
    outside the box in between; x + ix*L, xu and continuity unwrapping must agree.
    """
    x0, species, box = _lattice()
    write_lammps_data(tmp_path / "start.data", species, box, x0 - 3.0 * box)  # images -3 survive
    (tmp_path / "in.md").write_text(f"""
units lj
atom_style atomic
boundary p p p
read_data start.data
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
pair_coeff 1 2 1.5 0.8 2.0
pair_coeff 2 2 0.5 0.88 2.2
pair_modify shift yes
neighbor 0.3 bin
neigh_modify every 20 delay 0 check no
velocity all create 1.5 12345 mom yes
timestep 0.005
fix 1 all nve
dump a all custom 7 a.dump id type x y z ix iy iz
dump b all custom 7 b.dump id type xu yu zu
dump c all custom 7 c.dump id type x y z
dump_modify a format float %.17g
dump_modify b format float %.17g
dump_modify c format float %.17g
run 140
write_data end.data
""")
    subprocess.run([LMP, "-in", "in.md", "-log", "none", "-screen", "none"], cwd=tmp_path, check=True, timeout=120)
    a = read_lammps_dump(tmp_path / "a.dump")
    b = read_lammps_dump(tmp_path / "b.dump")
    c = read_lammps_dump(tmp_path / "c.dump")
    raw = np.loadtxt([ln for ln in (tmp_path / "c.dump").read_text().splitlines() if len(ln.split()) == 5])
    assert np.any((raw[:, 2:] < 0) | (raw[:, 2:] >= box[0])), "expected LAMMPS to dump some x outside the box"
    assert a.n_frames == b.n_frames == 21 and a.species.tolist() == species.tolist()
    np.testing.assert_allclose(a.positions[0], x0 - 3.0 * box, atol=1e-9)  # our images read by LAMMPS
    np.testing.assert_allclose(a.positions, b.positions, rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.positions - c.positions[0], b.positions - b.positions[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.times, np.arange(21) * 7 * 0.005)
    end = read_lammps_data(tmp_path / "end.data")  # LAMMPS' own data file, with Velocities etc.
    np.testing.assert_allclose(end.positions[0], b.positions[-1], rtol=0, atol=1e-9)
    assert end.times[0] == pytest.approx(140 * 0.005)
