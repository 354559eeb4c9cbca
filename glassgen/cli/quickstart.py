"""``glassgen quickstart``: the whole pipeline on an embedded default, in a few minutes on 2 CPU cores.

1. MD with LAMMPS (preset ``tiny``: N = 300 Kob–Andersen at T = 1.0): a trajectory and two
   iso-configurational ensembles.
2. A small flow-matching model trained on ensemble 0 (all its lags), selected on ensemble 1.
3. A generated ensemble for ensemble 1's configuration at its longest lag, compared with MD by
   ``glassgen evaluate`` (the table says how far a minutes-old model is from MD; the default is sized
   for a demonstration, not for accuracy).
4. A chained rollout from the same configuration, with its physical monitors.

Every step writes into OUT and is skipped when its output already exists, so an interrupted
quickstart resumes where it stopped.
"""
from __future__ import annotations

from pathlib import Path

import yaml

FLOW_RECIPE = {
    "task": "flow",
    "out": "model",
    "data": {"train": ["md/ens_000.h5"], "val": ["md/ens_001.h5"]},
    "encoder": {"kind": "local", "width": 16, "cutoff": 1.5},
    "model": {"hidden": 16, "n_layers": 2, "cutoff": 1.5},
    "train": {"steps": 150, "batch_size": 4, "lr": 2.0e-3, "checkpoint_every": 50, "eval_every": 50, "val_samples": 4},
}


def run(out, echo=print, train_steps: int | None = None, threads: int = 2) -> dict:
    """Run the pipeline into folder ``out``; returns the paths it produced."""
    from glassgen.io.h5md import read_ensemble

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "md"
    echo(f"[1/4] MD with LAMMPS (preset tiny) -> {md}")
    if not (md / "ens_001.h5").exists():
        from glassgen.md import load_preset, simulate

        simulate(load_preset("tiny"), md, resume=md.exists(), threads=threads)

    echo(f"[2/4] flow-matching model -> {out / 'model'}")
    ckpt = out / "model" / "best.safetensors"
    if not ckpt.exists():
        from glassgen.flow.train import fit

        recipe = dict(FLOW_RECIPE)
        if train_steps is not None:
            recipe["train"] = dict(recipe["train"], steps=train_steps)
        (out / "flow.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
        fit(out / "flow.yaml", resume=(out / "model" / "train_state.pt").exists())

    echo(f"[3/4] generated ensemble vs MD -> {out / 'evaluate'}")
    ref = read_ensemble(md / "ens_001.h5")
    lag = float(ref.times[-1])
    gen = out / "generated" / "ens_001.h5"
    if not gen.exists():
        from glassgen.sampling.sample import sample, to_ensemble
        from glassgen.io.h5md import write_ensemble

        gen.parent.mkdir(exist_ok=True)
        disp, nfe = sample(str(ckpt), ref.snapshot(), lag, 16, seed=0)
        write_ensemble(gen, to_ensemble(ref.snapshot(), lag, disp, {"generator": "glassgen.flow", "nfe": nfe}))
    from glassgen.io.h5md import write_ensemble
    from glassgen.system.data import Ensemble

    # evaluate compares like with like: the MD ensemble at the same single lag
    k = len(ref.times) - 1
    ref_one = out / "reference" / "ens_001.h5"
    ref_one.parent.mkdir(exist_ok=True)
    write_ensemble(ref_one, Ensemble(ref.species, ref.box, ref.initial, ref.times[k:], ref.positions[:, k:], ref.meta))
    from glassgen.stats.evaluate import evaluate, summary_lines
    from glassgen.stats.features import Options

    report = evaluate(gen.parent, ref_one.parent, out / "evaluate", Options(), plots=True)
    for line in summary_lines(report, False):
        echo(line)
    echo("(a model trained for a minute on 4 MD runs of 300 particles is expected to FAIL most rows; the table is "
         "the yardstick a real model is held to: docs/statistics.md)")

    echo(f"[4/4] rollout: 10 chained steps of lag 1.0 -> {out / 'rollout.h5'}")
    from glassgen.sampling.sample import step_function
    from glassgen.sampling.solvers import SolverConfig
    from glassgen.chain.rollout import RolloutConfig, rollout, summarise_log

    snap = ref.snapshot()
    step = step_function(str(ckpt), snap.species, snap.box, SolverConfig(ode_steps=4))
    traj = rollout(step, snap, RolloutConfig(steps=10, lag=1.0, seed=0), out / "rollout.h5", resume=True)
    s = summarise_log(out / "rollout.log.csv")
    echo(f"rollout monitors: {s['resampled']} redraws, {s['overlaps_kept']} overlaps kept, "
         f"E_pot/N {s['e_pot_first']:.3f} -> {s['e_pot_last']:.3f}")
    return {"md": md, "checkpoint": ckpt, "generated": gen, "report": out / "evaluate" / "report.json",
            "rollout": traj[0]}
