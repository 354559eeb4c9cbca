"""Chained rollout: exact bookkeeping, seeds, resume, overlap monitor."""
import csv

import h5py
import numpy as np
import pytest

from glassgen.system import ka
from glassgen.chain.baselines import brownian_step_fn
from glassgen.system.data import Snapshot
from glassgen.core.errors import InputError
from glassgen.io.h5md import read_trajectory
from glassgen.chain.rollout import RolloutConfig, monitors, rollout, step_seed, summarise_log


def lattice_snapshot(n_side=6, spacing=0.95):
    """Simple-cubic KA-like configuration: no overlaps, species 80:20."""
    g = np.arange(n_side) * spacing
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) + 0.1
    n = len(x)
    species = (np.arange(n) >= ka.n_species_a(n)).astype(int)
    return Snapshot(species, np.full(3, n_side * spacing), x)


def stored(path):
    with h5py.File(path, "r") as f:
        return {k: f[f"particles/all/{k}/value"][()] for k in ("position", "image")}


def test_unwrapped_bookkeeping_is_exact_across_many_crossings(tmp_path):
    snap = lattice_snapshot()
    step = brownian_step_fn(snap.species, [3.0, 4.0])  # ~ box-sized jumps: crossings every step
    cfg = RolloutConfig(steps=25, lag=1.0, seed=7, overlap_energy=np.inf)
    (path,) = rollout(step, snap, cfg, tmp_path / "r.h5", progress=False)
    traj = read_trajectory(path)
    # the same draws, summed independently
    x = snap.positions.copy()
    expected = [x.copy()]
    for k in range(1, 26):
        wrapped = x % snap.box
        x = x + step(wrapped[None], 1.0, [step_seed(7, k, 0)])[0]
        expected.append(x.copy())
    expected = np.array(expected)
    assert np.abs(expected - snap.positions).max() > 3 * snap.box[0]
    np.testing.assert_allclose(traj.positions, expected, rtol=0, atol=1e-11)
    np.testing.assert_allclose(traj.times, np.arange(26.0))
    assert traj.meta["generated"] is True and traj.meta["lag"] == 1.0


def test_fixed_seed_reproduces_and_other_seed_differs(tmp_path):
    snap = lattice_snapshot(6)
    step = brownian_step_fn(snap.species, [0.001, 0.001])
    a = rollout(step, snap, RolloutConfig(steps=4, lag=1.0, seed=3, n_trajectories=2), tmp_path / "a.h5", progress=False)
    b = rollout(step, snap, RolloutConfig(steps=4, lag=1.0, seed=3, n_trajectories=2), tmp_path / "b.h5", progress=False)
    c = rollout(step, snap, RolloutConfig(steps=4, lag=1.0, seed=4, n_trajectories=2), tmp_path / "c.h5", progress=False)
    assert [p.name for p in a] == ["a_000.h5", "a_001.h5"]
    np.testing.assert_array_equal(stored(a[1])["position"], stored(b[1])["position"])
    assert not np.array_equal(stored(a[1])["position"], stored(c[1])["position"])
    assert not np.array_equal(stored(a[0])["position"], stored(a[1])["position"])


