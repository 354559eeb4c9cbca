"""Single-particle dynamics: MSD, D, F_s(q,t), τ_α, α₂, van Hove G_s, overlap Q and χ₄.

Definitions (``docs/statistics.md`` has the full table). Δr is the true (unwrapped)
displacement of one particle over a lag t, d the dimension, ⟨·⟩ the mean over the
selected particles and then over samples (runs of an ensemble, or time origins of a
trajectory):

- MSD(t) = ⟨|Δr|²⟩ [σ²];  D = slope/(2d) of a straight-line fit to the last decade;
- F_s(q,t) = ⟨sin(q|Δr|)/(q|Δr|)⟩ in 3D (the isotropic average of exp(iq·Δr));
- α₂(t) = d⟨|Δr|⁴⟩ / ((d+2)⟨|Δr|²⟩²) − 1  (3D: 3⟨Δr⁴⟩/(5⟨Δr²⟩²) − 1);
- Q(t) = ⟨θ(a − |Δr|)⟩ with a = 0.3 σ, per sample; χ₄(t) = N[⟨Q²⟩ − ⟨Q⟩²] over samples.

The ``*_samples`` functions work on raw arrays (``dr`` shaped (..., N, D)) and reduce over
particles only, so other modules can call them on (R, F, N, D) displacements.
"""
from __future__ import annotations

import numpy as np

from glassgen.core.errors import InputError
from glassgen.stats.lags import MAX_ORIGINS, N_LAGS, iter_displacements, trajectory_lags
from glassgen.system.data import Ensemble

DEFAULT_Q = 7.25  # σ⁻¹: first peak of S_AA(q) of the 3D KA mixture at density 1.2
OVERLAP_A = 0.3  # σ: cage size used for the overlap Q(t)


def species_mask(species, sel, source: str | None = None) -> np.ndarray:
    """(N,) bool: particles of species ``sel`` (an int), or all when ``sel`` is None."""
    species = np.asarray(species)
    mask = np.ones(species.shape, bool) if sel is None else species == int(sel)
    if not mask.any():
        raise InputError(source, f"no particles of species {sel} (species present: {sorted(set(species.tolist()))})")
    return mask


def _sel(dr, mask):
    dr = np.asarray(dr, dtype=np.float64)
    return dr if mask is None else dr[..., np.asarray(mask), :]


def msd_samples(dr, mask=None) -> np.ndarray:
    """Mean |Δr|² over particles. Shapes: dr (..., N, D) → (...)."""
    x = _sel(dr, mask)
    return np.einsum("...nd,...nd->...n", x, x).mean(axis=-1)


def moments_samples(dr, mask=None):
    """(⟨|Δr|²⟩, ⟨|Δr|⁴⟩) over particles. Shapes: dr (..., N, D) → two (...) arrays."""
    x = _sel(dr, mask)
    r2 = np.einsum("...nd,...nd->...n", x, x)
    return r2.mean(axis=-1), (r2 * r2).mean(axis=-1)


def isotropic_kernel(qr, dim: int = 3) -> np.ndarray:
    """Orientational average of exp(i q·Δr) at |q||Δr| = qr: sin(x)/x in 3D, J₀(x) in 2D."""
    qr = np.asarray(qr, dtype=np.float64)
    if dim == 3:
        return np.sinc(qr / np.pi)  # np.sinc(x) = sin(πx)/(πx), exact 1 at 0
    from scipy.special import gamma, jv

    nu = dim / 2 - 1
    x = np.where(qr == 0, 1.0, qr)
    return np.where(qr == 0, 1.0, gamma(dim / 2) * (2 / x) ** nu * jv(nu, x))


def fs_samples(dr, q: float = DEFAULT_Q, mask=None) -> np.ndarray:
    """Isotropic self-intermediate scattering per sample. Shapes: dr (..., N, D) → (...)."""
    x = _sel(dr, mask)
    r = np.sqrt(np.einsum("...nd,...nd->...n", x, x))
    return isotropic_kernel(q * r, x.shape[-1]).mean(axis=-1)


def overlap_samples(dr, a: float = OVERLAP_A, mask=None) -> np.ndarray:
    """Overlap Q = fraction of particles with |Δr| < a. Shapes: dr (..., N, D) → (...)."""
    x = _sel(dr, mask)
    return (np.einsum("...nd,...nd->...n", x, x) < a * a).mean(axis=-1)


