"""``glassgen evaluate``: every statistic of a generated data set next to its MD reference.

Inputs are H5MD files or folders of them (matched by file name), both ensembles or both
trajectories. Each statistic gets the generated and reference values, their difference,
bootstrap errors, the MD-vs-MD noise floor (half splits of the reference) and a verdict
against the tolerances of :data:`glassgen.stats.compare.TOLERANCES`. Report layout and
tolerance reasons: docs/statistics.md.
"""
from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from glassgen.core.version import __version__
from glassgen.core.atomic import atomic_path, check_writable
from glassgen.stats import compare as C
from glassgen.stats.features import Options, config_features
from glassgen.stats.matching import choose_times, match_files, pair_features
from glassgen.stats.report import curves_of, per_configuration, summary_lines  # noqa: F401  (re-exported)
from glassgen.stats.uncertainty import N_BOOT, N_SPLITS, bootstrap_se, bootstrap_weights, expected_correlation, floor_scale, half_splits, rms

# Every file ``glassgen evaluate`` may write into its output folder: the report and plots (plots.py), the
# long-time check (longtime.py) and the Chapman–Kolmogorov check (glassgen.chain.chapman). The CLI refuses a
# folder holding any of them without --overwrite, and with it deletes them all before the new run.
OUTPUTS = ("report.json", "msd.png", "fs.png", "alpha2.png", "chi4.png", "van_hove.png", "propensity.png", "rdf.png",
           "mobility.png", "chapman_kolmogorov.json", "longtime.md", "longtime.json", "longtime.png",
           "longtime_stationarity.png")

NA_NOTES = {
    "tau_alpha": "F_s does not cross 1/e between the first and last lag (τ_α is NaN)",
    "D": "fewer than 2 lags in the last decade of lag times: no diffusive slope",
    "w1": "no MD-vs-MD floor (the reference has a single run/block)",
}
STRUCTURE_KEYS = {"g_AA_peak", "g_AA_rpeak", "g_AA_l1", "S_A_peak", "energy", "min_AA", "min_AB", "min_BB"}


def statistics(obj, times=None, opt: Options | None = None) -> dict:
    """Every one-sided statistic of one Ensemble or Trajectory (no reference needed).

    Returns:
        ``{"values": {"fs[A]@t=4120": ...}, "curves": {species: {...}}, "eval_times": [...]}``.
    """
    opt = opt or Options()
    eval_times = choose_times(obj, obj, times)
    f = config_features(obj, eval_times, opt)
    p = C.config_parts(f)
    return {"values": {_key(k): v for k, v in C.finalize(p, f).items()}, "curves": curves_of(p, f), "eval_times": eval_times}


def _key(k) -> str:
    return f"{k[0]}[{k[1]}]" + (f"@t={k[2]:g}" if k[2] is not None else "")


def verdict_row(k, gen, ref, halves, boots, size_g, size_r, rel_exp=None):
    """One report row: statistic key ``k`` = (name, species, time), values, MD floor, tolerance, verdict."""
    kind, abs_tol, rel_tol, unit = C.TOLERANCES[k[0]]
    scale = floor_scale(size_g, size_r)
    if kind in ("value", "at_least"):
        floor = rms(halves) * scale
    elif kind == "distance":
        ref = float(np.nanmean(halves)) * scale if np.isfinite(halves).any() else float("nan")
        floor = ref
    else:  # correlation: ref is the expectation for two MD ensembles, floor the split-to-split spread
        ref = float(np.nanmean(rel_exp)) if np.isfinite(rel_exp).any() else float("nan")
        floor = float(np.nanstd(halves, ddof=1)) if np.isfinite(halves).sum() > 1 else float("nan")
    diff = gen - ref
    cands = [abs_tol] + ([C.K_FLOOR * floor] if np.isfinite(floor) else [])
    if kind in ("value", "at_least") and np.isfinite(ref):
        cands.append(rel_tol * abs(ref))
    tol = max(cands)
    if not np.isfinite(gen) or (kind != "distance" and not np.isfinite(ref)) or tol <= 0:
        verdict = "n/a"
    elif kind == "distance":
        verdict = "pass" if gen <= tol else "fail"
    elif kind == "at_least":
        verdict = "pass" if gen >= ref - tol else "fail"
    else:
        verdict = "pass" if abs(diff) <= tol else "fail"
    se = {n: (float(v) if v is not None and np.isfinite(v) else None) for n, v in zip(("se_generated", "se_reference", "se_difference"), boots)}
    nf = lambda v: float(v) if np.isfinite(v) else None  # noqa: E731
    return {"statistic": k[0], "species": k[1], "time": k[2], "kind": kind, "unit": unit, "generated": nf(gen),
            "reference": nf(ref), "difference": nf(diff), **se, "noise_floor": nf(floor), "tolerance": nf(tol), "verdict": verdict,
            "note": NA_NOTES.get(k[0], "not computable for these inputs") if verdict == "n/a" else None}


