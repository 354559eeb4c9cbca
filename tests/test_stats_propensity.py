"""Propensity, correlations, BOTAN edge target, mobility correlations, bond breaking."""
import numpy as np
import pytest
from scipy import stats as sps

from glassgen.system.data import Ensemble, Trajectory
from glassgen.core.errors import InputError
from glassgen.stats import (bond_breaking_samples, botan_edges, edge_target, mobility_correlation, pearson,
                            propensity, spearman)


def test_pearson_spearman_match_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    b = a + rng.normal(size=500)
    b[:50] = b[:50].round()  # ties for Spearman
    assert pearson(a, b) == pytest.approx(sps.pearsonr(a, b)[0], rel=1e-12)
    assert spearman(a, b) == pytest.approx(sps.spearmanr(a, b)[0], rel=1e-12)
    assert np.isnan(pearson(np.ones(5), np.arange(5)))
    with pytest.raises(InputError):
        pearson([1, 2], [1, 2, 3])


def test_propensity_is_mean_absolute_displacement_over_runs():
    x0 = np.array([[1.0, 1, 1], [3, 3, 3]])
    runs = np.zeros((2, 1, 2, 3))
    runs[0, 0, 0, 0], runs[1, 0, 0, 1] = 1.0, 3.0  # particle 0 moves 1 then 3
    ens = Ensemble([0, 0], [10.0] * 3, x0, [5.0], x0 + runs)
    np.testing.assert_allclose(propensity(ens), [2.0, 0.0])
    with pytest.raises(InputError):
        propensity(Trajectory([0, 0], [10.0] * 3, [0.0, 1.0], np.stack([x0, x0])))


def test_botan_edge_target_uses_minimum_image_and_unwrapped_displacements():
    box = [10.0] * 3
    # AA pair across the x face (distance 1.0), an AB pair, and a far A
    x0 = np.array([[9.6, 5, 5], [0.6, 5, 5], [9.6, 6.1, 5], [3, 3, 3]])
    species = np.array([0, 0, 1, 0])
    e = botan_edges(x0, species, box)
    assert e["i"].tolist() == [0] and e["j"].tolist() == [1]
    np.testing.assert_allclose(e["vec"][0], [1.0, 0, 0], atol=1e-12)
    dr = np.zeros((2, 1, 4, 3))
    dr[0, 0, 1, 0] = 0.5  # run 0: j moves away by 0.5 → +0.5
    dr[1, 0, 0, 0] = 10.5  # run 1: i moves 10.5 σ in +x (unwrapped!) → distance |1 − 10.5| = 9.5
    ens = Ensemble(species, box, x0, [1.0], x0 + dr)
    pairs, target = edge_target(ens)
    np.testing.assert_allclose(target, [((1.5 - 1.0) + (9.5 - 1.0)) / 2])
    assert bond_breaking_samples(dr[:, 0], pairs, 1.8).tolist() == [0.0, 1.0]


def test_mobility_correlation_rigid_shift_and_independent_particles():
    rng = np.random.default_rng(3)
    box = [9.0] * 3
    x0 = rng.uniform(0, 9.0, (800, 3))
    mask = np.ones(800, bool)
    shift = rng.normal(size=(6, 1, 3)) * np.ones((1, 800, 1))  # all particles move together
    r, cu, cv = mobility_correlation(shift, x0, box, mask, r_max=2.5, bins=10)
    np.testing.assert_allclose(cv[np.isfinite(cv)], 1.0, rtol=1e-10)
    indep = rng.normal(size=(30, 800, 3))
    r, cu, cv = mobility_correlation(indep, x0, box, mask, r_max=2.5, bins=5)
    # ~10⁴ pairs per bin: independent noise averages to |C| ≲ 0.02
    assert np.nanmax(np.abs(cu)) < 0.03 and np.nanmax(np.abs(cv)) < 0.03
    # a field that depends on x only: C_u falls with distance
    field = np.sin(2 * np.pi * x0[:, 0] / 9.0)
    dr = (1.0 + 0.8 * field)[None, :, None] * rng.normal(size=(30, 800, 3)) / np.sqrt(3)
    r, cu, _ = mobility_correlation(dr, x0, box, mask, r_max=2.5, bins=5)
    assert cu[1] > cu[-1] > 0
