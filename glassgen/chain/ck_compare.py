"""Displacement samples grouped by start configuration, and two sides compared with half-split noise floors.

The statistics of the Chapman–Kolmogorov check (:mod:`glassgen.chain.chapman`): per species the sample moments
m2, m4 and F_s(q) of every draw, and |Δr| of every particle, kept per group (one group per start). A side's value
is the mean over groups of the within-group means; W₁ of |Δr| is taken group by group. Floors come from half
splits of each group's samples, and rows and verdicts are those of ``glassgen evaluate``
(:func:`glassgen.stats.evaluate.verdict_row`).
"""
from __future__ import annotations

import numpy as np

from glassgen.stats.dynamics import alpha2_from_moments, fs_samples, moments_samples
from glassgen.stats.evaluate import verdict_row
from glassgen.stats.features import species_name
from glassgen.stats.uncertainty import half_splits, sorted_samples, wasserstein1_sorted


def features(dr, species, q):
    """Per-sample m2, m4, F_s and per-particle |Δr| of each species. Shapes: dr (S,N,D)."""
    out = {}
    for s in np.unique(species):
        mask = species == s
        m2, m4 = moments_samples(dr, mask)
        out[species_name(int(s))] = {"m2": m2, "m4": m4, "fs": fs_samples(dr, q, mask),
                                     "u": np.linalg.norm(dr[:, mask], axis=-1)}
    return out


def merge(groups):
    """One group of all samples of several (pooled over starts)."""
    return [{sp: {k: np.concatenate([g[sp][k] for g in groups]) for k in groups[0][sp]} for sp in groups[0]}]


def nblocks(g) -> int:
    return len(next(iter(g.values()))["m2"])


def values(groups, dim: int, weights=None) -> dict:
    """MSD, F_s, α₂ per species: weighted means within each group, then the mean over groups."""
    out = {}
    for sp in groups[0]:
        acc = {"m2": [], "m4": [], "fs": []}
        for i, g in enumerate(groups):
            w = np.ones(nblocks(g)) if weights is None else weights[i]
            for key in acc:
                acc[key].append(w @ g[sp][key] / w.sum())
        m2, m4 = float(np.mean(acc["m2"])), float(np.mean(acc["m4"]))
        out[("msd", sp)], out[("fs", sp)] = m2, float(np.mean(acc["fs"]))
        out[("alpha2", sp)] = float(alpha2_from_moments(m2, m4, dim))
    return out


def w1(ga, gb, wa=None, wb=None) -> dict:
    """W₁ of |Δr| between two sides, group by group (weighted samples), averaged over groups."""
    out = {}
    for sp in ga[0]:
        vals = []
        for i, (a, b) in enumerate(zip(ga, gb)):
            ua, ub = a[sp]["u"], b[sp]["u"]
            x, sid = sorted_samples(np.concatenate([ua, ub]))
            za, zb = np.zeros(len(ua)), np.zeros(len(ub))
            pa = np.ones(len(ua)) if wa is None else wa[i]
            pb = np.ones(len(ub)) if wb is None else wb[i]
            vals.append(wasserstein1_sorted(x, sid, np.r_[pa, zb], np.r_[za, pb]))
        out[("w1", sp)] = float(np.mean(vals))
    return out


def splits(groups, n_splits: int, seed: int) -> list:
    """Half splits of every group's samples; split k is a list of (wA, wB) per group."""
    per = [half_splits(nblocks(g), n_splits, seed + i) for i, g in enumerate(groups)]
    return [[s[k] for s in per] for k in range(min(len(s) for s in per))]


def compare(label, a, b, floor_from, sizes, lag2, dim) -> list:
    """Rows of ``a`` against ``b``; the floor comes from half splits of the groups in ``floor_from``."""
    va, vb, wab = values(a, dim), values(b, dim), w1(a, b)
    dv, dw = [], []
    for groups, halves in floor_from:
        for ws in halves:
            wa, wb = [w[0] for w in ws], [w[1] for w in ws]
            x, y = values(groups, dim, wa), values(groups, dim, wb)
            dv.append({k: x[k] - y[k] for k in x})
            dw.append(w1(groups, groups, wa, wb))
    rows = []
    for k in va:
        rows.append(verdict_row((k[0], k[1], lag2), va[k], vb[k], np.array([d[k] for d in dv]), (None,) * 3, *sizes))
    for k in wab:
        rows.append(verdict_row((k[0], k[1], lag2), wab[k], np.nan, np.array([d[k] for d in dw]), (None,) * 3, *sizes))
    return [dict(r, comparison=label) for r in rows]
