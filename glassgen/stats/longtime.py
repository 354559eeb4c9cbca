"""Long-time check of chained trajectories against independent MD (``glassgen evaluate --long-time``).

Both sides are sets of trajectories of the same system (box, composition); frames on a common
time grid t_k (a rollout's multiples of its lag, which the MD frames must contain). Curves
are averaged over every time origin on that grid and over trajectories (stationary
dynamics), for species A at q = 7.25 and overlap cut a = 0.3 (plus the MSD of species B):

    F_s,A(t), MSD_A(t), MSD_B(t), χ₄,A(t) = N_A[⟨Q²⟩ − ⟨Q⟩²] (samples = trajectories × origins),
    τ_α (F_s,A = 1/e, log-interpolated), χ₄ peak (height and time, parabola in log t),
    potential energy per particle of every frame (true KA potential), and (informative) the mobility
    persistence of A over windows of ≥ MD's τ_α (:func:`~glassgen.stats.propensity.mobility_persistence`).

MD-vs-MD noise floor: the reference trajectories split into halves (all or 64 random splits),
rms of half-minus-half, scaled to generated-vs-reference sample sizes with
:func:`~glassgen.stats.uncertainty.floor_scale`. Tolerances (docs/rollout.md):

    F_s,A: |Δ| ≤ max(0.05, 2·floor) at every t ≥ t_min;  τ_α, MSD_A and MSD_B: ≤ 15 %;
    χ₄ peak height ≤ 30 %, peak time within a factor 1.5;
    energy: drift of the generated mean (last quarter − first quarter of the frames) within
    max(2·floor of that drift, the MD's frame-to-frame standard deviation of E/N).

Beside this all-origin table, :mod:`glassgen.stats.stationarity` builds the same curves from the start
snapshot only and the one-lag values per chain step; the verdict needs every row of all three tables.
"""
from __future__ import annotations

import numpy as np

from glassgen.core.errors import InputError
from glassgen.stats.dynamics import DEFAULT_Q, OVERLAP_A, chi4_from_overlap, fs_samples, msd_samples, overlap_samples, tau_alpha
from glassgen.stats.uncertainty import floor_scale, half_splits, rms
from glassgen.stats.longtime_report import write_report  # noqa: F401  (public here since before the split)

TOL = {"fs": 0.05, "tau_alpha": 0.15, "msd": 0.15, "chi4_height": 0.30, "chi4_time": 1.5}


def common_grid(trajs, rtol: float = 1e-6) -> np.ndarray:
    """Times present (within rtol) in every trajectory, from 0."""
    grid = np.asarray(trajs[0].times, dtype=np.float64)
    for t in trajs[1:]:
        grid = grid[[np.any(np.isclose(t.times, g, rtol=rtol, atol=1e-9)) for g in grid]]
    if len(grid) < 3:
        raise InputError(str(trajs[0].meta.get("source")), f"fewer than 3 frame times common to all trajectories ({grid.tolist()})")
    return grid


def _frames(traj, grid) -> np.ndarray:
    idx = [int(np.argmin(np.abs(traj.times - g))) for g in grid]
    return traj.positions[idx]


def sample_table(trajs, grid, species: int = 0, q: float = DEFAULT_Q, a: float = OVERLAP_A) -> dict:
    """Per-sample F_s, MSD, Q of every (trajectory, origin) at every lag on ``grid``.

    Requires a uniform grid (origins and lags are its multiples). Returns ``{"lags" (K,),
    "fs"/"msd"/"q": list over lags of (M, O_k) arrays, "n": particles of the species}``.
    """
    dt = np.diff(grid)
    if not np.allclose(dt, dt[0], rtol=1e-6):
        raise InputError(str(trajs[0].meta.get("source")), "long-time check needs equally spaced common frames "
                         f"(common times start {np.round(grid[:6], 4).tolist()}); give t_min (--t-min) to use its multiples")
    mask = trajs[0].species == species
    x = np.stack([_frames(t, grid)[:, mask] for t in trajs])  # (M, F, N_sel, D)
    out = {"lags": grid[1:] - grid[0], "fs": [], "msd": [], "q": [], "n": int(mask.sum())}
    for k in range(1, len(grid)):
        dr = x[:, k:] - x[:, :-k]  # every origin
        out["fs"].append(fs_samples(dr, q))
        out["msd"].append(msd_samples(dr))
        out["q"].append(overlap_samples(dr, a))
    return out


