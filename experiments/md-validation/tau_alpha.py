"""τ_α(T) of the Kob–Andersen mixture from glassgen's own `simulate` runs and `glassgen.stats`.

Reads one folder per temperature (each made by ``glassgen simulate RECIPE -o FOLDER``),
computes the self-intermediate scattering function of the A particles at q = 7.25,
time-origin averaged over each NVE trajectory (and, where a folder holds ensembles,
averaged over their runs as a cross-check), takes τ_α as the 1/e crossing
(``glassgen.stats.tau_alpha``), plots the curves to a PNG and prints a Markdown table.

    python experiments/md-validation/tau_alpha.py /work/runs/ka-N1000-T1.0 /work/runs/ka-N1000-T0.8 \
        /work/runs/demo /work/runs/ka-N1000-T0.55 -o experiments/md-validation/figures/fs_tau_alpha.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import glassgen  # noqa: E402
from glassgen.core.atomic import atomic_path  # noqa: E402
from glassgen.stats.dynamics import self_intermediate_scattering, tau_alpha  # noqa: E402

Q = 7.25


def analyse(folder: Path) -> dict:
    traj = glassgen.read(folder / "traj_000.h5")
    # Every distinct lag of the block-log frame schedule, up to 512 origins each.
    t, fs = self_intermediate_scattering(traj, q=Q, species=0, n_lags=400, max_origins=512)
    row = {"folder": folder.name, "T": traj.meta["T"], "N": traj.meta["N"], "t": t, "fs": fs,
           "tau": tau_alpha(t, fs), "length": float(traj.times[-1]), "ensemble": traj.meta["ensemble"],
           "eq_time": traj.meta.get("equilibration_equilibration_time"),
           "drifting": traj.meta.get("equilibration_drifting")}
    ens_files = sorted(folder.glob("ens_*.h5"))
    if ens_files:
        curves = [self_intermediate_scattering(glassgen.read(p), q=Q, species=0) for p in ens_files]
        te = curves[0][0]
        fe = np.mean([c[1] for c in curves], axis=0)
        row.update(t_ens=te, fs_ens=fe, tau_ens=tau_alpha(te, fe), n_ens=len(ens_files))
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("-o", "--out", type=Path, default=Path("experiments/md-validation/figures/fs_tau_alpha.png"))
    a = p.parse_args()
    rows = sorted((analyse(f) for f in a.folders), key=lambda r: -r["T"])
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(rows)))
    for r, c in zip(rows, colors):
        ax.semilogx(r["t"], r["fs"], "-", color=c, label=f"T = {r['T']:g}: τ_α = {r['tau']:.3g}")
        if "fs_ens" in r:
            ax.semilogx(r["t_ens"], r["fs_ens"], "o", ms=3, mfc="none", color=c)
        ax.plot([r["tau"]], [np.exp(-1)], "x", color=c, ms=8)
    ax.axhline(np.exp(-1), color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="t (LJ time)", ylabel=r"$F_{s,A}(q=7.25,\,t)$", ylim=(-0.05, 1.02),
           title=f"KA 80:20, N = {rows[0]['N']}, ρ = 1.2, NVE (glassgen simulate + stats)")
    ax.legend(frameon=False, fontsize=8)
    ax.text(0.99, 0.01, "lines: trajectory, time-origin average; circles: ensembles", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=7, color="0.4")
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(a.out) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    print(f"wrote {a.out}")
    print("| T | N | τ_α (trajectory) | τ_α (ensembles) | trajectory length | equilibration | drift flagged |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ens = f"{r['tau_ens']:.3g} ({r['n_ens']} configs)" if "tau_ens" in r else "–"
        print(f"| {r['T']:g} | {r['N']} | {r['tau']:.3g} | {ens} | {r['length']:g} | {r['eq_time']:g} | {r['drifting']} |")


if __name__ == "__main__":
    main()
