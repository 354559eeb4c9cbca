"""``OUT/report.md`` of ``glassgen quickstart``: what the shipped model gets against fresh MD, passes and fails.

Reads what the stages wrote (``evaluate/report.json``, ``longtime/longtime.md`` and ``.json``, the rollout's
log and metadata, ``timings.json``) and writes one Markdown page beside them, with the PNGs linked.
"""
from __future__ import annotations

import json
from pathlib import Path

ENSEMBLE_PLOTS = (("msd.png", "MSD of A and B against lag"), ("fs.png", "self-intermediate scattering function F_s"),
                  ("alpha2.png", "non-Gaussian parameter α₂"), ("chi4.png", "dynamic susceptibility χ₄ over the runs"),
                  ("van_hove.png", "van Hove distribution of |Δr| at the longest lag"),
                  ("propensity.png", "per-particle propensity, generated against MD"),
                  ("rdf.png", "g(r) of the displaced configurations"), ("mobility.png", "spatial correlation of mobility"))
LONGTIME_PLOTS = (("longtime.png", "all time origins: F_s, MSD, χ₄ and E_pot/N against t, MD ± 2 floors shaded"),
                  ("longtime_stationarity.png", "from the start snapshot, and per chain step against the origin"))


def blown_up(rollout: Path) -> str | None:
    """The ``blown_up_reason`` of the first blown-up trajectory of the rollout at ``rollout``, else None."""
    from glassgen.io.h5md import read_meta

    for p in sorted(rollout.parent.glob(f"{rollout.stem}_*.h5")):
        meta = read_meta(p)
        if meta.get("blown_up"):
            return f"{p.name}: {meta.get('blown_up_reason')}"
    return None


def rollout_summary(rollout: Path, model) -> dict:
    """The rollout log's counts and monitors against the training data (as ``glassgen rollout`` prints them)."""
    from glassgen.chain.log import summarise_log

    s = summarise_log(rollout.with_name(rollout.stem + ".log.csv"), model.checkpoint["info"].get("data_monitors"))
    s["blown_up"] = blown_up(rollout)
    s["line"] = (f"{s['resampled']} redraws, {s['overlaps_kept']} overlaps kept, {s['relaxed']} relaxed, E_pot/N from "
                 f"{s['e_pot_first']:.3f} to {s['e_pot_last']:.3f} (range {s['e_pot_min']:.3f}..{s['e_pot_max']:.3f})"
                 + (f"; BLOWN UP: {s['blown_up']}" if s["blown_up"] else "; not blown up"))
    return s


def _num(v) -> str:
    return "–" if v is None else f"{v:.4g}"


def _figures(folder: str, plots, out: Path) -> list:
    return [f"![{text}]({folder}/{name})\n\n*{text}* (`{folder}/{name}`)\n" for name, text in plots
            if (out / folder / name).exists()]