def _half_splits(fg, fr, n_splits, seed, progress=False):
    """MD vs MD: split every reference configuration's blocks in halves and compare the halves.

    Returns per split: differences half A − half B of the one-sided statistics, the relational
    statistics of A against B, and the correlations two MD ensembles of the generated and
    reference sizes are expected to reach (attenuation-corrected per configuration).
    """
    f0 = fr[0]
    splits = [half_splits(f["n_blocks"], n_splits, seed + i) for i, f in enumerate(fr)]
    halves, rel_h, rel_exp = [], [], []
    for k in tqdm(range(min(len(s) for s in splits)), desc="half splits", disable=not progress):
        ha = [C.config_parts(f, s[k][0]) for f, s in zip(fr, splits)]
        hb = [C.config_parts(f, s[k][1]) for f, s in zip(fr, splits)]
        hr = [C.relational_parts(f, f, s[k][0], s[k][1]) for f, s in zip(fr, splits)]
        pa, pb = C.pool(ha), C.pool(hb)
        a, b = C.finalize(pa, f0), C.finalize(pb, f0)
        halves.append({key: a[key] - b[key] for key in a})
        rel_h.append(C.finalize_relational(C.pool(hr), pa, pb, f0))
        exp = []
        for f, s, h in zip(fr, splits, hr):
            hs = 0.5 * (s[k][0].sum() + s[k][1].sum())
            exp.append({kk: expected_correlation(v, hs, fg[0]["size"], f["size"]) for kk, v in h.items() if kk.endswith(("pearson", "spearman"))})
        rel_exp.append(C.finalize_relational(C.pool(exp), pa, pb, f0) if exp[0] else {})
    return halves, rel_h, rel_exp


