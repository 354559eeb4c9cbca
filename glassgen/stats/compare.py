"""From per-sample features to statistic values, and the tolerance table behind every verdict.

``config_parts`` turns one configuration's features and a vector of block weights into
additive *parts* (weighted means); ``pool`` averages parts over configurations (closest
pair distances take the minimum); ``finalize`` turns pooled parts into statistics. The
relational statistics (Wasserstein-1 of |Δr|, propensity and edge-target correlations)
compare a generated configuration with its reference partner in ``relational_parts``.
"""
from __future__ import annotations

import numpy as np

from glassgen.stats.dynamics import alpha2_from_moments, diffusion_constant, tau_alpha
from glassgen.stats.propensity import mobility_first_shell, pearson, spearman
from glassgen.stats.structure import first_peak, rdf_from_counts
from glassgen.stats.uncertainty import sorted_samples, wasserstein1_sorted

# name: (kind, absolute tolerance, relative tolerance, unit). Kinds: "value" (two-sided
# |gen − ref|), "distance" (gen is a distance to the reference; must stay below the MD
# floor), "correlation" (gen vs the correlation two MD ensembles would reach),
# "at_least" (gen must not fall below ref). Reasons: docs/statistics.md.
TOLERANCES = {
    "msd": ("value", 0.0, 0.05, "σ²"), "fs": ("value", 0.01, 0.03, "1"), "alpha2": ("value", 0.05, 0.10, "1"),
    "Q": ("value", 0.01, 0.03, "1"), "chi4": ("value", 0.0, 0.25, "1"), "w1": ("distance", 0.0, 0.0, "σ"),
    "prop_mean": ("value", 0.0, 0.03, "σ"), "prop_std": ("value", 0.0, 0.05, "σ"),
    "pearson": ("correlation", 0.03, 0.0, "1"), "spearman": ("correlation", 0.03, 0.0, "1"),
    "edge_mean": ("value", 0.005, 0.05, "σ"), "edge_pearson": ("correlation", 0.03, 0.0, "1"),
    "mob_cu": ("value", 0.02, 0.10, "1"), "mob_cv": ("value", 0.02, 0.10, "1"), "bond_broken": ("value", 0.005, 0.10, "1"),
    "tau_alpha": ("value", 0.0, 0.10, "τ (LJ)"), "D": ("value", 0.0, 0.10, "σ²/τ"),
    "g_AA_peak": ("value", 0.0, 0.03, "1"), "g_AA_rpeak": ("value", 0.02, 0.0, "σ"), "g_AA_l1": ("distance", 0.0, 0.0, "1"),
    "S_A_peak": ("value", 0.0, 0.10, "1"), "energy": ("value", 0.01, 0.0, "ε/particle"),
    "min_AA": ("at_least", 0.05, 0.0, "σ"), "min_AB": ("at_least", 0.05, 0.0, "σ"), "min_BB": ("at_least", 0.05, 0.0, "σ"),
}
K_FLOOR = 3.0  # tolerance in units of the MD-vs-MD noise floor
PEAK_Q = (5.0, 10.0)  # σ⁻¹ window holding the first peak of S_A(q)


def _wmean(x, w):
    """Weighted mean over the first axis (NaN when all weights are 0)."""
    x = np.asarray(x, dtype=np.float64)
    ws = w.sum()
    if ws <= 0:
        return np.full(x.shape[1:], np.nan)
    return (w @ x.reshape(x.shape[0], -1)).reshape(x.shape[1:]) / ws


def _moments(per: dict, n: int, w) -> dict:
    out = {k: _wmean(v, w) for k, v in per.items()}
    out["chi4"] = n * (_wmean(per["Q"] ** 2, w) - out["Q"] ** 2)
    return out


