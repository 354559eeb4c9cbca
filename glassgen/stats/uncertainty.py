"""Error bars and MD-vs-MD noise floors.

Every sample (a run of an ensemble, a time origin of a trajectory, a frame used for
structure) belongs to a *block*: the run itself, or one of ``N_TIME_BLOCKS`` contiguous
stretches of a trajectory (neighbouring time origins are correlated, so they are
resampled together). A subset of the data is a vector of block weights:

- half splits put half of the blocks in A and the rest in B; the statistic of A minus
  that of B is one draw of MD-vs-MD noise (:func:`half_splits`);
- bootstrap replicates draw blocks with replacement (:func:`bootstrap_weights`), or
  whole configurations when several are pooled.

The spread of a half-split difference is scaled to the sizes being compared with
:func:`floor_scale`; correlations between ensemble means are corrected for the number of
runs with :func:`expected_correlation` (Spearman's attenuation formula).
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import wasserstein_distance

N_TIME_BLOCKS = 8
N_SPLITS = 24
N_BOOT = 200


def time_blocks(t, n_blocks: int = N_TIME_BLOCKS) -> np.ndarray:
    """Block id (0..n_blocks−1) of each time in ``t`` by equal stretches of [min t, max t]."""
    t = np.asarray(t, dtype=np.float64)
    span = t.max() - t.min()
    if span <= 0:
        return np.zeros(t.shape, np.int64)
    return np.minimum((n_blocks * (t - t.min()) / span).astype(np.int64), n_blocks - 1)


def half_splits(n_blocks: int, n_splits: int = N_SPLITS, seed: int = 0) -> list:
    """Distinct ways to split ``n_blocks`` blocks in two halves → list of (wA, wB) 0/1 weights.

    All splits are used when there are at most ``n_splits`` of them (each unordered split
    once); otherwise ``n_splits`` random ones (fixed ``seed``). With one block there is
    no split and the list is empty.
    """
    if n_blocks < 2:
        return []
    h = n_blocks // 2
    combos = None
    from math import comb

    if comb(n_blocks, h) // (2 if 2 * h == n_blocks else 1) <= n_splits:
        combos = [c for c in itertools.combinations(range(n_blocks), h) if 2 * h != n_blocks or 0 in c]
    else:
        rng = np.random.default_rng(seed)
        seen, combos = set(), []
        while len(combos) < n_splits:
            c = tuple(sorted(rng.choice(n_blocks, h, replace=False).tolist()))
            key = c if 2 * h != n_blocks or 0 in c else tuple(sorted(set(range(n_blocks)) - set(c)))
            if key not in seen:
                seen.add(key)
                combos.append(c)
    out = []
    for c in combos:
        wa = np.zeros(n_blocks)
        wa[list(c)] = 1.0
        out.append((wa, 1.0 - wa))
    return out


def bootstrap_weights(n_blocks: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """(n_boot, n_blocks) multinomial counts: how often each block is drawn in each replicate."""
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, n_blocks, n_blocks), minlength=n_blocks) for _ in range(n_boot)]).astype(float)


def bootstrap_se(replicates) -> np.ndarray:
    """Standard error = standard deviation of bootstrap replicates (axis 0), NaN-aware."""
    r = np.asarray(replicates, dtype=np.float64)
    ok = np.isfinite(r).sum(axis=0)
    if r.shape[0] < 2 or np.all(ok < 2):
        return np.full(r.shape[1:], np.nan)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        se = np.nanstd(r, axis=0, ddof=1)
    return np.where(ok > 1, se, np.nan)


def floor_scale(size_gen: float, size_ref: float) -> float:
    """Scale from the half-vs-half spread of the reference to a generated-vs-reference spread.

    Run noise of a mean over s independent samples has variance ∝ 1/s, so two halves of
    the reference differ with variance ∝ 4/s_ref, generated and reference with
    ∝ 1/s_gen + 1/s_ref.
    """
    return float(np.sqrt((1.0 / size_gen + 1.0 / size_ref) / (4.0 / size_ref)))


def expected_correlation(rho_half: float, half_size: float, size_gen: float, size_ref: float) -> float:
    """Pearson correlation expected between two MD ensembles of ``size_gen`` and ``size_ref`` runs.

    With x_i(run) = p_i + noise, the correlation of two means over k₁ and k₂ runs is
    1/√((1+λ/k₁)(1+λ/k₂)), λ = ⟨noise²⟩/var(p). λ is read off the correlation
    ``rho_half`` measured between two halves of ``half_size`` runs each.
    """
    if not np.isfinite(rho_half) or rho_half <= 0:
        return float("nan")
    lam = half_size * (1.0 / rho_half - 1.0)
    return float(1.0 / np.sqrt((1.0 + lam / size_gen) * (1.0 + lam / size_ref)))


def wasserstein1(a, b, wa=None, wb=None) -> float:
    """Wasserstein-1 (earth mover's) distance between two 1-D samples, optionally weighted [units of a]."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        return float("nan")
    if wa is None and wb is None and a.size == b.size:
        return float(np.abs(np.sort(a) - np.sort(b)).mean())  # exact for equal sizes, no CDF merge
    return float(wasserstein_distance(a, b, wa, wb))


def sorted_samples(u):
    """Pool per-sample values for repeated weighted W1 → ``(values sorted, sample id of each)``.

    Shapes: u (S, M) → two (S·M,) arrays.
    """
    u = np.asarray(u, dtype=np.float64)
    v = u.ravel()
    order = np.argsort(v, kind="stable")
    return v[order], np.repeat(np.arange(u.shape[0]), u.shape[1])[order]


def wasserstein1_sorted(x, sid, wa, wb) -> float:
    """W1 between two weightings of one pooled sample: ∫|F_a − F_b| dx, exact for step CDFs.

    Args:
        x, sid: from :func:`sorted_samples`; ``wa``, ``wb`` (S,) weights of each sample in the
            two distributions (0 leaves a sample out).
    """
    ca, cb = np.cumsum(np.asarray(wa, dtype=np.float64)[sid]), np.cumsum(np.asarray(wb, dtype=np.float64)[sid])
    if ca[-1] <= 0 or cb[-1] <= 0:
        return float("nan")
    return float(np.abs(ca[:-1] / ca[-1] - cb[:-1] / cb[-1]) @ np.diff(x))


def rms(x) -> float:
    """Root mean square of the finite entries (NaN when none)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(x * x))) if x.size else float("nan")
