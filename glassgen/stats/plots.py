"""PNG figures of ``glassgen evaluate``: generated and MD on the same axes, LJ units on every axis."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from glassgen.core.atomic import atomic_path
from glassgen.stats.compare import rdf_curve
from glassgen.stats.dynamics import radial_density
from glassgen.stats.propensity import mobility_from_sums

COLOURS = {"A": "tab:blue", "B": "tab:red"}
GEN = dict(ls="-", marker="o", ms=4)
MD = dict(ls="--", marker="s", ms=4, mfc="none")


def _save(fig, path: Path) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def _curve_plot(outdir, report, key, ylabel, name, logy=False, hline=None):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for side, style, label in (("generated", GEN, "generated"), ("reference", MD, "MD")):
        for sp, c in report["curves"][side].items():
            t = np.array(c["times"], dtype=float)
            y = np.array([np.nan if v is None else v for v in c[key]], dtype=float)
            ax.plot(t, y, color=COLOURS.get(sp, "k"), label=f"{label} {sp}", **style)
    if hline is not None:
        ax.axhline(hline[0], color="0.5", lw=0.8, ls=":", label=hline[1])
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("lag time t [LJ τ]")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return _save(fig, Path(outdir) / name)


def make_plots(outdir, fg: list, fr: list, Pg: dict, Pr: dict, report: dict) -> list:
    """Write msd, fs, alpha2, chi4, van_hove, propensity, rdf and mobility PNGs → file names."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty r bins (no pairs below contact) plot as gaps
        return _make_plots(outdir, fg, fr, Pg, Pr, report)


def _make_plots(outdir, fg, fr, Pg, Pr, report) -> list:
    import matplotlib

    matplotlib.use("Agg")
    out = [
        _curve_plot(outdir, report, "msd", "MSD ⟨|Δr|²⟩ [σ²]", "msd.png", logy=True),
        _curve_plot(outdir, report, "fs", f"F_s(q = {report['options']['q']:g} σ⁻¹, t)", "fs.png", hline=(np.exp(-1), "1/e")),
        _curve_plot(outdir, report, "alpha2", "non-Gaussian α₂(t)", "alpha2.png"),
        _curve_plot(outdir, report, "chi4", f"χ₄(t) (overlap a = {report['options']['a']:g} σ)", "chi4.png"),
    ]
    e = len(report["eval_times"]) - 1  # the per-particle figures are at the last compared lag
    out.append(_van_hove_plot(outdir, fg, fr, e, report["eval_times"][e]))
    if fr[0]["kind"] == "ensemble":
        out.append(_propensity_plot(outdir, fg, fr, e, report))
    out.append(_rdf_plot(outdir, fr, Pg, Pr, report))
    out.append(_mobility_plot(outdir, fg, fr, e, report["eval_times"][e]))
    return out


def _van_hove_plot(outdir, fg, fr, e, t) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for sp in fr[0]["lags"][e]["u"]:
        ug = np.concatenate([f["lags"][e]["u"][sp].ravel() for f in fg])
        ur = np.concatenate([f["lags"][e]["u"][sp].ravel() for f in fr])
        rmax = max(ug.max(), ur.max()) * 1.0001
        for u, style, label in ((ug, GEN, "generated"), (ur, MD, "MD")):
            r, _, p = radial_density(u, fg[0]["dim"], 80, rmax)
            ax.plot(r, np.where(p > 0, p, np.nan), color=COLOURS.get(sp, "k"), label=f"{label} {sp}", **dict(style, ms=3))
    ax.set_yscale("log")
    ax.set_xlabel("|Δr| [σ]")
    ax.set_ylabel(f"4πr² G_s(r, t = {t:g} τ) [σ⁻¹]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return _save(fig, Path(outdir) / "van_hove.png")


def _propensity_plot(outdir, fg, fr, e, report) -> str:
    import matplotlib.pyplot as plt

    t = report["eval_times"][e]
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    pg = np.concatenate([f["lags"][e]["u"]["A"].mean(0) for f in fg])
    pr = np.concatenate([f["lags"][e]["u"]["A"].mean(0) for f in fr])
    ax.scatter(pr, pg, s=2, alpha=0.3, color=COLOURS["A"], rasterized=True, label="A particles")
    lim = [0, max(pg.max(), pr.max()) * 1.05]
    ax.plot(lim, lim, color="k", lw=0.8, label="y = x")
    rho = [r["generated"] for r in report["statistics"] if r["statistic"] == "pearson" and r["species"] == "A" and r["time"] == t]
    ax.set_title(f"propensity at t = {t:g} τ" + (f", Pearson {rho[0]:.3f} (mean over configs)" if rho and rho[0] is not None else ""), fontsize=9)
    ax.set_xlabel("MD propensity ⟨|Δr_i|⟩ [σ]")
    ax.set_ylabel("generated propensity ⟨|Δr_i|⟩ [σ]")
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.legend(fontsize=8)
    return _save(fig, Path(outdir) / "propensity.png")


def _rdf_plot(outdir, fr, Pg, Pr, report) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for k, (name, col) in enumerate((("AA", "tab:blue"), ("AB", "tab:purple"), ("BB", "tab:red"))):
        for P, style, label in ((Pg, dict(ls="-"), "generated"), (Pr, dict(ls="--"), "MD")):
            r, g = rdf_curve(P, fr[0], k)
            ax.plot(r, g, color=col, label=f"{label} g_{name}", **style)
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlim(0.5, r[-1])
    ax.set_xlabel("r [σ]")
    ax.set_ylabel("g(r)")
    ax.set_title("structure" + (f" at t = {max(report['eval_times']):g} τ" if fr[0]["kind"] == "ensemble" else ""), fontsize=9)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return _save(fig, Path(outdir) / "rdf.png")


def _mobility_plot(outdir, fg, fr, e, t) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for fs_, style, label in ((fg, GEN, "generated"), (fr, MD, "MD")):
        curves = [mobility_from_sums(f["lags"][e]["mob"]) for f in fs_]
        r = curves[0][0]
        for j, (name, col) in enumerate((("C_u (|Δr|)", "tab:green"), ("C_v (Δr·Δr)", "tab:orange"))):
            ax.plot(r, np.nanmean([c[1 + j] for c in curves], axis=0), color=col, label=f"{label} {name}", **dict(style, ms=3))
    ax.axhline(0.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("initial pair distance r_ij(0) [σ] (A–A pairs)")
    ax.set_ylabel(f"mobility correlation at t = {t:g} τ")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, Path(outdir) / "mobility.png")
