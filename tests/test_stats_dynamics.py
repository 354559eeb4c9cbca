"""Analytic cases for MSD, D, F_s, α₂, Q/χ₄, τ_α and the trajectory lag grid."""
import numpy as np
import pytest

from glassgen.system.data import Ensemble, Trajectory
from glassgen.core.errors import InputError
from glassgen.stats import (alpha2_from_moments, curves, diffusion_constant, displacement_curves, fs_samples, isotropic_kernel, msd,
                            msd_samples, non_gaussian, overlap_chi4, self_intermediate_scattering, tau_alpha,
                            trajectory_lags, van_hove)

L = 10.0


def _ensemble(dr, n_species_b=0, seed=0):
    """Ensemble whose runs move by the given (R, F, N, D) displacements from a random start."""
    rng = np.random.default_rng(seed)
    r, f, n, d = dr.shape
    x0 = rng.uniform(0, L, (n, d))
    species = np.r_[np.zeros(n - n_species_b, int), np.ones(n_species_b, int)]
    return Ensemble(species, [L] * d, x0, np.arange(1, f + 1, dtype=float), x0 + dr)


def test_ballistic_msd_is_v2_t2_with_exponent_2():
    rng = np.random.default_rng(1)
    n, frames, dt = 300, 64, 0.01
    v = rng.normal(size=(n, 3))
    t = dt * np.arange(frames)
    x = rng.uniform(0, L, (n, 3)) + t[:, None, None] * v
    traj = Trajectory(np.zeros(n, int), [L] * 3, t + 5.0, x)
    times, m = msd(traj, max_origins=None)
    np.testing.assert_allclose(m, (v ** 2).sum(1).mean() * times ** 2, rtol=1e-10)
    assert diffusion_constant(times, m)[1] == pytest.approx(2.0, abs=1e-6)


def test_diffusive_msd_and_diffusion_constant():
    rng = np.random.default_rng(2)
    n, frames, dt, s = 2000, 200, 0.5, 0.1  # per-component step std s per frame
    x = np.cumsum(rng.normal(0, s, (frames, n, 3)), axis=0)
    traj = Trajectory(np.zeros(n, int), [L] * 3, dt * np.arange(frames), x)
    times, m = msd(traj, n_lags=20, max_origins=64)
    np.testing.assert_allclose(m, 3 * s * s * times / dt, rtol=0.04)
    d_fit, expo = diffusion_constant(times, m)
    assert d_fit == pytest.approx(s * s / (2 * dt), rel=0.05)
    assert expo == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("dim", [2, 3])
def test_gaussian_displacements_alpha2_zero_and_fs_exp(dim):
    rng = np.random.default_rng(3)
    sig = np.array([0.2, 0.5, 1.0])  # per-component std at three lags
    dr = rng.normal(size=(40, 3, 1000, dim)) * sig[None, :, None, None]
    ens = _ensemble(dr)
    c = curves(ens, species=None, q=2.0)
    r2 = dim * sig ** 2
    np.testing.assert_allclose(c["msd"], r2, rtol=0.01)
    np.testing.assert_allclose(c["alpha2"], 0.0, atol=0.02)
    if dim == 3:
        np.testing.assert_allclose(c["fs"], np.exp(-4.0 * r2 / 6.0), atol=0.005)


def test_gaussian_mixture_alpha2_matches_moment_formula():
    # per-component std s drawn from {s1, s2}: α₂ = ⟨s⁴⟩/⟨s²⟩² − 1 in any dimension
    rng = np.random.default_rng(4)
    s = np.where(rng.random(200_000) < 0.8, 0.2, 1.0)
    dr = rng.normal(size=(200_000, 3)) * s[:, None]
    from glassgen.stats import moments_samples

    m2, m4 = moments_samples(dr)
    expected = np.mean(s ** 4) / np.mean(s ** 2) ** 2 - 1
    assert alpha2_from_moments(m2, m4, 3) == pytest.approx(expected, rel=0.03)


def test_isotropic_kernel_is_the_orientational_average():
    rng = np.random.default_rng(5)
    for dim in (2, 3):
        u = rng.normal(size=(200_000, dim))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        for qr in (0.5, 2.0, 6.0):
            assert np.cos(qr * u[:, 0]).mean() == pytest.approx(float(isotropic_kernel(qr, dim)), abs=0.01)


