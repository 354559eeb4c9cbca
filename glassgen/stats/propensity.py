"""Propensity, correlations and pair-level (joint-field) measures.

- propensity p_i = mean over runs of |Δr_i| [σ] (iso-configurational ensemble);
- BOTAN edge target of a pair (i, j) with |r_ij(0)| < r₀ (AA pairs, r₀ = 1.35 σ): ensemble
  mean of |r_ij(t)| − |r_ij(0)|, r_ij(t) = r_ij(0) + Δr_j − Δr_i (r_ij(0) the minimum image);
- spatial mobility correlations versus initial distance r = |r_ij(0)|:
  C_u(r) = ⟨δu_i δu_j⟩_r / ⟨δu²⟩ with u = |Δr|, δu = u − ⟨u⟩ (mean over selected particles),
  and C_v(r) = ⟨Δr_i·Δr_j⟩_r / ⟨|Δr|²⟩;
- bond-breaking fraction: share of initial pairs (r < r₀) whose distance exceeds r_break;
- mobility persistence of one trajectory: Pearson correlation over particles of |Δr_i|² in a window
  [t, t + W] with |Δr_i|² in the next window [t + W, t + 2W], mean over origins t (do mobile particles
  stay mobile? MD's dynamic heterogeneity lives in this memory; a chain without it has a low χ₄).

Pair lists come from :func:`glassgen.system.pbc.neighbour_graph` (the one home of periodic math).
"""
from __future__ import annotations

import numpy as np

from glassgen.system.data import Ensemble
from glassgen.core.errors import InputError
from glassgen.system.pbc import neighbour_graph

BOTAN_R0 = 1.35  # σ: BOTAN's edge cutoff, just below the first minimum of g_AA(r)
BREAK_R = 1.35 * 1.5 / 1.1  # σ: Yamamoto–Onuki ratio A2/A1 = 1.5/1.1 applied to r₀ (≈ 1.84)
MOBILITY_R_MAX = 3.0  # σ: three neighbour shells
MOBILITY_BINS = 60  # 0.05 σ bins: r₀ = 1.35 falls on a bin edge


def propensity_from_displacements(dr) -> np.ndarray:
    """Mean |Δr_i| over runs. Shapes: dr (R, N, D) → (N,)."""
    return np.linalg.norm(np.asarray(dr, dtype=np.float64), axis=-1).mean(axis=0)


def propensity(ens: Ensemble, lag_index: int = -1) -> np.ndarray:
    """Dynamic propensity of every particle at one lag, (N,) [σ]."""
    if not isinstance(ens, Ensemble):
        raise InputError(None, f"propensity needs an iso-configurational Ensemble; got {type(ens).__name__}")
    return propensity_from_displacements(ens.positions[:, lag_index] - ens.initial)


