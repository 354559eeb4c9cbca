"""Extended XYZ writer/reader: round trips, the header OVITO/ASE read, per-particle columns."""
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
    assert "Properties=species:S:1:pos:R:3:image:I:3:propensity:R:1" in lines[1] and "Time=0.0" in lines[1]
    assert {ln.split()[0] for ln in lines[2 : 2 + species.size]} == {"A", "B"}
    pos = np.array([ln.split()[1:4] for ln in lines[2 : 2 + species.size]], dtype=float)
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
