"""What a training run writes into its checkpoint besides the weights: the domain and the model card.

The domain (:data:`glassgen.core.checkpoint.DOMAIN_FIELDS`) comes from the training data; the card records
where the data came from, the command, the hardware, the wall time and the metrics (docs/checkpoints.md).
"""
from __future__ import annotations

import os
import shlex
import sys

from glassgen.core.checkpoint import unknown_domain

PROVENANCE = ("recipe", "seed", "T", "temperature", "N", "density", "engine", "lammps_version", "glassgen_version")


def meta_temperature(meta: dict):
    """``T`` or ``temperature`` of a file's metadata as a float (what ``glassgen simulate`` writes); else None."""
    for key in ("T", "temperature"):
        try:
            return float(meta[key])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def domain_from_data(systems, lags=None, temperature=None) -> dict:
    """The domain of training data: ``systems`` iterable of ``(species (N,), box (D,), metadata)``.

    ``lags``: the trained lags (their [min, max] is stored). The temperature of a system is its metadata's
    (:func:`meta_temperature`), else ``temperature`` (a recipe's); any system without one makes it
    ``"unknown"``. Species fractions are averaged over the systems; the density is the mean N / volume.
    """
    import numpy as np

    systems = list(systems)
    temps = [x if (x := meta_temperature(m)) is not None else temperature for *_, m in systems]
    out = unknown_domain()
    if systems:
        ids = sorted({int(s) for sp, *_ in systems for s in np.unique(sp)})
        frac = np.mean([[np.mean(np.asarray(sp) == s) for s in ids] for sp, *_ in systems], axis=0)
        n = [len(sp) for sp, *_ in systems]
        rho = np.mean([len(sp) / float(np.prod(box)) for sp, box, _ in systems])
        out.update(species=ids, fractions=[round(float(f), 6) for f in frac], density=round(float(rho), 6),
                   n_particles=[min(n), max(n)])
    if lags is not None and len(lags):
        out["lag"] = [float(min(lags)), float(max(lags))]
    if temps and all(t is not None for t in temps):
        out["temperature"] = sorted({round(float(t), 6) for t in temps})
    return out


def hardware(device: str = "cpu") -> dict:
    """Where a training ran: machine, CPU count, torch version and threads, the device (and its name)."""
    import platform

    import torch

    out = {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
           "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
           "device": str(device)}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        out["device_name"] = torch.cuda.get_device_name(torch.device(device))
    return out


def training_card(recipe, data_meta: dict, licence, device, wall_time_s: float, steps: int, metrics: list) -> dict:
    """The model card of a training run.

    ``data_meta``: ``{file: metadata}`` of the training data (the provenance keys of :data:`PROVENANCE` are kept);
    ``metrics``: ``[{"name", "value", ...}]``, each given this process's command line as the one that reproduces it.
    """
    command = shlex.join(sys.argv)
    files = {str(f): {k: m[k] for k in PROVENANCE if k in m} for f, m in data_meta.items()}
    return {"data": {"files": files, "licence": licence or "unknown"},
            "training": {"command": command, "recipe": str(recipe), "hardware": hardware(device),
                         "wall_time_s": round(float(wall_time_s), 1), "steps": int(steps)},
            "metrics": [dict(m, command=command) for m in metrics]}
