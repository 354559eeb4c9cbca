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
"""
from __future__ import annotations

import numpy as np

from glassgen.core.errors import InputError
from glassgen.stats.dynamics import DEFAULT_Q, OVERLAP_A, chi4_from_overlap, fs_samples, msd_samples, overlap_samples, tau_alpha
from glassgen.stats.uncertainty import floor_scale, half_splits, rms

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
    fs, msd = _mean_curve(table["fs"], w), _mean_curve(table["msd"], w)
    chi4 = np.array([chi4_from_overlap(v.reshape(-1), table["n"], weights=np.repeat(w, v.shape[1]))
                     for v in table["q"]])
    t = table["lags"]
    h, tp = chi4_peak(t, chi4)
    return {"times": t, "fs": fs, "msd": msd, "chi4": chi4, "tau_alpha": tau_alpha(t, fs), "chi4_peak": h,
            "chi4_peak_time": tp}


def _mean_curve(samples, w) -> np.ndarray:
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
    cg, cr = curves(tg), curves(tr)
    # the minority species' mobility is judged too: a chain can get A right while B runs away
    msd_gb, msd_rb = (sample_table(s, grid, species=1, q=q)["msd"] for s in (gen, ref))
    cg["msd_B"], cr["msd_B"] = _mean_curve(msd_gb, np.ones(len(gen))), _mean_curve(msd_rb, np.ones(len(ref)))
    splits = half_splits(len(ref), n_splits, seed)
    halves = [(curves(tr, wa), curves(tr, wb)) for wa, wb in splits]
    for (ha, hb), (wa, wb) in zip(halves, splits):
        ha["msd_B"], hb["msd_B"] = _mean_curve(msd_rb, wa), _mean_curve(msd_rb, wb)
    scale = floor_scale(len(gen), len(ref))
    floor = {k: scale * np.array([rms([ha[k][i] - hb[k][i] for ha, hb in halves]) for i in range(len(grid) - 1)])
             for k in ("fs", "msd", "chi4", "msd_B")}
    fl_s = {k: scale * rms([ha[k] - hb[k] for ha, hb in halves]) for k in ("tau_alpha", "chi4_peak")}
    fl_s["chi4_peak_time"] = scale * rms([np.log(ha["chi4_peak_time"] / hb["chi4_peak_time"]) for ha, hb in halves])
    eg, er = energies(gen, grid), energies(ref, grid)
    e_drift_floor = scale * rms([_drift(er[wa > 0]) - _drift(er[wb > 0]) for wa, wb in splits])
    t_min = float(grid[1] - grid[0]) if t_min is None else float(t_min)
    judged = cr["times"] >= t_min - 1e-9
    rows = []
    for i in np.nonzero(judged)[0]:
        t = cr["times"][i]
        d = cg["fs"][i] - cr["fs"][i]
        tol = max(TOL["fs"], 2 * floor["fs"][i])
        rows.append(_row(f"F_s,A(t={t:g})", cg["fs"][i], cr["fs"][i], d, floor["fs"][i], tol, abs(d) <= tol))
    for i in np.nonzero(judged)[0]:
        t = cr["times"][i]
        rel = cg["msd"][i] / cr["msd"][i] - 1
        rows.append(_row(f"MSD_A(t={t:g}) rel.", cg["msd"][i], cr["msd"][i], rel, floor["msd"][i] / cr["msd"][i],
                         TOL["msd"], abs(rel) <= TOL["msd"]))
    for i in np.nonzero(judged)[0]:
        t = cr["times"][i]
        rel = cg["msd_B"][i] / cr["msd_B"][i] - 1
        rows.append(_row(f"MSD_B(t={t:g}) rel.", cg["msd_B"][i], cr["msd_B"][i], rel,
                         floor["msd_B"][i] / cr["msd_B"][i], TOL["msd"], abs(rel) <= TOL["msd"]))
    rel = cg["tau_alpha"] / cr["tau_alpha"] - 1
    rows.append(_row("tau_alpha rel.", cg["tau_alpha"], cr["tau_alpha"], rel, fl_s["tau_alpha"] / cr["tau_alpha"],
                     TOL["tau_alpha"], bool(abs(rel) <= TOL["tau_alpha"])))
    rel = cg["chi4_peak"] / cr["chi4_peak"] - 1
    rows.append(_row("chi4 peak height rel.", cg["chi4_peak"], cr["chi4_peak"], rel, fl_s["chi4_peak"] / cr["chi4_peak"],
                     TOL["chi4_height"], bool(abs(rel) <= TOL["chi4_height"])))
    ratio = cg["chi4_peak_time"] / cr["chi4_peak_time"]
    rows.append(_row("chi4 peak time ratio", cg["chi4_peak_time"], cr["chi4_peak_time"], ratio,
                     float(np.exp(fl_s["chi4_peak_time"])), TOL["chi4_time"],
                     bool(1 / TOL["chi4_time"] <= ratio <= TOL["chi4_time"])))
    rows.extend(_persistence_rows(gen, ref, grid, cr["tau_alpha"], splits, scale))
    e_tol = max(2 * e_drift_floor, float(er.std()))
    dg = _drift(eg)
    rows.append(_row("E_pot/N drift (last - first quarter)", dg, _drift(er), dg, e_drift_floor, e_tol, abs(dg) <= e_tol))
    rows.append(_row("E_pot/N mean (informative)", float(eg.mean()), float(er.mean()), float(eg.mean() - er.mean()),
                     scale * rms([er[wa > 0].mean() - er[wb > 0].mean() for wa, wb in splits]), float("nan"), None))
    return {"grid": grid, "t_min": t_min, "generated": cg, "reference": cr, "floor": floor, "energy_generated": eg,
            "energy_reference": er, "rows": rows, "n_generated": len(gen), "n_reference": len(ref),
            "passed": sum(r["pass"] is True for r in rows), "failed": sum(r["pass"] is False for r in rows)}


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
    return [_row(f"mobility persistence A, window {w * dt:g} (informative)", g, r, g - r, floor, float("nan"), None)]


def _row(name, g, r, diff, floor, tol, ok):
    return {"statistic": name, "generated": float(g), "md": float(r), "difference": float(diff), "floor": float(floor),
            "tolerance": float(tol), "pass": None if ok is None else bool(ok)}


def write_report(result: dict, outdir, labels=("generated", "MD")) -> list:
    """``longtime.json``, ``longtime.md`` (the table) and PNG figures in ``outdir``; returns the file names."""
    import json
    from pathlib import Path

    from glassgen.core.atomic import atomic_path

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    lines = [f"generated: {result['n_generated']} trajectories; MD: {result['n_reference']} trajectories; "
             f"judged lags t >= {result['t_min']:g}; floor = MD half-vs-half rms scaled to these sizes",
             "", "| statistic | generated | MD | difference | MD floor | tolerance | verdict |", "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        verdict = "n/a" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL")
        lines.append(f"| {r['statistic']} | {r['generated']:.4g} | {r['md']:.4g} | {r['difference']:+.3g} | "
                     f"{r['floor']:.2g} | {r['tolerance']:.3g} | {verdict} |")
    lines += ["", f"verdict: {'PASS' if result['failed'] == 0 else 'FAIL'} ({result['passed']} pass, {result['failed']} fail)"]
    with atomic_path(outdir / "longtime.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    data = {k: v for k, v in result.items() if k not in ("energy_generated", "energy_reference")}
    with atomic_path(outdir / "longtime.json") as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=_jsonable))
    return ["longtime.md", "longtime.json", _plot(result, outdir, labels)]


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return [None if not np.isfinite(x) else float(x) for x in v.ravel()]
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    raise TypeError(type(v))


def _plot(result, outdir, labels) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from glassgen.core.atomic import atomic_path

    g, r, fl = result["generated"], result["reference"], result["floor"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for ax, key, label in ((axes[0, 0], "fs", "F_s,A(q=7.25, t)"), (axes[0, 1], "msd", "MSD_A(t) [σ²]"),
                           (axes[1, 0], "chi4", "χ₄,A(t) (a = 0.3)")):
        ax.fill_between(r["times"], r[key] - 2 * fl[key], r[key] + 2 * fl[key], color="0.8", label=f"{labels[1]} ± 2 floor")
        ax.plot(r["times"], r[key], "s--", color="k", mfc="none", ms=4, label=f"{labels[1]} ({result['n_reference']} traj.)")
        ax.plot(g["times"], g[key], "o-", color="tab:blue", ms=4, label=f"{labels[0]} ({result['n_generated']} traj.)")
        ax.set_xscale("log")
        ax.set_xlabel("t [LJ time]")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].axhline(np.exp(-1), color="0.5", lw=0.8, ls=":")
    if "msd_B" in g:  # species B on the same axes, open markers
        ax = axes[0, 1]
        ax.fill_between(r["times"], r["msd_B"] - 2 * fl["msd_B"], r["msd_B"] + 2 * fl["msd_B"], color="0.9")
        ax.plot(r["times"], r["msd_B"], "^--", color="0.4", mfc="none", ms=4, label=f"{labels[1]}, B")
        ax.plot(g["times"], g["msd_B"], "^-", color="tab:orange", ms=4, label=f"{labels[0]}, B")
        ax.set_ylabel("MSD_A(t), MSD_B(t) (triangles) [σ²]")
        ax.legend(fontsize=8)
    axes[0, 1].set_yscale("log")
    axes[0, 0].legend(fontsize=8)
    ax = axes[1, 1]
    for e, style, label in ((result["energy_reference"], dict(color="k", ls="--"), labels[1]),
                            (result["energy_generated"], dict(color="tab:blue", ls="-"), labels[0])):
        ax.plot(result["grid"], e.mean(0), label=f"{label} mean", **style)
        ax.fill_between(result["grid"], e.min(0), e.max(0), alpha=0.2, color=style["color"])
    if np.nanmax(result["energy_generated"]) - np.nanmax(result["energy_reference"]) > 100:
        ax.set_yscale("symlog", linthresh=10.0)  # exploding energies would flatten the MD curve to a line
    ax.set_xlabel("t [LJ time]")
    ax.set_ylabel("E_pot/N [ε_AA] (band: min..max over trajectories)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = outdir / "longtime.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path.name