def alpha2_from_moments(m2, m4, dim: int = 3):
    """Non-Gaussian parameter d·m4/((d+2)·m2²) − 1 from sample-averaged moments."""
    m2, m4 = np.asarray(m2, dtype=np.float64), np.asarray(m4, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return dim * m4 / ((dim + 2) * m2 * m2) - 1.0


def chi4_from_overlap(q_samples, n: int, axis: int = 0, weights=None):
    """χ₄ = n·(⟨Q²⟩ − ⟨Q⟩²) over samples (population variance), n = particles in the selection."""
    q = np.asarray(q_samples, dtype=np.float64)
    w = np.ones(q.shape[axis]) if weights is None else np.asarray(weights, dtype=np.float64)
    shape = [1] * q.ndim
    shape[axis] = -1
    w = w.reshape(shape) / w.sum()
    mean = (w * q).sum(axis=axis)
    return n * ((w * q * q).sum(axis=axis) - mean * mean)


def per_sample_curves(obj, species=0, q: float = DEFAULT_Q, a: float = OVERLAP_A, n_lags: int = N_LAGS,
                      max_origins: int | None = MAX_ORIGINS) -> dict:
    """One pass over all lags: per-sample m2, m4, F_s and Q for the selected particles.

    Returns:
        dict with ``times`` (T,) and ``m2``, ``m4``, ``fs``, ``Q``, ``origin``: lists of T
        arrays (S_t,) (one value per run or time origin), and ``n`` particles selected.
    """
    mask = species_mask(obj.species, species, str(obj.meta.get("source", "<in memory>")))
    out = {k: [] for k in ("m2", "m4", "fs", "Q", "origin")}
    times = []
    for k, lag, origins, dr in iter_displacements(obj, n_lags, max_origins):
        x = dr[:, mask]
        r2 = np.einsum("snd,snd->sn", x, x)
        vals = {"m2": r2.mean(1), "m4": (r2 * r2).mean(1), "fs": isotropic_kernel(q * np.sqrt(r2), obj.dim).mean(1),
                "Q": (r2 < a * a).mean(1), "origin": origins}
        if k == len(times):
            times.append(lag)
            for key in out:
                out[key].append(vals[key])
        else:  # another chunk of origins for the same lag
            for key in out:
                out[key][-1] = np.concatenate([out[key][-1], vals[key]])
    return dict(out, times=np.asarray(times), n=int(mask.sum()))


def curves(obj, species=0, q: float = DEFAULT_Q, a: float = OVERLAP_A, n_lags: int = N_LAGS,
           max_origins: int | None = MAX_ORIGINS) -> dict:
    """MSD, F_s, α₂, Q and χ₄ versus lag, averaged over runs (ensemble) or time origins (trajectory).

    Returns:
        dict of (T,) arrays ``times``, ``msd``, ``fs``, ``alpha2``, ``Q``, ``chi4``, ``n_samples``.
    """
    c = per_sample_curves(obj, species, q, a, n_lags, max_origins)
    m2 = np.array([v.mean() for v in c["m2"]])
    m4 = np.array([v.mean() for v in c["m4"]])
    return {"times": c["times"], "msd": m2, "fs": np.array([v.mean() for v in c["fs"]]),
            "alpha2": alpha2_from_moments(m2, m4, obj.dim), "Q": np.array([v.mean() for v in c["Q"]]),
            "chi4": np.array([chi4_from_overlap(v, c["n"]) for v in c["Q"]]),
            "n_samples": np.array([v.size for v in c["Q"]])}


def displacement_curves(dr, species=None, sel=0, q: float = DEFAULT_Q, a: float = OVERLAP_A) -> dict:
    """MSD, F_s, α₂, Q, χ₄ straight from displacements, averaged over the leading (run) axis.

    Shapes: dr (R, F, N, D) (or (R, N, D) for one lag) → dict of (F,) (or scalar) arrays.
    ``species`` (N,) with ``sel`` picks particles (``sel=None`` or no species: all).
    """
    dr = np.asarray(dr, dtype=np.float64)
    mask = None if species is None or sel is None else species_mask(species, sel)
    m2, m4 = moments_samples(dr, mask)
    qs = overlap_samples(dr, a, mask)
    n = dr.shape[-2] if mask is None else int(mask.sum())
    return {"msd": m2.mean(0), "fs": fs_samples(dr, q, mask).mean(0), "alpha2": alpha2_from_moments(m2.mean(0), m4.mean(0), dr.shape[-1]),
            "Q": qs.mean(0), "chi4": chi4_from_overlap(qs, n)}


def msd(obj, species=None, **kw):
    """Mean-squared displacement [σ²] → ``(times, msd)``; species None = all particles."""
    c = curves(obj, species, **kw)
    return c["times"], c["msd"]


def self_intermediate_scattering(obj, q: float = DEFAULT_Q, species=0, **kw):
    """Isotropic F_s(q, t) → ``(times, Fs)``; species None = all particles."""
    c = curves(obj, species, q=q, **kw)
    return c["times"], c["fs"]


def non_gaussian(obj, species=0, **kw):
    """α₂(t) → ``(times, alpha2)``."""
    c = curves(obj, species, **kw)
    return c["times"], c["alpha2"]


def overlap_chi4(obj, a: float = OVERLAP_A, species=0, **kw):
    """Overlap and four-point susceptibility → ``(times, Q, chi4)``.

    For an ensemble the variance is over runs from one configuration (the
    iso-configurational χ₄); for a trajectory over time origins.
    """
    c = curves(obj, species, a=a, **kw)
    return c["times"], c["Q"], c["chi4"]


def tau_alpha(times, fs) -> float:
    """Time where F_s first drops below 1/e, interpolated linearly in log t.

    NaN when F_s never crosses 1/e in the window, or is already below it at the first time
    (nothing to interpolate from).
    """
    t, f = np.asarray(times, dtype=np.float64), np.asarray(fs, dtype=np.float64)
    target = np.exp(-1.0)
    below = np.nonzero(f < target)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan")
    k = below[0]
    x0, x1 = np.log(t[k - 1]), np.log(t[k])
    return float(np.exp(x0 + (target - f[k - 1]) * (x1 - x0) / (f[k] - f[k - 1])))


def diffusion_constant(times, msd_values, dim: int = 3, decade: float = 10.0):
    """D from the long-time slope of the MSD → ``(D, exponent)``.

    A straight line MSD = 2dDt + c is fitted over t ≥ t_max/``decade``; ``exponent`` is the
    log-log slope over the same window (≈ 1 when the window is diffusive, D is only
    meaningful then). Both NaN with fewer than 2 points in the window.
    """
    t, m = np.asarray(times, dtype=np.float64), np.asarray(msd_values, dtype=np.float64)
    w = (t >= t.max() / decade) & (t > 0) & (m > 0)
    if w.sum() < 2:
        return float("nan"), float("nan")
    slope = np.polyfit(t[w], m[w], 1)[0]
    expo = np.polyfit(np.log(t[w]), np.log(m[w]), 1)[0]
    return float(slope / (2 * dim)), float(expo)


def van_hove(obj, lag_index: int = -1, species=0, bins: int = 120, r_max: float | None = None,
             max_origins: int | None = 64):
    """Self part of the van Hove function at one lag → ``(r, Gs, p)``.

    ``p`` is the probability density of |Δr| (∫p dr = 1); ``Gs = p/(S_d r^{d−1})`` with
    S_d the unit-sphere area (4π in 3D), so ∫ 4πr² G_s dr = 1. Plot ``p`` on a log axis to
    see hops as a shoulder beyond the cage peak.
    """
    mask = species_mask(obj.species, species)
    n_lag = len(obj.times) if isinstance(obj, Ensemble) else len(trajectory_lags(obj.times, N_LAGS, 1))
    want = range(n_lag)[lag_index]
    r = np.concatenate([np.linalg.norm(dr[:, mask], axis=-1).ravel()
                        for k, _, _, dr in iter_displacements(obj, N_LAGS, max_origins) if k == want])
    return radial_density(r, obj.dim, bins, r_max)


def radial_density(r, dim: int = 3, bins: int = 120, r_max: float | None = None):
    """Histogram of distances → ``(centres, Gs, p)`` as in :func:`van_hove`."""
    r = np.asarray(r, dtype=np.float64).ravel()
    edges = np.linspace(0.0, r_max or max(float(r.max()), 1e-12) * 1.0001, bins + 1)
    p, _ = np.histogram(r, edges, density=True)
    c = 0.5 * (edges[1:] + edges[:-1])
    from scipy.special import gamma

    area = 2 * np.pi ** (dim / 2) / gamma(dim / 2)
    return c, p / (area * c ** (dim - 1)), p
