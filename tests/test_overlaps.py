"""Hard-core projection (`--relax project`): only violating pairs move, to exactly their contact distance."""
from __future__ import annotations

import numpy as np
import pytest

from glassgen.system import ka
from glassgen.chain.baselines import brownian_step_fn
from glassgen.system.data import Snapshot
from glassgen.system.overlaps import contact_distance, project_overlaps, random_configuration
from glassgen.system.pbc import fold, neighbour_graph
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.chain.rollout import RolloutConfig, rollout, summarise_log

N = 216  # 6^3 on a simple cubic lattice of spacing 1 (density 1): slack above the AA contact at 3 ε (0.91)
BOX = np.full(3, 6.0)


def lattice(seed=0):
    """A jittered simple-cubic arrangement of spacing 1: no pair above 3 ε."""
    rng = np.random.default_rng(seed)
    n = 6
    g = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    x = (g + 0.5) * (BOX[0] / n) + 0.01 * rng.normal(size=(N, 3))
    species = (rng.permutation(N) >= ka.n_species_a(N)).astype(np.int64)
    return x, species


def max_pair_energy(x, species):
    g = neighbour_graph(x, BOX, 1.2)
    s, d = g["edge_index"]
    return ka.pair_energy(g["edge_len"], species[s], species[d]).max()


@pytest.mark.parametrize("energy", [0.5, 3.0, 20.0])
def test_contact_distance_is_where_the_pair_energy_equals_the_threshold(energy):
    rc = contact_distance(energy)
    for a in range(2):
        for b in range(2):
            assert ka.pair_energy(rc[a, b], a, b) == pytest.approx(energy, rel=1e-9)
            assert rc[a, b] < 2 ** (1 / 6) * ka.SIGMA[a, b]
    assert np.allclose(rc, rc.T)
    with pytest.raises(ValueError, match="below"):
        contact_distance(-5.0)


def test_a_planted_overlap_is_pushed_to_contact_and_nothing_else_moves():
    x, species = lattice()
    i, j = np.flatnonzero(species == 0)[:2]
    x[j] = x[i] + [0.6, 0.1, 0.0]
    y, n, sweeps = project_overlaps(x, species, BOX, energy=3.0)
    moved = np.flatnonzero(np.abs(y - x).max(axis=1) > 0)
    assert max_pair_energy(y, species) <= 3.0 + 1e-6
    assert {i, j} <= set(moved.tolist()) and n >= 1 and sweeps >= 1
    # a planted pair pushed into third particles moves them too, but only nearby: the bulk stays put
    assert len(moved) < N // 4
    assert np.linalg.norm(fold(x[moved] - x[i] + BOX / 2, BOX)[0] - BOX / 2, axis=1).max() < 3.5  # along a lattice row
    np.testing.assert_allclose(y.mean(0), x.mean(0), atol=1e-12)  # equal and opposite corrections
    d = y[j] - y[i]
    rc = contact_distance(3.0)[0, 0]
    assert rc <= np.linalg.norm(d) <= 1.001 * rc + 1e-9  # pushed to contact (0.1 % overshoot), no further
    # an isolated pair: apart along its separation, about its midpoint, to exactly the (overshot) contact
    p = np.array([[1.0, 1.0, 1.0], [1.5, 1.2, 0.9]])
    q, n, _ = project_overlaps(p, np.array([0, 1]), BOX, energy=3.0)
    dq = q[1] - q[0]
    assert n == 1 and np.linalg.norm(dq) == pytest.approx(1.001 * contact_distance(3.0)[0, 1], rel=1e-12)
    np.testing.assert_allclose(dq / np.linalg.norm(dq), (p[1] - p[0]) / np.linalg.norm(p[1] - p[0]), atol=1e-12)
    np.testing.assert_allclose(q.mean(0), p.mean(0), atol=1e-12)


def test_a_clean_configuration_is_returned_unchanged_and_heavy_overlaps_all_resolved():
    x, species = lattice(1)
    y, n, sweeps = project_overlaps(x, species, BOX, energy=3.0)
    assert n == 0 and sweeps == 0 and np.array_equal(x, y)
    bad = x + 0.15 * np.random.default_rng(2).normal(size=x.shape)  # many pairs far up the wall
    assert max_pair_energy(bad, species) > 100
    y, n, _ = project_overlaps(bad, species, BOX, energy=3.0)
    assert n > 10 and max_pair_energy(y, species) <= 3.0 + 1e-6


def test_projection_is_periodic_and_keeps_unwrapped_positions():
    x, species = lattice(3)
    x += 0.15 * np.random.default_rng(4).normal(size=x.shape)
    wrapped, image = fold(x, BOX)
    shifted = wrapped + np.random.default_rng(5).integers(-3, 4, size=x.shape) * BOX  # far periodic images
    a, _, _ = project_overlaps(x, species, BOX)
    b, _, _ = project_overlaps(shifted, species, BOX)
    np.testing.assert_allclose(a - x, b - shifted, atol=1e-9)  # the same correction, wherever the images are


def test_rollout_with_project_logs_every_correction(tmp_path):
    x, species = lattice(6)
    snap = Snapshot(species, BOX, x)

    step = brownian_step_fn(species, [0.004, 0.004])  # independent kicks of rms 0.15: overlaps every step
    cfg = RolloutConfig(steps=4, lag=1.0, n_trajectories=1, seed=0, max_resample=0)
    with Relaxer(RelaxConfig(kind="project", when="always"), species, BOX) as r:
        rollout(step, snap, cfg, tmp_path / "r.h5", progress=False, relax=r)
        assert r.calls == 4
    s = summarise_log(tmp_path / "r.log.csv")
    assert s["relaxed"] == 4 and s["overlaps_kept"] == 4  # every raw draw overlapped (logged before projection)
    assert s["e_pot_max"] < 0  # ... and every projected configuration is free of them
    assert RelaxConfig(kind="project").meta() == {"relax_kind": "project", "relax_when": "overlap",
                                                   "relax_project_energy": 3.0}


def test_random_configuration_has_ka_composition_density_and_no_overlap():
    snap = random_configuration(1000, seed=3)
    assert np.bincount(snap.species).tolist() == [800, 200]
    assert len(snap.species) / np.prod(snap.box) == pytest.approx(ka.DENSITY)
    assert np.all((snap.positions >= 0) & (snap.positions < snap.box))
    g = neighbour_graph(snap.positions, snap.box, 2.5)
    src, dst = g["edge_index"]
    assert ka.pair_energy(g["edge_len"], snap.species[src], snap.species[dst]).max() <= 3.0 + 1e-6
    assert np.array_equal(random_configuration(1000, seed=3).positions, snap.positions)  # seeded
