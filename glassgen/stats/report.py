"""Parts of the evaluation report: pooled curves, per-configuration summaries, the printed table."""
from __future__ import annotations

import numpy as np

from glassgen.stats.dynamics import alpha2_from_moments


def curves_of(P: dict, f: dict) -> dict:
    """Pooled curves per species: times, MSD, F_s, α₂, Q, χ₄ (JSON-ready lists; NaN → null)."""
    out = {}
    for sp, c in f["curves"].items():
        m2, m4 = P[f"curve:{sp}:m2"], P[f"curve:{sp}:m4"]
        cur = {"times": c["times"], "msd": m2, "fs": P[f"curve:{sp}:fs"], "alpha2": alpha2_from_moments(m2, m4, f["dim"]),
               "Q": P[f"curve:{sp}:Q"], "chi4": P[f"curve:{sp}:chi4"]}
        out[sp] = {k: [float(x) if np.isfinite(x) else None for x in np.asarray(v, dtype=float)] for k, v in cur.items()}
    return out


def per_configuration(fg, fr, pg, pr, rel, eval_times) -> list:
    """F_s,A and the propensity (or |Δr|) distribution of each configuration at the headline lag."""
    e = len(eval_times) - 1
    out = []
    for a, b, p1, p2, r in zip(fg, fr, pg, pr, rel):
        row = {"name": b["name"], "time": eval_times[e], "fs_A_generated": float(p1[f"lag{e}:A:fs"]),
               "fs_A_reference": float(p2[f"lag{e}:A:fs"])}
        for side, f in (("generated", a), ("reference", b)):
            u = f["lags"][e]["u"]["A"]
            x = u.mean(axis=0) if f["kind"] == "ensemble" else u.ravel()
            q = np.percentile(x, [10, 50, 90])
            row[f"{'propensity' if f['kind'] == 'ensemble' else 'dr'}_A_{side}"] = {
                "mean": float(x.mean()), "std": float(x.std()), "p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2])}
        if f"lag{e}:A:pearson" in r:
            row["pearson_A"] = float(r[f"lag{e}:A:pearson"])
        out.append(row)
    return out


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def summary_lines(report: dict, all_times: bool = False) -> list:
    """The short table printed by ``glassgen evaluate`` (headline lag and lag-free statistics)."""
    t0 = report["headline_time"]
    lines = [f"{'statistic':<14}{'species':<8}{'t':>8}  {'generated':>10}{'reference':>10}{'diff':>10}{'floor':>10}  verdict"]
    for r in report["statistics"]:
        if r["time"] is not None and r["time"] != t0 and not all_times:
            continue
        t = "" if r["time"] is None else f"{r['time']:g}"
        lines.append(f"{r['statistic']:<14}{r['species']:<8}{t:>8}  {_fmt(r['generated']):>10}{_fmt(r['reference']):>10}"
                     f"{_fmt(r['difference']):>10}{_fmt(r['noise_floor']):>10}  {r['verdict']}")
    notes = sorted({f"{r['statistic']}[{r['species']}]: {r['note']}" for r in report["statistics"] if r.get("note")})
    lines += [f"  n/a {n}" for n in notes]
    pc = report["per_configuration"]
    kind = "propensity" if report["kind"] == "ensemble" else "dr"
    lines.append("")
    lines.append(f"per configuration at t = {pc[0]['time']:g}: F_s,A(q={report['options']['q']:g}) and the {kind} distribution of A "
                 "[σ] (mean ± std, p10/p50/p90), generated | reference")
    for c in pc:
        g, r = c[f"{kind}_A_generated"], c[f"{kind}_A_reference"]
        rho = f"  Pearson {c['pearson_A']:.3f}" if "pearson_A" in c else ""
        lines.append(f"  {c['name']:<22} F_s,A {c['fs_A_generated']:.3f} | {c['fs_A_reference']:.3f}   "
                     f"{g['mean']:.3f}±{g['std']:.3f} ({g['p10']:.2f}/{g['p50']:.2f}/{g['p90']:.2f}) | "
                     f"{r['mean']:.3f}±{r['std']:.3f} ({r['p10']:.2f}/{r['p50']:.2f}/{r['p90']:.2f}){rho}")
    fr = [c["fs_A_reference"] for c in pc]
    fg = [c["fs_A_generated"] for c in pc]
    lines.append(f"  F_s,A over configurations: generated mean {np.mean(fg):.3f} (range {min(fg):.3f}–{max(fg):.3f}), "
                 f"reference mean {np.mean(fr):.3f} (range {min(fr):.3f}–{max(fr):.3f})")
    lines.append("")
    lines.append(f"verdict: {report['verdict'].upper()} ({report['n_pass']} pass, {report['n_fail']} fail, {report['n_na']} n/a; "
                 f"noise floor from {report['n_splits']} half splits, errors from {report['n_boot']} bootstrap replicates over {report['bootstrap']})")
    return lines
