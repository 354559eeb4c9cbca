"""``glassgen quickstart``: the shipped model ``flow-proof-T0.6-sig`` against fresh MD at its own state point.

1. MD with LAMMPS (preset ``quickstart``: N = 1000 KA, density 1.2, T = 0.6): 8 trajectories of 50 LJ and an
   iso-configurational ensemble of 32 runs at lags 2.5, 5 and 10.
2. A generated ensemble of the same configuration at the same lags (the model's validated sampler settings).
3. A chained rollout from the first frame of every MD trajectory, with the model's validated rollout settings
   (LAMMPS quench after every draw), as long as the MD trajectories.
4. ``glassgen evaluate``: generated ensemble against the MD ensemble.
5. ``glassgen evaluate --long-time``: the rollout against the MD trajectories.
6. ``report.md``: the tables, the monitors and the figures, passes and failures alike.

Every stage writes into OUT and is skipped when its output exists, so a rerun resumes where it stopped. The
command exits 0 once the pipeline has run, whatever the verdicts; a blown-up rollout is reported, not hidden.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from glassgen.core.errors import InputError

MODEL = "flow-proof-T0.6-sig"
PRESET = "quickstart"
# --small (tests, a check of the installation): the same pipeline on N = 300 with 2 short trajectories and 4 runs, in seconds. The
# model is local, so N is outside its checked domain; density, composition, T and lags are the full run's.
SMALL = {"system": {"n": 300}, "melt": {"time": 2.0}, "quench": {"time": 2.0},
         "equilibration": {"tau_alpha": 1.0, "multiple": 2.0, "spacing": 2.0},
         "trajectories": {"count": 2, "length": 10.0, "log_frames": 2}, "ensembles": {"runs": 4, "times": [2.5, 5.0]}}


def quickstart_recipe(small: bool = False):
    """The MD recipe: the ``quickstart`` preset, reduced by :data:`SMALL` when ``small``."""
    from glassgen.core.recipe import load_yaml
    from glassgen.md.recipe import PRESET_DIR, recipe_from_dict

    path = PRESET_DIR / f"{PRESET}.yaml"
    data = load_yaml(path)
    if small:
        data["name"] = f"{PRESET}-small"
        for key, part in SMALL.items():
            data[key] = {**data[key], **part}
    return recipe_from_dict(data, str(path) + (" (--small)" if small else ""))


class Timings:
    """Wall time of every stage that did work, kept in ``OUT/timings.json`` across reruns, with the load."""

    def __init__(self, path: Path):
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {"stages": {}, "load": {}}

    def run(self, name: str, work) -> bool:
        """Call ``work()``; when it returns True (it did work, not skipped) record its wall time and load."""
        t0, load = time.perf_counter(), os.getloadavg()[0]
        ran = work()
        if ran:
            self.data["stages"][name] = round(time.perf_counter() - t0, 1)
            self.data["load"][name] = [round(load, 2), round(os.getloadavg()[0], 2)]
            self.save()
        return ran

    def save(self) -> None:
        from glassgen.core.atomic import atomic_path

        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.data, indent=1))


def simulate_md(recipe, md: Path) -> bool:
    """Run the MD recipe into ``md`` unless it is complete (same recipe); True when it ran."""
    from glassgen.md import simulate
    from glassgen.md.protocol import check_output
    from glassgen.md.runner import output_plan

    if (md / "recipe.yaml").exists():
        check_output(recipe, md, True)  # another recipe in this folder is refused, finished or not
        plan = output_plan(recipe, md)
        if not plan["trajectories"] and not plan["ensembles"]:
            return False
    # One LAMMPS thread: two OpenMP threads on a loaded 2-core machine measured 4x slower than one.
    simulate(recipe, md, resume=md.exists(), threads=1)
    return True


def sample_ensemble(model, reference: Path, lags: list, runs: int, out: Path) -> bool:
    """``glassgen sample NAME REFERENCE --lag LAGS -n RUNS --seed 0 -o OUT`` (validated settings) unless OUT
    exists: the generated twin of the MD ensemble at its lags; True when it ran."""
    if out.exists():
        return False
    from glassgen.cli.generate import write_samples

    out.parent.mkdir(parents=True, exist_ok=True)
    write_samples(model, MODEL, reference, list(lags), runs, out, seed=0)
    return True


def chain(model, md: Path, out: Path, length: float) -> bool:
    """Roll the model out from the first frame of every MD trajectory for ``length`` LJ, with its validated
    settings: the chain of ``glassgen rollout NAME --init md/traj_000.h5 --init ... --seed 0 -o OUT``, resumed
    where it stopped. True when it ran (a finished chain is left as it is; a blown-up one is kept and marked)."""
    import glassgen
    from glassgen.cli.generate import parse_floats
    from glassgen.cli.settings import config_from_options, model_meta, resolve
    from glassgen.sampling.sample import load_snapshot

    starts = sorted(md.glob("traj_*.h5"))
    snaps = [load_snapshot(p) for p in starts]
    opt, taken = resolve("rollout", {}, model.checkpoint)
    cfg = glassgen.RolloutConfig(steps=int(round(length / opt["lag"])), lag=opt["lag"], n_trajectories=len(snaps),
                                 seed=0, max_resample=opt["max_resample"], overlap_energy=opt["overlap_energy"],
                                 history=opt["history"])
    relax = config_from_options(opt["relax"], opt["relax_when"], opt["relax_time"], opt["relax_temperature"],
                                snaps[0].meta, model_meta(model), max_iterations=opt["relax_iterations"])
    ran = not all(out.with_name(f"{out.stem}_{j:03d}.h5").exists() for j in range(len(snaps)))
    # the command's own record (relative to OUT, where the report's commands run), so OUT may move
    meta = {"checkpoint": MODEL, "init": ",".join(f"md/{p.name}" for p in starts), "noise_scale": opt["noise_scale"] or "1",
            "settings_from_checkpoint": ",".join(taken) or "none"}
    out.parent.mkdir(parents=True, exist_ok=True)
    glassgen.rollout(model, snaps, cfg, out, glassgen.SolverConfig(opt["method"], opt["ode_steps"]), relax=relax,
                     history_guidance=opt["history_guidance"], resume=True, meta=meta,
                     noise_scale=parse_floats(opt["noise_scale"], "noise_scale"))
    return ran


def compare_ensembles(generated: Path, reference: Path, outdir: Path) -> bool:
    """``glassgen evaluate GENERATED REFERENCE -o OUTDIR`` unless its report exists; True when it ran."""
    if (outdir / "report.json").exists():
        return False
    from glassgen.stats.evaluate import evaluate

    evaluate(generated, reference, outdir)
    return True


def long_time(rollout: Path, md: Path, outdir: Path) -> bool:
    """``glassgen evaluate ROLLOUTS MD --long-time -o OUTDIR`` unless done; True when it ran. A blown-up chain
    that the check cannot take (cut at a NaN: fewer frames than MD) leaves the reason in ``refused.txt``."""
    from glassgen.cli.quickstart_report import blown_up
    from glassgen.core.atomic import atomic_path
    from glassgen.stats.longtime import evaluate_long_time

    refused = outdir / "refused.txt"
    if (outdir / "longtime.json").exists() or refused.exists():
        return False
    try:
        evaluate_long_time(rollout.parent, md, outdir)
    except InputError as e:
        if not blown_up(rollout):
            raise
        outdir.mkdir(parents=True, exist_ok=True)
        with atomic_path(refused) as tmp:
            tmp.write_text(f"{e}\n")
    return True


def run(out, echo=print, small: bool = False) -> dict:
    """Run the pipeline into folder ``out``; returns the paths it produced."""
    from glassgen.cli.quickstart_report import rollout_summary, verdict_lines, write_report
    from glassgen.sampling.models import load_model

    out = Path(out)
    recipe = quickstart_recipe(small)
    model = load_model(MODEL)
    out.mkdir(parents=True, exist_ok=True)
    times = Timings(out / "timings.json")
    md, gen, ro, ref = out / "md", out / "generated" / "ens_000.h5", out / "rollout" / "chain.h5", out / "md" / "ens_000.h5"
    stages = (
        ("md", f"MD with LAMMPS (preset {recipe.name}: N = {recipe.system.n}, T = {recipe.temperature:g}) -> {md}",
         lambda: simulate_md(recipe, md)),
        ("sample", f"generated ensemble of md/ens_000.h5 ({MODEL}, validated settings) -> {gen}",
         lambda: sample_ensemble(model, ref, recipe.ensembles.times, recipe.ensembles.runs, gen)),
        ("rollout", f"rollout from the {recipe.trajectories.count} MD starts (validated settings) -> {ro.parent}",
         lambda: chain(model, md, ro, recipe.trajectories.length)),
        ("evaluate", f"generated ensemble vs MD ensemble -> {out / 'evaluate'}",
         lambda: compare_ensembles(gen, ref, out / "evaluate")),
        ("longtime", f"rollout vs MD trajectories (--long-time) -> {out / 'longtime'}",
         lambda: long_time(ro, md, out / "longtime")))
    for k, (name, text, work) in enumerate(stages, 1):
        echo(f"[{k}/6] {text}")
        if not times.run(name, work):
            echo("      done before: kept")
    echo(f"[6/6] report -> {out / 'report.md'}")
    report = write_report(out, recipe, MODEL, times.data, model)
    for line in verdict_lines(out, rollout_summary(ro, model)):
        echo(line)
    return {"md": md, "generated": gen, "rollout": ro.parent, "report": report}
