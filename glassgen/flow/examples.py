"""Training examples of the flow model: ensembles and trajectory pairs/triples as plain dicts.

Every example is ``{"species" (N,), "initial" (N,D), "box" (D,), "lags" (K,), "disp" (R,K,N,D),
"source"}``; examples cut from trajectories also carry ``"prev"`` (1,K,N,D) and ``"has_prev"`` (K,),
the history of a second-order model (docs/generative.md, Contracts).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..stats.dynamics import lag_pairs
from . import paths


def load_examples(files, lag: float | None = None, lags=None) -> list:
    """Training examples ``{"species","initial","box","lags" (K,),"disp" (R,K,N,D),"source"}``.

    ``.npz`` files in the BOTAN layout (types, initial_positions, positions (R,N,D)) need
    ``lag``; their box is the Kob–Andersen box at density 1.2. Glassgen ensembles (H5MD)
    carry their lags. Glassgen trajectories (H5MD) give pairs ``(x(t0), x(t0 + τ) - x(t0))``
    for every frame t0 and every τ in ``lags`` for which the frame t0 + τ exists: one
    example (R = 1) per such origin (see :func:`trajectory_examples`).
    """
    from ..data import Ensemble
    from ..h5md import file_kind, read_ensemble, read_trajectory
    from ..ka import box_edge

    out = []
    for f in files:
        if str(f).endswith(".npz"):
            if lag is None:
                raise InputError(str(f), ".npz ensembles carry no time: set data.lag in the recipe")
            if not Path(f).is_file():
                raise InputError(str(f), "no such file")
            z = np.load(f)
            n = len(z["types"])
            ens = Ensemble(z["types"], np.full(3, box_edge(n)), z["initial_positions"], np.array([float(lag)]),
                           z["positions"][:, None], {"source": str(f)})
        elif file_kind(f) == "trajectory":
            if not lags:
                raise InputError(str(f), "trajectory files need data.lags (the lags τ to cut pairs at, LJ time)")
            out.extend(trajectory_examples(read_trajectory(f), lags, str(f)))
            continue
        else:
            ens = read_ensemble(f)
        out.append({"species": ens.species, "initial": ens.initial, "box": ens.box, "lags": ens.times,
                    "disp": ens.displacements(), "source": str(f)})
    return out


def trajectory_examples(traj, lags, source: str) -> list:
    """One example per frame t0 that has at least one frame at t0 + τ, τ in ``lags``.

    The lag values stored are the requested ones (not the float differences of frame times),
    so examples of different origins share exactly the same lags (the prior pools by lag).
    Each example also carries the history of a second-order chain: ``prev`` = x(t0) − x(t0 − τ)
    for every lag whose earlier frame exists (``has_prev`` True), zeros where it does not.
    Shapes: ``disp`` and ``prev`` (1, K_t0, N, D), unwrapped; ``has_prev`` (K_t0,) bool;
    ``initial`` the frame at t0.
    """
    lags = np.array(sorted(float(t) for t in lags))
    if np.any(lags <= 0):
        raise InputError(source, f"data.lags must be positive; got {lags.tolist()}")
    by_origin: dict[int, list] = {}
    before: dict[tuple, int] = {}  # (τ, frame) -> the frame τ earlier
    for tau in lags:
        for i, j in zip(*lag_pairs(traj.times, tau)):
            by_origin.setdefault(int(i), []).append((tau, int(j)))
            before[(tau, int(j))] = int(i)
    out = []
    for i in sorted(by_origin):
        have, idx = zip(*by_origin[i])
        x0 = traj.positions[i]
        disp = traj.positions[list(idx)] - x0
        back = [before.get((tau, i)) for tau in have]
        prev = np.stack([x0 - traj.positions[h] if h is not None else np.zeros_like(x0) for h in back])
        out.append({"species": traj.species, "initial": x0, "box": traj.box,
                    "lags": np.array(have), "disp": disp[None], "prev": prev[None],
                    "has_prev": np.array([h is not None for h in back]), "source": f"{source}@t={traj.times[i]:g}"})
    if not out:
        raise InputError(source, f"no pair of frames is {lags.tolist()} apart (frame times {traj.times[:5].tolist()}...)")
    return out


def prior_from_examples(examples) -> paths.PriorScale:
    items = [(lag, ex["species"], ex["disp"][:, k]) for ex in examples for k, lag in enumerate(ex["lags"])]
    return paths.PriorScale.from_displacements(items)
