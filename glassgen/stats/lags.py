"""Which frames pair up at which lags: the time origins behind every trajectory statistic.

A trajectory's statistic at lag t averages over origin frames i with a frame j exactly t later
(:func:`lag_pairs`); :func:`trajectory_lags` picks log-spaced lags of a frame schedule, and
:func:`iter_displacements` yields the displacements of those pairs (or of an ensemble's runs) in
blocks that bound memory.
"""
from __future__ import annotations

import numpy as np

from glassgen.core.errors import InputError
from glassgen.system.data import Ensemble, Trajectory

N_LAGS = 32
MAX_ORIGINS = 256
_CHUNK = 32  # origins per displacement block: bounds memory to _CHUNK·N·D floats


def lag_pairs(times, lag: float, max_origins: int | None = None, rtol: float = 1e-6):
    """Frame pairs (i, j) with t_j − t_i = ``lag`` (relative tolerance ``rtol``), at most ``max_origins``
    of them evenly spread (None keeps all). Returns two int arrays, origins ``i`` and targets ``j``."""
    t = np.asarray(times, dtype=np.float64)
    j = np.searchsorted(t, t + lag * (1 - rtol))
    ok = j < t.size
    i, j = np.nonzero(ok)[0], j[ok]
    good = np.abs(t[j] - t[i] - lag) <= rtol * lag
    i, j = i[good], j[good]
    if max_origins is not None and i.size > max_origins:
        keep = np.unique(np.linspace(0, i.size - 1, max_origins).round().astype(int))
        i, j = i[keep], j[keep]
    return i, j


def trajectory_lags(times, n_lags: int = N_LAGS, max_origins: int | None = MAX_ORIGINS, rtol: float = 1e-6):
    """Log-spaced lags of a trajectory and, for each, the origin/target frame pairs.

    The candidate lags are ``times[1:] - times[0]`` (every lag of a linear or block-log
    frame schedule); ``n_lags`` of them are picked log-spaced. For each lag all frame
    pairs (i, j) with t_j − t_i equal to it (relative tolerance ``rtol``) are found, and
    at most ``max_origins`` of them, evenly spread, are kept (None keeps all).

    Returns:
        list of ``(lag, i, j)`` with ``i``, ``j`` int arrays of origin and target frames.
    """
    t = np.asarray(times, dtype=np.float64)
    if t.size < 2:
        raise InputError(None, "a trajectory needs at least 2 frames for time correlations")
    cand = t[1:] - t[0]
    want = np.geomspace(cand[0], cand[-1], n_lags) if n_lags < cand.size else cand
    pick = np.unique([np.argmin(np.abs(np.log(cand / w))) for w in want])
    return [(float(lag), *lag_pairs(t, lag, max_origins, rtol)) for lag in cand[pick]]


def iter_displacements(obj, n_lags: int = N_LAGS, max_origins: int | None = MAX_ORIGINS, chunk: int = _CHUNK):
    """Yield ``(lag_index, lag_time, origins, dr)`` blocks; memory stays O(chunk·N·D).

    Ensemble: one block per lag, ``dr`` = (R, N, D) over runs, ``origins`` = run ids.
    Trajectory: blocks of at most ``chunk`` time origins per lag (see :func:`trajectory_lags`),
    ``origins`` = origin frame ids.
    """
    if isinstance(obj, Ensemble):
        for k, t in enumerate(obj.times):
            yield k, float(t), np.arange(obj.n_runs), obj.positions[:, k] - obj.initial
    elif isinstance(obj, Trajectory):
        for k, (lag, i, j) in enumerate(trajectory_lags(obj.times, n_lags, max_origins)):
            for s in range(0, i.size, chunk):
                yield k, lag, i[s:s + chunk], obj.positions[j[s:s + chunk]] - obj.positions[i[s:s + chunk]]
    else:
        raise InputError(None, f"expected a Trajectory or Ensemble; got {type(obj).__name__}")
