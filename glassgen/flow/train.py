"""Training loop of the flow model (``glassgen fit`` tasks ``flow`` and ``diffusion``).

One step = one configuration (and one box symmetry, if augmenting) with
``batch_size`` MD runs of it as data and as many noise draws / flow times: the
encoder pass and the snapshot part of the velocity network are shared by the batch.
The step's choices are keyed by (seed, step) and each sample's noise by (seed, step, sample), so the
batch is the same when its samples are split over processes (glassgen.core.distributed, torchrun).

Output folder: ``log.csv`` (step, loss, grad_norm, val_loss, seconds), ``last.safetensors``
and ``best.safetensors`` (EMA weights; :func:`glassgen.flow.model.load_model`),
``train_state.pt`` (raw weights, optimizer, EMA, step; plain tensors and numbers,
``torch.load(weights_only=True)``). Under torchrun only rank 0 writes them.
"""
from __future__ import annotations

import copy
import csv
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from glassgen.core import distributed
from glassgen.core.atomic import atomic_path
from glassgen.core.device import autocast
from glassgen.core.card import training_card
from glassgen.core.errors import InputError
from glassgen.flow import paths
from glassgen.flow.context import LocalEncoder, box_symmetries
from glassgen.flow.examples import (load_examples, open_examples, open_training_data, prior_from_examples,  # noqa: F401
                                    trajectory_examples)  # (public here too)
from glassgen.flow.mobility import EnergySize
from glassgen.flow.model import FlowModel, init_weights, save_model
from glassgen.flow.recipe import FitRecipe, load_recipe
from glassgen.flow.velocity import VelocityConfig


def build_model(recipe: FitRecipe, prior: paths.PriorScale, energy_size: EnergySize | None = None) -> FlowModel:
    """The recipe's model around a measured prior (and, with ``model.energy_prior``, its fitted
    :class:`EnergySize`, :func:`energy_size_from_examples`)."""
    enc = recipe.encoder
    if enc.kind == "local":
        encoder = LocalEncoder(n_species=prior.log_scales.shape[1], width=enc.width, cutoff=enc.cutoff)
        width = enc.width
    elif enc.kind == "botan":
        if not enc.checkpoint:
            raise InputError("recipe", "encoder.kind botan needs encoder.checkpoint (a supervised BOTAN checkpoint)")
        try:
            from glassgen.encoder.checkpoint import load_model as load_botan
        except ImportError:
            raise InputError("recipe", "this install has no BOTAN encoder (glassgen.encoder.checkpoint)") from None
        encoder, _ = load_botan(enc.checkpoint)
        width = int(getattr(encoder.config, "width", 64))
    else:
        raise InputError("recipe", f"unknown encoder.kind {enc.kind!r}; choose local or botan")
    m = recipe.model
    try:
        vcfg = VelocityConfig(embed_dim=width, hidden=m.hidden, n_layers=m.n_layers, cutoff=m.cutoff,
                              n_fourier=m.n_fourier, factored=m.factored, geometry=m.geometry, history=m.history,
                              memory=m.memory, pair_sigma=m.pair_sigma)
    except (ValueError, TypeError) as e:
        raise InputError("recipe", f"model: {e}") from None
    if m.pair_sigma is not None and len(m.pair_sigma) < prior.log_scales.shape[1]:
        raise InputError("recipe", f"model.pair_sigma covers {len(m.pair_sigma)} species; the data have "
                                   f"{prior.log_scales.shape[1]}")
    if m.energy_prior and energy_size is None:
        raise InputError("recipe", "model.energy_prior needs its fit on the training data (energy_size_from_examples)")
    return FlowModel(encoder, vcfg, prior, recipe.task, encoder_frozen=enc.frozen, mobility=m.mobility,
                     mobility_power=m.mobility_power, energy_size=energy_size if m.energy_prior else None)


def energy_size_from_examples(examples, prior: paths.PriorScale) -> EnergySize:
    """The energy prior fitted on training examples: every (configuration, lag) against its snapshot's
    Kob–Andersen potential energy per particle (one pass; a stream is read file by file)."""
    from glassgen.system.ka import mean_energy

    def items():
        for ex in examples:
            e = mean_energy(ex["initial"], ex["species"], ex["box"])
            for k, lag in enumerate(ex["lags"]):
                yield lag, ex["species"], e, ex["disp"][:, k]
    return EnergySize.from_data(items(), prior)


