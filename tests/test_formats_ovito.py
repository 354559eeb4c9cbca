"""glassgen's extended XYZ and LAMMPS dumps opened with OVITO's Python module (skipped without ``ovito``,
which is not a glassgen dependency: ``pip install ovito`` to run these)."""
from __future__ import annotations

import numpy as np
import pytest
from formats_fixtures import random_walk

from glassgen.io import convert, write_xyz
from glassgen.io.h5md import write_trajectory
from glassgen.system.data import Trajectory

ovito_io = pytest.importorskip("ovito.io")
BOX = np.array([5.0, 6.0, 7.0])
TIMES = np.array([0.0, 0.5, 1.0, 2.0, 3.5])


@pytest.fixture(scope="module")
def walk():
    return random_walk(box=BOX)


def _frames(path):
    pipe = ovito_io.import_file(str(path))
    return [pipe.compute(k) for k in range(pipe.num_frames)]


def test_ovito_reads_xyz_species_and_unwrapped_positions(tmp_path, walk):
    x, species = walk
    frames = _frames(write_xyz(tmp_path / "a.xyz", species, BOX, x, times=TIMES))
    assert len(frames) == 5
    for k, d in enumerate(frames):
        types = d.particles.particle_types
        name = {t.id: t.name for t in types.types}
        # OVITO numbers types in the order it meets them; the names and species_id carry the species.
        assert [name[i] for i in np.asarray(types)] == [("Ar", "Ne")[s] for s in species]
        assert np.asarray(d.particles["species_id"]).tolist() == species.tolist()
        np.testing.assert_array_equal(np.asarray(d.cell)[:, :3], np.diag(BOX))
        assert tuple(d.cell.pbc) == (True, True, True) and d.attributes["Time"] == pytest.approx(TIMES[k])
        unwrapped = np.asarray(d.particles.positions) + np.asarray(d.particles["image"]) * BOX
        np.testing.assert_allclose(unwrapped, x[k], rtol=0, atol=1e-12)


def test_ovito_reads_dump_types_images_and_timesteps(tmp_path, walk):
    x, species = walk
    write_trajectory(tmp_path / "md.h5", Trajectory(species, BOX, TIMES, x, {"dt": 0.002}))
    frames = _frames(convert(tmp_path / "md.h5", tmp_path / "md.dump"))
    assert [d.attributes["Timestep"] for d in frames] == [0, 250, 500, 1000, 1750]
    for k, d in enumerate(frames):
        assert np.asarray(d.particles.identifiers).tolist() == list(range(1, species.size + 1))
        assert np.asarray(d.particles.particle_types).tolist() == (species + 1).tolist()
        unwrapped = np.asarray(d.particles.positions) + np.asarray(d.particles["Periodic Image"]) * BOX
        np.testing.assert_allclose(unwrapped, x[k], rtol=0, atol=1e-12)