def test_resume_after_interrupt_gives_identical_files(tmp_path):
    snap = lattice_snapshot(6)
    base = brownian_step_fn(snap.species, [0.002, 0.003])
    cfg = RolloutConfig(steps=8, lag=2.0, seed=11, n_trajectories=2)
    ref = rollout(base, snap, cfg, tmp_path / "ref.h5", progress=False)

    calls = {"n": 0}

    def dying(positions, lag, seeds):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return base(positions, lag, seeds)

    with pytest.raises(KeyboardInterrupt):
        rollout(dying, snap, cfg, tmp_path / "run.h5", progress=False, meta={"noise_scale": "1.01"})
    assert not (tmp_path / "run_000.h5").exists()
    assert (tmp_path / "run_000.h5.partial").exists()
    with pytest.raises(InputError, match="noise_scale was '1.01', now '1.02'"):  # another run is not a resume
        rollout(base, snap, cfg, tmp_path / "run.h5", resume=True, progress=False, meta={"noise_scale": "1.02"})
    with pytest.raises(InputError, match="rollout_seed was 11, now 12"):
        rollout(base, snap, RolloutConfig(steps=8, lag=2.0, seed=12, n_trajectories=2), tmp_path / "run.h5",
                resume=True, progress=False, meta={"noise_scale": "1.01"})
    got = rollout(base, snap, cfg, tmp_path / "run.h5", resume=True, progress=False, meta={"noise_scale": "1.01"})
    for r, g in zip(ref, got):
        for k, v in stored(r).items():
            np.testing.assert_array_equal(v, stored(g)[k])
    with open(tmp_path / "run.log.csv") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert sorted(steps) == sorted(list(range(9)) * 2)  # no step lost or logged twice
    with open(tmp_path / "run.log.csv") as f, open(tmp_path / "ref.log.csv") as g:
        assert list(csv.DictReader(f)) == list(csv.DictReader(g))  # the log too is the uninterrupted one


def test_an_interrupted_rollout_may_be_resumed_longer_but_not_different(tmp_path):
    snap = lattice_snapshot(6)
    base = brownian_step_fn(snap.species, [0.002, 0.003])

    def dying(positions, lag, seeds):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rollout(dying, snap, RolloutConfig(steps=4, lag=2.0, seed=1), tmp_path / "r.h5", progress=False)
    with pytest.raises(InputError, match="lag was 2.0, now 3.0"):
        rollout(base, snap, RolloutConfig(steps=4, lag=3.0, seed=1), tmp_path / "r.h5", resume=True, progress=False)
    (p,) = rollout(base, snap, RolloutConfig(steps=6, lag=2.0, seed=1), tmp_path / "r.h5", resume=True, progress=False)
    np.testing.assert_allclose(read_trajectory(p).times, 2.0 * np.arange(7))


def test_overlap_monitor_fires_and_resamples(tmp_path):
    snap = lattice_snapshot(6)
    base = brownian_step_fn(snap.species, [1e-4, 1e-4])
    assert monitors(snap.positions, snap.species, snap.box)["max_pair_energy"] < 20
    planted = {"n": 0}

    def plant_once(positions, lag, seeds):
        d = base(positions, lag, seeds)
        if planted["n"] == 0:  # first draw of step 1 puts particle 1 on top of particle 0
            d[0, 1] = positions[0, 0] - positions[0, 1] + [0.3, 0, 0]
        planted["n"] += 1
        return d

    rollout(plant_once, snap, RolloutConfig(steps=2, lag=1.0, seed=0), tmp_path / "p.h5", progress=False)
    with open(tmp_path / "p.log.csv") as f:
        rows = list(csv.DictReader(f))
    step1 = [r for r in rows if r["step"] == "1"][0]
    assert int(step1["resampled"]) == 1 and step1["accepted_overlap"] == "0"
    assert float(step1["rmin_AA"]) > 0.5

    def always_overlap(positions, lag, seeds):
        d = base(positions, lag, seeds)
        d[:, 1] = positions[:, 0] - positions[:, 1] + [0.3, 0, 0]
        return d

    rollout(always_overlap, snap, RolloutConfig(steps=1, lag=1.0, max_resample=3), tmp_path / "q.h5", progress=False)
    s = summarise_log(tmp_path / "q.log.csv")
    assert s["resampled"] == 3 and s["overlaps_kept"] == 1


