"""Supervised BOTAN propensity training (``glassgen fit`` with ``task: propensity``).

The recipe is :mod:`glassgen.encoder.recipe`, the linear probe :mod:`glassgen.encoder.probe`, prediction
:mod:`glassgen.encoder.predict`.

Loss p·MSE_node + (1-p)·MSE_edge, with p = 0 for the first ``pretrain_steps``
(edge-only pre-training, which the BOTAN authors call essential) and p = ``p_node``
after; the means run over every particle and pair, or over the scored ones (``loss_on: scored``).
With ``freeze_trunk`` only the decoders train, and ``probe`` fits heads' last layers by least squares
first. One step = ``batch`` configurations (default 1), each under a random cube symmetry, with
the gradient of their mean loss. Example k of the run (step k // batch) is configuration k of a
shuffle of the training set per epoch, its symmetry keyed by (seed, k): the same examples whether the
batch is split over processes (torchrun; glassgen.core.distributed) or not. Scores are
Pearson correlations on A particles (node) and AA pairs with r₀ < 1.35 (edge); the
best checkpoint is chosen on the validation configurations only.

Outputs in ``out``: ``log.csv``, ``last.safetensors`` + ``last.state.pt`` (every
``checkpoint_every`` steps; ``--resume`` continues from them), ``best.safetensors``,
``recipe.yaml``; under torchrun only rank 0 writes them. Prediction: :mod:`glassgen.encoder.predict`.
"""
from __future__ import annotations

import csv
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from glassgen.core import distributed
from glassgen.core.device import autocast
from glassgen.encoder.botan import BOTAN
from glassgen.encoder.checkpoint import load_model, load_state, save_model, save_state
from glassgen.encoder.probe import probe_heads
from glassgen.core.card import domain_from_data, training_card
from glassgen.core.errors import InputError
from glassgen.encoder.targets import cubic_symmetries, pearson, prepare, transform_graph
from glassgen.core.recipe import to_dict
from glassgen.encoder.recipe import DataSection, PropensityRecipe, TrainSection, load_recipe  # noqa: F401 (public here too)


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
    state = source.state_dict()
    if source.config.shared_decoder and not recipe.model.shared_decoder \
            and replace(source.config, shared_decoder=False) == recipe.model:
        # two heads from one: the edge head starts as the (edge-pretrained) shared decoder, and so does the node
        # head, which then trains without rewriting the edge head
        state.update({k.replace("decoders.0.", "decoders.1.", 1): v for k, v in state.items() if k.startswith("decoders.0.")})
    elif source.config != recipe.model:
        raise InputError(init, f"architecture {source.config} differs from the recipe's model {recipe.model}")
    model.load_state_dict(state)
    return model


def scored(item: dict) -> dict:
    """``item`` with ``node_sel`` and ``edge_sel``: the indices of its scored particles and pairs
    (:func:`glassgen.encoder.targets.eval_masks`), which the loss and the probe then average over."""
    return dict(item, node_sel=item["mask_node"].nonzero().squeeze(-1), edge_sel=item["mask_edge"].nonzero().squeeze(-1))


def train_step(model, optimizer, items: list[dict], p_node: float, grad_clip: float, batch: int = 1,
               precision: str = "fp32") -> float:
    """One optimiser step on the mean loss of a batch of ``batch`` graphs, of which this process holds ``items``.

    An item with ``node_sel``/``edge_sel`` (:func:`scored`) is scored on those particles and pairs only.

    Returns the batch's mean loss. ``model`` may be compiled; the gradients are summed over processes
    (glassgen.core.distributed) before clipping, so every process takes the same step.
    """
    items = [items] if isinstance(items, dict) else items  # one graph, as before batches
    optimizer.zero_grad(set_to_none=True)
    total = torch.zeros(())
    for item in items:  # one graph at a time: memory of one configuration, whatever the batch
        with autocast(precision, item["y_node"].device):
            pred_node, pred_edge = model(item)
        res_node, res_edge = pred_node.float() - item["y_node"], pred_edge.float() - item["y_edge"]
        if "node_sel" in item:
            res_node, res_edge = res_node[item["node_sel"]], res_edge[item["edge_sel"]]
        loss = p_node * torch.mean(res_node ** 2) + (1 - p_node) * torch.mean(res_edge ** 2)
        (loss / batch).backward()
        total = total + loss.detach().cpu() / batch
    total = distributed.all_reduce_gradients(optimizer.param_groups[0]["params"], total)
    torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], grad_clip)
    optimizer.step()
    return float(total)