def config_parts(f: dict, w=None) -> dict:
    """Additive parts of one configuration for block weights ``w`` (None: all ones)."""
    w = np.ones(f["n_blocks"]) if w is None else np.asarray(w, dtype=np.float64)
    p = {}
    for sp, c in f["curves"].items():
        for key in ("m2", "m4", "fs", "Q"):
            p[f"curve:{sp}:{key}"] = np.array([_wmean(v, w[b]) for v, b in zip(c[key], c["block"])])
        p[f"curve:{sp}:chi4"] = np.array([c["n"] * (_wmean(v * v, w[b]) - _wmean(v, w[b]) ** 2)
                                          for v, b in zip(c["Q"], c["block"])])
    for e, lag in enumerate(f["lags"]):
        sw = w[lag["block"]]
        for sp, u in lag["u"].items():
            for key, val in _moments(lag["per"][sp], u.shape[1], sw).items():
                p[f"lag{e}:{sp}:{key}"] = val
            if f["kind"] == "ensemble":
                prop = _wmean(u, sw)
                p[f"lag{e}:{sp}:prop_mean"], p[f"lag{e}:{sp}:prop_std"] = float(np.mean(prop)), float(np.std(prop))
        pw = w[lag["pair_block"]]
        if lag["edge"] is not None:
            p[f"lag{e}:edge_mean"] = float(_wmean(lag["edge_sample_mean"], pw))  # equal pairs per sample
        p[f"lag{e}:mob_cu"], p[f"lag{e}:mob_cv"] = mobility_first_shell(lag["mob"], pw) if pw.sum() > 0 else (np.nan,) * 2
        p[f"lag{e}:bond_broken"] = float(_wmean(lag["bond"], pw))
    s = f["structure"]
    sw = w[s["block"]]
    p["counts"] = _wmean(s["counts"], sw)
    p["sq"] = _wmean(s["sq"], sw)
    p["energy"] = float(_wmean(s["energy"], sw))
    on = sw > 0
    for k, name in enumerate(("AA", "AB", "BB")):
        p[f"min:{name}"] = float(s["min"][on, k].min()) if on.any() else np.nan
    return p


def pool(parts: list, idx=None) -> dict:
    """Average parts over configurations (``idx`` picks/repeats them); ``min:`` keys take the minimum."""
    idx = range(len(parts)) if idx is None else idx
    sel = [parts[i] for i in idx]
    out = {}
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: a half without frames
            for k in sel[0]:
                v = np.stack([np.asarray(pp[k], dtype=np.float64) for pp in sel])
                out[k] = np.nanmin(v, axis=0) if k.startswith("min:") else np.nanmean(v, axis=0)
    return out


def finalize(p: dict, f: dict) -> dict:
    """Statistic values from pooled parts; ``f`` is any configuration's features (for times, N, box)."""
    out = {}
    for sp, c in f["curves"].items():
        t = c["times"]
        fs = p[f"curve:{sp}:fs"]
        out[("tau_alpha", sp, None)] = tau_alpha(t, fs)
        out[("D", sp, None)] = diffusion_constant(t, p[f"curve:{sp}:m2"], f["dim"])[0]
    for e, lag in enumerate(f["lags"]):
        t = lag["time"]
        for sp in lag["u"]:
            g = lambda key: p.get(f"lag{e}:{sp}:{key}", np.nan)  # noqa: E731
            out[("msd", sp, t)] = g("m2")
            out[("fs", sp, t)] = g("fs")
            out[("alpha2", sp, t)] = float(alpha2_from_moments(g("m2"), g("m4"), f["dim"]))
            out[("Q", sp, t)] = g("Q")
            out[("chi4", sp, t)] = g("chi4")
            if f["kind"] == "ensemble":
                out[("prop_mean", sp, t)], out[("prop_std", sp, t)] = g("prop_mean"), g("prop_std")
        for key in ("edge_mean", "mob_cu", "mob_cv", "bond_broken"):
            if f"lag{e}:{key}" in p:
                out[(key, "A", t)] = float(p[f"lag{e}:{key}"])
    r, gaa = rdf_curve(p, f)
    out[("g_AA_peak", "A", None)], out[("g_AA_rpeak", "A", None)] = first_peak(r, gaa)
    qs = f["structure"]["q"]
    win = (qs > PEAK_Q[0]) & (qs < PEAK_Q[1])
    sq = p["sq"][win]
    out[("S_A_peak", "A", None)] = float(np.nanmax(sq)) if np.isfinite(sq).any() else np.nan  # NaN: a half without frames
    out[("energy", "all", None)] = p["energy"]
    for name in ("AA", "AB", "BB"):
        out[(f"min_{name}", name, None)] = p[f"min:{name}"]
    return {k: float(v) for k, v in out.items()}