def _bootstrap(fg, fr, pg, pr, rel, n_boot, seed):
    """Bootstrap replicates: configurations (paired) when several are pooled, else blocks of each side."""
    f0 = fr[0]
    boot_g, boot_r, boot_rel = [], [], []
    if len(fg) > 1:
        rng = np.random.default_rng(seed)
        for _ in range(n_boot):
            idx = rng.integers(0, len(fg), len(fg))
            pgb, prb = C.pool(pg, idx), C.pool(pr, idx)
            boot_g.append(C.finalize(pgb, fg[0]))
            boot_r.append(C.finalize(prb, f0))
            boot_rel.append(C.finalize_relational(C.pool(rel, idx), pgb, prb, f0))
        return boot_g, boot_r, boot_rel, "configurations"
    wg, wr = bootstrap_weights(fg[0]["n_blocks"], n_boot // 2, seed), bootstrap_weights(f0["n_blocks"], n_boot // 2, seed + 1)
    for a, b in zip(wg, wr):
        boot_g.append(C.finalize(C.config_parts(fg[0], a), fg[0]))
        boot_r.append(C.finalize(C.config_parts(f0, b), f0))
    return boot_g, boot_r, boot_rel, ("runs" if f0["kind"] == "ensemble" else "time-origin blocks")


def evaluate(generated, reference, outdir, opt: Options | None = None, times=None, seed: int = 0,
             n_splits: int = N_SPLITS, n_boot: int = N_BOOT, plots: bool = True, progress: bool = True) -> dict:
    """Compare GENERATED with REFERENCE, write ``OUTDIR/report.json`` (+ PNGs) and return the report."""
    opt = opt or Options()
    outdir = Path(outdir)
    check_writable(outdir / "report.json")
    pairs = match_files(generated, reference)
    n_struct = max(2, min(opt.n_structure, -(-opt.structure_frames // len(pairs))))
    fopt = replace(opt, n_structure=n_struct)
    fg, fr, eval_times = pair_features(pairs, times, fopt, progress)
    f0 = fr[0]
    pg = [C.config_parts(f) for f in fg]
    pr = [C.config_parts(f) for f in fr]
    rel = [C.relational_parts(a, b) for a, b in zip(fg, fr)]
    Pg, Pr = C.pool(pg), C.pool(pr)
    G, R = C.finalize(Pg, fg[0]), C.finalize(Pr, f0)
    REL = C.finalize_relational(C.pool(rel), Pg, Pr, f0)

    size_g = np.mean([f["size"] for f in fg]), np.mean([len(f["structure"]["block"]) for f in fg])
    size_r = np.mean([f["size"] for f in fr]), np.mean([len(f["structure"]["block"]) for f in fr])
    halves, rel_h, rel_exp = _half_splits(fg, fr, n_splits, seed, progress)
    boot_g, boot_r, boot_rel, how = _bootstrap(fg, fr, pg, pr, rel, n_boot, seed + 1000)

    rows = []
    for key in list(G) + list(REL):
        s_i = 1 if key[0] in STRUCTURE_KEYS else 0
        h = np.array([d.get(key, np.nan) for d in (rel_h if key in REL else halves)])
        if key in REL:
            gen = REL[key]
            b = [bootstrap_se([d[key] for d in boot_rel])] if boot_rel else [None]
            boots = (b[0], None, None)
            ref = np.nan
        else:
            gen, ref = G[key], R[key]
            bg = np.array([d[key] for d in boot_g])
            br = np.array([d[key] for d in boot_r])
            boots = (bootstrap_se(bg), bootstrap_se(br), bootstrap_se(bg - br) if len(fg) > 1 else None)
        ex = np.array([d.get(key, np.nan) for d in rel_exp]) if key in REL else None
        rows.append(verdict_row(key, gen, ref, h, boots, size_g[s_i], size_r[s_i], ex))

    report = {
        "glassgen_version": __version__, "generated": str(generated), "reference": str(reference), "kind": f0["kind"],
        "configurations": [f["name"] for f in fr], "eval_times": eval_times,
        "headline_time": eval_times[-1],
        "options": asdict(fopt), "k_floor": C.K_FLOOR, "n_splits": len(halves), "n_boot": len(boot_g), "bootstrap": how,
        "sizes": {"generated": list(size_g), "reference": list(size_r)},
        "statistics": rows, "per_configuration": per_configuration(fg, fr, pg, pr, rel, eval_times),
        "curves": {"generated": curves_of(Pg, fg[0]), "reference": curves_of(Pr, f0)},
    }
    verdicts = [r["verdict"] for r in rows]
    report.update(verdict="pass" if "fail" not in verdicts else "fail", n_pass=verdicts.count("pass"),
                  n_fail=verdicts.count("fail"), n_na=verdicts.count("n/a"))
    outdir.mkdir(parents=True, exist_ok=True)
    if plots:
        from glassgen.stats.plots import make_plots

        report["plots"] = make_plots(outdir, fg, fr, Pg, Pr, report)
    with atomic_path(outdir / "report.json") as tmp:
        tmp.write_text(json.dumps(json_ready(report), indent=1, allow_nan=False))
    return report


def json_ready(v):
    """JSON-ready copy: numpy scalars/arrays to Python, NaN/inf to null (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [json_ready(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v if v is None or isinstance(v, (str, int, bool)) else str(v)