def test_bad_settings_and_bad_sampler_output(tmp_path):
    with pytest.raises(InputError, match="--steps"):
        RolloutConfig(steps=0, lag=1.0)
    with pytest.raises(InputError, match="--lag"):
        RolloutConfig(steps=1, lag=-1.0)
    snap = lattice_snapshot(6)

    def nan_step(positions, lag, seeds):
        return np.full(positions.shape, np.nan)

    def short_step(positions, lag, seeds):
        return np.zeros(positions.shape[:-1] + (2,))

    with pytest.raises(InputError, match="shape"):
        rollout(short_step, snap, RolloutConfig(steps=1, lag=1.0), tmp_path / "s.h5", progress=False)
    # NaN displacements are a blow-up, not bad input: the chain stops at its last finite frame (test_cli_safety.py)
    (p,) = rollout(nan_step, snap, RolloutConfig(steps=1, lag=1.0), tmp_path / "n.h5", progress=False)
    traj = read_trajectory(p)
    assert traj.n_frames == 1 and traj.meta["blown_up"] is True and "NaN" in traj.meta["blown_up_reason"]


def test_each_trajectory_can_start_from_its_own_configuration(tmp_path):
    a = lattice_snapshot(6)
    b = Snapshot(a.species, a.box, a.positions + 0.3)  # shifted copy: a different start, same system
    step = brownian_step_fn(a.species, [0.001, 0.001])
    paths = rollout(step, [a, b], RolloutConfig(steps=3, lag=1.0, seed=1, n_trajectories=2, overlap_energy=np.inf), tmp_path / "r.h5",
                    progress=False)
    t0, t1 = (read_trajectory(p) for p in paths)
    np.testing.assert_allclose(t0.positions[0], a.positions, atol=1e-12)
    np.testing.assert_allclose(t1.positions[0], b.positions, atol=1e-12)
    # trajectory 1 is its own start plus its own seeded draws
    x, expected = b.positions.copy(), [b.positions.copy()]
    for k in range(1, 4):
        x = x + step((x % a.box)[None], 1.0, [step_seed(1, k, 1)])[0]
        expected.append(x.copy())
    np.testing.assert_allclose(t1.positions, np.array(expected), rtol=0, atol=1e-11)
    with pytest.raises(InputError, match="3 start configurations for 2"):
        rollout(step, [a, b, a], RolloutConfig(steps=1, lag=1.0, n_trajectories=2), tmp_path / "x.h5", progress=False)
    other = Snapshot(a.species[::-1].copy(), a.box, a.positions)
    with pytest.raises(InputError, match="share species"):
        rollout(step, [a, other], RolloutConfig(steps=1, lag=1.0, n_trajectories=2), tmp_path / "y.h5", progress=False)


def test_draw_lag_is_what_the_sampler_sees_and_lag_what_the_clock_counts(tmp_path):
    snap = lattice_snapshot()
    seen = []
    inner = brownian_step_fn(snap.species, [0.01, 0.01])

    def step(x, lag, seeds):
        seen.append(lag)
        return inner(x, lag, seeds)

    (path,) = rollout(step, snap, RolloutConfig(steps=3, lag=5.0, draw_lag=3.0, overlap_energy=np.inf),
                      tmp_path / "r.h5", progress=False)
    traj = read_trajectory(path)
    assert seen == [3.0, 3.0, 3.0]
    np.testing.assert_allclose(traj.times, [0, 5, 10, 15])
    assert traj.meta["lag"] == 5.0 and traj.meta["draw_lag"] == 3.0
    for bad in (0.0, 6.0, np.nan):
        with pytest.raises(InputError, match="lag of one draw"):
            RolloutConfig(steps=3, lag=5.0, draw_lag=bad)