class EmbeddingCache:
    """Frozen-encoder embeddings per (configuration, symmetry), least recently used dropped first."""

    def __init__(self, size: int):
        self.size, self.store, self.misses = size, OrderedDict(), 0

    def get(self, key, make):
        if key in self.store:
            self.store.move_to_end(key)
            return self.store[key]
        self.misses += 1
        val = {k: v.detach() for k, v in make().items()}
        self.store[key] = val
        if len(self.store) > self.size:
            self.store.popitem(last=False)
        return val


def step_loss(model, emb, x1, lag, gen, kind, pair_weight: float = 0.0, history: dict | None = None):
    """Flow loss of one batch: x1 (B,N,D) displacements of one configuration; lag a number or (B,) lags.

    ``pair_weight`` > 0 adds the relative-velocity term over the velocity graph's edges (paths.flow_loss);
    ``history``: the history of a second-order model, FlowModel.velocity_fn's keywords ``previous`` (B,N,D),
    ``known`` (B,) and, with a memory window, ``window`` (B,N,D), ``window_known`` (B,) (:func:`_history`).
    """
    lag = torch.as_tensor(lag, dtype=torch.float64).reshape(-1)
    v, scale = model.velocity_fn(emb, lag, **(history or {}))
    pairs = emb["edge_index"] if pair_weight > 0 else None
    return paths.flow_loss(kind, v, x1, scale.expand(x1.shape[0], -1, -1), gen, pairs=pairs, pair_weight=pair_weight)


def _draw_pairs(n_runs: int, n_lags: int, batch: int, gen) -> tuple[np.ndarray, np.ndarray]:
    """(run, lag) indices of one batch: distinct runs while there are enough, each with its own lag.

    One lag per sample lets a trajectory origin (one run, several lags) fill a batch, and
    trains every lag of an ensemble in every step.
    """
    if n_runs >= batch:
        runs = torch.randperm(n_runs, generator=gen)[:batch]
    else:
        runs = torch.randint(n_runs, (batch,), generator=gen)
    ks = torch.randint(n_lags, (len(runs),), generator=gen)
    return runs.numpy(), ks.numpy()


def _history(model, ex, runs, ks, rot=None, dropout: float = 0.0, gen=None) -> dict:
    """History keywords of FlowModel.velocity_fn for the rows ``ex[...][runs, ks]`` ({} without history).

    ``dropout``: each sample loses its history with this probability (a first step), and
    independently its memory window (one of a chain's first W steps); the window is never
    known without the previous step, as in a chain. ``gen``: one generator, or one per sample.
    """
    if not model.history or "prev" not in ex:
        return {}  # ensembles carry no history: trained as first steps

    def term(key, flag):
        d = torch.as_tensor(ex[key][runs, ks], dtype=torch.float64)
        known = torch.as_tensor(np.broadcast_to(ex[flag][ks], d.shape[:-2]).copy()).reshape(-1)
        if dropout > 0:
            known = known & (paths.draws(torch.rand, (len(known),), gen, "cpu", torch.float32) >= dropout)
        d = d.reshape((-1,) + d.shape[-2:])
        return (d @ rot.T if rot is not None else d).float(), known

    out = dict(zip(("previous", "known"), term("prev", "has_prev")))
    if model.memory:
        window, known = term("win", "has_win")
        out.update(window=window, window_known=known & out["known"])
    return out


def _ema_update(ema, model, decay):
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), model.parameters()):
            pe.lerp_(p, 1.0 - decay)
        for be, b in zip(ema.buffers(), model.buffers()):
            be.copy_(b)


@torch.no_grad()
def validation_loss(model, graphs, examples, n, seed=1234):
    """Plain flow loss on validation ensembles with fixed noise, flow times and runs (comparable across steps
    and across recipes: no pair term)."""
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    tot = []
    for g, ex in zip(graphs, examples):
        emb = model.embed(g)
        d = ex["disp"][:n]  # (R',K,N,D): every kept run at every lag, in one batch
        x1 = torch.as_tensor(d.reshape((-1,) + d.shape[2:]), dtype=torch.float32)
        lags = np.tile(np.asarray(ex["lags"], dtype=np.float64), d.shape[0])
        tot.append(step_loss(model, emb, x1.to(dev), lags, gen, model.kind,
                             history=_history(model, ex, slice(0, n), slice(None))).item())
    return float(np.mean(tot))