def curves(table, weights=None) -> dict:
    """Mean curves from a sample table, optionally over a weighted subset of trajectories (M,)."""
    m = table["fs"][0].shape[0]
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
    fs, msd = mean_curve(table["fs"], w), mean_curve(table["msd"], w)
    chi4 = np.array([chi4_from_overlap(v.reshape(-1), table["n"], weights=np.repeat(w, v.shape[1]))
                     for v in table["q"]])
    t = table["lags"]
    h, tp = chi4_peak(t, chi4)
    return {"times": t, "fs": fs, "msd": msd, "chi4": chi4, "tau_alpha": tau_alpha(t, fs), "chi4_peak": h,
            "chi4_peak_time": tp}


def mean_curve(samples, w) -> np.ndarray:
    """Weighted mean over trajectories (M,) and origins of each lag's (M, O_k) samples."""
    return np.array([float((w[:, None] * v).sum() / (w.sum() * v.shape[1])) for v in samples])


def chi4_peak(t, chi4) -> tuple[float, float]:
    """Height and time of the χ₄ maximum: parabola through the top three points in log t."""
    t, c = np.asarray(t, dtype=np.float64), np.asarray(chi4, dtype=np.float64)
    k = int(np.nanargmax(c))
    if k == 0 or k == len(c) - 1:
        return float(c[k]), float(t[k])
    x, y = np.log(t[k - 1:k + 2]), c[k - 1:k + 2]
    a, b, c0 = np.polyfit(x, y, 2)
    if a >= 0:
        return float(c[k]), float(t[k])
    xm = -b / (2 * a)
    return float(c0 - b * b / (4 * a)), float(np.exp(xm))


def energies(trajs, grid) -> np.ndarray:
    """(M, F) KA potential energy per particle of every frame on the grid."""
    from glassgen.system.ka import mean_energy

    return np.array([[mean_energy(x, t.species, t.box) for x in _frames(t, grid)] for t in trajs])