def test_independent_particles_chi4_is_q_one_minus_q():
    rng = np.random.default_rng(6)
    # each particle independently inside the cage (|Δr| < 0.3) with probability ~0.6
    dr = rng.normal(size=(4000, 1, 100, 3)) * 0.2
    ens = _ensemble(dr)
    t, q, chi4 = overlap_chi4(ens, species=None)
    assert chi4[0] == pytest.approx(q[0] * (1 - q[0]), rel=0.06)


def test_fs_samples_on_raw_arrays_reduce_over_particles_only():
    dr = np.zeros((2, 5, 7, 3))
    dr[1] = 1.0
    out = fs_samples(dr, q=np.pi / np.sqrt(3))  # |Δr| = √3 → sin(π)/π = 0
    assert out.shape == (2, 5)
    np.testing.assert_allclose(out[0], 1.0)
    np.testing.assert_allclose(out[1], 0.0, atol=1e-12)
    np.testing.assert_allclose(msd_samples(dr)[1], 3.0)


def test_displacement_curves_on_raw_arrays_match_the_ensemble_path():
    rng = np.random.default_rng(8)
    dr = rng.normal(size=(6, 3, 50, 3)) * np.array([0.1, 0.3, 0.9])[None, :, None, None]
    ens = _ensemble(dr, n_species_b=10)
    raw = displacement_curves(dr, ens.species, sel=0)
    c = curves(ens, species=0)
    for key in ("msd", "fs", "alpha2", "Q", "chi4"):
        np.testing.assert_allclose(raw[key], c[key], rtol=1e-12, atol=1e-14)


def test_species_selection_and_ensemble_api():
    dr = np.zeros((4, 2, 10, 3))
    dr[..., 8:, 0] = 2.0  # only the two B particles move
    ens = _ensemble(dr, n_species_b=2)
    t, fa = self_intermediate_scattering(ens, species=0)
    np.testing.assert_allclose(fa, 1.0)
    t, m = msd(ens, species=1)
    np.testing.assert_allclose(m, 4.0)
    np.testing.assert_allclose(msd(ens)[1], 4.0 * 2 / 10)
    with pytest.raises(InputError):
        msd(ens, species=5)


def test_tau_alpha_log_interpolation_and_nan():
    t = np.geomspace(1, 1e4, 9)
    fs = 1.0 - 0.2 * np.log10(t)  # linear in log t: crosses 1/e exactly at log10 t = (1 − e⁻¹)/0.2
    assert tau_alpha(t, fs) == pytest.approx(10 ** ((1 - np.exp(-1)) / 0.2), rel=1e-12)
    assert np.isnan(tau_alpha(t, np.full(9, 0.9)))
    assert np.isnan(tau_alpha(t, np.full(9, 0.1)))
    tau = 37.0
    tt = np.geomspace(1, 1e3, 60)
    assert tau_alpha(tt, np.exp(-tt / tau)) == pytest.approx(tau, rel=0.01)


def test_trajectory_lags_linear_and_log_schedules():
    t = 0.1 * np.arange(100)
    lags = trajectory_lags(t, n_lags=10, max_origins=None)
    assert len(lags) == 10
    for lag, i, j in lags:
        np.testing.assert_allclose(t[j] - t[i], lag)
        assert i.size == 100 - round(lag / 0.1)
    lags = trajectory_lags(t, n_lags=10, max_origins=16)
    assert max(i.size for _, i, _ in lags) <= 16
    # block-log schedule: blocks of 0, 1, 2, 4, 8 steps repeated every 10 steps
    t = np.sort(np.concatenate([b * 10 + np.array([0, 1, 2, 4, 8]) for b in range(20)])).astype(float)
    found = {lag: i.size for lag, i, _ in trajectory_lags(t, n_lags=500, max_origins=None)}
    brute = lambda lag: int(np.sum(np.isclose(t[None, :] - t[:, None], lag)))  # noqa: E731
    assert set(found) == set(t[1:] - t[0])  # every distinct lag from the first frame
    assert all(found[lag] == brute(lag) for lag in found)
    with pytest.raises(InputError):
        trajectory_lags([0.0])


def test_van_hove_normalised_and_non_gaussian_curve():
    rng = np.random.default_rng(7)
    dr = rng.normal(size=(20, 1, 500, 3)) * 0.3
    ens = _ensemble(dr)
    r, gs, p = van_hove(ens, species=None, bins=60)
    dr_ = r[1] - r[0]
    assert (p * dr_).sum() == pytest.approx(1.0, rel=1e-9)
    assert (4 * np.pi * r ** 2 * gs * dr_).sum() == pytest.approx(1.0, rel=1e-9)
    assert abs(non_gaussian(ens, species=None)[1][0]) < 0.05
