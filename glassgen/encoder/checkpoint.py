"""BOTAN checkpoints (kind ``botan`` of the one format, :mod:`glassgen.core.checkpoint`) and training state.

Model file ``NAME.safetensors``: the weights, ``config`` = JSON of :class:`glassgen.encoder.botan.BOTANConfig`,
and the domain, card and ``info`` (step, task, scores) of the core format.

Training state ``NAME.state.pt`` (separate, so a model file stays small and
loadable anywhere): optimizer state, RNG states, step; plain tensors/dicts, read
with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from glassgen.core.atomic import atomic_path
from glassgen.core.checkpoint import load_weights, read_checkpoint, resolve, write_checkpoint
from glassgen.core.errors import InputError

KIND = "botan"
STATE_VERSION = 1  # of NAME.state.pt


def build(config: dict, source: str = "config"):
    """A BOTAN (random weights) from its stored config. Unknown or ill-typed keys -> InputError."""
    from glassgen.core.recipe import from_dict
    from glassgen.encoder.botan import BOTAN, BOTANConfig

    return BOTAN(from_dict(BOTANConfig, config, str(source), "config."))


def save_model(path, model, info: dict | None = None, domain: dict | None = None, card: dict | None = None) -> None:
    """Write ``model`` (a :class:`glassgen.encoder.botan.BOTAN`), its config, domain and card atomically."""
    write_checkpoint(path, model.state_dict(), KIND, asdict(model.config), domain=domain, card=card, info=info)


def load_model(path, device="cpu"):
    """Rebuild the model from a checkpoint. Returns ``(model, info)``; the model is in eval mode and
    carries the file's metadata as ``model.checkpoint``."""
    path = resolve(path)  # a file, or a shipped name
    state, meta = read_checkpoint(path)
    if meta["kind"] != KIND:
        raise InputError(str(path), f"is a {meta['kind']!r} checkpoint; a BOTAN ({KIND!r}) one is needed here")
    model = build(meta["config"], str(path))
    load_weights(model, state, meta, path)
    model.checkpoint = dict(meta, path=str(path))
    return model.to(device).eval(), meta["info"]


def save_state(path, optimizer, step: int, extra: dict | None = None) -> None:
    """Training state beside a model file: optimizer, torch RNG, step, and ``extra`` (plain values)."""
    state = {
        "format_version": STATE_VERSION,
        "step": int(step),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "extra": extra or {},
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path) -> dict:
    """Read a training state written by :func:`save_state` (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "training state not found (nothing to resume)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(str(path), f"unreadable training state ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("format_version") != STATE_VERSION:
        raise InputError(str(path), f"training state format version {state.get('format_version') if isinstance(state, dict) else '?'}; expected {STATE_VERSION}")
    return state
