"""Checkpoints, recipes and the fit/predict commands end to end on a tiny synthetic data set."""

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from glassgen.encoder.botan import BOTAN, BOTANConfig, make_graph
from glassgen.core.checkpoint import read_metadata
from glassgen.encoder.checkpoint import load_model, load_state, save_model, save_state
from glassgen.cli.app import app
from glassgen.core.errors import InputError
from glassgen.encoder.train import load_recipe


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    cfg = BOTANConfig(width=16, steps=3, shared_weights=False)
    model = BOTAN(cfg)
    rng = np.random.default_rng(0)
    box = np.full(3, 6.0)
    graph = make_graph(rng.uniform(0, 6, (200, 3)), rng.integers(0, 2, 200), box)
    save_model(tmp_path / "m.safetensors", model, {"step": 3})
    loaded, info = load_model(tmp_path / "m.safetensors")
    assert loaded.config == cfg and info == {"step": 3}
    with torch.no_grad():
        for a, b in zip(model(graph), loaded(graph)):
            assert torch.equal(a, b)
    meta = read_metadata(tmp_path / "m.safetensors")
    assert meta["kind"] == "botan" and meta["config"]["width"] == 16 and meta["glassgen_version"]


def test_checkpoint_from_another_format_version_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    model = BOTAN()
    meta = {"format": "glassgen-checkpoint", "format_version": "99", "glassgen_version": "9.0", "kind": "botan",
            "config": "{}", "info": "{}"}
    save_file(dict(model.state_dict()), str(tmp_path / "old.safetensors"), metadata=meta)
    with pytest.raises(InputError, match="format version 99"):
        load_model(tmp_path / "old.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.safetensors"):
        load_model(tmp_path / "junk.safetensors")


