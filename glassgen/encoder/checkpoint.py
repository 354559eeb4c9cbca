"""Self-describing model checkpoints (safetensors) and resumable training state.

Model file ``NAME.safetensors``: the weights, plus string metadata

=====================  ===================================================
key                    value
=====================  ===================================================
``format``             ``"glassgen-checkpoint"``
``format_version``     ``"1"`` (:data:`FORMAT_VERSION`)
``glassgen_version``   version that wrote the file
``model``              ``"botan"``
``config``             JSON of :class:`glassgen.encoder.botan.BOTANConfig`
``info``               JSON dict: step, task, scores, ... (free form)
=====================  ===================================================

Training state ``NAME.state.pt`` (separate, so a model file stays small and
loadable anywhere): optimizer state, RNG states, step; plain tensors/dicts, read
with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from glassgen.core.version import __version__
from glassgen.core.atomic import atomic_path
from glassgen.core.errors import InputError

FORMAT = "glassgen-checkpoint"
FORMAT_VERSION = 1


def save_model(path, model, info: dict | None = None) -> None:
    """Write ``model`` (a :class:`glassgen.encoder.botan.BOTAN`) and its config atomically."""
    from safetensors.torch import save_file

    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "glassgen_version": __version__,
        "model": "botan",
        "config": json.dumps(asdict(model.config), sort_keys=True),
        "info": json.dumps(info or {}, sort_keys=True, default=float),
    }
    weights = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(weights, str(tmp), metadata=meta)


def read_metadata(path) -> dict:
    """The metadata of a checkpoint, checked for format and version. Bad file -> InputError."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for non-safetensors files
        raise InputError(str(path), f"not a safetensors checkpoint ({type(e).__name__})") from None
    if meta.get("format") != FORMAT:
        raise InputError(str(path), "not a glassgen checkpoint (no 'format' metadata)")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise InputError(
            str(path),
            f"checkpoint format version {meta.get('format_version')} (glassgen {meta.get('glassgen_version')}); "
            f"this glassgen {__version__} reads version {FORMAT_VERSION}",
        )
    return meta


def load_model(path, device="cpu"):
    """Rebuild the model from a checkpoint. Returns ``(model, info)``; the model is in eval mode."""
    from safetensors.torch import load_file

    from glassgen.encoder.botan import BOTAN, BOTANConfig
    from glassgen.core.recipe import from_dict

    meta = read_metadata(path)
    if meta.get("model") != "botan":
        raise InputError(str(path), f"unknown model kind {meta.get('model')!r}")
    config = from_dict(BOTANConfig, json.loads(meta["config"]), str(path), "config.")
    model = BOTAN(config)
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as e:
        raise InputError(str(path), f"weights do not match the stored config: {str(e).splitlines()[0]}") from None
    return model.to(device).eval(), json.loads(meta.get("info", "{}"))


def save_state(path, optimizer, step: int, extra: dict | None = None) -> None:
    """Training state beside a model file: optimizer, torch RNG, step, and ``extra`` (plain values)."""
    state = {
        "format_version": FORMAT_VERSION,
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
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise InputError(str(path), f"training state format version {state.get('format_version') if isinstance(state, dict) else '?'}; expected {FORMAT_VERSION}")
    return state