def test_relax_counts_needs_a_thermal_relaxation_every_step(tmp_path):
    from typer.testing import CliRunner

    from glassgen.cli.app import app

    from glassgen.flow.context import LocalEncoder
    from glassgen.flow.model import FlowModel, save_model
    from glassgen.flow.paths import PriorScale
    from glassgen.flow.velocity import VelocityConfig

    save_model(FlowModel(LocalEncoder(n_species=2, width=4, cutoff=1.2), VelocityConfig(embed_dim=4, hidden=4, cutoff=1.2),
                         PriorScale([1.0, 10.0], [[0.1, 0.1], [0.3, 0.3]])), tmp_path / "m.safetensors")
    for extra in ([], ["--relax", "minimize", "--relax-when", "always"], ["--relax", "nvt"]):
        r = CliRunner().invoke(app, ["rollout", str(tmp_path / "m.safetensors"), "--init", str(tmp_path / "x.h5"),
                                     "--steps", "2", "--lag", "5", "-o", str(tmp_path / "o.h5"), "--relax-counts"] + extra)
        assert isinstance(r.exception, InputError) and "--relax-counts needs a thermal relaxation" in str(r.exception)


def second_order(base, seen):
    """AR(1) step function: Δ_k = base draw − ½ Δ_{k−1}; records the history it is given."""

    def fn(positions, lag, seeds, previous=None):
        seen.append(None if previous is None else np.array(previous))
        d = base(positions, lag, seeds)
        return d if previous is None else d - 0.5 * previous

    fn.history = True
    return fn


def dies_on_call(fn, n):
    """A second-order step function that is interrupted (KeyboardInterrupt) on its n-th call."""
    calls = {"n": 0}

    def dying(positions, lag, seeds, previous=None, window=None):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return fn(positions, lag, seeds, previous, window) if dying.memory else fn(positions, lag, seeds, previous)

    dying.history, dying.memory = True, getattr(fn, "memory", 0)
    return dying


def test_second_order_step_function_gets_the_last_step_and_resumes_identically(tmp_path):
    snap = lattice_snapshot(6)
    base = brownian_step_fn(snap.species, [0.01, 0.02])
    cfg = RolloutConfig(steps=6, lag=1.0, seed=2, n_trajectories=2, overlap_energy=np.inf)
    seen = []
    ref = rollout(second_order(base, seen), snap, cfg, tmp_path / "ref.h5", progress=False)
    x = np.stack([read_trajectory(p).positions for p in ref], axis=1)  # (K+1, M, N, D)
    assert seen[0] is None and len(seen) == 6
    for k in range(2, 7):  # step k reads x_{k-1} - x_{k-2}
        np.testing.assert_array_equal(seen[k - 1], x[k - 1] - x[k - 2])
    dx = np.diff(x, axis=0)
    assert np.mean(np.sum(dx[1:] * dx[:-1], -1)) < 0  # the anticorrelation reaches the chain

    with pytest.raises(KeyboardInterrupt):
        rollout(dies_on_call(second_order(base, []), 4), snap, cfg, tmp_path / "run.h5", progress=False)
    got = rollout(second_order(base, []), snap, cfg, tmp_path / "run.h5", resume=True, progress=False)
    for r, g in zip(ref, got):
        for k, v in stored(r).items():
            np.testing.assert_array_equal(v, stored(g)[k])


def with_memory(base, seen, w):
    """Step function with a memory window of ``w`` steps: Δ_k = base draw − ¼ window; records what it gets."""

    def fn(positions, lag, seeds, previous=None, window=None):
        seen.append((None if previous is None else np.array(previous), None if window is None else np.array(window)))
        d = base(positions, lag, seeds)
        return d if window is None else d - 0.25 * window

    fn.history, fn.memory = True, w
    return fn


