"""Per-sample raw material for ``glassgen evaluate``: computed once, recombined many times.

For one configuration (an ensemble, or one trajectory) this module stores, per sample
(run or time origin), the quantities whose weighted means make every statistic: |Δr|
of each particle at the evaluation lags, MSD/F_s/Q moments along the whole lag grid,
BOTAN edge changes, mobility-correlation sums, bond breaking, and per-frame structure
(pair-distance histograms, KA energy, closest pairs, S_A(q)). Half splits and bootstrap
replicates (:mod:`glassgen.stats.uncertainty`) then only re-weight samples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glassgen.system import ka
from glassgen.system.data import Ensemble
from glassgen.core.errors import InputError
from glassgen.system.pbc import neighbour_graph
from glassgen.stats.dynamics import DEFAULT_Q, OVERLAP_A, isotropic_kernel, per_sample_curves, species_mask
from glassgen.stats.lags import lag_pairs
from glassgen.stats.propensity import (BOTAN_R0, BREAK_R, MOBILITY_BINS, bond_breaking_samples, edge_change_samples,
                         initial_pairs, mobility_sums)
from glassgen.stats.structure import rdf_counts, rdf_edges, structure_factor
from glassgen.stats.uncertainty import N_TIME_BLOCKS, time_blocks


@dataclass
class Options:
    """Knobs of ``glassgen evaluate`` (defaults documented in docs/statistics.md)."""

    q: float = DEFAULT_Q  # σ⁻¹, F_s wave number
    a: float = OVERLAP_A  # σ, overlap cage size
    n_lags: int = 32  # log-spaced lags of trajectory curves
    max_origins: int = 128  # time origins per lag (trajectories), evenly spread
    pair_r_max: float = 2.5  # σ, cutoff of the pair graph: mobility correlations, g(r), KA energy
    r0: float = BOTAN_R0  # σ, BOTAN edge / bond cutoff
    r_break: float = BREAK_R  # σ, bond counted broken beyond this distance
    n_structure: int = 8  # at most this many frames per configuration for structure ...
    structure_frames: int = 16  # ... aiming at this many per side (at least 2 per configuration)
    n_pair_origins: int = 8  # time origins per lag for pair statistics (trajectories)
    n_time_blocks: int = N_TIME_BLOCKS
    rdf_bins: int = 125  # 0.02 σ bins up to 2.5 σ
    sq_q_max: float = 10.0


def species_name(s: int) -> str:
    return ka.SPECIES_NAMES[s] if s < len(ka.SPECIES_NAMES) else str(s)


def _structure(frames, species, box, opt: Options) -> dict:
    """Per-frame pair histograms (AA, AB, BB), KA energy per particle, closest pairs, S_A(q)."""
    edges = rdf_edges(opt.pair_r_max, opt.rdf_bins)
    is_ka = int(species.max()) <= 1
    out = {"counts": [], "energy": [], "min": [], "sq": []}
    for x in frames:
        g = neighbour_graph(x, box, opt.pair_r_max)
        out["counts"].append(rdf_counts(g, species, [(0, 0), (0, 1), (1, 1)], edges))
        out["energy"].append(float(ka.energy_per_particle(x, species, box, g).mean()) if is_ka else np.nan)
        # closest pairs from the same graph: no second neighbour search
        src, dst = g["edge_index"]
        r = g["edge_len"]
        mins = []
        for a, b in ((0, 0), (0, 1), (1, 1)):
            m = (species[src] == a) & (species[dst] == b)
            mins.append(float(r[m].min()) if m.any() else np.inf)
        out["min"].append(mins)
        q, s = structure_factor(x, box, species, sel=0, q_max=opt.sq_q_max, max_per_shell=24)
        out["sq"].append(s)
    res = {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
    res["q"], res["edges"] = q, edges
    return res


def _pair_stats(dr, x0, species, box, opt: Options, pairs: dict | None = None) -> dict:
    """Edge changes, mobility sums and bond breaking for samples sharing one origin ``x0``."""
    pairs = initial_pairs(x0, box, opt.pair_r_max) if pairs is None else pairs
    mask_a = species == 0
    edges = {k: v[(pairs["r"] < opt.r0) & mask_a[pairs["i"]] & mask_a[pairs["j"]]] for k, v in pairs.items()}
    bins = int(round(MOBILITY_BINS * opt.pair_r_max / 3.0))
    return {"edge": edge_change_samples(dr, edges), "mob": mobility_sums(dr, pairs, mask_a, opt.pair_r_max, bins),
            "bond": bond_breaking_samples(dr, edges, opt.r_break)}


def _concat_mob(parts: list) -> dict:
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("num_u", "num_v", "count", "den_u", "den_v")}
    out["edges"] = parts[0]["edges"]
    return out


def _lag_displacements(obj, t: float, max_origins: int, src: str):
    """(sample ids, displacements (S,N,D)) at lag ``t``: an ensemble's runs, or a trajectory's origin frames."""
    if isinstance(obj, Ensemble):
        k = int(np.argmin(np.abs(obj.times - t)))
        if abs(obj.times[k] - t) > 1e-6 * t:
            raise InputError(src, f"no ensemble time {t:g} (times: {obj.times.tolist()})")
        return np.arange(obj.n_runs), obj.positions[:, k] - obj.initial
    origins, targets = lag_pairs(obj.times, t, max_origins)
    if origins.size == 0:
        raise InputError(src, f"no pair of frames {t:g} apart")
    return origins, obj.positions[targets] - obj.positions[origins]


def config_features(obj, eval_times, opt: Options, name: str = "") -> dict:
    """All per-sample material of one configuration at the evaluation lags ``eval_times``.

    Args:
        obj: an Ensemble (samples = runs) or a Trajectory (samples = time origins).
        eval_times: lags [LJ time] at which single-particle, pair and structure statistics
            are taken; each must be an ensemble time / an available trajectory lag.
    """
    src = str(obj.meta.get("source", name or "<in memory>"))
    ens = isinstance(obj, Ensemble)
    species = obj.species
    if int(species.min()) != 0:
        raise InputError(src, "species 0 (A) is missing; statistics are reported for A and B particles")
    sp_ids = [int(s) for s in np.unique(species)]
    t0, t1 = (0.0, 1.0) if ens else (float(obj.times[0]), float(obj.times[-1]))

    def blocks_of(origins):
        return np.asarray(origins) if ens else time_blocks(np.r_[t0, t1, obj.times[origins]], opt.n_time_blocks)[2:]

    f = {"kind": "ensemble" if ens else "trajectory", "name": name, "source": src, "dim": obj.dim,
         "box": obj.box.copy(), "n": {species_name(s): int(np.sum(species == s)) for s in sp_ids},
         "n_blocks": obj.n_runs if ens else opt.n_time_blocks,
         "size": float(obj.n_runs) if ens else float(t1 - t0), "curves": {}, "lags": []}
    for s in sp_ids:
        c = per_sample_curves(obj, s, opt.q, opt.a, opt.n_lags, opt.max_origins)
        c["block"] = [blocks_of(o) for o in c.pop("origin")]
        f["curves"][species_name(s)] = c
    masks = {species_name(s): species_mask(species, s) for s in sp_ids}
    pairs0 = initial_pairs(obj.initial, obj.box, opt.pair_r_max) if ens else None  # one search for all lags
    for t in eval_times:
        origins, dr = _lag_displacements(obj, t, opt.max_origins, src)
        u = {n: np.linalg.norm(dr[:, m], axis=-1) for n, m in masks.items()}
        # per-sample moments do not depend on how samples are weighted later: compute them once
        per = {n: {"m2": (v * v).mean(1), "m4": (v ** 4).mean(1), "fs": isotropic_kernel(opt.q * v, obj.dim).mean(1),
                   "Q": (v < opt.a).mean(1)} for n, v in u.items()}
        lag = {"time": float(t), "block": blocks_of(origins), "u": u, "per": per}
        if ens:
            p = _pair_stats(dr, obj.initial, species, obj.box, opt, pairs0)
            lag.update(edge=p["edge"], edge_sample_mean=p["edge"].mean(axis=1), mob=p["mob"], bond=p["bond"], pair_block=lag["block"])
        else:  # every origin has its own neighbour graph: use a few, evenly spread
            pick = np.unique(np.linspace(0, origins.size - 1, min(opt.n_pair_origins, origins.size)).round().astype(int))
            ps = [_pair_stats(dr[q:q + 1], obj.positions[origins[q]], species, obj.box, opt) for q in pick]
            lag.update(edge=None, mob=_concat_mob([p["mob"] for p in ps]),
                       bond=np.concatenate([p["bond"] for p in ps]), pair_block=lag["block"][pick])
        f["lags"].append(lag)
    if ens:
        runs = np.unique(np.linspace(0, obj.n_runs - 1, min(opt.n_structure, obj.n_runs)).round().astype(int))
        k = int(np.argmin(np.abs(obj.times - max(eval_times))))
        frames, sblock = obj.positions[runs, k], runs
    else:
        idx = np.unique(np.linspace(0, obj.n_frames - 1, min(opt.n_structure, obj.n_frames)).round().astype(int))
        frames, sblock = obj.positions[idx], blocks_of(idx)
    f["structure"] = dict(_structure(frames, species, obj.box, opt), block=np.asarray(sblock))
    return f