def ensemble_section(out: Path) -> tuple[list, str]:
    """The generated-vs-MD ensemble table (every lag) and its one-line verdict."""
    rep = json.loads((out / "evaluate" / "report.json").read_text())
    verdict = (f"{rep['verdict'].upper()}: {rep['n_pass']} pass, {rep['n_fail']} fail, {rep['n_na']} n/a of "
               f"{len(rep['statistics'])} rows (lags {', '.join(f'{t:g}' for t in rep['eval_times'])})")
    lines = ["## Generated ensemble against the MD ensemble (`glassgen evaluate`)", "",
             f"{int(rep['sizes']['generated'][0])} generated draws and {int(rep['sizes']['reference'][0])} MD runs of "
             "one configuration at each lag. Floor: MD half against half; a row passes within its tolerance "
             "(docs/statistics.md). Verdict: " + verdict, "",
             "| statistic | species | t | generated | MD | difference | MD floor | tolerance | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rep["statistics"]:
        t = "" if r["time"] is None else f"{r['time']:g}"
        lines.append(f"| {r['statistic']} | {r['species']} | {t} | {_num(r['generated'])} | {_num(r['reference'])} | "
                     f"{_num(r['difference'])} | {_num(r['noise_floor'])} | {_num(r['tolerance'])} | {r['verdict'].upper()} |")
    return lines + [""] + _figures("evaluate", ENSEMBLE_PLOTS, out), verdict


def rollout_section(out: Path, s: dict) -> list:
    lines = ["## Rollout monitors", "", f"`rollout/chain.log.csv`: {s['line']}.", "",
             "| monitor | training data (mean ± std) | rollout start | rollout, last quarter of the steps | distance |",
             "|---|---|---|---|---|"]
    for name, c in s["monitors"].items():
        flag = " (beyond 3 std)" if abs(c["z"]) > 3 else ""
        lines.append(f"| {name} | {c['reference']:.3f} ± {c['std']:.3f} | {c['start']:.3f} | {c['end']:.3f} | "
                     f"{c['z']:+.1f} std{flag} |")
    return lines + [""]


def longtime_section(out: Path) -> tuple[list, str]:
    """The three long-time tables (``longtime.md``) and the verdict line, or why the check could not run."""
    head = ["## Long-time check: the rollout against the MD trajectories (`glassgen evaluate --long-time`)", ""]
    refused = out / "longtime" / "refused.txt"
    if refused.exists():
        why = refused.read_text().strip()
        return head + [f"Not run: the rollout blew up and the check refused it: `{why}`", ""], f"NOT RUN ({why})"
    res = json.loads((out / "longtime" / "longtime.json").read_text())
    per = "; ".join(f"{k.replace('_', ' ')} {v['passed']} pass, {v['failed']} fail" for k, v in res["tables"].items())
    verdict = f"{'PASS' if res['failed'] == 0 else 'FAIL'}: {res['passed']} pass, {res['failed']} fail ({per})"
    body = (out / "longtime" / "longtime.md").read_text().rstrip().splitlines()
    return head + body + [""] + _figures("longtime", LONGTIME_PLOTS, out), verdict


def commands(recipe, model: str, lag: float) -> list:
    """``(stage, command, note)``: the ``glassgen`` commands that make the same files (the quickstart calls
    the same functions with the same settings and seeds)."""
    inits = " ".join(f"--init md/traj_{j:03d}.h5" for j in range(recipe.trajectories.count))
    lags = recipe.ensembles.times
    return [("md", "glassgen simulate --preset quickstart -o md",
             "" if recipe.name == "quickstart" else " (the preset reduced by --small)"),
            ("sample", f"glassgen sample {model} md/ens_000.h5 --lag {','.join(f'{t:g}' for t in lags)} "
                       f"-n {recipe.ensembles.runs} --seed 0 -o generated/ens_000.h5", ""),
            ("rollout", f"glassgen rollout {model} {inits} --seed 0 --steps {steps(recipe, lag)} -o rollout/chain.h5", ""),
            ("evaluate", "glassgen evaluate generated/ens_000.h5 md/ens_000.h5 -o evaluate", ""),
            ("longtime", "glassgen evaluate rollout md --long-time -o longtime", "")]


def steps(recipe, lag: float) -> int:
    """Chain steps of the rollout: as long as the MD trajectories."""
    return int(round(recipe.trajectories.length / lag))


def verdict_lines(out: Path, s: dict) -> list:
    """One line per comparison: the ensemble's verdict, the rollout's monitors, the long-time verdict."""
    return [f"- generated ensemble against MD: {ensemble_section(out)[1]}",
            f"- rollout monitors: {s['line']}",
            f"- rollout against MD over time: {longtime_section(out)[1]}"]


def _header(recipe, model, name: str, timings: dict) -> list:
    dom, tr, lag = model.checkpoint["domain"], recipe.trajectories, model.checkpoint["defaults"]["rollout"]["lag"]
    lines = [f"# glassgen quickstart: {name} against fresh MD", "",
             f"The shipped model `{name}` (trained on N = {dom['n_particles'][0]} KA at density {dom['density']:g}, "
             f"T = {dom['temperature'][0]:g}, lags {dom['lag'][0]:g}–{dom['lag'][1]:g}; `glassgen info {name}`) with "
             f"its validated settings, against MD it has never seen: N = {recipe.system.n} at T = {recipe.temperature:g}, "
             f"seed {recipe.seed}, {tr.count} trajectories of {tr.length:g} LJ and one iso-configurational ensemble of "
             f"{recipe.ensembles.runs} runs. The rollout has {tr.count} chains of {steps(recipe, lag)} steps of lag "
             f"{lag:g}, each from the first frame of one MD trajectory.", "",
             "## What ran", "", "| stage | the same as | wall time [s] |", "|---|---|---|"]
    for stage, cmd, note in commands(recipe, name, lag):
        t = timings["stages"].get(stage)
        lines.append(f"| {stage} | `{cmd}`{note} | {'–' if t is None else f'{t:g}'} |")
    loads = ", ".join(f"{n} {a:g} → {b:g}" for n, (a, b) in timings["load"].items())
    return lines + ["", f"Total {sum(timings['stages'].values()):.0f} s of stage wall time (each stage timed in the "
                    f"run that did it). 1-minute load average at the start → end of each stage: {loads}.", ""]


def write_report(out: Path, recipe, model_name: str, timings: dict, model=None) -> Path:
    """Write ``out/report.md`` (atomically) from the stages' outputs; returns its path."""
    from glassgen.core.atomic import atomic_path
    from glassgen.sampling.models import load_model

    model = model or load_model(model_name)
    s = rollout_summary(out / "rollout" / "chain.h5", model)
    lines = [*_header(recipe, model, model_name, timings), "## Verdicts", "", *verdict_lines(out, s), "",
             *ensemble_section(out)[0], *rollout_section(out, s), *longtime_section(out)[0],
             "## How to read this", "",
             "The ensemble rows judge the model's raw draws: its validated sampler settings (`defaults.sample`) "
             "have no correction, so pairs a draw puts too close show in the energy and closest-distance rows. "
             "The rollout rows judge the model plus the LAMMPS quench after every draw that its validated rollout "
             "settings (`defaults.rollout`) include.", "",
             "A row fails when generated and MD differ by more than its tolerance, which is never below the noise "
             "of MD against MD at these sample sizes. With few runs or trajectories that noise is large and the "
             "verdicts are coarse: even MD against independent MD failed some row of the long-time tables in 4 of "
             "30 comparisons at 8 trajectories a side (docs/rollout.md, \"Noise floors and k\"). The model's "
             "validated figures, with 16 trajectories over 10 τ_α, are in docs/results.md."]
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return out / "report.md"
