"""``glassgen predict``: the propensity a trained BOTAN checkpoint gives every particle of one configuration."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from glassgen.core.errors import InputError
from glassgen.encoder.checkpoint import load_model


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
