"""Supervised BOTAN propensity training (``glassgen fit`` with ``task: propensity``) and prediction.

Loss p·MSE_node + (1-p)·MSE_edge, with p = 0 for the first ``pretrain_steps``
(edge-only pre-training, which the BOTAN authors call essential) and p = ``p_node``
after. One step = one configuration under a random cube symmetry. Scores are
Pearson correlations on A particles (node) and AA pairs with r₀ < 1.35 (edge); the
best checkpoint is chosen on the validation configurations only.

Outputs in ``out``: ``log.csv``, ``last.safetensors`` + ``last.state.pt`` (every
``checkpoint_every`` steps; ``--resume`` continues from them), ``best.safetensors``,
``recipe.yaml``.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from glassgen.encoder.botan import BOTAN, BOTANConfig
from glassgen.encoder.checkpoint import load_model, load_state, save_model, save_state
from glassgen.core.card import domain_from_data, training_card
from glassgen.core.errors import InputError
from glassgen.encoder.targets import cubic_symmetries, pearson, prepare, transform_graph  # noqa: F401 (prepare: public here too)
from glassgen.core.recipe import from_dict, load_yaml, to_dict


@dataclass
class DataSection:
    """Where the ensembles are. ``pattern`` names files by configuration id (``{id}``)."""

    folder: str = "../shared/data/botan_ka3d_T0.44"
    pattern: str = "isoconfig_N4096T0.44_{id}_tc07.npz"
    train: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    val: list[int] = field(default_factory=lambda: [8])
    test: list[int] = field(default_factory=lambda: [9, 10])
    time: float | None = None  # lag to learn; None = the only one in the files
    npz_density: float = 1.2  # npz files carry no box: L = (N/ρ)^(1/3)
    npz_time: float = 4120.0  # lag of the npz frame, LJ units
    temperature: float | None = None  # T of files whose metadata has none (checkpoint domain; else "unknown")
    licence: str | None = None  # licence of the training data, for the checkpoint's model card
    workers: int = 4  # threads reading the next configurations ahead (0: read when needed)
    cache: int = 64  # configurations (graphs and targets) kept in memory; more are read again when drawn


@dataclass
class TrainSection:
    steps: int = 20000  # total optimiser steps (one configuration each)
    pretrain_steps: int = 5000  # edge-only (p = 0) steps at the start
    p_node: float = 0.4
    lr: float = 1e-4
    lr_final: float | None = None  # None: constant lr; else cosine decay from lr to lr_final over `steps`
    grad_clip: float = 1.0
    augment: bool = True  # random cube symmetry per step
    eval_every: int = 70
    checkpoint_every: int = 70
    seed: int = 0
    compile: bool = False  # torch.compile the training forward/backward (docs/botan.md: speed)
    # Starting weights: a BOTAN authors' state_dict (.pth) or a glassgen BOTAN checkpoint
    # (.safetensors), relative to the recipe file; None = random initialisation.
    init: str | None = None


@dataclass
class PropensityRecipe:
    task: str = "propensity"
    out: str = "runs/botan-propensity"
    data: DataSection = field(default_factory=DataSection)
    model: BOTANConfig = field(default_factory=BOTANConfig)
    train: TrainSection = field(default_factory=TrainSection)


def load_recipe(path) -> PropensityRecipe:
    raw = load_yaml(path, ("data.folder", "train.init"))  # paths relative to the recipe file
    recipe = from_dict(PropensityRecipe, raw, str(path))
    if recipe.task != "propensity":
        raise InputError(str(path), f"task must be 'propensity' here; got {recipe.task!r}")
    # Relative to the recipe file, so recipes travel with the repository; resolved either way, so a path a
    # variant inherits from its base (made absolute by load_yaml) reads the same as the base's own.
    here = Path(path).resolve().parent
    recipe.data.folder = str((here / recipe.data.folder).resolve())
    if recipe.train.init is not None:
        recipe.train.init = str((here / recipe.train.init).resolve())
    d = recipe.data
    if not isinstance(d.workers, int) or d.workers < 0 or not isinstance(d.cache, int) or d.cache < 1:
        raise InputError(str(path), f"data.workers must be an integer >= 0 and data.cache >= 1; got {d.workers!r}, {d.cache!r}")
    t = recipe.train
    if not (0 <= t.p_node <= 1) or t.steps < 1 or not (0 <= t.pretrain_steps <= t.steps):
        raise InputError(str(path), "train: need 0 <= p_node <= 1 and 0 <= pretrain_steps <= steps >= 1")
    if not t.lr > 0 or (t.lr_final is not None and not t.lr_final > 0):
        raise InputError(str(path), "train: lr and lr_final must be positive")
    return recipe


def initial_model(recipe: PropensityRecipe) -> BOTAN:
    """BOTAN of the recipe's architecture, from ``train.init`` when given. Architecture mismatch -> InputError."""
    model = BOTAN(recipe.model)
    init = recipe.train.init
    if init is None:
        return model
    if init.endswith(".pth"):
        from glassgen.encoder.reference_weights import load_reference_weights

        source = load_reference_weights(init)
    else:
        source = load_model(init)[0]
    if source.config != recipe.model:
        raise InputError(init, f"architecture {source.config} differs from the recipe's model {recipe.model}")
    model.load_state_dict(source.state_dict())
    return model


