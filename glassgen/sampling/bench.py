"""Timings of training and sampling that can be set side by side across machines (``glassgen bench``).

Four benchmarks on one seeded random Kob–Andersen configuration (:func:`glassgen.system.overlaps.random_configuration`,
N = 4096 at density 1.2: ~164 k directed edges at cutoff 2.0), the same input on every machine:

- ``botan_train_step``: one optimiser step of supervised BOTAN, reference architecture (54 209 parameters), cutoff
  2.0: forward, loss 0.4 MSE_node + 0.6 MSE_edge, backward, gradient clipping, Adam
  (:func:`glassgen.encoder.train.train_step`) — the step the BOTAN authors benchmarked across GPUs.
- ``flow_train_step``: one step of the flow trainer with a shipped model (a random box symmetry, encoder pass,
  flow-matching loss on ``batch_size`` draws with the neighbours' relative-velocity term, backward, clipping,
  AdamW; :func:`glassgen.flow.train.step_loss`).
- ``sample``: ``samples`` displacement fields of the configuration in one call (iso-configurational batch),
  the model's validated solver (heun × 8 for the shipped ones).
- ``chain_draw``: one draw, the model part of one chain step.

Data loading is excluded, as in the BOTAN authors' benchmark: configuration, graph and targets are made before
the clock starts. The two sampling rows include the snapshot's neighbour graph and encoder pass, which every
chain step pays. Each row: ``warmup`` untimed calls, ``repeats`` timed ones (median and range), and a
``torch.profiler`` table of the operators (kernels on a GPU) with the most self time in one more call.
"""
from __future__ import annotations

import os
import platform
import statistics
import time

import numpy as np
import torch

from glassgen.core.errors import InputError

FLOW_MODELS = ("flow-T0.44-botan", "flow-proof-T0.6-sig")  # the first one shipped is benchmarked
FULL = {"n_particles": 4096, "warmup": 2, "repeats": 5, "samples": 8, "batch_size": 8}
# N = 250: a KA box of 5.9 σ, above twice the potential's cutoff (2.5 σ), which an energy-prior model's energy needs
QUICK = {"n_particles": 250, "warmup": 1, "repeats": 2, "samples": 2, "batch_size": 2}
DATA_NOTE = ("data loading excluded: configuration, neighbour graph and targets are built before timing "
             "(the sampling rows include the snapshot's graph and encoder pass, as every chain step does)")
PROFILE_ROWS = 10


def check_device(device: str) -> torch.device:
    """The torch device, or a one-line refusal when it is not there."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputError("--device", f"unknown torch device {device!r} (cpu, cuda, cuda:1, ...)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device", f"{device} asked for, but this torch ({torch.__version__}) sees no CUDA/ROCm device")
    if dev.type not in ("cpu", "cuda"):
        raise InputError("--device", f"glassgen bench times cpu or cuda devices; got {device!r}")
    return dev


def machine(dev: torch.device) -> dict:
    """What the numbers were measured on: CPU, memory, OS, device and library versions."""
    import torch_geometric

    from glassgen.core.version import __version__

    cpu = platform.processor() or platform.machine()
    mem = None
    if os.path.exists("/proc/cpuinfo"):
        names = [ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")]
        cpu = names[0] if names else cpu
        mem = next((int(ln.split()[1]) / 2**20 for ln in open("/proc/meminfo") if ln.startswith("MemTotal")), None)
    out = {"cpu": cpu, "cpu_count": os.cpu_count(), "memory_gib": None if mem is None else round(mem, 1),
           "os": platform.platform(), "python": platform.python_version(), "glassgen": __version__,
           "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
           "torch_threads": torch.get_num_threads(), "dtype": "float32", "device": str(dev), "device_name": cpu,
           # settings of the allocator and thread pools change the figures (docs/performance.md, "Scaling in N")
           "environment": {k: v for k, v in sorted(os.environ.items())
                           if k.startswith(("MALLOC_", "OMP_", "MKL_")) or k in ("GLIBC_TUNABLES", "THP_MEM_ALLOC_ENABLE")}}
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        backend = f"ROCm {torch.version.hip}" if torch.version.hip else f"CUDA {torch.version.cuda}"
        out.update(device_name=props.name, device_memory_gib=round(props.total_memory / 2**30, 1), backend=backend)
    return out


def timed(fn, warmup: int, repeats: int, sync) -> dict:
    """Median, range and all times in seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "times_s": times}