def test_training_state_loads_with_weights_only(tmp_path):
    model = BOTAN(BOTANConfig(width=8, steps=1))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model(make_graph(np.random.default_rng(1).uniform(0, 6, (100, 3)), np.zeros(100, int), np.full(3, 6.0)))[0].sum().backward()
    opt.step()
    save_state(tmp_path / "s.pt", opt, 7, {"best": 0.5})
    state = load_state(tmp_path / "s.pt")
    assert state["step"] == 7 and state["extra"]["best"] == 0.5
    opt2 = torch.optim.Adam(model.parameters(), 1e-3)
    opt2.load_state_dict(state["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def _tiny_data(folder, ids, n=160, runs=4):
    rng = np.random.default_rng(0)
    box = (n / 1.2) ** (1 / 3)
    for i in ids:
        x0 = rng.uniform(0, box, (n, 3))
        types = (rng.permutation(n) < n // 5).astype(np.int8)
        np.savez(folder / f"conf_{i}.npz", types=types, initial_positions=x0,
                 positions=x0 + 0.3 * rng.normal(size=(runs, n, 3)))


def _recipe(tmp_path, **train):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    _tiny_data(data, [1, 2, 3, 4])
    r = {"task": "propensity", "out": str(tmp_path / "run"),
         "data": {"folder": "data", "pattern": "conf_{id}.npz", "train": [1, 2], "val": [3], "test": [4]},
         "model": {"width": 8, "steps": 2},
         "train": dict(dict(steps=6, pretrain_steps=2, eval_every=2, checkpoint_every=2), **train)}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(r))
    return path


def test_unknown_recipe_key_names_the_key(tmp_path):
    path = _recipe(tmp_path)
    r = yaml.safe_load(path.read_text())
    r["train"]["learning_rate"] = 1e-3
    path.write_text(yaml.safe_dump(r))
    with pytest.raises(InputError, match="train.learning_rate"):
        load_recipe(path)


def test_shipped_recipe_parses():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    recipe = load_recipe(root / "recipes" / "botan-T0.44.yaml")
    assert recipe.model == BOTANConfig(shared_decoder=False) and recipe.data.train == [1, 2, 3, 4, 5, 6, 7]
    assert recipe.data.val == [8] and recipe.train.freeze_trunk and recipe.train.loss_on == "scored"
    assert Path(recipe.train.init).name == "model1.pth" and Path(recipe.train.init).is_absolute()
    # an experiment variant written as `extends:` its base: the base's data folder, its own schedule
    cpu = load_recipe(root / "experiments" / "recipes" / "botan-propensity-T0.44-cpu.yaml")
    base = load_recipe(root / "experiments" / "recipes" / "botan-propensity-T0.44.yaml")
    assert cpu.data == base.data and cpu.model == base.model
    assert (cpu.train.steps, cpu.train.lr, cpu.train.lr_final, base.train.steps) == (2100, 1e-3, 5e-5, 7000)
    assert Path(cpu.data.folder) == (root.parent / "shared" / "data" / "botan_ka3d_T0.44").resolve()


def test_cosine_learning_rate_runs_from_lr_to_lr_final_and_constant_by_default():
    from glassgen.encoder.train import TrainSection, learning_rate

    t = TrainSection(steps=101, lr=1e-3, lr_final=1e-4)
    lrs = [learning_rate(t, s) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4) and lrs[50] == pytest.approx(5.5e-4)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert learning_rate(TrainSection(lr=3e-4), 77) == 3e-4


def test_fit_resume_and_predict(tmp_path):
    runner = CliRunner()
    path = _recipe(tmp_path, lr=1e-3, lr_final=1e-4)  # the schedule's lr lands in the optimizer state
    res = runner.invoke(app, ["fit", str(path), "--max-minutes", "0"])  # stops at the first checkpoint
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    assert load_state(run / "last.state.pt")["step"] == 2
    res = runner.invoke(app, ["fit", str(path)])
    assert isinstance(res.exception, InputError)  # refuses to overwrite a run without --resume
    res = runner.invoke(app, ["fit", str(path), "--resume"])
    assert res.exit_code == 0, res.output
    rows = (run / "log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["2", "4", "6"]
    assert [float(r.split(",")[2]) for r in rows[1:]] == [0.0, 0.4, 0.4]  # edge-only pre-training first
    assert (run / "best.safetensors").exists() and load_model(run / "best.safetensors")[1]["step"] in (4, 6)
    out = tmp_path / "pred.csv"
    res = runner.invoke(app, ["predict", str(run / "last.safetensors"), str(tmp_path / "data" / "conf_4.npz"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    assert table.shape == (160, 6) and np.all(np.isfinite(table[:, 5]))
    # The written values are the model's node head on that configuration.
    model, _ = load_model(run / "last.safetensors")
    # the checkpoint's domain is the training data's (npz files carry no temperature), its card the run's
    dom, card = model.checkpoint["domain"], model.checkpoint["card"]
    assert dom["species"] == [0, 1] and dom["density"] == pytest.approx(1.2) and dom["n_particles"] == [160, 160]
    assert dom["temperature"] == "unknown" and dom["lag"][0] == dom["lag"][1] > 0
    assert card["training"]["steps"] == 6 and card["training"]["wall_time_s"] >= 0 and card["training"]["hardware"]["cpu_count"]  # rounded to 0.1 s: a 6-step toy run can round to 0
    with np.load(tmp_path / "data" / "conf_4.npz") as z:
        g = make_graph(z["initial_positions"], z["types"], np.full(3, (160 / 1.2) ** (1 / 3)), 2.0)
    with torch.no_grad():
        np.testing.assert_allclose(table[:, 5], model(g)[0].numpy(), rtol=1e-6, atol=1e-7)


def test_fit_unknown_task_is_input_error(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("task: nonsense\n")
    res = CliRunner().invoke(app, ["fit", str(path)])
    assert isinstance(res.exception, InputError) and "unknown task" in str(res.exception)


def test_h5md_folder_gives_the_same_training_data_as_npz(tmp_path):
    from glassgen.io.h5md import write_ensemble
    from glassgen.encoder.targets import read_npz_ensemble
    from glassgen.encoder.train import prepare

    path = _recipe(tmp_path)
    for i in (1, 2):
        write_ensemble(tmp_path / "data" / f"conf_{i}.h5", read_npz_ensemble(tmp_path / "data" / f"conf_{i}.npz", time=4120.0))
    recipe = load_recipe(path)
    from_npz = prepare(recipe, [1, 2], "cpu")
    recipe.data.pattern = "conf_{id}.h5"
    from_h5 = prepare(recipe, [1, 2], "cpu")
    for a, b in zip(from_npz, from_h5):
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    out = tmp_path / "p.npz"
    CliRunner().invoke(app, ["fit", str(path), "--max-minutes", "0"])
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "run" / "last.safetensors"), str(tmp_path / "data" / "conf_1.h5"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    with np.load(out) as z:
        assert z["propensity"].shape == (160,) and z["box"].shape == (3,)


def test_two_heads_from_a_one_decoder_checkpoint_start_as_its_decoder(tmp_path):
    """shared_decoder: false from a shared-decoder init: both heads start as the shared one (same node and edge
    outputs as the source); any other change of architecture is refused naming the file."""
    from glassgen.encoder.train import initial_model

    src = BOTAN(BOTANConfig(width=8, steps=2))
    torch.nn.init.normal_(src.decoders[0][-1].weight)  # a decoder that is not the fresh one
    save_model(tmp_path / "init.safetensors", src)
    recipe = load_recipe(_recipe(tmp_path, init=str(tmp_path / "init.safetensors")))
    recipe.model = BOTANConfig(width=8, steps=2, shared_decoder=False)
    two = initial_model(recipe)
    assert len(two.decoders) == 2
    g = make_graph(np.random.default_rng(2).uniform(0, 6, (120, 3)), np.arange(120) % 2, np.full(3, 6.0))
    with torch.no_grad():
        (n1, e1), (n2, e2) = src(g), two(g)
    assert torch.equal(n1, n2) and torch.equal(e1, e2)
    two.decoders[0][-1].weight.data += 1.0  # the heads are separate parameters
    assert not torch.equal(two.decoders[0][-1].weight, two.decoders[1][-1].weight)
    recipe.model = BOTANConfig(width=8, steps=3)
    with pytest.raises(InputError, match="init.safetensors"):
        initial_model(recipe)


def test_probe_is_the_least_squares_fit_of_each_head_on_frozen_features():
    """Targets that are an exact affine function of the features entering each head's last layer are
    recovered (residual ~0); the trunk and the first head layers are left as they were."""
    from glassgen.encoder.probe import probe_heads

    torch.manual_seed(0)
    model = BOTAN(BOTANConfig(width=8, steps=2, shared_decoder=False))
    rng = np.random.default_rng(3)
    graphs = [make_graph(rng.uniform(0, 6, (150, 3)), np.arange(150) % 2, np.full(3, 6.0)) for _ in range(3)]
    w_n, w_e = torch.randn(8), torch.randn(8)
    with torch.no_grad():
        for g in graphs:
            h, e = model.encode(g)
            g["y_node"] = model.decoders[0][:-1](h) @ w_n + 0.7
            g["y_edge"] = model.decoders[1][:-1](e) @ w_e - 0.2
    before = {k: v.clone() for k, v in model.state_dict().items()}
    probe_heads(model, graphs, ("node",), ridge=1e-9)
    node_only = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert node_only == {"decoders.0.4.weight", "decoders.0.4.bias"}
    probe_heads(model, graphs, ridge=1e-9)
    with torch.no_grad():
        for g in graphs:
            n, e = model(g)
            torch.testing.assert_close(n, g["y_node"], atol=1e-4, rtol=0)
            torch.testing.assert_close(e, g["y_edge"], atol=1e-4, rtol=0)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"decoders.0.4.weight", "decoders.0.4.bias", "decoders.1.4.weight", "decoders.1.4.bias"}
    with pytest.raises(ValueError, match="one decoder per output"):
        probe_heads(BOTAN(BOTANConfig(width=8, steps=2)), graphs)


def test_frozen_trunk_fit_moves_only_the_decoders(tmp_path):
    src = BOTAN(BOTANConfig(width=8, steps=2))
    save_model(tmp_path / "init.safetensors", src)
    path = _recipe(tmp_path, init=str(tmp_path / "init.safetensors"), probe=["node"], freeze_trunk=True,
                   pretrain_steps=0, p_node=1.0)
    r = yaml.safe_load(path.read_text())
    r["model"]["shared_decoder"] = False
    path.write_text(yaml.safe_dump(r))
    res = CliRunner().invoke(app, ["fit", str(path)])
    assert res.exit_code == 0, res.output
    out = load_model(tmp_path / "run" / "last.safetensors")[0].state_dict()
    for k, v in src.state_dict().items():
        if not k.startswith("decoders."):
            assert torch.equal(out[k], v), k
    assert not torch.equal(out["decoders.0.0.weight"], src.state_dict()["decoders.0.0.weight"])
    # p_node = 1 and no edge probe: the edge head is the init's shared decoder, untouched
    for k, v in src.state_dict().items():
        if k.startswith("decoders.0."):
            assert torch.equal(out[k.replace("decoders.0.", "decoders.1.", 1)], v), k
    r["model"]["shared_decoder"] = True  # one decoder cannot be probed per output
    path.write_text(yaml.safe_dump(r))
    with pytest.raises(InputError, match="shared_decoder: false"):
        load_recipe(path)


def test_scored_loss_averages_over_the_scored_particles_and_pairs_only():
    """train_step on a ``scored`` item returns 0.4 MSE over A particles + 0.6 MSE over AA pairs with r0 < 1.35,
    and moving a target outside those sets changes nothing."""
    from glassgen.encoder.targets import eval_masks
    from glassgen.encoder.train import scored, train_step

    torch.manual_seed(1)
    model = BOTAN(BOTANConfig(width=8, steps=2))
    g = make_graph(np.random.default_rng(4).uniform(0, 6, (150, 3)), (np.arange(150) % 5 == 0).astype(int), np.full(3, 6.0))
    n_edges = g["edge_index"].shape[1]
    g["y_node"], g["y_edge"] = torch.rand(150), torch.rand(n_edges)
    g["mask_node"], g["mask_edge"] = eval_masks(g["species"], g["edge_index"], g["edge_len"])
    with torch.no_grad():
        pn, pe = model(g)
    mn, me = g["mask_node"], g["mask_edge"]
    assert 0 < int(me.sum()) < n_edges and 0 < int(mn.sum()) < 150
    want = 0.4 * torch.mean((pn - g["y_node"])[mn] ** 2) + 0.6 * torch.mean((pe - g["y_edge"])[me] ** 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # a step that moves nothing
    assert train_step(model, opt, [scored(g)], 0.4, 1.0) == pytest.approx(float(want), rel=1e-5)
    g2 = dict(g, y_node=torch.where(mn, g["y_node"], 9.0), y_edge=torch.where(me, g["y_edge"], 9.0))
    assert train_step(model, opt, [scored(g2)], 0.4, 1.0) == pytest.approx(float(want), rel=1e-5)
    assert train_step(model, opt, [g2], 0.4, 1.0) > 10 * float(want)  # loss_on all sees them