def train_step(model, optimizer, item: dict, p_node: float, grad_clip: float) -> float:
    """One optimiser step on one graph; ``model`` may be wrapped (e.g. DistributedDataParallel)."""
    optimizer.zero_grad(set_to_none=True)
    pred_node, pred_edge = model(item)
    loss = p_node * torch.mean((pred_node - item["y_node"]) ** 2) + (1 - p_node) * torch.mean((pred_edge - item["y_edge"]) ** 2)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def evaluate(model, items: list[dict]) -> tuple[float, float]:
    """Mean over configurations of (node Pearson on A, edge Pearson on AA pairs r₀ < 1.35)."""
    node, edge = [], []
    for it in items:
        pn, pe = model(it)
        node.append(pearson(pn[it["mask_node"]].cpu(), it["y_node"][it["mask_node"]].cpu()))
        edge.append(pearson(pe[it["mask_edge"]].cpu(), it["y_edge"][it["mask_edge"]].cpu()))
    return float(np.mean(node)), float(np.mean(edge))


LOG_FIELDS = ["step", "epoch", "p_node", "train_loss", "val_node", "val_edge", "test_node", "test_edge", "elapsed_s", "lr"]


def learning_rate(t: TrainSection, step: int) -> float:
    """Learning rate of optimiser step ``step`` (0-based): constant, or cosine from ``lr`` to ``lr_final``.

    A pure function of the step, so a resumed run follows the same schedule.
    """
    if t.lr_final is None:
        return t.lr
    frac = min(step / max(t.steps - 1, 1), 1.0)
    # a Python float: a numpy scalar in the optimizer state would make it unloadable with weights_only=True
    return float(t.lr_final + 0.5 * (t.lr - t.lr_final) * (1.0 + np.cos(np.pi * frac)))


def _order(seed: int, epoch: int, n: int) -> np.ndarray:
    # A pure function of (seed, epoch): a resumed run visits the same configurations.
    return np.random.default_rng([seed, epoch]).permutation(n)


