"""LAMMPS dump writer: H5MD trajectories (MD and rollouts) to ``id type x y z ix iy iz`` dumps that
glassgen, MDAnalysis and LAMMPS itself read back."""
from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pytest
from formats_fixtures import botan_like, random_walk
from typer.testing import CliRunner

from glassgen.cli.app import app
from glassgen.core.errors import InputError
from glassgen.io import convert, read_lammps_data, read_lammps_dump, write_lammps_data, write_lammps_dump
from glassgen.io.h5md import TrajectoryWriter, read_trajectory, write_ensemble, write_trajectory
from glassgen.system.data import Ensemble, Trajectory
from glassgen.system.pbc import minimum_image

BOX = np.array([5.0, 6.0, 7.0])
TIMES = np.array([0.0, 0.5, 1.0, 2.0, 3.5])
runner = CliRunner()


def _parse(path):
    """Frames of a dump as (steps, box, ids, types, wrapped x, images), by plain text parsing."""
    lines = path.read_text().splitlines()
    n = int(lines[3])
    steps, boxes, rows = [], [], []
    for start in range(0, len(lines), n + 9):
        head = lines[start : start + 9]
        assert head[0] == "ITEM: TIMESTEP" and head[4] == "ITEM: BOX BOUNDS pp pp pp"
        assert head[8] == "ITEM: ATOMS id type x y z ix iy iz"
        steps.append(int(head[1]))
        boxes.append([float(b.split()[1]) - float(b.split()[0]) for b in head[5:8]])
        rows.append(np.array([ln.split() for ln in lines[start + 9 : start + 9 + n]], dtype=float))
    rows = np.stack(rows)
    return np.array(steps), np.array(boxes), rows[..., 0].astype(int), rows[..., 1].astype(int), rows[..., 2:5], rows[..., 5:8]


@pytest.fixture
def md_h5(tmp_path):
    """An MD-like H5MD trajectory (dt known) whose particles cross the box."""
    x, species = random_walk(box=BOX)
    assert np.any((x < 0) | (x >= BOX))
    write_trajectory(tmp_path / "md.h5", Trajectory(species, BOX, TIMES, x, {"dt": 0.002}))
    return tmp_path / "md.h5"


def test_wrapped_plus_image_times_box_is_the_h5md_position(tmp_path, md_h5):
    result = runner.invoke(app, ["convert", str(md_h5), str(tmp_path / "md.dump")])
    assert result.exit_code == 0, result.output
    traj = read_trajectory(md_h5)
    steps, boxes, ids, types, wrapped, image = _parse(tmp_path / "md.dump")
    assert steps.tolist() == [0, 250, 500, 1000, 1750]  # time / dt with the file's dt = 0.002
    np.testing.assert_array_equal(boxes, np.tile(BOX, (5, 1)))
    assert ids.tolist() == [list(range(1, traj.species.size + 1))] * 5
    assert np.all(types == traj.species + 1)
    assert np.all((wrapped >= 0) & (wrapped < BOX))
    assert np.any(image != 0)
    # Exact, not approximately: the dump carries the same wrapped floats and images as the H5MD file.
    np.testing.assert_array_equal(wrapped + image * BOX, traj.positions)


def test_glassgen_reads_its_dump_back(tmp_path, md_h5):
    convert(md_h5, tmp_path / "md.lammpstrj")
    traj = read_trajectory(md_h5)
    back = read_lammps_dump(tmp_path / "md.lammpstrj", dt=0.002, strict=True)
    assert back.species.tolist() == traj.species.tolist()
    np.testing.assert_array_equal(back.positions, traj.positions)
    np.testing.assert_allclose(back.times, TIMES, rtol=0, atol=1e-12)
    default = read_lammps_dump(tmp_path / "md.lammpstrj")  # without --dt: 0.005, so times come out 2.5x
    np.testing.assert_allclose(default.times, TIMES * 2.5, rtol=1e-12)


