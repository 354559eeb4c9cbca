"""Supervised BOTAN recipes (``glassgen fit`` with ``task: propensity``): YAML onto dataclasses.

Unknown keys are an error naming the key; paths are relative to the recipe file; the training loop that
reads them is :mod:`glassgen.encoder.train`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from glassgen.core.device import PRECISIONS
from glassgen.core.errors import InputError
from glassgen.core.recipe import from_dict, load_yaml
from glassgen.encoder.botan import BOTANConfig


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
    steps: int = 20000  # total optimiser steps
    batch: int = 1  # configurations per step (split over processes under torchrun)
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
    precision: str = "fp32"  # fp32, or bf16: the forward pass under bf16 autocast (glassgen.core.device)
    # Starting weights: a BOTAN authors' state_dict (.pth) or a glassgen BOTAN checkpoint
    # (.safetensors), relative to the recipe file; None = random initialisation.
    init: str | None = None
    # Heads ("node", "edge") whose last Linear is fitted by least squares on the frozen features of the training
    # configurations before step 0 of a fresh run (glassgen.encoder.probe; needs shared_decoder false).
    probe: list[str] = field(default_factory=list)
    freeze_trunk: bool = False  # train the decoders only; the encoders and message passing keep their init
    # Which particles and pairs the loss (and the probe) averages over: "all", or "scored": the ones the scores
    # are computed on (A particles; AA pairs with r0 < 1.35, the first shell).
    loss_on: str = "all"


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
    if (t.probe or t.freeze_trunk) and (recipe.model.shared_decoder or t.init is None):
        raise InputError(str(path), "train.probe and train.freeze_trunk need train.init and model.shared_decoder: false")
    if t.loss_on not in ("all", "scored"):
        raise InputError(str(path), f"train.loss_on is 'all' or 'scored'; got {t.loss_on!r}")
    if not set(t.probe) <= {"node", "edge"}:
        raise InputError(str(path), f"train.probe lists heads 'node' and 'edge'; got {t.probe}")
    if t.batch < 1 or t.precision not in PRECISIONS:
        raise InputError(str(path), f"train: need batch >= 1 and precision in {PRECISIONS}; got {t.batch}, {t.precision!r}")
    return recipe
