"""H5MD storage: exact round trips, streaming, resume, bad files."""
import h5py
import numpy as np
import pytest

from glassgen.system.data import Ensemble, Trajectory
from glassgen.core.errors import InputError
from glassgen.io.h5md import TrajectoryWriter, read, read_ensemble, read_folder, read_trajectory, write_ensemble, write_trajectory


def random_walk(rng, n=50, f=40, box=(5.0, 6.0, 7.0)):
    box = np.asarray(box)
    x0 = rng.uniform(0, 1, (n, 3)) * box
    steps = rng.normal(0, 0.8, (f, n, 3))  # large steps: many boundary crossings
    x = x0 + np.cumsum(steps, axis=0)
    species = (np.arange(n) >= int(0.8 * n)).astype(int)
    return Trajectory(species, box, 0.5 * np.arange(f), x, {"temperature": 0.5, "dt": 0.005, "seeds": [1, 2]})


def stored(path):
    with h5py.File(path, "r") as f:
        return {k: f[f"particles/all/{k}/value"][()] for k in ("position", "image", "box/edges")}


def test_trajectory_round_trip_is_exact(tmp_path, rng):
    traj = random_walk(rng)
    assert np.abs(traj.positions).max() > 2 * traj.box.max()  # crossings really happened
    write_trajectory(tmp_path / "a.h5", traj)
    back = read_trajectory(tmp_path / "a.h5")
    np.testing.assert_allclose(back.positions, traj.positions, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(back.species, traj.species)
    np.testing.assert_array_equal(back.times, traj.times)
    assert back.meta["temperature"] == 0.5 and back.meta["seeds"] == [1, 2]
    write_trajectory(tmp_path / "b.h5", back)
    a, b = stored(tmp_path / "a.h5"), stored(tmp_path / "b.h5")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert np.all((a["position"] >= 0) & (a["position"] < traj.box))


def test_h5md_layout_and_steps(tmp_path, rng):
    traj = random_walk(rng)
    write_trajectory(tmp_path / "a.h5", traj)
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["particles/all/box"].attrs["dimension"] == 3
        assert [s.decode() if isinstance(s, bytes) else s for s in f["particles/all/box"].attrs["boundary"]] == ["periodic"] * 3
        np.testing.assert_array_equal(f["particles/all/position/step"][()], np.round(traj.times / 0.005))
        assert f["parameters/glassgen"].attrs["units"] == "lj"


def test_ensemble_round_trip_is_exact(tmp_path, rng):
    n, box = 30, np.full(3, 4.0)
    x0 = rng.uniform(0, 4.0, (n, 3))
    runs = x0 + rng.normal(0, 3.0, (5, 3, n, 3))
    ens = Ensemble(np.zeros(n, int), box, x0, [1.0, 10.0, 100.0], runs, {"temperature": 0.44})
    write_ensemble(tmp_path / "e.h5", ens)
    back = read(tmp_path / "e.h5")
    assert isinstance(back, Ensemble)
    np.testing.assert_array_equal(back.positions, ens.positions)
    np.testing.assert_array_equal(back.initial, ens.initial)
    np.testing.assert_array_equal(back.times, ens.times)
    np.testing.assert_array_equal(back.displacements(), runs - x0)


def test_read_folder_and_kind_check(tmp_path, rng):
    traj = random_walk(rng)
    write_trajectory(tmp_path / "b.h5", traj)
    write_trajectory(tmp_path / "a.h5", traj)
    items = read_folder(tmp_path)
    assert [it.meta["source"].split("/")[-1] for it in items] == ["a.h5", "b.h5"]
    with pytest.raises(InputError, match="expected an ensemble"):
        read_folder(tmp_path, kind="ensemble")
    with pytest.raises(InputError, match="is a trajectory"):
        read_ensemble(tmp_path / "a.h5")


def test_streaming_writer_with_resume_equals_one_shot(tmp_path, rng):
    traj = random_walk(rng, f=12)
    write_trajectory(tmp_path / "ref.h5", traj)
    out = tmp_path / "stream.h5"
    w = TrajectoryWriter(out, traj.species, traj.box, traj.meta)
    for k in range(5):
        w.append(traj.times[k], traj.positions[k])
    w.f.close()  # the job dies here: no close(), so no final file
    assert not out.exists() and out.with_name("stream.h5.partial").exists()
    with TrajectoryWriter(out, traj.species, traj.box, traj.meta, resume=True) as w:
        assert w.n_frames == 5
        np.testing.assert_allclose(w.last_positions(), traj.positions[4], atol=1e-12)
        assert w.last_time() == traj.times[4]
        for k in range(5, 12):
            w.append(traj.times[k], traj.positions[k])
    a, b = stored(tmp_path / "ref.h5"), stored(out)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not out.with_name("stream.h5.partial").exists()
    np.testing.assert_allclose(read_trajectory(out).positions, traj.positions, atol=1e-12)


def test_resume_rejects_other_particle_count(tmp_path, rng):
    traj = random_walk(rng, f=3)
    w = TrajectoryWriter(tmp_path / "s.h5", traj.species, traj.box, traj.meta)
    w.append(0.0, traj.positions[0])
    w.f.close()
    with pytest.raises(InputError, match="cannot resume"):
        TrajectoryWriter(tmp_path / "s.h5", traj.species[:-1], traj.box, traj.meta, resume=True)


def test_bad_files_give_one_line_errors(tmp_path, rng):
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="not a readable HDF5 file"):
        read(tmp_path / "text.h5")
    write_trajectory(tmp_path / "good.h5", random_walk(rng))
    raw = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "trunc.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="trunc.h5"):
        read(tmp_path / "trunc.h5")
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_group("particles")
    with pytest.raises(InputError, match="missing dataset /particles/all/species"):
        read(tmp_path / "empty.h5")


def test_triclinic_and_nan_files_are_rejected(tmp_path, rng):
    write_trajectory(tmp_path / "t.h5", random_walk(rng, f=3))
    with h5py.File(tmp_path / "t.h5", "a") as f:
        del f["particles/all/box/edges/value"]
        f["particles/all/box/edges/value"] = np.tile(np.eye(3) * 5.0, (3, 1, 1))
    with pytest.raises(InputError, match="triclinic"):
        read(tmp_path / "t.h5")
    write_trajectory(tmp_path / "n.h5", random_walk(rng, f=3))
    with h5py.File(tmp_path / "n.h5", "a") as f:
        f["particles/all/position/value"][1, 3, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        read(tmp_path / "n.h5")


def test_interrupted_write_leaves_no_file(tmp_path, rng, monkeypatch):
    import glassgen.io.h5md as h

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(h, "write_particles", boom)
    with pytest.raises(KeyboardInterrupt):
        write_trajectory(tmp_path / "x.h5", random_walk(rng, f=3))
    assert list(tmp_path.iterdir()) == []
