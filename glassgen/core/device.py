"""Which device a command runs its torch models on, and the optional bf16 autocast of training.

``--device`` of every command that runs a model goes through :func:`resolve_device`, so a device this
machine lacks (``cuda`` on a CPU-only build, ``cuda:3`` with one GPU) is a one-line InputError before any
work, rather than a torch traceback halfway through.
"""
from __future__ import annotations

import contextlib

import torch

from glassgen.core.errors import InputError

PRECISIONS = ("fp32", "bf16")  # recipe key train.precision


def resolve_device(name) -> torch.device:
    """``name`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ...) as a torch device this machine has; else InputError."""
    try:
        dev = torch.device(str(name))
    except (RuntimeError, TypeError, ValueError):
        raise InputError("--device", f"not a torch device: {name!r} (e.g. cpu, cuda, cuda:1)") from None
    if dev.type == "cpu":
        return dev
    backend = getattr(torch, dev.type, None) if dev.type != "mps" else torch.backends.mps
    if backend is None or not hasattr(backend, "is_available"):
        raise InputError("--device", f"{name}: glassgen runs on cpu, cuda (NVIDIA or ROCm) or mps")
    if not backend.is_available():
        why = " (this torch is built without CUDA)" if dev.type == "cuda" and torch.version.cuda is None \
            and torch.version.hip is None else ""
        raise InputError("--device", f"{name}: no {dev.type.upper()} device is available on this machine{why}")
    count = backend.device_count() if hasattr(backend, "device_count") else 1
    if dev.index is not None and dev.index >= count:
        raise InputError("--device", f"{name}: this machine has {count} {dev.type} device(s), numbered from 0")
    return dev


def autocast(precision: str, device):
    """Context of one training step's forward pass: bf16 autocast for ``bf16``, nothing for ``fp32``.

    Weights, optimiser state and the loss's reductions stay in fp32; only autocast-eligible ops
    (matrix products, mostly) run in bf16.
    """
    if precision not in PRECISIONS:
        raise InputError("recipe", f"train.precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
