"""Half splits, bootstrap, floor scaling, attenuation-corrected correlations, Wasserstein-1."""
import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from glassgen.stats import bootstrap_se, expected_correlation, floor_scale, half_splits, pearson, wasserstein1
from glassgen.stats.uncertainty import bootstrap_weights, sorted_samples, time_blocks, wasserstein1_sorted


def test_wasserstein1_exact_forms_agree_with_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.exponential(size=3000), rng.exponential(1.2, size=3000)
    assert wasserstein1(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-10)
    assert wasserstein1(a, b[:1000]) == pytest.approx(wasserstein_distance(a, b[:1000]), rel=1e-10)
    # weighted samples of one pooled set, as used for half splits
    u = rng.exponential(size=(6, 500))
    wa, wb = np.array([1, 0, 2, 0, 1, 0.0]), np.array([0, 1, 0, 1, 0, 3.0])
    x, sid = sorted_samples(u)
    ref = wasserstein_distance(u.ravel(), u.ravel(), np.repeat(wa, 500), np.repeat(wb, 500))
    assert wasserstein1_sorted(x, sid, wa, wb) == pytest.approx(ref, rel=1e-10)
    # a shift by c moves W1 by exactly c
    assert wasserstein1(a, a + 0.3) == pytest.approx(0.3, rel=1e-12)


def test_half_splits_are_distinct_balanced_complements():
    for n in (2, 5, 8, 32):
        splits = half_splits(n, 24, seed=1)
        assert len(splits) == min(24, {2: 1, 5: 10, 8: 35, 32: 10**9}[n])
        keys = set()
        for wa, wb in splits:
            np.testing.assert_array_equal(wa + wb, np.ones(n))
            assert wa.sum() == n // 2
            keys.add(min(tuple(wa), tuple(wb)))
        assert len(keys) == len(splits)
    assert half_splits(1) == []


def test_floor_scale_turns_half_differences_into_gen_ref_differences():
    rng = np.random.default_rng(2)
    r_ref, r_gen, trials = 32, 12, 4000
    x = rng.normal(size=(trials, r_ref))
    half = x[:, : r_ref // 2].mean(1) - x[:, r_ref // 2:].mean(1)
    gen_ref = rng.normal(size=(trials, r_gen)).mean(1) - x.mean(1)
    predicted = np.sqrt(np.mean(half ** 2)) * floor_scale(r_gen, r_ref)
    assert predicted == pytest.approx(np.sqrt(np.mean(gen_ref ** 2)), rel=0.05)


def test_expected_correlation_attenuation_formula():
    rng = np.random.default_rng(3)
    n, runs = 20000, 32
    p = rng.gamma(4.0, 0.1, n)
    noise = 0.25
    x = p[None] + rng.normal(size=(runs, n)) * noise * np.sqrt(p)[None]  # heteroscedastic noise
    rho_half = pearson(x[:16].mean(0), x[16:].mean(0))
    y = p[None] + rng.normal(size=(runs, n)) * noise * np.sqrt(p)[None]
    for k1, k2 in ((32, 32), (8, 32), (32, 4)):
        measured = pearson(x[:k1].mean(0), y[:k2].mean(0))
        assert expected_correlation(rho_half, 16, k1, k2) == pytest.approx(measured, abs=0.01)
    assert np.isnan(expected_correlation(-0.1, 16, 32, 32))


def test_bootstrap_se_of_a_mean():
    rng = np.random.default_rng(4)
    x = rng.normal(size=400)
    w = bootstrap_weights(400, 500, seed=5)
    reps = (w @ x) / w.sum(1)
    assert float(bootstrap_se(reps)) == pytest.approx(x.std() / np.sqrt(400), rel=0.1)
    assert np.isnan(bootstrap_se([1.0]))


def test_time_blocks_cover_the_span():
    b = time_blocks(np.linspace(0, 10, 101), 8)
    assert b.min() == 0 and b.max() == 7 and np.all(np.diff(b) >= 0)
    assert np.bincount(b).min() >= 12
