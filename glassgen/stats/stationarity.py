"""The long-time check's tables beside the all-origin one: from the start snapshot, and per chain step.

A chain whose speed drifts (slow at first, fast later) can match MD's all-origin averages by cancellation.
These tables show the drift (docs/rollout.md, "Long-time check against MD"):

- **from the start snapshot**: every curve of the all-origin table from origin t = 0 only, over
  trajectories (the future of a given snapshot), plus E_pot/N(t) − E_pot/N(0), with floors from the
  same MD half splits;
- **per chain step**: one-lag F_s,A, MSD_A and MSD_B from every origin t0 on the grid (displacement
  over one grid spacing, a rollout's lag), against MD's from the same t0, with MD's floor per origin.

Each row's tolerance is the all-origin one widened to k × its floor, k = max(2, z(1 − 0.025/K)) the
two-sided Bonferroni factor for the table's K rows at 5 % in all: one origin gives M samples instead of
M × origins, so floors bind, and at 2 floors MD itself would leave the band somewhere in most comparisons.
"""
from __future__ import annotations

import numpy as np

from glassgen.stats.longtime import TOL, curve_floors, curve_rows, curves_ab, table_row


def at_start(table) -> dict:
    """A sample table (:func:`~glassgen.stats.longtime.sample_table`) restricted to origin 0: (M, 1) per lag."""
    return {**table, **{k: [v[:, :1] for v in table[k]] for k in ("fs", "msd", "q")}}


def split_rms(v, splits) -> np.ndarray:
    """Per column of MD samples (M, K): rms over half splits of (mean over half A − mean over half B)."""
    v = np.asarray(v, dtype=np.float64)
    if not splits:
        return np.full(v.shape[1:], np.nan)
    wa, wb = (np.stack(w) for w in zip(*splits))
    d = wa @ v / wa.sum(1, keepdims=True) - wb @ v / wb.sum(1, keepdims=True)
    return np.sqrt(np.mean(d * d, axis=0))


def band_factor(k: int) -> float:
    """Floors in a tolerance: the two-sided Bonferroni quantile for ``k`` rows at 5 % in all, at least 2."""
    from scipy.stats import norm

    return max(2.0, float(-norm.ppf(0.025 / max(1, k))))


def _origin_floor(own) -> np.ndarray:
    """Per origin, the larger of its own floor and the rms over all origins.

    MD's noise is the same at every origin of a stationary run, and one origin's estimate from a few
    half splits (4 trajectories give 3) is itself noisy: the pooled value keeps it from collapsing.
    """
    own = np.asarray(own, dtype=np.float64)
    ok = np.isfinite(own)
    return np.maximum(own, np.sqrt(np.mean(own[ok] ** 2))) if ok.any() else own


def from_start(tg, tr, msd_b, energy, splits, scale, judged) -> dict:
    """Curves from origin 0 only (generated, MD), MD floors, tolerances per lag and rows with verdicts.

    ``tolerance`` per lag: absolute for F_s, χ₄ and the energy, relative for the MSDs.

    Args:
        tg, tr: all-origin sample tables; msd_b: (generated, MD) species-B MSD samples per lag;
        energy: (generated, MD) E_pot/N of every frame (M, F); splits, scale: as for the all-origin floors;
        judged: (K,) bool, the lags judged.
    """
    sg, sr = at_start(tg), at_start(tr)
    bg, br = ([v[:, :1] for v in b] for b in msd_b)
    cg, cr = curves_ab(sg, bg), curves_ab(sr, br)
    floor, fl_s = curve_floors(sr, br, splits, scale)
    k = band_factor(4 * int(np.sum(judged)) + 3)  # F_s, MSD_A, MSD_B, energy per lag; τ_α, χ₄ height and time
    rows = curve_rows(cg, cr, floor, fl_s, judged, k_floor=k)
    eg, er = (e[:, 1:] - e[:, :1] for e in energy)  # change from each trajectory's own start snapshot
    cg["energy"], cr["energy"], floor["energy"] = eg.mean(0), er.mean(0), scale * split_rms(er, splits)
    e_tol = float(energy[1].std())  # MD's frame-to-frame spread of E/N, as for the all-origin drift row
    for i in np.nonzero(judged)[0]:
        d, tol = cg["energy"][i] - cr["energy"][i], max(k * floor["energy"][i], e_tol)
        rows.append(table_row(f"E_pot/N(t={cr['times'][i]:g}) - E_pot/N(0)", cg["energy"][i], cr["energy"][i], d,
                              floor["energy"][i], tol, bool(abs(d) <= tol)))
    tol = {"fs": np.maximum(TOL["fs"], k * floor["fs"]), "chi4": k * floor["chi4"],  # χ₄: judged by its peak only
           "energy": np.maximum(k * floor["energy"], e_tol)}
    tol.update({key: np.maximum(TOL["msd"], k * floor[key] / cr[key]) for key in ("msd", "msd_B")})
    return {"generated": cg, "reference": cr, "floor": floor, "band_factor": k, "tolerance": tol, "rows": rows}


def per_step(tg, tr, msd_b, grid, splits, scale) -> dict:
    """One-lag F_s,A, MSD_A, MSD_B from every origin on the grid (generated, MD), MD floors, bands and rows.

    ``tolerance`` per origin: absolute for F_s, relative for the MSDs (the band is MD ± it, MD·(1 ± it)).
    """
    one = {"fs": (tg["fs"][0], tr["fs"][0]), "msd": (tg["msd"][0], tr["msd"][0]), "msd_B": (msd_b[0][0], msd_b[1][0])}
    g = {k: v[0].mean(0) for k, v in one.items()}
    r = {k: v[1].mean(0) for k, v in one.items()}
    floor = {k: _origin_floor(scale * split_rms(v[1], splits)) for k, v in one.items()}
    origins, lag = np.asarray(grid[:-1], dtype=np.float64), float(grid[1] - grid[0])
    k = band_factor(3 * len(origins))
    tol = {"fs": np.maximum(TOL["fs"], k * floor["fs"])}
    tol.update({key: np.maximum(TOL["msd"], k * floor[key] / r[key]) for key in ("msd", "msd_B")})
    rows = []
    for key, name in (("fs", "F_s,A"), ("msd", "MSD_A"), ("msd_B", "MSD_B")):
        for i, t0 in enumerate(origins):
            label = f"{name}(t0={t0:g}, +{lag:g})"
            if key == "fs":
                d, fl = g[key][i] - r[key][i], floor[key][i]
            else:  # relative, like the all-origin MSD rows
                d, fl, label = g[key][i] / r[key][i] - 1, floor[key][i] / r[key][i], label + " rel."
            rows.append(table_row(label, g[key][i], r[key][i], d, fl, tol[key][i], bool(abs(d) <= tol[key][i])))
    return {"origins": origins, "lag": lag, "band_factor": k, "generated": g, "reference": r, "floor": floor,
            "tolerance": tol, "rows": rows}


def verdict_counts(res: dict) -> dict:
    """Per-table and overall pass/fail counts: the verdict needs every row of all three tables."""
    tables = {"all_origins": res["rows"], "from_start": res["from_start"]["rows"],
              "stationarity": res["stationarity"]["rows"]}
    res["tables"] = {k: {"passed": sum(r["pass"] is True for r in v), "failed": sum(r["pass"] is False for r in v)}
                     for k, v in tables.items()}
    res["passed"] = sum(v["passed"] for v in res["tables"].values())
    res["failed"] = sum(v["failed"] for v in res["tables"].values())
    return res
