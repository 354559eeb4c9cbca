"""Device-agnostic running: --device refusals, and no host-device synchronisation in a fixed-step ODE draw."""
import collections
import contextlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from typer.testing import CliRunner

from glassgen.cli.app import app
from glassgen.core.device import resolve_device
from glassgen.core.errors import InputError
from glassgen.flow.context import LocalEncoder
from glassgen.flow.model import FlowModel
from glassgen.flow.paths import PriorScale, draw_prior, schedule, score_term
from glassgen.flow.velocity import VelocityConfig
from glassgen.sampling import solvers

# aten ops that make the host wait for the device: a scalar read (item, bool, float, int all lower to
# _local_scalar_dense) or an output whose size depends on the data
SYNC_OPS = {"_local_scalar_dense", "nonzero", "masked_select", "unique", "_unique", "_unique2", "unique_dim",
            "unique_consecutive", "repeat_interleave", "equal", "is_nonzero"}
HOST_METHODS = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")


class SyncCounter(TorchDispatchMode):
    """Counts host reads of tensors: the Python methods above, and the aten ops of SYNC_OPS below them."""

    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in SYNC_OPS:
            self.calls["aten." + name] += 1
        elif name in ("index", "index_put", "index_put_") and any(
                i is not None and i.dtype == torch.bool for i in args[1]):  # a mask: its size depends on the data
            self.calls["aten.index(mask)"] += 1
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def counting_syncs(monkeypatch):
    counter = SyncCounter()

    def spy(name, real):
        def wrapped(self, *a, **kw):
            counter.calls[name] += 1
            return real(self, *a, **kw)
        return wrapped

    with monkeypatch.context() as mp:
        for name in HOST_METHODS:
            mp.setattr(torch.Tensor, name, spy(name, getattr(torch.Tensor, name)))
        with counter:
            yield counter.calls


def _model_field():
    """The velocity closure of a model with every per-draw input on: geometry, species pairs, history, memory."""
    torch.manual_seed(0)
    cfg = VelocityConfig(embed_dim=8, hidden=8, n_layers=2, cutoff=1.2, geometry=4, history=True, memory=2,
                         pair_sigma=[[1.0, 0.8], [0.8, 0.88]])
    model = FlowModel(LocalEncoder(n_species=2, width=8, cutoff=1.5), cfg, PriorScale([1.0, 10.0], [[0.1, 0.1], [0.3, 0.3]]))
    rng = np.random.default_rng(0)
    emb = model.eval().embed(model.graph(rng.integers(0, 2, 64), rng.uniform(0, 4, (64, 3)), np.full(3, 4.0)))
    v, scale = model.velocity_fn(emb, torch.tensor([5.0]), previous=torch.zeros(3, 64, 3), known=torch.ones(3),
                                 window=torch.zeros(3, 64, 3), window_known=torch.zeros(3))
    return v, scale.expand(3, -1, -1)


@pytest.mark.parametrize("method", sorted(solvers.FIXED))
def test_fixed_step_draw_never_reads_a_tensor_on_the_host(monkeypatch, method):
    v, scale = _model_field()
    x0 = draw_prior(scale, (3, 64, 3), torch.Generator().manual_seed(0))
    with torch.no_grad(), counting_syncs(monkeypatch) as calls:
        x, nfe = solvers.odeint(v, x0, method, ode_steps=3)
        y, _ = solvers.odeint(v, x0, method, time_grid=[0.0, 0.3, 0.8, 1.0])
    assert dict(calls) == {}
    assert nfe == 3 * solvers.FIXED[method][1] and torch.isfinite(x).all() and torch.isfinite(y).all()


def test_euler_maruyama_draw_never_reads_a_tensor_on_the_host(monkeypatch):
    v, scale = _model_field()
    gen = torch.Generator().manual_seed(0)
    x0 = draw_prior(scale, (3, 64, 3), gen)
    with torch.no_grad(), counting_syncs(monkeypatch) as calls:
        x, nfe = solvers.euler_maruyama(v, x0, lambda t, x, u: score_term("flow", t, x, u),
                                        lambda shape: draw_prior(scale, shape, gen), ode_steps=4,
                                        sigma_fn=lambda t: schedule("flow", t)[1])
    assert dict(calls) == {} and nfe == 4 and torch.isfinite(x).all()


def test_the_counter_sees_host_reads(monkeypatch):
    """The check above can fail: a field that reads a norm back (float) or masks by value is counted."""
    def greedy(t, x):
        return x * float(x.norm()) + x[x > 0].sum()

    with torch.no_grad(), counting_syncs(monkeypatch) as calls:
        solvers.odeint(greedy, torch.ones(2, 4, 3), "euler", ode_steps=2)
    assert calls["__float__"] == 2 and calls["aten.index(mask)"] == 2 and calls["aten._local_scalar_dense"] >= 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_devices_are_one_line_input_errors():
    for name, match in (("cuda", "no CUDA device is available"), ("cuda:1", "no CUDA device"),
                        ("gpu", "not a torch device"), ("meta", "glassgen runs on cpu, cuda")):
        with pytest.raises(InputError, match=match):
            resolve_device(name)
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("args", [
    ["fit", "r.yaml"], ["predict", "m.safetensors", "s.npz", "-o", "p.csv"], ["sample", "m.safetensors", "s.h5", "-o", "o.h5"],
    ["rollout", "m.safetensors", "--init", "s.h5", "--steps", "2", "-o", "o.h5"],
    ["calibrate", "m.safetensors", "t.h5", "--lag", "1"], ["evaluate", "g.h5", "r.h5", "-o", "out", "--ck-model", "m.safetensors",
                                                          "--ck-lag", "1"]])
