"""The domain check and the validated defaults, through the command line as a user meets them.

A refusal is exit status 2 with one line naming what differs; ``--force`` proceeds and the output's metadata
says so; a checkpoint's validated settings are the defaults, each overridden by its flag.
"""
import sys

import numpy as np
import pytest

import glassgen.cli.app
from glassgen import read, read_trajectory
from glassgen.core.errors import InputError
from glassgen.io.h5md import write_trajectory
from glassgen.flow.context import LocalEncoder
from glassgen.flow.model import FlowModel, save_model
from glassgen.flow.paths import PriorScale
from glassgen.flow.velocity import VelocityConfig
from glassgen.sampling.domain import check_domain
from glassgen.system.data import Snapshot, Trajectory

DOMAIN = {"species": [0, 1], "fractions": [0.8, 0.2], "density": 1.2, "temperature": [0.6],
          "n_particles": [250, 250], "lag": [2.0, 10.0]}
DEFAULTS = {"sample": {"lag": 4.0, "ode_steps": 3},
            "rollout": {"lag": 4.0, "method": "euler", "ode_steps": 3, "max_resample": 0, "history_guidance": 1.0}}


def lattice(n_side=6, density=1.2, frac_b=0.2, n_species=2, seed=0):
    """A perturbed simple-cubic configuration of n_side³ particles."""
    rng = np.random.default_rng(seed)
    n = n_side**3
    edge = (n / density) ** (1 / 3)
    g = (np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * edge / n_side
    species = np.zeros(n, int)
    species[rng.permutation(n)[: round(frac_b * n)]] = 1
    if n_species == 3:
        species[rng.permutation(n)[:10]] = 2
    return species, np.full(3, edge), (g + 0.03 * rng.normal(size=g.shape)) % edge


def start(path, meta=None, **kw):
    species, box, x = lattice(**kw)
    write_trajectory(path, Trajectory(species, box, np.array([0.0]), x[None], dict(meta or {})))
    return str(path)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    model = FlowModel(LocalEncoder(n_species=2, width=4, cutoff=1.2), VelocityConfig(embed_dim=4, hidden=4, n_layers=1,
                      cutoff=1.2), PriorScale([2.0, 10.0], [[0.05, 0.05], [0.1, 0.1]]))
    save_model(model, path, {"step": 1}, domain=DOMAIN, defaults=DEFAULTS)
    return str(path)


def cli(monkeypatch, capsys, args):
    monkeypatch.setattr(sys, "argv", ["glassgen", *args])
    with pytest.raises(SystemExit) as e:
        glassgen.cli.app.main()
    return e.value.code or 0, capsys.readouterr()


REFUSALS = [  # (start file keywords, extra flags, words of the refusal)
    (dict(meta={"T": 1.0}), [], "temperature 1 (trained 0.6 ± 0.02)"),
    (dict(meta={"T": 0.63}), [], "temperature 0.63"),
    (dict(meta={}), [], "no temperature in its metadata (T or temperature): give --temperature"),
    (dict(meta={"T": 0.6}, density=1.1), [], "number density 1.1 (trained 1.2 ± 1%)"),
    (dict(meta={"T": 0.6}, frac_b=0.5), [], "species fractions"),
    (dict(meta={"T": 0.6}, n_species=3), [], "species [0, 1, 2] (trained [0, 1])"),
    (dict(meta={"T": 0.6}), ["--lag", "500"], "lag 500 outside the trained [2, 10]"),
    (dict(meta={"T": 0.6}), ["--lag", "1"], "lag 1 outside the trained [2, 10]"),
    (dict(meta={"temperature": 0.6}), ["--temperature", "1.0"], "--temperature 1 but the file's metadata says T = 0.6"),
]


@pytest.mark.parametrize("command", ["sample", "rollout"])
@pytest.mark.parametrize("kw,flags,words", REFUSALS, ids=[w[:24] for *_, w in REFUSALS])
def test_out_of_domain_is_refused_in_one_line(ckpt, tmp_path, monkeypatch, capsys, command, kw, flags, words):
    init = start(tmp_path / "s.h5", **kw)
    out = tmp_path / "o.h5"
    args = [command, ckpt, init, "-n", "1"] if command == "sample" else [command, ckpt, "--init", init, "--steps", "1"]
    code, res = cli(monkeypatch, capsys, args + flags + ["-o", str(out)])
    assert code == 2 and res.err.startswith(f"error: {init}: outside the domain of m: ") and res.err.count("\n") == 1
    assert words in res.err and res.err.rstrip().endswith("(--force proceeds)"), res.err
    assert not out.exists() and not list(tmp_path.glob("o*"))


def test_inside_the_domain_passes_and_temperature_flag_supplies_a_missing_t(ckpt, tmp_path, monkeypatch, capsys):
    for k, meta in enumerate(({"T": 0.6}, {"temperature": 0.61})):
        code, res = cli(monkeypatch, capsys, ["sample", ckpt, start(tmp_path / f"s{k}.h5", meta), "-n", "1",
                                              "-o", str(tmp_path / f"o{k}.h5")])
        assert code == 0 and "FORCED" not in res.out, res.err
        assert "forced" not in read(tmp_path / f"o{k}.h5").meta
    bare = start(tmp_path / "bare.h5")
    code, res = cli(monkeypatch, capsys, ["rollout", ckpt, "--init", bare, "--steps", "1", "--temperature", "0.6",
                                          "-o", str(tmp_path / "r.h5")])
    assert code in (0, 1) and "error:" not in res.err, res.err  # 1: the untrained chain blew up, not a refusal
    assert read_trajectory(tmp_path / "r.h5").meta["T"] == 0.6  # what a chain of it is a chain of


@pytest.mark.parametrize("command", ["sample", "rollout"])
def test_force_proceeds_and_records_what_was_out_of_domain(ckpt, tmp_path, monkeypatch, capsys, command):
    init = start(tmp_path / "s.h5", {"T": 1.0}, density=1.1)
    out = tmp_path / "o.h5"
    args = [command, ckpt, init, "-n", "1"] if command == "sample" else [command, ckpt, "--init", init, "--steps", "2"]
    code, res = cli(monkeypatch, capsys, args + ["--lag", "500", "--force", "-o", str(out)])
    assert code in (0, 1) and "error:" not in res.err, res.err  # 1: the untrained chain blew up, not a refusal
    meta = read(out).meta
    assert meta["forced"] is True and "FORCED outside the model's domain" in res.out
    for words in ("temperature 1 ", "number density 1.1", "lag 500 outside"):
        assert words in meta["out_of_domain"]


def test_validated_defaults_are_used_and_each_flag_overrides_its_own(ckpt, tmp_path, monkeypatch, capsys):
    init = start(tmp_path / "s.h5", {"T": 0.6})
    base = ["rollout", ckpt, "--init", init, "--steps", "2"]
    code, res = cli(monkeypatch, capsys, base + ["-o", str(tmp_path / "a.h5")])
    assert code in (0, 1) and "error:" not in res.err, res.err  # 1: the untrained chain blew up, not a refusal
    meta = read_trajectory(tmp_path / "a.h5").meta
    assert (meta["lag"], meta["method"], meta["ode_steps"], meta["max_resample"]) == (4.0, "euler", 3, 0)
    assert meta["settings_from_checkpoint"] == "lag,method,ode_steps,max_resample,history_guidance"
    assert meta["overlap_energy"] == 20.0  # not in the checkpoint: glassgen's own default
    code, res = cli(monkeypatch, capsys, base + ["--lag", "5", "--method", "heun", "--ode-steps", "2",
                                                  "-o", str(tmp_path / "b.h5")])
    assert code in (0, 1) and "error:" not in res.err, res.err  # 1: the untrained chain blew up, not a refusal
    meta = read_trajectory(tmp_path / "b.h5").meta
    assert (meta["lag"], meta["method"], meta["ode_steps"], meta["max_resample"]) == (5.0, "heun", 2, 0)
    assert meta["settings_from_checkpoint"] == "max_resample,history_guidance"
    # sample: its own section; a grid on the command line replaces the stored number of steps
    code, res = cli(monkeypatch, capsys, ["sample", ckpt, init, "-n", "1", "--time-grid", "0,0.5,1",
                                          "-o", str(tmp_path / "c.h5")])
    assert code == 0, res.err
    ens = read(tmp_path / "c.h5")
    assert ens.times.tolist() == [4.0] and ens.meta["time_grid"] == "0,0.5,1" and "ode_steps" not in ens.meta
    assert ens.meta["settings_from_checkpoint"] == "lag"


def test_a_checkpoint_without_defaults_needs_lag_and_unknown_defaults_are_refused(tmp_path, monkeypatch, capsys):
    model = FlowModel(LocalEncoder(n_species=2, width=4, cutoff=1.2), VelocityConfig(embed_dim=4, hidden=4, n_layers=1,
                      cutoff=1.2), PriorScale([2.0, 10.0], [[0.05, 0.05], [0.1, 0.1]]))
    save_model(model, tmp_path / "plain.safetensors")
    save_model(model, tmp_path / "odd.safetensors", defaults={"rollout": {"lag": 4.0, "warp_speed": 9}})
    init = start(tmp_path / "s.h5", {"T": 0.6})
    code, res = cli(monkeypatch, capsys, ["rollout", str(tmp_path / "plain.safetensors"), "--init", init, "--steps", "1",
                                          "-o", str(tmp_path / "o.h5")])
    assert code == 2 and "give --lag" in res.err
    code, res = cli(monkeypatch, capsys, ["rollout", str(tmp_path / "odd.safetensors"), "--init", init, "--steps", "1",
                                          "-o", str(tmp_path / "o.h5")])
    assert code == 2 and "defaults.rollout.warp_speed is not a rollout option" in res.err and res.err.count("\n") == 1


def test_shipped_model_refuses_another_state_point_and_lag(tmp_path, monkeypatch, capsys):
    """The issue's cases: an N = 300, T = 1.0 snapshot, a T = 0.6 snapshot into the T = 0.5 model, --lag 500."""
    hot = start(tmp_path / "hot.h5", {"T": 1.0}, n_side=7)  # 343 particles
    code, res = cli(monkeypatch, capsys, ["rollout", "flow-proof-T0.6-sig", "--init", hot, "--steps", "3",
                                          "-o", str(tmp_path / "o.h5")])
    assert code == 2 and "temperature 1 (trained 0.6 ± 0.02)" in res.err and res.err.count("\n") == 1
    ok = start(tmp_path / "start.h5", {"T": 0.6}, n_side=10)
    code, res = cli(monkeypatch, capsys, ["rollout", "flow-proof-T0.5-mem", "--init", ok, "--steps", "3",
                                          "-o", str(tmp_path / "o.h5")])
    assert code == 2 and "temperature 0.6 (trained 0.5 ± 0.02)" in res.err
    code, res = cli(monkeypatch, capsys, ["rollout", "flow-proof-T0.6-sig", "--init", ok, "--steps", "3", "--lag", "500",
                                          "-o", str(tmp_path / "o.h5")])
    assert code == 2 and "lag 500 outside the trained [2.11, 10]" in res.err
    assert not list(tmp_path.glob("o*"))


def test_library_check_without_a_domain_passes_and_names_every_start(ckpt):
    from glassgen.sampling.models import load_model

    model = load_model(ckpt)
    species, box, x = lattice()
    good, hot, hot2 = (Snapshot(species, box, x, {"T": t, "source": f"s{k}"}) for k, t in enumerate((0.6, 0.9, 1.0)))
    assert check_domain(model, [good, good], 5.0) == {}
    with pytest.raises(InputError, match=r"^s1 \(and 1 more\): .*temperature 0.9 .*temperature 1 "):
        check_domain(model, [good, hot, hot2], 5.0)
    assert check_domain(FlowModel(LocalEncoder(n_species=2, width=4, cutoff=1.2), VelocityConfig(
        embed_dim=4, hidden=4, cutoff=1.2), PriorScale([2.0], [[0.1, 0.1]])), hot, 500.0) == {}
    unknown = dict(model.checkpoint, domain=dict(DOMAIN, temperature="unknown", lag="unknown"))
    assert check_domain(unknown, hot, 500.0) == {}