def test_rollout_file_to_dump(tmp_path):
    # Rollouts stream frames with TrajectoryWriter and drop dt: TIMESTEP is then time / 0.005,
    # which read_lammps_dump's default dt turns back into the rollout's times.
    x, species = random_walk(box=BOX, frames=4, step=0.8)
    with TrajectoryWriter(tmp_path / "roll.h5", species, BOX, {"lag": 2.5, "generated": True}) as w:
        for k in range(4):
            w.append(2.5 * k, x[k])
    convert(tmp_path / "roll.h5", tmp_path / "roll.dump")
    assert _parse(tmp_path / "roll.dump")[0].tolist() == [0, 500, 1000, 1500]
    back = read_lammps_dump(tmp_path / "roll.dump", strict=True)
    np.testing.assert_allclose(back.times, [0.0, 2.5, 5.0, 7.5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.positions, x, rtol=0, atol=1e-12)


def test_mdanalysis_reads_the_dump(tmp_path, md_h5):
    mda = pytest.importorskip("MDAnalysis")
    convert(md_h5, tmp_path / "md.dump")
    traj = read_trajectory(md_h5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MDAnalysis warns that a dump has no masses
        u = mda.Universe(str(tmp_path / "md.dump"), format="LAMMPSDUMP", dt=0.002, unwrap_images=True)
        w = mda.Universe(str(tmp_path / "md.dump"), format="LAMMPSDUMP", dt=0.002)
    assert len(u.trajectory) == len(w.trajectory) == 5
    assert u.trajectory.lammps_coordinate_convention == "unscaled"  # "auto" picks x y z
    assert (u.atoms.types.astype(int) - 1).tolist() == traj.species.tolist()
    for ts in u.trajectory:
        np.testing.assert_allclose(ts.positions, traj.positions[ts.frame], rtol=0, atol=1e-5)  # float32
        np.testing.assert_allclose(ts.dimensions, [5, 6, 7, 90, 90, 90])
        assert ts.time == pytest.approx(TIMES[ts.frame])
    for ts in w.trajectory:  # without unwrap_images: the folded positions
        assert np.all((ts.positions >= 0) & (ts.positions < BOX + 1e-5))
        np.testing.assert_allclose(minimum_image(ts.positions - traj.positions[ts.frame], BOX), 0, atol=1e-5)


def test_ensemble_is_refused_in_one_line(tmp_path):
    a = botan_like(n=20, runs=3)
    edge = (20 / 1.2) ** (1 / 3)
    write_ensemble(tmp_path / "e.h5", Ensemble(a["types"], np.full(3, edge), a["initial_positions"], np.array([10.0]), a["positions"][:, None]))
    with pytest.raises(InputError, match=r"e.dump: a LAMMPS dump holds one trajectory, the input is an ensemble of 3 runs; convert it to h5md") as e:
        convert(tmp_path / "e.h5", tmp_path / "e.dump")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "e.dump").exists()


def test_times_off_the_step_grid_are_refused(tmp_path):
    x, species = random_walk(box=BOX, frames=2)
    with pytest.raises(InputError, match=r"frame 1: time 0.0013 is not a whole number of MD steps of dt = 0.005"):
        write_lammps_dump(tmp_path / "a.dump", species, BOX, x, [0.0, 0.0013])
    assert not (tmp_path / "a.dump").exists()
    write_lammps_dump(tmp_path / "a.dump", species, BOX, x, [0.0, 0.0013], dt=0.0001)
    assert _parse(tmp_path / "a.dump")[0].tolist() == [0, 13]


@pytest.mark.skipif(shutil.which("lmp") is None, reason="LAMMPS executable lmp not installed")
def test_lammps_read_dump_takes_our_frames(tmp_path, md_h5):
    """LAMMPS' own read_dump loads the last frame (x y z and image flags) of a glassgen dump."""
    traj = read_trajectory(md_h5)
    assert np.any((traj.positions[-1] < 0) | (traj.positions[-1] >= BOX))  # the image flags matter
    write_lammps_data(tmp_path / "start.data", traj.species, BOX, traj.positions[0])
    convert(md_h5, tmp_path / "md.dump")
    (tmp_path / "in.read").write_text("""
units lj
atom_style atomic
boundary p p p
read_data start.data
read_dump md.dump 1750 x y z ix iy iz box yes
write_data end.data
""")
    subprocess.run(["lmp", "-in", "in.read", "-log", "none", "-screen", "none"], cwd=tmp_path, check=True, timeout=120)
    end = read_lammps_data(tmp_path / "end.data", dt=0.002)
    assert end.species.tolist() == traj.species.tolist()
    np.testing.assert_allclose(end.positions[0], traj.positions[-1], rtol=0, atol=1e-9)
    assert end.times[0] == pytest.approx(TIMES[-1])  # read_dump sets the LAMMPS timestep to 1750