def fit(recipe, device: str = "cpu", resume: bool = False, out=None, max_minutes: float | None = None) -> Path:
    """``glassgen fit`` entry for tasks flow/diffusion; returns the output folder."""
    recipe = load_recipe(recipe)
    if out is not None:
        recipe.out = str(out)
    fit_flow(recipe, device=device, resume=resume, max_minutes=max_minutes)
    return Path(recipe.out)


def fit_flow(recipe, device: str = "cpu", resume: bool = False, progress: bool = True,
             max_minutes: float | None = None) -> dict:
    """Train a flow/diffusion model from a recipe (path or FitRecipe). Returns a summary dict.

    ``max_minutes`` stops at the next checkpoint after that much wall time (resume later with ``resume``).

    Long (68 lines): the loop's logging, selection and checkpoint branches share its running values; the data,
    resume, state and step work are in helpers.
    """
    from tqdm import tqdm

    source = "(FitRecipe object)" if isinstance(recipe, FitRecipe) else str(recipe)
    recipe = load_recipe(recipe) if not isinstance(recipe, FitRecipe) else recipe
    t_cfg, out = recipe.train, Path(recipe.out)
    out.mkdir(parents=True, exist_ok=True)
    train, val, meta, domain, provenance = open_training_data(recipe)
    with torch.random.fork_rng():  # initial weights from the recipe's seed, global RNG untouched
        torch.manual_seed(t_cfg.seed)
        prior = prior_from_examples(train)
        size = energy_size_from_examples(train, prior) if recipe.model.energy_prior else None
        model = build_model(recipe, prior, size).to(device)
    if t_cfg.init is not None:
        init_weights(model, t_cfg.init)
    ema = copy.deepcopy(model).eval()
    if t_cfg.compile:  # in place: the state dict keeps its names; the velocity net is the per-sample cost
        model.velocity.compile(dynamic=True)
    if t_cfg.batch_size < distributed.world_size():
        raise InputError(source, f"train.batch_size {t_cfg.batch_size} is smaller than the {distributed.world_size()} "
                                 "processes it is split over")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=t_cfg.lr, weight_decay=t_cfg.weight_decay)
    state_path, log_path = out / "train_state.pt", out / "log.csv"
    start, best, elapsed0, rows = _resume_state(resume, state_path, log_path, model, ema, opt)
    # made when a file is read and kept with its examples in the stream's cache (not for all files at once)
    graph_of = lambda ex: model.graph(ex["species"], ex["initial"], ex["box"], ex["source"])  # noqa: E731
    data = {"train": train, "graphs": train.derived("graph", graph_of),
            "symmetries": train.derived("symmetries", lambda ex: box_symmetries(ex["box"])),
            "cache": EmbeddingCache(t_cfg.cache_size) if recipe.encoder.frozen else None}
    val_graphs = val.derived("graph", graph_of) if val else []
    t0, last_val, done = time.perf_counter(), float("nan"), start

    def card(step, val_loss=None):  # the model card of a checkpoint written now
        return training_card(source, provenance, recipe.data.licence, device, elapsed0 + time.perf_counter() - t0, step,
                             [] if val_loss is None else [{"name": "validation loss", "value": val_loss}])
    bar = tqdm(range(start, t_cfg.steps), initial=start, total=t_cfg.steps, desc=recipe.task,
               disable=not progress or not distributed.is_main())
    for step in bar:
        loss, gnorm = _train_step(model, opt, recipe, data, step, device)
        _ema_update(ema, model, t_cfg.ema_decay if step >= 10 else 0.0)
        done = step + 1
        row = {"step": done, "loss": f"{loss:.6g}", "grad_norm": f"{gnorm:.4g}", "val_loss": "",
               "seconds": f"{time.perf_counter() - t0:.2f}"}
        if val and distributed.is_main() and (done % t_cfg.eval_every == 0 or done == t_cfg.steps):
            last_val = validation_loss(ema, val_graphs, val, t_cfg.val_samples)
            row["val_loss"] = f"{last_val:.6g}"
            if last_val < best:
                best = last_val
                save_model(ema, out / "best.safetensors", {"step": done, "val_loss": last_val, **meta}, domain=domain,
                           card=card(done, last_val))
        rows.append(row)
        bar.set_postfix(loss=f"{loss:.4f}", val=f"{last_val:.4f}")
        if done % t_cfg.checkpoint_every and done != t_cfg.steps:
            continue
        if distributed.is_main():
            save_model(ema, out / "last.safetensors", {"step": done, **meta}, domain=domain, card=card(done))
            state = {"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(),
                     "step": done, "best": best, "elapsed": elapsed0 + time.perf_counter() - t0}
            _save_state(state_path, log_path, state, rows)
        if max_minutes is not None and distributed.agree(time.perf_counter() - t0 > 60 * max_minutes):
            break  # every rank stops together, after a checkpoint
    if not val and done == t_cfg.steps and distributed.is_main():
        save_model(ema, out / "best.safetensors", {"step": done, **meta}, domain=domain, card=card(done))
    return {"steps": done, "best_val_loss": best, "seconds": time.perf_counter() - t0,
            "cache_misses": data["cache"].misses if data["cache"] else None, "model": ema}


