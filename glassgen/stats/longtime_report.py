"""Report of the long-time check (``glassgen evaluate --long-time``): the three tables, JSON and figures.

:func:`~glassgen.stats.longtime.compare` builds the result; this writes ``longtime.md`` (all-origin,
from-start and per-step tables, the verdict), ``longtime.json`` and two PNGs.
"""
from __future__ import annotations

import numpy as np


def write_report(result: dict, outdir, labels=("generated", "MD")) -> list:
    """``longtime.md`` (the three tables and the verdict), ``longtime.json`` and PNGs in ``outdir``; returns the file names."""
    import json
    from pathlib import Path

    from glassgen.core.atomic import atomic_path

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    st, counts = result["stationarity"], result["tables"]
    sections = (("all_origins", "All time origins (every origin on the grid and every trajectory: stationary dynamics)",
                 result["rows"]),
                ("from_start", "From the start snapshot (origin t = 0 only, over trajectories; tolerances at least "
                 f"{result['from_start']['band_factor']:.2f} x floor)", result["from_start"]["rows"]),
                ("stationarity", f"Per chain step (one lag {st['lag']:g} from every origin t0, over trajectories; "
                 f"band max(tolerance, {st['band_factor']:.2f} x floor))", st["rows"]))
    lines = [f"generated: {result['n_generated']} trajectories; MD: {result['n_reference']} trajectories; "
             f"judged lags t >= {result['t_min']:g}; floor = MD half-vs-half rms scaled to these sizes"]
    for key, title, rows in sections:
        lines += ["", f"### {title}", "", "| statistic | generated | MD | difference | MD floor | tolerance | verdict |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            verdict = "n/a" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL")
            lines.append(f"| {r['statistic']} | {r['generated']:.4g} | {r['md']:.4g} | {r['difference']:+.3g} | "
                         f"{r['floor']:.2g} | {r['tolerance']:.3g} | {verdict} |")
    per_table = "; ".join(f"{key.replace('_', ' ')} {counts[key]['passed']} pass, {counts[key]['failed']} fail"
                          for key, _, _ in sections)
    lines += ["", f"verdict: {'PASS' if result['failed'] == 0 else 'FAIL'} ({result['passed']} pass, "
              f"{result['failed']} fail; {per_table})"]
    with atomic_path(outdir / "longtime.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    data = {k: v for k, v in result.items() if k not in ("energy_generated", "energy_reference")}
    with atomic_path(outdir / "longtime.json") as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=_jsonable))
    return ["longtime.md", "longtime.json", plot_all_origins(result, outdir, labels), plot_steps(result, outdir, labels)]


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return [None if not np.isfinite(x) else float(x) for x in v.ravel()]
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    raise TypeError(type(v))


def plot_all_origins(result, outdir, labels) -> str:
    """``longtime.png``: all-origin F_s,A, MSD_A/MSD_B, χ₄,A with MD ± 2 floor, and E/N against time."""
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


def plot_steps(result, outdir, labels) -> str:
    """``longtime_stationarity.png``: curves from the start snapshot (top row, energy bottom left) and the
    one-lag values per chain step against the origin t0 (bottom), each with MD's verdict band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from glassgen.core.atomic import atomic_path

    s, p = result["from_start"], result["stationarity"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    panels = ((axes[0, 0], s, ("fs",), "F_s,A(q=7.25, t) from t = 0"),
              (axes[0, 1], s, ("msd", "msd_B"), "MSD_A, MSD_B (triangles) from t = 0 [σ²]"),
              (axes[0, 2], s, ("chi4",), "χ₄,A(t) from t = 0 (a = 0.3)"),
              (axes[1, 0], s, ("energy",), "E_pot/N(t) − E_pot/N(0) [ε_AA]"),
              (axes[1, 1], p, ("fs",), f"F_s,A over one lag ({p['lag']:g}) from t0"),
              (axes[1, 2], p, ("msd", "msd_B"), "MSD_A, MSD_B (triangles) over one lag from t0 [σ²]"))
    for ax, sec, keys, ylabel in panels:
        x = sec["reference"]["times"] if sec is s else sec["origins"]
        for key in keys:
            r, tol = sec["reference"][key], sec["tolerance"][key]
            lo, hi = (r * (1 - tol), r * (1 + tol)) if key.startswith("msd") else (r - tol, r + tol)
            _band(ax, x, r, lo, hi, sec["generated"][key], labels, key != "msd_B")
        ax.set(xscale="log" if sec is s else "linear", xlabel="t [LJ time]" if sec is s else "origin t0 [LJ time]",
               ylabel=ylabel)
        ax.set_yscale("log" if "msd" in keys else "linear")
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].axhline(np.exp(-1), color="0.5", lw=0.8, ls=":")
    axes[0, 0].legend(fontsize=8, title=f"band: tolerance, at least {s['band_factor']:.2f} floors", title_fontsize=8)
    axes[1, 1].legend(fontsize=8, title=f"band: tolerance, at least {p['band_factor']:.2f} floors", title_fontsize=8)
    fig.tight_layout()
    path = outdir / "longtime_stationarity.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path.name


def _band(ax, x, r, lo, hi, g, labels, species_a: bool):
    """MD's band (grey) and curve (black, open) with the generated curve on one axis; B as triangles."""
    ax.fill_between(x, lo, hi, color="0.85" if species_a else "0.92", label=f"{labels[1]} band" if species_a else None)
    ax.plot(x, r, marker="s" if species_a else "^", ls="--", color="k" if species_a else "0.4", mfc="none", ms=4,
            label=labels[1] if species_a else None)
    ax.plot(x, g, marker="o" if species_a else "^", ls="-", color="tab:blue" if species_a else "tab:orange", ms=4,
            label=labels[0] if species_a else None)