def fit(recipe_path, device: str = "cpu", resume: bool = False, out: str | None = None,
        max_minutes: float | None = None) -> Path:
    """Train BOTAN on propensity; returns the output folder. See the module docstring.

    ``max_minutes`` stops after a checkpoint once that much wall time has passed in this
    sitting (continue later with ``resume=True``).
    """
    from tqdm import tqdm

    recipe = load_recipe(recipe_path)
    out_dir = Path(out or recipe.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t, dev = recipe.train, torch.device(device)
    torch.manual_seed(t.seed)
    model = initial_model(recipe).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr)
    start, best, elapsed0 = 0, -np.inf, 0.0
    log_path = out_dir / "log.csv"
    if resume:
        state = load_state(out_dir / "last.state.pt")
        model.load_state_dict(load_model(out_dir / "last.safetensors")[0].state_dict())
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start, best, elapsed0 = state["step"], state["extra"]["best"], state["extra"]["elapsed_s"]
        _truncate_log(log_path, start)
    elif (out_dir / "last.state.pt").exists():
        raise InputError(str(out_dir), "already holds a training run; pass --resume to continue it, or choose another out")
    import yaml

    (out_dir / "recipe.yaml").write_text(yaml.safe_dump(to_dict(recipe), sort_keys=False))
    systems = []
    train_items = prepare(recipe, recipe.data.train, dev, systems)
    domain = domain_from_data([(sp, box, m) for sp, box, _, m in systems], [lag for *_, lag, _ in systems],
                              recipe.data.temperature)

    def card(step, scores=()):  # the model card of a checkpoint written now
        return training_card(recipe_path, {str(m.get("source")): m for *_, m in systems}, recipe.data.licence, device,
                             elapsed0 + time.perf_counter() - t0, step, [{"name": k, "value": v} for k, v in scores])
    val_items = prepare(recipe, recipe.data.val, dev)
    test_items = prepare(recipe, recipe.data.test, dev)
    syms = cubic_symmetries(recipe.model.dim).to(dev)
    new_log = not log_path.exists()
    log = open(log_path, "a", newline="")
    writer = csv.DictWriter(log, LOG_FIELDS)
    if new_log:
        writer.writeheader()
    step_model = torch.compile(model, dynamic=True) if t.compile else model  # shares the parameters
    n, losses, t0 = len(train_items), [], time.perf_counter()
    bar = tqdm(range(start, t.steps), initial=start, total=t.steps, desc="fit propensity", unit="step")
    for step in bar:
        epoch = step // n
        item = train_items[_order(t.seed, epoch, n)[step % n]]
        train_items.prefetch(_order(t.seed, s // n, n)[s % n] for s in range(step + 1, step + 1 + recipe.data.workers))
        if t.augment:
            item = transform_graph(item, syms[torch.randint(len(syms), ())])
        p = 0.0 if step < t.pretrain_steps else t.p_node
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(t, step)
        model.train()
        losses.append(train_step(step_model, optimizer, item, p, t.grad_clip))
        done = step + 1
        if done % t.eval_every == 0 or done == t.steps:
            model.eval()
            vn, ve = evaluate(model, val_items)
            tn, te = evaluate(model, test_items) if test_items else (float("nan"), float("nan"))
            elapsed = elapsed0 + time.perf_counter() - t0
            writer.writerow(dict(step=done, epoch=done / n, p_node=p, train_loss=np.mean(losses), val_node=vn,
                                 val_edge=ve, test_node=tn, test_edge=te, elapsed_s=round(elapsed, 1),
                                 lr=learning_rate(t, step)))
            log.flush()
            losses = []
            bar.set_postfix(val_node=f"{vn:.3f}", val_edge=f"{ve:.3f}")
            # Selection on validation only, and only once the node head is being trained.
            if step >= t.pretrain_steps and vn > best:
                best = vn
                save_model(out_dir / "best.safetensors", model, dict(step=done, val_node=vn, val_edge=ve, task="propensity"),
                           domain, card(done, [("validation node Pearson (A)", vn), ("validation edge Pearson (AA)", ve)]))
        if done % t.checkpoint_every == 0 or done == t.steps:
            elapsed = elapsed0 + time.perf_counter() - t0
            save_model(out_dir / "last.safetensors", model, dict(step=done, task="propensity"), domain, card(done))
            save_state(out_dir / "last.state.pt", optimizer, done, dict(best=float(best), elapsed_s=elapsed))
            if max_minutes is not None and time.perf_counter() - t0 > 60 * max_minutes:
                break
    log.close()
    return out_dir


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows written after the checkpoint we resume from."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, LOG_FIELDS)
        w.writeheader()
        w.writerows(r for r in rows if int(r["step"]) <= step)


def predict(checkpoint, snapshot_path, out, device: str = "cpu", density: float = 1.2) -> np.ndarray:
    """Predicted propensity of every particle of one configuration; written to ``out`` (.npz or .csv).

    ``snapshot_path``: an H5MD ensemble (its initial configuration) or trajectory (first
    frame), or a BOTAN npz (``initial_positions``; box from ``density``).
    """
    from glassgen.core.atomic import atomic_path, check_writable
    from glassgen.encoder.botan import make_graph
    from glassgen.encoder.targets import read_npz_ensemble

    out = check_writable(out)
    if out.suffix not in (".npz", ".csv"):
        raise InputError(str(out), "output must end in .npz or .csv")
    model, _ = load_model(checkpoint, device)
    p = Path(snapshot_path)
    if p.suffix == ".npz":
        snap = read_npz_ensemble(p, density).snapshot()
    else:
        from glassgen.io.h5md import read

        obj = read(p)
        snap = obj.snapshot() if hasattr(obj, "snapshot") else obj.frame(0)
    graph = make_graph(snap.positions, snap.species, snap.box, model.config.cutoff, device, source=str(p))
    with torch.no_grad():
        prop = model.decode_nodes(model.encode(graph)[0]).cpu().numpy().astype(np.float64)
    with atomic_path(out) as tmp:
        if out.suffix == ".npz":
            with open(tmp, "wb") as f:
                np.savez(f, species=snap.species, positions=snap.positions, box=snap.box, propensity=prop)
        else:
            cols = np.column_stack([np.arange(len(prop)), snap.species, snap.positions, prop])
            fmt = ["%d", "%d"] + ["%.10g"] * (snap.positions.shape[1] + 1)
            header = "id,species," + ",".join("xyz"[: snap.positions.shape[1]]) + ",propensity"
            np.savetxt(tmp, cols, fmt=fmt, delimiter=",", header=header, comments="")
    return prop