@torch.no_grad()
def evaluate(model, items: list[dict]) -> tuple[float, float]:
    """Mean over configurations of (node Pearson on A, edge Pearson on AA pairs r₀ < 1.35)."""
    node, edge = [], []
    if not items:
        return float("nan"), float("nan")
    for it in items:
        pn, pe = model(it)
        node.append(pearson(pn[it["mask_node"]].cpu(), it["y_node"][it["mask_node"]].cpu()))
        edge.append(pearson(pe[it["mask_edge"]].cpu(), it["y_edge"][it["mask_edge"]].cpu()))
    return float(np.mean(node)), float(np.mean(edge))


PROBE_EPOCHS = 4  # passes over the training configurations (each under its own symmetry) the probe is fitted on
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


def _index(t: TrainSection, k: int, n: int) -> int:
    """The configuration of example k of the run: a pure function of (seed, k), whichever process or sitting draws it."""
    return int(_order(t.seed, k // n, n)[k % n])


def _example(t: TrainSection, k: int, items, syms: torch.Tensor) -> dict:
    """Example k of the run, augmented by a symmetry drawn from (seed, k)."""
    item = items[_index(t, k, len(items))]
    if t.loss_on == "scored":
        item = scored(item)
    if not t.augment:
        return item
    return transform_graph(item, syms[int(torch.randint(len(syms), (), generator=distributed.generator(t.seed, k)))])


def fit(recipe_path, device: str = "cpu", resume: bool = False, out: str | None = None,
        max_minutes: float | None = None) -> Path:
    """Train BOTAN on propensity; returns the output folder. See the module docstring.

    ``max_minutes`` stops after a checkpoint once that much wall time has passed in this
    sitting (continue later with ``resume=True``).

    Long: the loop's resume, evaluation, selection and checkpoint branches share its running values.
    """
    from tqdm import tqdm

    recipe = load_recipe(recipe_path)
    out_dir = Path(out or recipe.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t, dev, main = recipe.train, torch.device(device), distributed.is_main()
    if t.batch < distributed.world_size():
        raise InputError(str(recipe_path), f"train.batch {t.batch} is smaller than the {distributed.world_size()} "
                                           "processes it is split over")
    torch.manual_seed(t.seed)
    model = initial_model(recipe).to(dev)
    optimizer = _optimizer(model, t)
    start, best, elapsed0 = _restore(out_dir, model, optimizer, resume)
    distributed.barrier()  # every rank has read the state before rank 0 writes anything
    systems = []
    train_items = prepare(recipe, recipe.data.train, dev, systems)
    domain = domain_from_data([(sp, box, m) for sp, box, _, m in systems], [lag for *_, lag, _ in systems],
                              recipe.data.temperature)

    def card(step, scores=()):  # the model card of a checkpoint written now
        return training_card(recipe_path, {str(m.get("source")): m for *_, m in systems}, recipe.data.licence, device,
                             elapsed0 + time.perf_counter() - t0, step, [{"name": k, "value": v} for k, v in scores])
    if main:  # rank 0 alone scores, logs and writes
        val_items, test_items = prepare(recipe, recipe.data.val, dev), prepare(recipe, recipe.data.test, dev)
        writer, log = _open_log(out_dir, recipe, start if resume else None)
    syms = cubic_symmetries(recipe.model.dim).to(dev)
    if t.probe and start == 0:  # the same fit in every process: each holds every training configuration
        probe_heads(model, (_example(t, k, train_items, syms) for k in range(PROBE_EPOCHS * len(train_items))), t.probe)
    step_model = torch.compile(model, dynamic=True) if t.compile else model  # shares the parameters
    n, losses, t0 = len(train_items), [], time.perf_counter()
    bar = tqdm(range(start, t.steps), initial=start, total=t.steps, desc="fit propensity", unit="step", disable=not main)
    for step in bar:
        items = [_example(t, step * t.batch + j, train_items, syms) for j in distributed.shard(t.batch)]
        train_items.prefetch(_index(t, k, n) for k in range((step + 1) * t.batch, (step + 1 + recipe.data.workers) * t.batch))
        p = 0.0 if step < t.pretrain_steps else t.p_node
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(t, step)
        model.train()
        losses.append(train_step(step_model, optimizer, items, p, t.grad_clip, t.batch, t.precision))
        done = step + 1
        if main and (done % t.eval_every == 0 or done == t.steps):
            model.eval()
            (vn, ve), (tn, te) = evaluate(model, val_items), evaluate(model, test_items)
            elapsed = elapsed0 + time.perf_counter() - t0
            writer.writerow(dict(step=done, epoch=done * t.batch / n, p_node=p, train_loss=np.mean(losses),
                                 val_node=vn, val_edge=ve, test_node=tn, test_edge=te, elapsed_s=round(elapsed, 1),
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
            if main:
                elapsed = elapsed0 + time.perf_counter() - t0
                save_model(out_dir / "last.safetensors", model, dict(step=done, task="propensity"), domain, card(done))
                save_state(out_dir / "last.state.pt", optimizer, done, dict(best=float(best), elapsed_s=elapsed))
            if max_minutes is not None and distributed.agree(time.perf_counter() - t0 > 60 * max_minutes):
                break
    if main:
        log.close()
    return out_dir


def _optimizer(model, t: TrainSection) -> torch.optim.Adam:
    """Adam over the trained parameters: with ``freeze_trunk`` the decoders only (the trunk then needs no gradient)."""
    if t.freeze_trunk:
        for name, par in model.named_parameters():
            par.requires_grad_(name.startswith("decoders."))
    return torch.optim.Adam([par for par in model.parameters() if par.requires_grad], lr=t.lr)


def _restore(out_dir: Path, model, optimizer, resume: bool) -> tuple[int, float, float]:
    """(start step, best validation node score, elapsed seconds): of the run in ``out_dir`` with its weights and
    optimiser state loaded when resuming; of a fresh run otherwise, which refuses a folder holding a run."""
    if resume:
        state = load_state(out_dir / "last.state.pt")
        model.load_state_dict(load_model(out_dir / "last.safetensors")[0].state_dict())
        optimizer.load_state_dict(state["optimizer"])
        return state["step"], state["extra"]["best"], state["extra"]["elapsed_s"]
    if (out_dir / "last.state.pt").exists():
        raise InputError(str(out_dir), "already holds a training run; pass --resume to continue it, or choose another out")
    return 0, -np.inf, 0.0


def _open_log(out_dir: Path, recipe: PropensityRecipe, resumed_at: int | None):
    """``recipe.yaml`` and the log (cut back to ``resumed_at``, when resuming), open for appending."""
    import yaml

    (out_dir / "recipe.yaml").write_text(yaml.safe_dump(to_dict(recipe), sort_keys=False))
    path = out_dir / "log.csv"
    if resumed_at is not None:
        _truncate_log(path, resumed_at)
    new = not path.exists()
    log = open(path, "a", newline="")
    writer = csv.DictWriter(log, LOG_FIELDS)
    if new:
        writer.writeheader()
    return writer, log


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
