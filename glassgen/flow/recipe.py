"""Training recipes for ``glassgen fit`` with task ``flow`` or ``diffusion``: YAML onto dataclasses.

Unknown keys are an error naming the key; ``extends: BASE.yaml`` starts from another recipe
(glassgen.core.recipe). Example (``experiments/recipes/flow-T0.44.yaml``)::

    task: flow                    # or diffusion
    out: runs/flow-T0.44
    data:
      train: [../shared/data/botan_ka3d_T0.44/isoconfig_N4096T0.44_1_tc07.npz, ...]
      val:   [../shared/data/botan_ka3d_T0.44/isoconfig_N4096T0.44_8_tc07.npz]
      lag: 4120.0                 # only for .npz files, which carry no time
    encoder: {kind: local}        # or {kind: botan, checkpoint: botan.safetensors, frozen: true}
    model: {hidden: 64, n_layers: 3, cutoff: 1.5}
    train: {steps: 2000, batch_size: 8, lr: 1.0e-3}

Relative data paths are resolved against the recipe's folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from glassgen.core.device import PRECISIONS
from glassgen.core.errors import InputError

DENOISE_WIDTHS = ("fixed", "uniform")


@dataclass
class DataSpec:
    train: list = field(default_factory=list)  # data files (.h5 glassgen ensembles/trajectories, BOTAN .npz) or folders of .h5
    val: list = field(default_factory=list)  # model selection only
    lag: float | None = None  # LJ time of .npz files (they carry none)
    lags: list | None = None  # lags τ (LJ time) at which trajectory files are cut into (x(t0), Δ) pairs
    denoise: list | None = None  # noise amplitudes σ: examples (x + σε, −σε) at "lag" σ instead of pairs (equilibrium denoiser)
    denoise_every: float = 25.0  # LJ time between the trajectory frames used for denoising examples
    denoise_widths: str = "fixed"  # "uniform": each example's amplitude is σ·u, u ~ U(0, 1) (a corrector)
    temperature: float | None = None  # T of data files whose metadata has none (checkpoint domain; else "unknown")
    licence: str | None = None  # licence of the training data, for the checkpoint's model card
    workers: int = 4  # threads reading data files ahead (0: read when needed, in the training thread)
    cache: int = 64  # data files kept in memory (examples and graphs); more files are read again when drawn


@dataclass
class EncoderSpec:
    kind: str = "local"  # "local" (built in) or "botan"
    checkpoint: str | None = None  # supervised BOTAN checkpoint to initialise from
    frozen: bool = False  # frozen encoders have their embeddings cached per configuration and orientation
    width: int = 64  # local encoder only
    cutoff: float = 1.5  # local encoder only (BOTAN keeps its own)


@dataclass
class ModelSpec:
    hidden: int = 64
    n_layers: int = 3
    cutoff: float = 1.5
    n_fourier: int = 8
    factored: bool = True
    geometry: int = 0  # Gaussians of the displaced pair distance in every message (velocity.py); 0 = off
    mobility: bool = False  # prior scale × relative BOTAN-predicted propensity per particle (model.relative_mobility)
    mobility_power: float = 1.0  # γ: that factor from the propensities to the power γ (> 1: more contrast)
    energy_prior: bool = False  # prior size per configuration from its potential energy (mobility.EnergySize; KA)
    history: bool = False  # second-order chain: also condition on the previous step's displacement (trajectory data)
    memory: int = 0  # W >= 2: with history, also the displacement over the last W lags (mobility memory); 0 = off
    pair_sigma: list | None = None  # (S,S) contact distances; geometry reads r'/σ_ab (velocity.py); KA: [[1, .8], [.8, .88]]


@dataclass
class TrainSpec:
    steps: int = 1000
    batch_size: int = 8  # noisy samples of ONE configuration per step (they share its encoder pass; split over processes)
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    pair_weight: float = 0.0  # weight of the neighbours' relative-velocity error (paths.flow_loss); 0 = plain CFM
    ema_decay: float = 0.999
    augment: bool = True  # random box symmetry per step
    eval_every: int = 100
    checkpoint_every: int = 100
    val_samples: int = 8
    cache_size: int = 64  # frozen-encoder embeddings kept (configuration x orientation)
    history_dropout: float = 0.25  # history models: fraction of samples trained without their history (first steps)
    seed: int = 0
    precision: str = "fp32"  # fp32, or bf16: the forward pass under bf16 autocast (glassgen.core.device)
    compile: bool = False  # torch.compile the velocity network (docs/generative.md, "Distributed and GPU training")
    init: str | None = None  # flow checkpoint (path or shipped name) whose weights this run starts from (staged training)


@dataclass
class FitRecipe:
    task: str = "flow"
    out: str = "runs/flow"
    data: DataSpec = field(default_factory=DataSpec)
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)


# Keys holding paths relative to the recipe's folder (a base recipe's are read against its own folder).
PATH_KEYS = ("out", "data.train", "data.val", "encoder.checkpoint", "train.init")

# Settings of experiments the record rules out (experiments/recipes/README.md), removed after commit REMOVED_AT:
# a recipe that still sets one is told where it last worked, not only that the key is unknown.
REMOVED_KEYS = ("data.train_inherent", "data.val_inherent", "model.memory_prior", "model.pair_channels",
                "train.species_balance", "train.time_power", "train.energy_weight", "train.energy_from")
REMOVED_AT = "12bc0ac"


def _expand(paths, recipe) -> list:
    """Data paths as strings; a folder stands for the ``.h5`` files in it, sorted."""
    out = []
    for p in paths:
        if p.is_dir():
            files = sorted(p.glob("*.h5"))
            if not files:
                raise InputError(str(recipe), f"data folder {p} holds no .h5 files")
            out.extend(str(f) for f in files)
        else:
            out.append(str(p))
    return out


def load_recipe(path) -> FitRecipe:
    """Read a YAML recipe; relative data/out paths are resolved against its folder."""
    from glassgen.core.recipe import from_dict, load_yaml

    path = Path(path)
    raw = load_yaml(path, PATH_KEYS)
    for dotted in REMOVED_KEYS:
        section, key = dotted.split(".")
        if isinstance(raw.get(section), dict) and key in raw[section]:
            raise InputError(str(path), f"{dotted} was removed (its experiment was ruled out); glassgen at commit "
                                        f"{REMOVED_AT} still has it")
    r = from_dict(FitRecipe, raw, str(path))
    if r.task not in ("flow", "diffusion"):
        raise InputError(str(path), f"task {r.task!r} is not a generative task (flow, diffusion)")
    base = path.resolve().parent
    r.data.train = _expand([base / p for p in r.data.train], path)
    r.data.val = _expand([base / p for p in r.data.val], path)
    r.out = str(base / r.out)
    if r.encoder.checkpoint:
        r.encoder.checkpoint = str(base / r.encoder.checkpoint)
    if r.train.init and (r.train.init.endswith(".safetensors") or "/" in r.train.init):  # else a shipped name
        r.train.init = str(base / r.train.init)
    if not r.data.train:
        raise InputError(str(path), "data.train lists no files")
    m = r.model
    if m.memory and (not isinstance(m.memory, int) or m.memory < 2 or not m.history):
        raise InputError(str(path), f"model.memory is a window of W >= 2 lags and needs model.history: true; "
                                    f"got memory {m.memory!r}, history {m.history!r}")
    if not 0 < m.mobility_power < float("inf"):  # the loader has checked it is a number
        raise InputError(str(path), f"model.mobility_power must be a positive number; got {m.mobility_power!r}")
    if m.mobility_power != 1.0 and not m.mobility:
        raise InputError(str(path), f"model.mobility_power {m.mobility_power!r} needs model.mobility: true")
    d = r.data
    if d.denoise is not None:
        if d.lags or m.history:
            raise InputError(str(path), "data.denoise replaces the pairs: no data.lags or model.history with it")
        if not d.denoise or any(not isinstance(v, (int, float)) or not v > 0 for v in d.denoise) or not d.denoise_every > 0:
            raise InputError(str(path), f"data.denoise must list positive noise amplitudes (and denoise_every > 0); "
                                        f"got {d.denoise!r}, {d.denoise_every!r}")
    if d.denoise_widths not in DENOISE_WIDTHS:
        raise InputError(str(path), f"data.denoise_widths must be one of {', '.join(DENOISE_WIDTHS)}; got {d.denoise_widths!r}")
    if not isinstance(d.workers, int) or d.workers < 0 or not isinstance(d.cache, int) or d.cache < 1:
        raise InputError(str(path), f"data.workers must be an integer >= 0 and data.cache >= 1; got {d.workers!r}, {d.cache!r}")
    t = r.train
    for name in ("steps", "batch_size", "eval_every", "checkpoint_every", "val_samples"):
        if int(getattr(t, name)) < 1:
            raise InputError(str(path), f"train.{name} must be >= 1")
    if not 0 <= t.history_dropout <= 1:
        raise InputError(str(path), "train.history_dropout must be in [0, 1]")
    if t.precision not in PRECISIONS:
        raise InputError(str(path), f"train.precision must be one of {', '.join(PRECISIONS)}; got {t.precision!r}")
    if not 0 <= t.ema_decay < 1:
        raise InputError(str(path), "train.ema_decay must be in [0, 1)")
    return r
