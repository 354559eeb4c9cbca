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
    """The domain of training data: ``systems`` iterable of ``(species (N,), box (D,), metadata)``, read once.

    ``lags``: the trained lags (their [min, max] is stored). The temperature of a system is its metadata's
    (:func:`meta_temperature`), else ``temperature`` (a recipe's); any system without one makes it
    ``"unknown"``. Species fractions are averaged over the systems; the density is the mean N / volume.
    """
    import numpy as np

    # one pass, nothing of a system kept but sums (a training stream may hold thousands of files)
    temps, frac, sizes, rho, count = set(), {}, [], 0.0, 0
    for sp, box, meta in systems:
        t = meta_temperature(meta)
        temps.add(round(float(t if t is not None else temperature), 6) if (t is not None or temperature is not None)
                  else None)
        ids, counts = np.unique(np.asarray(sp), return_counts=True)
        for s, c in zip(ids.tolist(), counts):
            frac[int(s)] = frac.get(int(s), 0.0) + c / len(sp)
        sizes = [min(sizes + [len(sp)]), max(sizes + [len(sp)])]
        rho += len(sp) / float(np.prod(box))
        count += 1
    out = unknown_domain()
    if count:
        ids = sorted(frac)
        out.update(species=ids, fractions=[round(float(frac[s] / count), 6) for s in ids],
                   density=round(float(rho / count), 6), n_particles=sizes)
    if lags is not None and len(lags):
        out["lag"] = [float(min(lags)), float(max(lags))]
    if temps and None not in temps:
        out["temperature"] = sorted(temps)
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