def pearson(a, b) -> float:
    """Pearson correlation of two equal-length 1-D arrays (NaN if either is constant)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise InputError(None, f"pearson needs equal lengths; got {a.size} and {b.size}")
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def spearman(a, b) -> float:
    """Spearman rank correlation (Pearson of average ranks, ties handled)."""
    from scipy.stats import rankdata

    return pearson(rankdata(a), rankdata(b))


def mobility_persistence(frames, window: int) -> float:
    """Mean over origins of pearson(|x_{k+W} − x_k|², |x_{k+2W} − x_{k+W}|²) (origins k = 0, W, 2W, ...).

    Shapes: frames (F, N, D) unwrapped, equally spaced in time; ``window`` W in frames, F > 2W.
    """
    x = np.asarray(frames, dtype=np.float64)
    if int(window) < 1 or x.ndim != 3 or x.shape[0] <= 2 * int(window):
        raise InputError(None, f"mobility persistence needs frames (F,N,D) with F > 2·window; got {x.shape}, "
                               f"window {window}")
    w = int(window)
    sq = [np.sum((x[k + w] - x[k]) ** 2, axis=-1) for k in range(0, x.shape[0] - w, w)]
    return float(np.mean([pearson(a, b) for a, b in zip(sq[:-1], sq[1:])]))


def initial_pairs(x0, box, cutoff: float, species=None, pair=None) -> dict:
    """Unordered pairs (i < j) closer than ``cutoff`` in the configuration ``x0``.

    Args:
        x0: (N, D) positions (wrapped or not).
        species: (N,) ids; with ``pair=(a, b)`` only pairs of species a and b are kept
            (either order); ``pair=None`` keeps all.

    Returns:
        dict ``i``, ``j`` (P,) int, ``vec`` (P, D) minimum-image r_j − r_i, ``r`` (P,).
    """
    g = neighbour_graph(x0, box, cutoff)
    i, j = g["edge_index"]
    keep = i < j
    if pair is not None:
        s = np.asarray(species)
        a, b = pair
        keep &= ((s[i] == a) & (s[j] == b)) | ((s[i] == b) & (s[j] == a))
    return {"i": i[keep], "j": j[keep], "vec": g["edge_vec"][keep], "r": g["edge_len"][keep]}


def botan_edges(x0, species, box, r0: float = BOTAN_R0, pair=(0, 0)) -> dict:
    """The BOTAN edge set: AA pairs with |r_ij(0)| < r₀ (see :func:`initial_pairs`)."""
    return initial_pairs(x0, box, r0, species, pair)


def pair_distances(dr, pairs: dict) -> np.ndarray:
    """|r_ij(t)| = |r_ij(0) + Δr_j − Δr_i|. Shapes: dr (..., N, D) → (..., P)."""
    dr = np.asarray(dr, dtype=np.float64)
    v = pairs["vec"] + dr[..., pairs["j"], :] - dr[..., pairs["i"], :]
    return np.sqrt(np.einsum("...pd,...pd->...p", v, v))


def edge_change_samples(dr, pairs: dict) -> np.ndarray:
    """|r_ij(t)| − |r_ij(0)| per sample and pair. Shapes: dr (S, N, D) → (S, P)."""
    return pair_distances(dr, pairs) - pairs["r"]


def edge_target(ens: Ensemble, lag_index: int = -1, r0: float = BOTAN_R0):
    """BOTAN edge target → ``(pairs, target)``, target (P,) the run mean of the distance change."""
    pairs = botan_edges(ens.initial, ens.species, ens.box, r0)
    return pairs, edge_change_samples(ens.positions[:, lag_index] - ens.initial, pairs).mean(axis=0)


def bond_breaking_samples(dr, pairs: dict, r_break: float = BREAK_R) -> np.ndarray:
    """Fraction of initial pairs with |r_ij(t)| > r_break. Shapes: dr (S, N, D) → (S,)."""
    if pairs["i"].size == 0:
        return np.full(np.shape(dr)[0], np.nan)
    return (pair_distances(dr, pairs) > r_break).mean(axis=-1)


def mobility_sums(dr, pairs: dict, mask, r_max: float = MOBILITY_R_MAX, bins: int = MOBILITY_BINS) -> dict:
    """Additive per-sample pieces of the spatial mobility correlations.

    Args:
        dr: (S, N, D) displacements.
        pairs: from :func:`initial_pairs` with cutoff ≥ ``r_max``; only pairs with both ends
            in ``mask`` are used.
        mask: (N,) bool particle selection.

    Returns:
        dict ``edges`` (bins+1,), per sample ``num_u``, ``num_v``, ``count`` (S, bins) and
        ``den_u``, ``den_v`` (S,); combine with :func:`mobility_from_sums`.
    """
    dr = np.asarray(dr, dtype=np.float64)
    mask = np.asarray(mask)
    keep = mask[pairs["i"]] & mask[pairs["j"]] & (pairs["r"] < r_max)
    i, j, r = pairs["i"][keep], pairs["j"][keep], pairs["r"][keep]
    edges = np.linspace(0.0, r_max, bins + 1)
    b = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, bins - 1)
    u = np.linalg.norm(dr, axis=-1)
    du = u - u[:, mask].mean(axis=1, keepdims=True)
    s = dr.shape[0]
    num_u, num_v = np.zeros((s, bins)), np.zeros((s, bins))
    for k in range(s):  # one sample at a time: memory O(P), no (S, P, D) temporaries
        num_u[k] = np.bincount(b, du[k, i] * du[k, j], bins)
        num_v[k] = np.bincount(b, np.einsum("pd,pd->p", dr[k, i], dr[k, j]), bins)
    count = np.broadcast_to(np.bincount(b, minlength=bins).astype(float), (s, bins)).copy()
    return {"edges": edges, "num_u": num_u, "num_v": num_v, "count": count,
            "den_u": (du[:, mask] ** 2).mean(axis=1), "den_v": (u[:, mask] ** 2).mean(axis=1)}


def mobility_from_sums(sums: dict, weights=None):
    """``(r, C_u, C_v)`` from :func:`mobility_sums` (optionally weighting samples)."""
    w = np.ones(sums["den_u"].shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    cnt = w @ sums["count"]
    with np.errstate(invalid="ignore", divide="ignore"):
        cu = (w @ sums["num_u"]) / cnt / ((w @ sums["den_u"]) / w.sum())
        cv = (w @ sums["num_v"]) / cnt / ((w @ sums["den_v"]) / w.sum())
    e = sums["edges"]
    return 0.5 * (e[1:] + e[:-1]), cu, cv


def mobility_correlation(dr, x0, box, mask, r_max: float = MOBILITY_R_MAX, bins: int = MOBILITY_BINS):
    """Spatial correlation of mobility versus initial distance → ``(r, C_u, C_v)``.

    Args:
        dr: (S, N, D) displacements of S samples that all start from ``x0`` (N, D).
        mask: (N,) bool, the particles whose pairs count.
    """
    pairs = initial_pairs(x0, box, r_max)
    return mobility_from_sums(mobility_sums(dr, pairs, mask, r_max, bins))


def mobility_first_shell(sums: dict, weights=None, r_in: float = BOTAN_R0):
    """Pair-weighted ``(C_u, C_v)`` over all pairs with r < r_in (the first neighbour shell)."""
    w = np.ones(sums["den_u"].shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    sel = sums["edges"][1:] <= r_in + 1e-12
    cnt = (w @ sums["count"])[sel].sum()
    if cnt == 0:
        return float("nan"), float("nan")
    cu = (w @ sums["num_u"])[sel].sum() / cnt / ((w @ sums["den_u"]) / w.sum())
    cv = (w @ sums["num_v"])[sel].sum() / cnt / ((w @ sums["den_v"]) / w.sum())
    return float(cu), float(cv)