def _drift(e) -> float:
    q = max(1, e.shape[1] // 4)
    return float(e[:, -q:].mean() - e[:, :q].mean())


def _scalars(c) -> dict:
    return {"tau_alpha": c["tau_alpha"], "chi4_peak": c["chi4_peak"], "chi4_peak_time": c["chi4_peak_time"]}


def evaluate_long_time(generated, reference, outdir, t_min: float | None = None, seed: int = 0,
                       q: float = DEFAULT_Q) -> dict:
    """Read two trajectory sets (an H5MD file or a folder of them each), compare, write the report."""
    from glassgen.io.h5md import read_trajectory

    gen = [read_trajectory(p) for p in trajectory_files(generated, "generated", 1)]
    ref = [read_trajectory(p) for p in trajectory_files(reference, "MD", 2)]
    res = compare(gen, ref, t_min=t_min, seed=seed, q=q)
    write_report(res, outdir)
    return res


def trajectory_files(path, role: str, least: int) -> list:
    """The file ``path``, or a folder's ``*.h5``/``*.h5md`` trajectories, its ensembles left out (a
    ``glassgen simulate`` folder holds both); at least ``least`` of them, else one line of what is needed."""
    from pathlib import Path

    from glassgen.io.h5md import file_kind

    path = Path(path)
    found = sorted(p for p in path.iterdir() if p.suffix in (".h5", ".h5md") and p.is_file()) if path.is_dir() else [path]
    kinds = [file_kind(p) for p in found]
    files, n_ens = [p for p, k in zip(found, kinds) if k == "trajectory"], kinds.count("ensemble")
    if not path.is_dir() and n_ens:
        raise InputError(str(path), "--long-time compares trajectories; this is an ensemble")
    if len(files) < least:
        need = f"at least {least} MD trajectories (its noise floor is MD half against half)" if role == "MD" else f"a {role} trajectory"
        seen = f"found {len(files)} here" + (f" ({', '.join(p.name for p in files)})" if files else "") \
            + (f" besides {n_ens} ensemble file(s), which it does not use" if n_ens else "")
        hint = "a folder of them, e.g. `glassgen simulate` with trajectories.count >= 2" if role == "MD" else "a file or folder of them"
        raise InputError(str(path), f"--long-time needs {need}; {seen} (give {hint})")
    return files


def compare(gen, ref, t_min: float | None = None, n_splits: int = 64, seed: int = 0, q: float = DEFAULT_Q) -> dict:
    """Compare generated and MD trajectory sets; returns curves, floors, rows with verdicts.

    ``rows`` is the all-origin table; ``from_start`` and ``stationarity`` hold the other two
    (:mod:`glassgen.stats.stationarity`); ``tables`` counts passes and failures per table, and
    ``passed``/``failed`` count over all three (the verdict is PASS when ``failed`` is 0).

    Args:
        gen, ref: lists of :class:`~glassgen.system.data.Trajectory` (same box and composition).
        t_min: grid spacing and smallest lag judged: only common frames at multiples of it are used
            (default: all common frames, which must be equally spaced, e.g. a rollout's lag).
    """
    for t in gen + ref:
        if not np.allclose(t.box, ref[0].box, rtol=1e-9) or not np.array_equal(np.bincount(t.species), np.bincount(ref[0].species)):
            raise InputError(str(t.meta.get("source")), "box or composition differs from the first MD trajectory")
    if len(ref) < 2:
        raise InputError(str(ref[0].meta.get("source")), "need at least 2 MD trajectories for the noise floor of MD half against half")
    grid = common_grid(gen + ref)
    if t_min is not None:  # judge on multiples of t_min only (e.g. MD block starts, skipping in-block log frames)
        k = grid / float(t_min)
        grid = grid[np.abs(k - np.round(k)) < 1e-6 * np.maximum(1.0, k)]
        if len(grid) < 3:
            raise InputError(str(ref[0].meta.get("source")), f"fewer than 3 common frames are multiples of t_min = {t_min}")
    tg, tr = sample_table(gen, grid, q=q), sample_table(ref, grid, q=q)
    # the minority species' mobility is judged too: a chain can get A right while B runs away
    bg, br = (sample_table(s, grid, species=1, q=q)["msd"] for s in (gen, ref))
    cg, cr = curves_ab(tg, bg), curves_ab(tr, br)
    splits = half_splits(len(ref), n_splits, seed)
    scale = floor_scale(len(gen), len(ref))
    floor, fl_s = curve_floors(tr, br, splits, scale)
    eg, er = energies(gen, grid), energies(ref, grid)
    t_min = float(grid[1] - grid[0]) if t_min is None else float(t_min)
    judged = cr["times"] >= t_min - 1e-9
    rows = curve_rows(cg, cr, floor, fl_s, judged)
    rows.extend(_persistence_rows(gen, ref, grid, cr["tau_alpha"], splits, scale))
    rows.extend(_energy_rows(eg, er, splits, scale))
    res = {"grid": grid, "t_min": t_min, "generated": cg, "reference": cr, "floor": floor, "energy_generated": eg,
           "energy_reference": er, "rows": rows, "n_generated": len(gen), "n_reference": len(ref)}
    from glassgen.stats.stationarity import from_start, per_step, verdict_counts

    res["from_start"] = from_start(tg, tr, (bg, br), (eg, er), splits, scale, judged)
    res["stationarity"] = per_step(tg, tr, (bg, br), grid, splits, scale)
    return verdict_counts(res)


def curves_ab(table, msd_b, weights=None) -> dict:
    """:func:`curves` of species A plus the mean MSD of species B from its (M, O_k) samples per lag."""
    c = curves(table, weights)
    c["msd_B"] = mean_curve(msd_b, np.ones(len(msd_b[0])) if weights is None else weights)
    return c


def curve_floors(table, msd_b, splits, scale) -> tuple[dict, dict]:
    """MD-vs-MD floors from half splits of the MD trajectories: per lag (F_s, MSD, χ₄, MSD_B) and of the scalars."""
    halves = [(curves_ab(table, msd_b, wa), curves_ab(table, msd_b, wb)) for wa, wb in splits]
    floor = {k: scale * np.array([rms([ha[k][i] - hb[k][i] for ha, hb in halves]) for i in range(len(table["lags"]))])
             for k in ("fs", "msd", "chi4", "msd_B")}
    fl_s = {k: scale * rms([ha[k] - hb[k] for ha, hb in halves]) for k in ("tau_alpha", "chi4_peak")}
    fl_s["chi4_peak_time"] = scale * rms([np.log(ha["chi4_peak_time"] / hb["chi4_peak_time"]) for ha, hb in halves])
    return floor, fl_s


def curve_rows(cg, cr, floor, fl_s, judged, k_floor: float | None = None) -> list:
    """F_s,A, MSD_A, MSD_B rows at the judged lags, then τ_α and the χ₄ peak.

    ``k_floor``: every tolerance becomes at least k_floor × its floor (tables with few samples per lag);
    None keeps the all-origin rules (F_s,A: 2 floors; the others fixed).
    """
    w = (lambda tol, fl: tol) if k_floor is None else (lambda tol, fl: max(tol, k_floor * fl))
    rows = []
    for i in np.nonzero(judged)[0]:
        d, tol = cg["fs"][i] - cr["fs"][i], max(TOL["fs"], (k_floor or 2) * floor["fs"][i])
        rows.append(table_row(f"F_s,A(t={cr['times'][i]:g})", cg["fs"][i], cr["fs"][i], d, floor["fs"][i], tol, abs(d) <= tol))
    for key, name in (("msd", "MSD_A"), ("msd_B", "MSD_B")):
        for i in np.nonzero(judged)[0]:
            rel, fl = cg[key][i] / cr[key][i] - 1, floor[key][i] / cr[key][i]
            tol = w(TOL["msd"], fl)
            rows.append(table_row(f"{name}(t={cr['times'][i]:g}) rel.", cg[key][i], cr[key][i], rel, fl, tol, abs(rel) <= tol))
    for key, name, tkey in (("tau_alpha", "tau_alpha rel.", "tau_alpha"), ("chi4_peak", "chi4 peak height rel.", "chi4_height")):
        rel, fl = cg[key] / cr[key] - 1, fl_s[key] / cr[key]
        tol = w(TOL[tkey], fl)
        rows.append(table_row(name, cg[key], cr[key], rel, fl, tol, bool(abs(rel) <= tol)))
    ratio, fl = cg["chi4_peak_time"] / cr["chi4_peak_time"], float(np.exp(fl_s["chi4_peak_time"]))
    tol = TOL["chi4_time"] if k_floor is None else max(TOL["chi4_time"], fl ** k_floor)  # a factor: floors in log
    rows.append(table_row("chi4 peak time ratio", cg["chi4_peak_time"], cr["chi4_peak_time"], ratio, fl, tol,
                          bool(1 / tol <= ratio <= tol)))
    return rows


def _energy_rows(eg, er, splits, scale) -> list:
    """Drift of the generated mean E/N (last quarter − first quarter), and the mean level (informative)."""
    e_drift_floor = scale * rms([_drift(er[wa > 0]) - _drift(er[wb > 0]) for wa, wb in splits])
    e_tol = max(2 * e_drift_floor, float(er.std()))
    dg = _drift(eg)
    return [table_row("E_pot/N drift (last - first quarter)", dg, _drift(er), dg, e_drift_floor, e_tol, abs(dg) <= e_tol),
            table_row("E_pot/N mean (informative)", float(eg.mean()), float(er.mean()), float(eg.mean() - er.mean()),
                      scale * rms([er[wa > 0].mean() - er[wb > 0].mean() for wa, wb in splits]), float("nan"), None)]


def _persistence_rows(gen, ref, grid, tau, splits, scale) -> list:
    """Informative row: A's mobility persistence over windows of the first grid multiple ≥ MD's τ_α."""
    from glassgen.stats.propensity import mobility_persistence

    dt = float(grid[1] - grid[0])
    w = max(1, int(np.ceil(tau / dt - 1e-9))) if np.isfinite(tau) else 0
    if w == 0 or len(grid) <= 2 * w:
        return []
    per = [np.array([mobility_persistence(_frames(t, grid)[:, t.species == 0], w) for t in s]) for s in (gen, ref)]
    floor = scale * rms([per[1][wa > 0].mean() - per[1][wb > 0].mean() for wa, wb in splits])
    g, r = per[0].mean(), per[1].mean()
    return [table_row(f"mobility persistence A, window {w * dt:g} (informative)", g, r, g - r, floor, float("nan"), None)]


def table_row(name, g, r, diff, floor, tol, ok):
    return {"statistic": name, "generated": float(g), "md": float(r), "difference": float(diff), "floor": float(floor),
            "tolerance": float(tol), "pass": None if ok is None else bool(ok)}
