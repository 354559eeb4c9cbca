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
                         pair_sigma=[[1.0, 0.8], [0.8, 0.88]], pair_channels=True)
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