def rdf_curve(p: dict, f: dict, k: int = 0):
    """``(r, g)`` of species pair k (0 = AA, 1 = AB, 2 = BB) from pooled parts."""
    e = f["structure"]["edges"]
    na, nb = f["n"].get("A", 0), f["n"].get("B", 0)
    n1, n2, same = ((na, na, True), (na, nb, False), (nb, nb, True))[k]
    if n1 == 0 or n2 == 0 or (same and n1 < 2):
        return 0.5 * (e[1:] + e[:-1]), np.full(len(e) - 1, np.nan)
    return 0.5 * (e[1:] + e[:-1]), rdf_from_counts(p["counts"][k], 1, n1, n2, same, f["box"], e)


def _w1(lg, lr, sp, sg, sr, same: bool) -> float:
    """Weighted W1 of |Δr|; the pooled sort is cached on the features (reused by every split)."""
    if same:
        cache = lr.setdefault("_sorted", {})
        if sp not in cache:
            cache[sp] = sorted_samples(lr["u"][sp])
        return wasserstein1_sorted(*cache[sp], sg, sr)
    x, sid = sorted_samples(np.concatenate([lg["u"][sp], lr["u"][sp]]))
    zg, zr = np.zeros_like(sg), np.zeros_like(sr)
    return wasserstein1_sorted(x, sid, np.r_[sg, zr], np.r_[zg, sr])


def relational_parts(fg: dict, fr: dict, wg=None, wr=None) -> dict:
    """Per-configuration comparisons of generated with reference: W1 of |Δr|, correlations."""
    wg = np.ones(fg["n_blocks"]) if wg is None else np.asarray(wg, dtype=np.float64)
    wr = np.ones(fr["n_blocks"]) if wr is None else np.asarray(wr, dtype=np.float64)
    out = {}
    for e, (lg, lr) in enumerate(zip(fg["lags"], fr["lags"])):
        sg, sr = wg[lg["block"]], wr[lr["block"]]
        for sp in lg["u"]:
            ug, ur = lg["u"][sp], lr["u"][sp]
            if sg.sum() <= 0 or sr.sum() <= 0:
                out[f"lag{e}:{sp}:w1"] = np.nan
                continue
            out[f"lag{e}:{sp}:w1"] = _w1(lg, lr, sp, sg, sr, fg is fr)
            if fg["kind"] == "ensemble":
                pg, pr = _wmean(ug, sg), _wmean(ur, sr)
                out[f"lag{e}:{sp}:pearson"], out[f"lag{e}:{sp}:spearman"] = pearson(pg, pr), spearman(pg, pr)
        if lg["edge"] is not None and lr["edge"] is not None and sg.sum() > 0 and sr.sum() > 0:
            out[f"lag{e}:edge_pearson"] = pearson(_wmean(lg["edge"], sg), _wmean(lr["edge"], sr))
    return out


def finalize_relational(rel: dict, pg: dict, pr: dict, f: dict) -> dict:
    """Relational statistics from pooled relational parts and both sides' pooled parts."""
    out = {}
    for e, lag in enumerate(f["lags"]):
        t = lag["time"]
        for sp in lag["u"]:
            for key in ("w1", "pearson", "spearman"):
                if f"lag{e}:{sp}:{key}" in rel:
                    out[(key, sp, t)] = float(rel[f"lag{e}:{sp}:{key}"])
        if f"lag{e}:edge_pearson" in rel:
            out[("edge_pearson", "A", t)] = float(rel[f"lag{e}:edge_pearson"])
    r, gg = rdf_curve(pg, f)
    _, gr = rdf_curve(pr, f)
    d = np.abs(gg - gr)
    out[("g_AA_l1", "A", None)] = float(np.mean(d)) if np.isfinite(d).all() else np.nan
    return out
