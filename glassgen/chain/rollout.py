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
from glassgen.chain.step import RELAX_ATTEMPT, NonFinite, draw_step, one_step, step_seed  # noqa: F401 (public here too)


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
    meta = _meta(meta, cfg, m, second, relax)
    if not claim_output(out, paths, meta, resume, overwrite):
        return paths  # finished before with these arguments: nothing to do
    same = set(meta) - {"rollout_steps"}  # every setting but the length, which a resume may extend
    writers = [TrajectoryWriter(p, species, box, meta, resume=resume, same=same) for p in paths]
    hpath = out.with_name(out.stem + ".history.npz")
    memory = int(getattr(step_fn, "memory", 0)) if second else 0
    chain = _restore(writers, inits, cfg, second, hpath, memory)
    log_path = out.with_name(out.stem + ".log.csv")
    log = RolloutLog(log_path, resume_step=None if chain.fresh else chain.done - 1)
    if chain.fresh:
        for j in range(m):
            log.write({"step": 0, "trajectory": j, "time": 0.0, "resampled": 0, **monitors(chain.x[j], species, box)})
    reason = _advance(step_fn, chain, writers, cfg, species, box, log, relax,
                      hpath if second and cfg.history == "draw" else None, progress)
    reason = reason or blow_up(log_path)
    for w in writers:
        w.mark(**({"blown_up": True, "blown_up_reason": reason} if reason else {}))  # also a resume's new length
        w.close()
    return paths


def _meta(meta, cfg: RolloutConfig, m: int, second: bool, relax) -> dict:
    """The settings stored in every trajectory file (a resume must match them)."""
    meta = dict(meta or {}, lag=cfg.lag, draw_lag=cfg.draw_lag, rollout_seed=cfg.seed, rollout_steps=cfg.steps, n_trajectories=m,
                generated=True, history_from=cfg.history if second else "none", max_resample=cfg.max_resample,
                overlap_energy=cfg.overlap_energy, batch_trajectories=min(cfg.batch_trajectories or m, m))
    meta.pop("dt", None)
    if relax is not None:
        meta.update(relax.cfg.meta())
    return meta


@dataclass
class _Chain:
    """Where the chains stand: ``x`` (M,N,D) after step ``done`` - 1, ``prev`` each chain's last step (second
    order) or None, ``past`` the last W + 1 configurations oldest first, W = ``memory`` (window = past[-1] − past[0])."""

    x: np.ndarray
    prev: np.ndarray | None
    past: list
    memory: int
    done: int
    fresh: bool


def _restore(writers, inits, cfg: RolloutConfig, second: bool, hpath: Path, memory: int) -> _Chain:
    """The chain state from the files (resume) or from the starts (fresh); truncates the files to whole steps."""
    m = len(writers)
    done = min(w.n_frames for w in writers)  # frame k holds the configuration after step k
    saved = None
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
    prev = None
    if saved is not None:
        prev = saved[1]
    elif second and cfg.history == "chain" and done > 1:
        prev = x - np.stack([w.last_positions(1) for w in writers])
    past = [np.stack([w.last_positions(b) for w in writers]) for b in range(min(memory, done - 1), 0, -1)] + [x]
    return _Chain(x, prev, past, memory, done, fresh)


def _advance(step_fn, chain: _Chain, writers, cfg: RolloutConfig, species, box, log, relax, hpath,
             progress: bool) -> str | None:
    """Steps ``chain.done`` .. ``cfg.steps``, each written and flushed; returns why the chain stopped early, or
    None. ``hpath``: where draw histories are kept (``history: draw``), else None. Interrupted, the files stay
    ``.partial`` for ``--resume``."""
    memory, x, prev, past = chain.memory, chain.x, chain.prev, chain.past
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=chain.done - 1, desc="rollout", unit="step")
    reason = None
    try:
        for k in range(chain.done, cfg.steps + 1):
            window = x - past[0] if memory and len(past) > memory else None
            try:
                new, drawn = one_step(step_fn, x, k, cfg, species, box, log, k * cfg.lag, relax, prev, window)
            except NonFinite as e:  # nothing can follow a NaN: finish the files at the last finite frame
                reason = str(e)
                break
            new = unfold(*fold(new, box), box)  # bit for bit what --resume reads back from the file
            prev, x = (drawn if cfg.history == "draw" else new - x), new
            past = (past + [x])[-(memory + 1):]
            for w, xj in zip(writers, x):
                w.append(k * cfg.lag, xj)
            if hpath is not None:  # after the frames: a crash between leaves it one step behind
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
    return reason


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


def trajectory_from_chain(init: Snapshot, displacements: np.ndarray, lag: float) -> Trajectory:
    """In-memory trajectory from a (K,N,D) stack of displacements (for tests and small jobs)."""
    x = init.positions + np.concatenate([np.zeros((1,) + init.positions.shape), np.cumsum(displacements, 0)])
    return Trajectory(init.species, init.box, lag * np.arange(len(x)), x, dict(init.meta))