def test_every_model_command_refuses_cuda_without_it_before_any_work(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)  # none of the files exist: the device is checked first
    res = CliRunner().invoke(app, args + ["--device", "cuda"])
    assert isinstance(res.exception, InputError) and "--device: cuda: no CUDA device" in str(res.exception)
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_refusal_exits_2_with_one_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "glassgen", "sample", "m.safetensors", "s.h5", "-o", "o.h5", "--device", "cuda"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0
    assert res.stderr.startswith("error: --device: cuda: no CUDA device is available on this machine")


def _toy_flow_data(folder):
    from glassgen import Ensemble, write_ensemble

    rng = np.random.default_rng(0)
    g = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    x = (g + 0.08 * rng.normal(size=g.shape)) % 4.0
    d = 0.1 * rng.normal(size=(8, 1, 64, 3))
    write_ensemble(folder / "a.h5", Ensemble((np.arange(64) % 5 == 0).astype(int), np.full(3, 4.0), x, np.array([10.0]),
                                             x[None, None] + d))


def _log(path, key):
    import csv

    with open(path, newline="") as f:
        return np.array([float(r[key]) for r in csv.DictReader(f)])


def test_flow_recipe_precision_bf16_trains_under_autocast(tmp_path):
    from flow_fixtures import tiny_flow_recipe
    from glassgen.flow.train import fit_flow

    _toy_flow_data(tmp_path)
    fit_flow(tiny_flow_recipe(tmp_path, "fp32", ["a.h5"], steps=3), progress=False)
    fit_flow(tiny_flow_recipe(tmp_path, "bf16", ["a.h5"], steps=3, precision="bf16"), progress=False)
    a, b = _log(tmp_path / "fp32" / "log.csv", "grad_norm"), _log(tmp_path / "bf16" / "log.csv", "grad_norm")
    assert np.all(np.isfinite(b)) and not np.array_equal(a, b)  # bf16 products really ran ...
    np.testing.assert_allclose(b, a, rtol=0.02)  # ... and kept the training close to fp32's
    with pytest.raises(InputError, match="train.precision"):
        fit_flow(tiny_flow_recipe(tmp_path, "fp16", ["a.h5"], steps=1, precision="fp16"), progress=False)


def test_flow_recipe_compile_traces_the_velocity_net_and_changes_nothing_else(tmp_path, monkeypatch):
    """train.compile: the velocity net goes through TorchDynamo; same losses, same checkpoint names. The eager
    backend replaces inductor's code generation here (minutes of C++ compiling on a CPU)."""
    import torch._dynamo
    from flow_fixtures import tiny_flow_recipe
    from glassgen.flow.train import fit_flow

    real = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: real(self, **kw, backend="eager"))
    _toy_flow_data(tmp_path)
    fit_flow(tiny_flow_recipe(tmp_path, "plain", ["a.h5"], steps=2), progress=False)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    fit_flow(tiny_flow_recipe(tmp_path, "compiled", ["a.h5"], steps=2, compile=True), progress=False)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1
    np.testing.assert_allclose(_log(tmp_path / "compiled" / "log.csv", "loss"), _log(tmp_path / "plain" / "log.csv", "loss"),
                               rtol=1e-5)
    state = torch.load(tmp_path / "compiled" / "train_state.pt", weights_only=True)
    assert state["model"].keys() == state["ema"].keys() and not any("_orig_mod" in k for k in state["model"])
    torch._dynamo.reset()


def test_botan_recipe_precision_bf16_trains_under_autocast(tmp_path):
    import yaml

    from glassgen.encoder.train import fit

    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    box = (160 / 1.2) ** (1 / 3)
    for i in (1, 2):
        x0 = rng.uniform(0, box, (160, 3))
        np.savez(tmp_path / "data" / f"c{i}.npz", types=(np.arange(160) % 5 == 0).astype(np.int8), initial_positions=x0,
                 positions=x0 + 0.3 * rng.normal(size=(2, 160, 3)))
    for precision in ("fp32", "bf16"):
        r = {"task": "propensity", "data": {"folder": "data", "pattern": "c{id}.npz", "train": [1], "val": [2], "test": []},
             "model": {"width": 8, "steps": 2},
             "train": {"steps": 3, "pretrain_steps": 1, "eval_every": 1, "checkpoint_every": 3, "precision": precision}}
        (tmp_path / f"{precision}.yaml").write_text(yaml.safe_dump(r))
        fit(tmp_path / f"{precision}.yaml", out=tmp_path / precision)
    a, b = _log(tmp_path / "fp32" / "log.csv", "train_loss"), _log(tmp_path / "bf16" / "log.csv", "train_loss")
    assert np.all(np.isfinite(b)) and not np.array_equal(a, b)
    np.testing.assert_allclose(b, a, rtol=0.02)