def profile(fn, dev: torch.device, rows: int = PROFILE_ROWS) -> list[dict]:
    """The operators (device kernels on a GPU) with the most self time in one call of ``fn``."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with torch_profile(activities=acts) as prof:
        fn()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    key = "self_device_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    events = list(prof.key_averages())
    own = [float(getattr(e, key, getattr(e, key.replace("device", "cuda"), 0.0)) or 0.0) for e in events]
    total = sum(own) or 1.0
    top = sorted(zip(own, events), key=lambda p: -p[0])[:rows]
    return [{"name": e.key, "self_ms": round(t / 1e3, 3), "percent": round(100 * t / total, 1), "calls": e.count}
            for t, e in top if t > 0]


def botan_case(snap, dev, sizes):
    """One supervised BOTAN training step on the configuration; targets are random numbers of the right shape."""
    from glassgen.encoder.botan import BOTAN, count_parameters, make_graph
    from glassgen.encoder.train import train_step

    torch.manual_seed(0)
    model = BOTAN().to(dev).train()
    graph = make_graph(snap.positions, snap.species, snap.box, model.config.cutoff, dev)
    n, e = graph["species"].shape[0], graph["edge_index"].shape[1]
    gen = torch.Generator().manual_seed(0)
    item = dict(graph, y_node=torch.rand(n, generator=gen).to(dev), y_edge=(0.1 * torch.randn(e, generator=gen)).to(dev))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    info = {"n_particles": n, "edges": e, "cutoff": model.config.cutoff, "parameters": count_parameters(model),
            "unit": "steps/s"}
    return (lambda: train_step(model, opt, item, 0.4, 1.0)), info


def flow_model(name=None, dev="cpu"):
    """The flow model to time: ``name`` (file or shipped name) or the first of :data:`FLOW_MODELS` shipped."""
    from glassgen.core.checkpoint import shipped_names
    from glassgen.sampling.models import load_model

    if name is None:
        have = shipped_names()
        name = next((m for m in FLOW_MODELS if m in have), None)
        if name is None:
            raise InputError("glassgen bench", f"none of the shipped flow models {', '.join(FLOW_MODELS)} is installed")
    model = load_model(name, dev)
    if model.checkpoint["kind"] != "flow":
        raise InputError(str(name), f"is a {model.checkpoint['kind']!r} checkpoint; bench needs a flow model")
    return model, str(name)


def _lag(model) -> float:
    """The lag the model samples by default (its validated defaults), else its middle trained lag."""
    lag = (model.checkpoint.get("defaults") or {}).get("sample", {}).get("lag")
    return float(lag) if lag else float(model.prior.log_lags.exp()[len(model.prior.log_lags) // 2])


def flow_case(snap, model, dev, sizes, pair_weight: float = 1.0):
    """One flow-trainer step (the recipe's loop body) on synthetic displacements at the prior's scale."""
    from glassgen.flow.context import box_symmetries, encoder_cutoff
    from glassgen.flow.train import step_loss

    b, lag = sizes["batch_size"], _lag(model)
    graph = model.graph(snap.species, snap.positions, snap.box)
    rot = box_symmetries(snap.box)[1]  # a non-trivial symmetry, as augmentation draws
    gen = torch.Generator(device=dev).manual_seed(0)
    with torch.no_grad():
        scale = model.prior_scale(model.embed(graph), torch.tensor([lag])).float()
    x1 = scale * torch.randn((b,) + tuple(snap.positions.shape), generator=gen, device=dev)
    hist = {}
    if model.history:  # a second-order model reads the previous step (and a memory model its window)
        hist = {"previous": x1.roll(1, 0), "known": torch.ones(b, dtype=torch.bool, device=dev)}
        if model.memory:
            hist.update(window=x1.roll(2, 0), window_known=hist["known"])
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    lags = np.full(b, lag)

    def step():
        loss = step_loss(model, model.embed(graph, rot), x1, lags, gen, model.kind, pair_weight, hist)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss.detach())
    info = {"n_particles": len(snap.species), "edges": int(graph["edge_index"].shape[1]),
            "cutoff": encoder_cutoff(model.encoder), "velocity_cutoff": float(model.velocity.cfg.cutoff),
            "parameters": sum(p.numel() for p in model.parameters()), "batch_size": b, "pair_weight": pair_weight,
            "unit": "steps/s"}
    return step, info


def sample_case(snap, model, dev, n_samples: int):
    """``n_samples`` draws of the configuration in one call, with the model's validated solver."""
    from glassgen.sampling.sample import draw
    from glassgen.sampling.solvers import SolverConfig

    model.eval()
    d = (model.checkpoint.get("defaults") or {}).get("sample", {})
    solver = SolverConfig(method=d.get("method", "heun"), ode_steps=d.get("ode_steps", 8))
    lag = _lag(model)
    rng = np.random.default_rng(0)
    scale = float(model.prior.log_scales.exp().mean())
    prev = scale * rng.standard_normal(snap.positions.shape) if model.history else None
    win = prev if model.memory else None
    info = {"n_particles": len(snap.species), "draws_per_call": n_samples, "lag": lag, "solver": solver.meta(),
            "unit": "draws/s"}
    return (lambda: draw(model, snap, lag, n_samples, solver, 0, prev, win, 1.0, None, dev)), info


def run(device: str = "cpu", quick: bool = False, repeats: int | None = None, model: str | None = None,
        progress=None) -> dict:
    """All four benchmarks; returns the JSON-ready result (settings, machine, rows, profiles).

    ``quick``: N = 128 and fewer repeats, to check that everything runs (the figures mean nothing).
    ``progress``: called with a line of text before each benchmark.
    """
    from glassgen.system.overlaps import random_configuration

    dev = check_device(device)
    sizes = dict(QUICK if quick else FULL)
    if repeats is not None:
        if repeats < 1:
            raise InputError("--repeats", f"must be at least 1; got {repeats}")
        sizes["repeats"] = int(repeats)
    say = progress or (lambda line: None)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    load0 = os.getloadavg()[0]
    snap = random_configuration(sizes["n_particles"], seed=0)
    flow, name = flow_model(model, dev)
    cases = {"botan_train_step": lambda: botan_case(snap, dev, sizes),
             "flow_train_step": lambda: flow_case(snap, flow, dev, sizes),
             "sample": lambda: sample_case(snap, flow, dev, sizes["samples"]),
             "chain_draw": lambda: sample_case(snap, flow, dev, 1)}
    rows, profiles = {}, {}
    for key, make in cases.items():
        say(f"{key}: N = {sizes['n_particles']}, {sizes['warmup']} warm-up + {sizes['repeats']} timed calls")
        fn, info = make()
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        res = timed(fn, sizes["warmup"], sizes["repeats"], sync)
        per_call = info.get("draws_per_call", 1)
        info.update(res, rate=per_call / res["median_s"])
        if key != "botan_train_step":
            info["model"] = name
        if dev.type == "cuda":
            info["peak_device_memory_mib"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
        profiles[key] = profile(fn, dev)
        rows[key] = info
    import resource

    return {"glassgen_bench": 1, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "quick": quick, "settings": sizes,
            "configuration": snap.meta["source"], "data_loading": DATA_NOTE, "machine": machine(dev),
            "load_average": {"before": round(load0, 2), "after": round(os.getloadavg()[0], 2)},
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "benchmarks": rows, "profile": profiles,
            "profile_sort": "self device time" if dev.type == "cuda" else "self CPU time"}


def summary_lines(res: dict) -> list[str]:
    """The result as a text table and the top operators of each benchmark."""
    m = res["machine"]
    lines = [f"{m['device']} ({m['device_name']}; {m['cpu_count']} CPU cores), torch {m['torch']}, "
             f"PyG {m['torch_geometric']}, {m['dtype']}, {m['torch_threads']} threads; load average "
             f"{res['load_average']['before']} before, {res['load_average']['after']} after",
             res["data_loading"], "",
             f"{'benchmark':<18}{'N':>7}{'edges':>9}{'median s':>10}{'range s':>17}{'rate':>11}"]
    for key, r in res["benchmarks"].items():
        edges = str(r.get("edges", "")) or "-"
        lines.append(f"{key:<18}{r['n_particles']:>7}{edges:>9}{r['median_s']:>10.4f}"
                     f"{r['min_s']:>8.4f}–{r['max_s']:<8.4f}{r['rate']:>7.3g} {r['unit']}")
    for key, rows in res["profile"].items():
        lines += ["", f"top operators of one {key} ({res['profile_sort']}):"]
        lines += [f"  {p['percent']:5.1f}% {p['self_ms']:10.2f} ms {p['calls']:6d} calls  {p['name']}" for p in rows]
    return lines