def test_memory_window_is_the_last_w_steps_of_the_chain_and_resumes_identically(tmp_path):
    """Step k reads x_{k-1} - x_{k-1-W} once W steps lie behind it (None before); an interrupted
    rollout resumed from its files gets the same windows and gives the same files."""
    snap = lattice_snapshot(6)
    base = brownian_step_fn(snap.species, [0.01, 0.02])
    cfg = RolloutConfig(steps=7, lag=1.0, seed=3, n_trajectories=2, overlap_energy=np.inf)
    seen = []
    ref = rollout(with_memory(base, seen, 3), snap, cfg, tmp_path / "ref.h5", progress=False)
    x = np.stack([read_trajectory(p).positions for p in ref], axis=1)  # (K+1, M, N, D)
    assert len(seen) == 7 and all(w is None for _, w in seen[:3])
    for k in range(4, 8):
        np.testing.assert_array_equal(seen[k - 1][1], x[k - 1] - x[k - 4])
        np.testing.assert_array_equal(seen[k - 1][0], x[k - 1] - x[k - 2])
    for stop in (3, 6):  # before and after the window is first known
        out = tmp_path / f"run{stop}.h5"
        with pytest.raises(KeyboardInterrupt):
            rollout(dies_on_call(with_memory(base, [], 3), stop), snap, cfg, out, progress=False)
        again = []
        got = rollout(with_memory(base, again, 3), snap, cfg, out, resume=True, progress=False)
        for (p0, w0), (p1, w1) in zip(seen[stop - 1:], again):
            np.testing.assert_array_equal(p0, p1)
            assert (w0 is None) == (w1 is None) and (w0 is None or np.array_equal(w0, w1))
        for r, g in zip(ref, got):
            for key, v in stored(r).items():
                np.testing.assert_array_equal(v, stored(g)[key])


class _Shift:
    """A correction that moves every particle by a fixed vector (the rollout's relaxer interface)."""

    class cfg:  # noqa: N801
        @staticmethod
        def meta():
            return {"relax_kind": "shift"}

    def wants(self, overlap):
        return True

    def relax(self, x, seed):
        return x + np.array([0.01, 0.0, 0.0])


def test_history_draw_gives_the_samplers_own_last_draw_and_resumes(tmp_path):
    """history="draw": the previous step is the sampler's draw, not the corrected chain step; resume
    reads it back from OUT.history.npz and gives the same files."""
    snap = lattice_snapshot(6)
    base = brownian_step_fn(snap.species, [0.01, 0.02])
    cfg = RolloutConfig(steps=5, lag=1.0, seed=4, n_trajectories=2, overlap_energy=np.inf, history="draw")
    seen, draws = [], []

    def fn(positions, lag, seeds, previous=None):
        seen.append(previous)
        d = base(positions, lag, seeds) - (0 if previous is None else 0.5 * previous)
        draws.append(d)
        return d

    fn.history = True
    ref = rollout(fn, snap, cfg, tmp_path / "ref.h5", relax=_Shift(), progress=False)
    x = np.stack([read_trajectory(p).positions for p in ref], axis=1)
    for k in range(1, 5):
        np.testing.assert_array_equal(seen[k], draws[k - 1])
        np.testing.assert_allclose(x[k + 1] - x[k], draws[k] + [0.01, 0, 0], atol=1e-12)  # the chain has the shift
    assert read_trajectory(ref[0]).meta["history_from"] == "draw"

    with pytest.raises(KeyboardInterrupt):
        rollout(dies_on_call(fn, 4), snap, cfg, tmp_path / "run.h5", relax=_Shift(), progress=False)
    got = rollout(fn, snap, cfg, tmp_path / "run.h5", resume=True, relax=_Shift(), progress=False)
    for r, g in zip(ref, got):
        for k, v in stored(r).items():
            np.testing.assert_array_equal(v, stored(g)[k])
    with pytest.raises(KeyboardInterrupt):
        rollout(dies_on_call(fn, 4), snap, cfg, tmp_path / "lost.h5", relax=_Shift(), progress=False)
    (tmp_path / "lost.history.npz").unlink()  # an unfinished rollout whose draws are lost cannot resume faithfully
    with pytest.raises(InputError, match="history"):
        rollout(fn, snap, cfg, tmp_path / "lost.h5", resume=True, relax=_Shift(), progress=False)
    with pytest.raises(InputError, match="history"):
        RolloutConfig(steps=1, lag=1.0, history="both")
