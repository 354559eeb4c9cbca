"""Chained generation: long trajectories from a one-step displacement sampler.

x_{k+1} = x_k + Δ_k, with Δ_k drawn from the model conditioned on the configuration x_k (folded into the box
for the model; the unwrapped x_k is kept exactly). This is a Markov chain in positions: sound when the lag
τ is well beyond the velocity decorrelation time (≈ 0.3–1 LJ time for Kob–Andersen at T ≲ 1), so that x(t)
alone determines the distribution of x(t+τ). See ``docs/rollout.md``.

A *step function* is any callable

    step_fn(positions, lag, seeds) -> displacements

with ``positions`` (M,N,D) float64 (one configuration per trajectory, folded into the box), ``lag`` in LJ
time, and ``seeds`` a list of M integers that fully determine the draw; it returns (M,N,D) displacements.
Determinism per (seed, step, trajectory, attempt) is what makes ``resume`` give the identical trajectory.
The chain passes up to ``RolloutConfig.batch_trajectories`` trajectories per call (all by default; the
redraws of a step, those that need one); draw j must depend on ``seeds[j]`` only, not on its batch mates.

A step function with a true ``history`` attribute is second order: it is called as
``step_fn(positions, lag, seeds, previous)`` with ``previous`` (M,N,D) each chain's last step
(``RolloutConfig.history``), or None on the first step of a fresh chain. One whose ``memory`` attribute is
W > 0 is also given ``window`` (M,N,D) = x_k − x_{k−W}, each chain's displacement over its last W steps
(relaxations included), or None while the chains have fewer than W steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassgen.core.atomic import check_writable
from glassgen.system.data import Snapshot, Trajectory
from glassgen.core.errors import InputError
from glassgen.io.h5md import TrajectoryWriter
from glassgen.stats.monitors import monitors
from glassgen.system.pbc import fold, unfold
from glassgen.chain.log import RolloutLog, blow_up, load_history, save_history, summarise_log  # noqa: F401 (public here too)
from glassgen.chain.resume import claim_output


@dataclass
class RolloutConfig:
    """Chain settings. ``lag`` in LJ time; ``overlap_energy`` is a pair energy in ε_AA.

    ``draw_lag`` (default ``lag``) is the lag each model draw is asked for. It is shorter than
    ``lag`` when a thermal relaxation after every draw is counted as real dynamics: the draw
    covers ``draw_lag`` and the Langevin run the remaining ``lag - draw_lag`` (``--relax-counts``).
    ``history`` (second-order step functions only): the previous step they are given, ``chain`` =
    x_k − x_{k−1} (relaxation included) or ``draw`` = the sampler's own last draw, before any
    relaxation (kept in ``OUT.history.npz`` for resume).
    ``batch_trajectories`` (default None: all): how many trajectories advance together, one call of the
    step function (one network call per ODE step) for each chunk of that many; memory grows with it
    times N. Stored with the output: a resume uses the same chunks, so it repeats the run bit for bit.
    """

    steps: int
    lag: float
    n_trajectories: int = 1
    seed: int = 0
    max_resample: int = 5
    overlap_energy: float = 20.0
    monitor_every: int = 1
    draw_lag: float | None = None
    history: str = "chain"
    batch_trajectories: int | None = None

    def __post_init__(self):
        if self.history not in ("chain", "draw"):
            raise InputError("rollout", f"history must be 'chain' or 'draw'; got {self.history!r}")
        if self.draw_lag is None:
            self.draw_lag = self.lag
        if self.steps < 1:
            raise InputError("rollout", f"--steps must be at least 1; got {self.steps}")
        if not np.isfinite(self.lag) or self.lag <= 0:
            raise InputError("rollout", f"--lag must be a positive time in LJ units; got {self.lag}")
        if not (np.isfinite(self.draw_lag) and 0 < self.draw_lag <= self.lag):
            raise InputError("rollout", f"the lag of one draw must be in (0, --lag = {self.lag}]; got {self.draw_lag}")
        if self.n_trajectories < 1:
            raise InputError("rollout", f"--trajectories must be at least 1; got {self.n_trajectories}")
        b = self.batch_trajectories
        if b is not None and (isinstance(b, bool) or int(b) != b or b < 1):
            raise InputError("rollout", f"--batch-trajectories must be a positive integer; got {b!r}")


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


def _paths(out: Path, m: int) -> list[Path]:
    if m == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{k:03d}{out.suffix or '.h5'}") for k in range(m)]


def rollout(step_fn, init, cfg: RolloutConfig, out, resume: bool = False, progress: bool = True,
            meta: dict | None = None, relax=None, overwrite: bool = False) -> list[Path]:
    """Chain ``cfg.steps`` draws of ``step_fn`` from ``init`` into ``cfg.n_trajectories`` H5MD trajectories.

    ``init`` is one :class:`Snapshot` (every trajectory starts there) or a list of
    ``cfg.n_trajectories`` snapshots of the same system (trajectory j starts at ``init[j]``).

    Frames are written (and flushed) after every step to ``OUT.h5.partial`` files; they become ``OUT.h5``
    (or ``OUT_000.h5``, ``OUT_001.h5``, ... for several trajectories) when the chain is complete. With
    ``resume=True`` an interrupted rollout continues from its last step complete in every trajectory and
    gives the same files as an uninterrupted one; its arguments must be those stored in the files, except a
    larger ``cfg.steps``, which extends the chain, finished or not (:mod:`glassgen.chain.resume`). Without
    ``resume`` an earlier output at ``out`` is refused, or with ``overwrite`` deleted with its side files.

    A step whose largest pair energy exceeds ``cfg.overlap_energy`` is redrawn up to ``cfg.max_resample``
    times; every redraw, and every overlap kept after the last attempt, is counted in ``OUT.log.csv``.
    ``relax`` (a :class:`glassgen.md.relax.Relaxer`, or None) relaxes the steps it wants with the true
    potential; each relaxation is logged.

    A chain whose positions turn NaN/inf stops there; one whose E_pot/N exceeds 0 in the last quarter of its
    steps (:func:`glassgen.chain.log.blow_up`) runs to its end. Either way its files are finished and marked
    ``blown_up: true`` with ``blown_up_reason`` (which step, which monitor, its value) in their metadata.

    Returns the paths of the trajectory files.
    """
    out = check_writable(out)
    m = cfg.n_trajectories
    inits = _starts(init, m)
    species, box = inits[0].species, inits[0].box
    paths = _paths(out, m)
    second = bool(getattr(step_fn, "history", False))
    meta = dict(meta or {}, lag=cfg.lag, draw_lag=cfg.draw_lag, rollout_seed=cfg.seed, rollout_steps=cfg.steps, n_trajectories=m,
                generated=True, history_from=cfg.history if second else "none", max_resample=cfg.max_resample,
                overlap_energy=cfg.overlap_energy, batch_trajectories=min(cfg.batch_trajectories or m, m))
    meta.pop("dt", None)
    if relax is not None:
        meta.update(relax.cfg.meta())
    if not claim_output(out, paths, meta, resume, overwrite):
        return paths  # finished before with these arguments: nothing to do
    same = set(meta) - {"rollout_steps"}  # every setting but the length, which a resume may extend
    writers = [TrajectoryWriter(p, species, box, meta, resume=resume, same=same) for p in paths]
    done = min(w.n_frames for w in writers)  # frame k holds the configuration after step k
    hpath, saved = out.with_name(out.stem + ".history.npz"), None
    if second and cfg.history == "draw" and done > 1:
        saved = load_history(hpath, m)
        if saved[0] + 1 > done:  # the draws are written after the frames, so never ahead of them
            raise InputError(str(hpath), f"holds the draw of step {saved[0]} but the trajectories end at step {done - 1}")
        done = saved[0] + 1  # the draw of the last frame must be known
    fresh = done == 0
    for w in writers:
        w.truncate(done)
    if fresh:
        for w, s0 in zip(writers, inits):
            w.append(0.0, s0.positions)
    done = max(done, 1)
    x = np.stack([w.last_positions() for w in writers])
    prev = None  # each chain's last step, for second-order step functions
    if saved is not None:
        prev = saved[1]
    elif second and cfg.history == "chain" and done > 1:
        prev = x - np.stack([w.last_positions(1) for w in writers])
    memory = int(getattr(step_fn, "memory", 0)) if second else 0
    # the chain's last W + 1 configurations, oldest first: the memory window is past[-1] − past[0]
    past = [np.stack([w.last_positions(b) for w in writers]) for b in range(min(memory, done - 1), 0, -1)] + [x]
    log_path = out.with_name(out.stem + ".log.csv")
    log = RolloutLog(log_path, resume_step=None if fresh else done - 1)
    if fresh:
        for j in range(m):
            log.write({"step": 0, "trajectory": j, "time": 0.0, "resampled": 0, **monitors(x[j], species, box)})
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=done - 1, desc="rollout", unit="step")
    reason = None
    try:
        for k in range(done, cfg.steps + 1):
            window = x - past[0] if memory and len(past) > memory else None
            try:
                new, drawn = _one_step(step_fn, x, k, cfg, species, box, log, k * cfg.lag, relax, prev, window)
            except _NonFinite as e:  # nothing can follow a NaN: finish the files at the last finite frame
                reason = str(e)
                break
            new = unfold(*fold(new, box), box)  # bit for bit what --resume reads back from the file
            prev, x = (drawn if cfg.history == "draw" else new - x), new
            past = (past + [x])[-(memory + 1):]
            for w, xj in zip(writers, x):
                w.append(k * cfg.lag, xj)
            if second and cfg.history == "draw":  # after the frames: a crash between leaves it one step behind
                save_history(hpath, k, prev)
            log.flush()
            if bar is not None:
                bar.update(1)
    except BaseException:
        for w in writers:
            w.f.close()  # keep the .partial files for --resume
        raise
    finally:
        if bar is not None:
            bar.close()
        log.close()
    reason = reason or blow_up(log_path)
    for w in writers:
        w.mark(**({"blown_up": True, "blown_up_reason": reason} if reason else {}))  # also a resume's new length
        w.close()
    return paths


def _starts(init, m: int) -> list:
    if isinstance(init, Snapshot):
        return [init] * m
    inits = list(init)
    if len(inits) != m:
        raise InputError("rollout", f"{len(inits)} start configurations for {m} trajectories; give one or {m}")
    s0 = inits[0]
    for j, s in enumerate(inits[1:], 1):
        if s.species.shape != s0.species.shape or not np.array_equal(s.species, s0.species) or not np.allclose(s.box, s0.box):
            raise InputError(str(s.meta.get("source", f"start {j}")),
                             "start configurations must share species (same order) and box to be batched")
    return inits


def _one_step(step_fn, x, k, cfg, species, box, log, time, relax=None, prev=None, window=None):
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
    """Relax (in place) the chains of the chunk that ``relax`` wants, ``refine`` all together
    (:meth:`Relaxer.relax_batch`), the LAMMPS kinds one by one; returns each chain's log columns."""
    rel = [{"relaxed": 0} for _ in js]
    want = [i for i, o in enumerate(overlap) if relax is not None and relax.wants(o)]
    if not want:
        return rel
    before = new[want].copy()
    seeds = [step_seed(cfg.seed, k, js[i], RELAX_ATTEMPT) for i in want]
    if getattr(relax.cfg, "kind", None) == "refine" and hasattr(relax, "relax_batch"):
        where = f"step {k}, trajectories {[int(js[i]) for i in want]} relaxed together (configuration c is the c-th)"
        after = _relaxed(lambda: relax.relax_batch(before, seeds), where)
        reports = [{"relax_fire_steps": r["fire_steps"], "relax_max_force": r["max_force"],
                    "relax_converged": int(r["converged"])} for r in relax.reports]
    else:
        after, reports = [], []
        for i, b, s in zip(want, before, seeds):
            after.append(_relaxed(lambda: relax.relax(b, s), f"step {k}, trajectory {js[i]}"))
            reports.append(dict(getattr(relax, "report", {})))  # refine's columns (FIRE steps, ...), if any
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


class _NonFinite(Exception):
    """A step's positions are NaN/inf: the chain blew up (the message says where)."""


def _finite(values, k: int, j: int, where: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    bad = int(np.sum(~np.isfinite(values)))
    if bad:
        raise _NonFinite(f"step {k} trajectory {j}: positions = NaN/inf ({bad} coordinates {where})")
    return values


def trajectory_from_chain(init: Snapshot, displacements: np.ndarray, lag: float) -> Trajectory:
    """In-memory trajectory from a (K,N,D) stack of displacements (for tests and small jobs)."""
    x = init.positions + np.concatenate([np.zeros((1,) + init.positions.shape), np.cumsum(displacements, 0)])
    return Trajectory(init.species, init.box, lag * np.arange(len(x)), x, dict(init.meta))
