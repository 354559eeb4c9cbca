"""Data-model validation: every bad array gets a one-line InputError naming its source."""
import numpy as np
import pytest

from glassgen.system.data import Ensemble, Snapshot, Trajectory
from glassgen.core.errors import InputError


def traj(**kw):
    args = dict(species=np.zeros(4, int), box=[3.0, 3.0, 3.0], times=[0.0, 1.0], positions=np.zeros((2, 4, 3)),
                meta={"source": "t.h5"})
    args.update(kw)
    return Trajectory(**args)


def ens(**kw):
    args = dict(species=np.zeros(4, int), box=[3.0, 3.0, 3.0], initial=np.ones((4, 3)), times=[1.0],
                positions=np.ones((2, 1, 4, 3)), meta={"source": "e.h5"})
    args.update(kw)
    return Ensemble(**args)


def test_valid_objects_build():
    t = traj()
    assert (t.n_frames, t.n_particles, t.dim) == (2, 4, 3)
    e = ens()
    assert (e.n_runs, e.n_particles) == (2, 4)
    assert Snapshot(np.zeros(3, int), [2.0, 2.0], np.zeros((3, 2))).n_particles == 3


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"positions": np.zeros((2, 4))}, r"shape \(F,N,D\)"),
        ({"positions": np.full((2, 4, 3), np.nan)}, "NaN"),
        ({"box": [3.0, 0.0, 3.0]}, "finite and positive"),
        ({"box": [3.0, -1.0, 3.0]}, "finite and positive"),
        ({"box": [3.0, 3.0]}, "2 edges but positions are 3-dimensional"),
        ({"box": np.eye(3)}, "edge lengths"),
        ({"species": np.zeros(5, int)}, r"species must have shape \(4,\)"),
        ({"species": -np.ones(4, int)}, "0-based"),
        ({"species": np.array([0.5, 0, 0, 0])}, "integers"),
        ({"times": [0.0]}, r"times must have shape \(2,\)"),
        ({"times": [1.0, 1.0]}, "strictly increasing"),
        ({"positions": np.array(["a"] * 24).reshape(2, 4, 3)}, "float array"),
    ],
)
def test_trajectory_errors_name_the_source(kw, msg):
    with pytest.raises(InputError, match=msg) as e:
        traj(**kw)
    assert str(e.value).startswith("t.h5: ")


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"positions": np.ones((2, 1, 5, 3))}, "to match the initial configuration"),
        ({"times": [0.0]}, "must be > 0"),
        ({"initial": np.full((4, 3), 30.0)}, "far outside the box"),
        ({"initial": np.full((4, 3), np.inf)}, "NaN/inf"),
    ],
)
def test_ensemble_errors_name_the_source(kw, msg):
    with pytest.raises(InputError, match=msg) as e:
        ens(**kw)
    assert str(e.value).startswith("e.h5: ")


def test_slightly_outside_initial_positions_are_folded():
    x0 = np.ones((4, 3))
    x0[0] = [-0.1, 3.05, 1.0]
    e = ens(initial=x0, positions=np.broadcast_to(x0, (2, 1, 4, 3)).copy())
    np.testing.assert_allclose(e.initial[0], [2.9, 0.05, 1.0])
    assert np.all((e.initial >= 0) & (e.initial < 3.0))


def test_index_at_finds_the_frame_and_refuses_a_time_it_lacks():
    t = traj()
    for k, time in enumerate(t.times):
        assert t.index_at(float(time) + 1e-9) == k
    with pytest.raises(InputError, match="no frame at t"):
        t.index_at(float(t.times[-1]) + 1.0)  # past the end: not the last frame
    with pytest.raises(InputError, match="no frame at t"):
        t.index_at(float(t.times[:2].mean()))  # between two frames