def _resume_state(resume: bool, state_path: Path, log_path: Path, model, ema, opt):
    """(start step, best validation loss, elapsed seconds, log rows) of a resumed run, weights loaded; zeros
    for a fresh one."""
    if not resume:
        return 0, float("inf"), 0.0, []
    if not state_path.exists():
        raise InputError(str(state_path), "--resume given but there is no training state to resume from")
    st = torch.load(state_path, weights_only=True)
    model.load_state_dict(st["model"])
    ema.load_state_dict(st["ema"])
    opt.load_state_dict(st["optimizer"])
    start = int(st["step"])
    rows = []
    if start and log_path.exists():
        with open(log_path) as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= start]
    return start, float(st["best"]), float(st.get("elapsed", 0.0)), rows


def _save_state(state_path: Path, log_path: Path, state: dict, rows: list) -> None:
    """The training state and the log so far, each written atomically."""
    with atomic_path(state_path) as tmp:
        torch.save(state, tmp)
    with atomic_path(log_path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[-1]))
        w.writeheader()
        w.writerows(rows)


def _train_step(model, opt, recipe: FitRecipe, data: dict, step: int, device) -> tuple[float, float]:
    """One optimiser step; returns (batch loss, gradient norm). The configuration, symmetry and runs are drawn
    from (seed, step), sample i's noise from (seed, step, i): the same batch on every rank and in every sitting."""
    t_cfg, train, syms, graphs, cache = recipe.train, data["train"], data["symmetries"], data["graphs"], data["cache"]
    model.train()
    gen = distributed.generator(t_cfg.seed, step)
    c = int(torch.randint(len(train), (), generator=gen))
    ex = train[c]
    gi = int(torch.randint(len(syms[c]), (), generator=gen)) if t_cfg.augment else 0
    rot = syms[c][gi]
    amp = autocast(t_cfg.precision, device)
    with amp:
        emb = cache.get((c, gi), lambda: model.embed(graphs[c], rot)) if cache is not None else model.embed(graphs[c], rot)
    runs, ks = _draw_pairs(ex["disp"].shape[0], len(ex["lags"]), t_cfg.batch_size, gen)
    part = distributed.shard(t_cfg.batch_size)  # this rank's samples, each with noise keyed by its index
    runs, ks = runs[part.start:part.stop], ks[part.start:part.stop]
    noise = [distributed.generator(t_cfg.seed, step, i) for i in part]
    x1 = torch.as_tensor(ex["disp"][runs, ks], dtype=torch.float64) @ rot.T
    hist = _history(model, ex, runs, ks, rot, t_cfg.history_dropout, noise)  # dropout: first steps too
    with amp:
        loss = step_loss(model, emb, x1.float().to(device), ex["lags"][ks], noise, recipe.task, t_cfg.pair_weight, hist)
    loss = loss * (len(part) / t_cfg.batch_size)  # this rank's share of the batch mean
    opt.zero_grad(set_to_none=True)
    loss.backward()
    loss = distributed.all_reduce_gradients(model.parameters(), loss)
    gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), t_cfg.grad_clip))
    opt.step()
    return float(loss.item()), gnorm
