"""glassgen files opened with the real MDAnalysis, and its LAMMPS readers compared with ours."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from formats_fixtures import botan_like, dump_text, random_walk

from glassgen.system.data import Ensemble, Trajectory
from glassgen.io import read_lammps_dump, write_lammps_data
from glassgen.io.h5md import write_ensemble, write_trajectory
from glassgen.system.pbc import fold, minimum_image

mda = pytest.importorskip("MDAnalysis")
BOX = np.array([5.0, 6.0, 7.0])
BOTAN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"


def _open_h5md(path, n):
    u = mda.Universe.empty(n, trajectory=False)
    # glassgen files are in LJ units, which MDAnalysis cannot convert: read them as they are.
    u.load_new(str(path), format="H5MD", convert_units=False)
    return u


def test_trajectory_h5md_opens_in_mdanalysis(tmp_path):
    x, species = random_walk(box=BOX, frames=4)
    assert np.any((x < 0) | (x >= BOX))  # unwrapped: the file must hold them folded
    write_trajectory(tmp_path / "t.h5", Trajectory(species, BOX, [0.0, 0.5, 1.0, 2.0], x, {"dt": 0.005}))
    u = _open_h5md(tmp_path / "t.h5", species.size)
    assert len(u.trajectory) == 4
    for ts in u.trajectory:
        np.testing.assert_allclose(ts.positions, fold(x[ts.frame], BOX)[0], rtol=0, atol=1e-5)
        np.testing.assert_allclose(ts.dimensions, [5, 6, 7, 90, 90, 90])
        assert ts.time == pytest.approx([0.0, 0.5, 1.0, 2.0][ts.frame])


def test_ensemble_initial_configuration_opens_in_mdanalysis(tmp_path):
    a = botan_like(n=30, runs=2)
    edge = (30 / 1.2) ** (1 / 3)
    ens = Ensemble(a["types"], np.full(3, edge), a["initial_positions"], np.array([10.0]), a["positions"][:, None])
    write_ensemble(tmp_path / "e.h5", ens)
    u = _open_h5md(tmp_path / "e.h5", 30)
    assert len(u.trajectory) == 1
    np.testing.assert_allclose(u.atoms.positions, a["initial_positions"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(u.dimensions[:3], edge, rtol=1e-6)


@pytest.mark.shared_data
@pytest.mark.skipif(not BOTAN.is_dir(), reason="shared BOTAN data absent")
def test_converted_botan_file_opens_in_mdanalysis(tmp_path):
    from glassgen.io import convert

    src = BOTAN / "isoconfig_N4096T0.44_1_tc07.npz"
    convert(src, tmp_path / "b.h5", preset="botan")
    u = _open_h5md(tmp_path / "b.h5", 4096)
    with np.load(src) as f:
        np.testing.assert_allclose(u.atoms.positions, f["initial_positions"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(u.dimensions, [15.056576, 15.056576, 15.056576, 90, 90, 90], atol=1e-5)


@pytest.mark.parametrize("columns,convention,unwrap,lo", [
    ("id type x y z ix iy iz", "auto", True, (-1.0, 2.0, 0.5)),
    ("id type xu yu zu", "unwrapped", False, (-1.0, 2.0, 0.5)),
    # MDAnalysis 2.11 turns scaled xs into xs*L - xlo (MDAnalysis/mdanalysis#4788) and adds
    # image flags before scaling (#5138): compare scaled columns with the origin at 0 and
    # without images, i.e. MDAnalysis' wrapped positions against ours modulo the box.
    ("id type xs ys zs", "scaled", False, (0.0, 0.0, 0.0)),
])
def test_lammps_dump_agrees_with_mdanalysis(tmp_path, columns, convention, unwrap, lo):
    x, species = random_walk(box=BOX)
    path = tmp_path / "f.lammpstrj"
    path.write_text(dump_text(x, species, BOX, lo=lo, columns=columns, steps=np.arange(5) * 40))
    ours = read_lammps_dump(path, dt=0.005)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MDAnalysis warns that a dump has no masses
        u = mda.Universe(str(path), format="LAMMPSDUMP", dt=0.005, lammps_coordinate_convention=convention, unwrap_images=unwrap)
    assert len(u.trajectory) == ours.n_frames == 5
    assert (u.atoms.types.astype(int) - 1).tolist() == ours.species.tolist()
    crossed = 0
    for ts in u.trajectory:
        if "ix" in columns or "xu" in columns:
            np.testing.assert_allclose(ts.positions, ours.positions[ts.frame], rtol=0, atol=1e-5)
        else:  # ours unwrapped by continuity, MDAnalysis' as dumped: equal up to whole box edges
            np.testing.assert_allclose(minimum_image(ts.positions - ours.positions[ts.frame], BOX), 0, atol=1e-5)
            crossed += int(np.sum(np.abs(ts.positions - ours.positions[ts.frame]) > 1))
        np.testing.assert_allclose(ts.dimensions[:3], ours.box, rtol=1e-6)
        assert ts.time == pytest.approx(ours.times[ts.frame])
    assert crossed > 0 or "ix" in columns or "xu" in columns  # the modulo comparison saw crossings


def test_lammps_data_file_opens_in_mdanalysis(tmp_path):
    x, species = random_walk(box=BOX, frames=1)
    path = write_lammps_data(tmp_path / "c.data", species, BOX, x[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(path), format="DATA", atom_style="id type x y z")
    np.testing.assert_allclose(u.atoms.positions, fold(x[0], BOX)[0], rtol=0, atol=1e-5)
    assert (u.atoms.types.astype(int) - 1).tolist() == species.tolist()
    np.testing.assert_allclose(u.atoms.masses, 1.0)
    np.testing.assert_allclose(u.dimensions, [5, 6, 7, 90, 90, 90])
