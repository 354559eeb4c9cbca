"""One step of every chain of a rollout: draws, redraws, relaxation and the log row of each trajectory.

The trajectories advance in chunks of ``RolloutConfig.batch_trajectories`` (all by default): one call of the
step function for a chunk's draws, one for each round of its redraws (the chains that still hold an overlap),
one ``Relaxer.relax_batch`` for its ``refine`` relaxations (the LAMMPS kinds relax one chain after the other).
Every draw is seeded by (seed, step, trajectory, attempt) alone (:func:`step_seed`), so what a chain gets does
not depend on its batch mates; :mod:`glassgen.chain.rollout` strings the steps together.
"""
from __future__ import annotations

import numpy as np

from glassgen.core.errors import InputError
from glassgen.stats.monitors import monitors
from glassgen.system.pbc import fold

RELAX_ATTEMPT = 1 << 20  # the attempt slot of a step's relaxation seed, far above any redraw


def step_seed(seed: int, step: int, traj: int, attempt: int = 0) -> int:
    """Independent, reproducible seed for one draw (SeedSequence hashing avoids correlated streams)."""
    return int(np.random.SeedSequence([seed, step, traj, attempt]).generate_state(1, dtype=np.uint64)[0] >> 1)


def draw_step(step_fn, positions, lag, seeds, previous=None, window=None):
    """Call a step function, giving ``previous`` only to second-order ones (a true ``history`` attribute)
    and ``window`` only to those with a memory window (a ``memory`` attribute > 0)."""
    if getattr(step_fn, "history", False) and getattr(step_fn, "memory", 0):
        return step_fn(positions, lag, seeds, previous, window)
    if getattr(step_fn, "history", False):
        return step_fn(positions, lag, seeds, previous)
    return step_fn(positions, lag, seeds)


def one_step(step_fn, x, k, cfg, species, box, log, time, relax=None, prev=None, window=None):
    """Step k of every chain: ``cfg.batch_trajectories`` chains per call of the step function (all by default)."""
    new, drawn = np.empty_like(x), np.empty_like(x)
    size = cfg.batch_trajectories or len(x)
    for lo in range(0, len(x), size):
        js = np.arange(lo, min(lo + size, len(x)))
        new[js], drawn[js] = _chunk_step(step_fn, x[js], js, k, cfg, species, box, log, time, relax,
                                         _rows(prev, js), _rows(window, js))
    return new, drawn


def _rows(a, rows):
    return None if a is None else a[rows]


def _chunk_step(step_fn, x, js, k, cfg, species, box, log, time, relax, prev, window):
    """Step k of chains ``js`` (positions ``x``): draw them together, redraw together those whose largest pair
    energy is above ``cfg.overlap_energy`` (attempt a of chain j seeded by (k, j, a) whatever its batch mates),
    relax those the relaxer wants, log each. Returns (new positions, each chain's accepted draw)."""
    wrapped = fold(x, box)[0]
    drawn = _draw(step_fn, wrapped, cfg, [step_seed(cfg.seed, k, j) for j in js], prev, window, k, js, "")
    new = x + drawn
    mon = [monitors(xj, species, box) for xj in new]
    attempts = np.zeros(len(js), dtype=int)
    for attempt in range(1, cfg.max_resample + 1):
        bad = np.array([i for i, mo in enumerate(mon) if mo["max_pair_energy"] > cfg.overlap_energy], dtype=int)
        if not len(bad):
            break
        d = _draw(step_fn, wrapped[bad], cfg, [step_seed(cfg.seed, k, js[i], attempt) for i in bad], _rows(prev, bad),
                  _rows(window, bad), k, js[bad], f" (redraw {attempt})")
        for i, di in zip(bad, d):
            new[i], drawn[i], attempts[i] = x[i] + di, di, attempt
            mon[i] = monitors(new[i], species, box)
    overlap = [mo["max_pair_energy"] > cfg.overlap_energy for mo in mon]
    rel = _relax_chunk(relax, new, overlap, mon, js, k, cfg, species, box)
    for i, j in enumerate(js):
        if k % cfg.monitor_every == 0 or attempts[i] or overlap[i] or rel[i]["relaxed"]:
            log.write({"step": k, "trajectory": int(j), "time": time, "resampled": int(attempts[i]),
                       "accepted_overlap": int(overlap[i]), **mon[i], **rel[i]})
    return new, drawn


def _draw(step_fn, wrapped, cfg, seeds, prev, window, k, js, what):
    delta = np.asarray(draw_step(step_fn, wrapped, cfg.draw_lag, seeds, prev, window), dtype=np.float64)
    if delta.shape != wrapped.shape:
        raise InputError("rollout", f"step {k}: the sampler returned displacements of shape {delta.shape} "
                                    f"(expected {wrapped.shape})")
    for dj, j in zip(delta, js):
        _finite(dj, k, j, f"drawn by the sampler{what}")
    return delta


def _relax_chunk(relax, new, overlap, mon, js, k, cfg, species, box) -> list[dict]:
    """Relax (in place) the chains of the chunk that ``relax`` wants, all together when it is ``batched``
    (``refine``, ``learned``: ``relax_batch``), else one by one; returns each chain's log columns."""
    rel = [{"relaxed": 0} for _ in js]
    want = [i for i, o in enumerate(overlap) if relax is not None and relax.wants(o)]
    if not want:
        return rel
    before = new[want].copy()
    seeds = [step_seed(cfg.seed, k, js[i], RELAX_ATTEMPT) for i in want]
    if getattr(relax, "batched", False):
        where = f"step {k}, trajectories {[int(js[i]) for i in want]} relaxed together (configuration c is the c-th)"
        after = _relaxed(lambda: relax.relax_batch(before, seeds), where)
        reports = [dict(c) for c in relax.columns]
    else:
        after, reports = [], []
        for i, b, s in zip(want, before, seeds):
            after.append(_relaxed(lambda: relax.relax(b, s), f"step {k}, trajectory {js[i]}"))
            reports.append(dict(getattr(relax, "report", {})))  # refine's columns (L-BFGS iterations, ...), if any
    for i, b, a, r in zip(want, before, after, reports):
        new[i] = _finite(a, k, js[i], "after the relaxation")
        rel[i] = {"relaxed": 1, "relax_rms": float(np.sqrt(np.mean(np.sum((new[i] - b) ** 2, axis=1)))),
                  "e_pot_before_relax": mon[i]["e_pot"], **r}
        mon[i] = monitors(new[i], species, box)
    return rel


def _relaxed(call, where: str):
    """``call()``, its one-line InputError (a refinement that met NaN forces, ...) prefixed with ``where``."""
    try:
        return call()
    except InputError as e:
        raise InputError(e.source, f"{where}: {e.problem}") from None


class NonFinite(Exception):
    """A step's positions are NaN/inf: the chain blew up (the message says where)."""


def _finite(values, k: int, j: int, where: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    bad = int(np.sum(~np.isfinite(values)))
    if bad:
        raise NonFinite(f"step {k} trajectory {j}: positions = NaN/inf ({bad} coordinates {where})")
    return values
