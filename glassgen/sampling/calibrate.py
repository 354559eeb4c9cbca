"""Noise-scale calibration: the prior factor c per species that makes one draw as long as MD's step.

Flow models trained here draw steps that are too short (under-dispersion: MSD_A of one draw 15–25 %
below MD's at T = 0.5 and 0.6, independent of ODE steps and width; docs/generative.md, "Noise scale").
The step length responds steeply to the prior's width, because whether a particle leaves its cage
is decided by the size of its own noise. :func:`calibrate_noise` measures that response on MD
trajectories the user names (training or validation data, never the reference a check is run
against) and returns c per species such that the mean one-draw MSD of each species equals MD's.

Method: pairs (x(t0), x(t0 + τ)) from the trajectories, with the history x(t0) − x(t0 − τ) for a
second-order model (and the window x(t0) − x(t0 − W τ) for a memory model). The same draws (same seeds, hence the same unit noise) are made at every trial
factor, so MSD(c) is smooth in c. Each species' log MSD is interpolated linearly in log c between the
trial factors that bracket MD's value (exact for a power law, as a model that only rescales its noise gives). All species are scaled together at each trial, so a species'
answer includes how its neighbours' scale moves it. The result is then checked with one more set of
draws at the chosen factors.
"""
from __future__ import annotations

import numpy as np

from glassgen.core.errors import InputError
from glassgen.stats.lags import lag_pairs


def md_pairs(trajectories, lag: float, origins: int, history: bool, memory: int = 0):
    """(snapshot, MD displacement (N,D), previous (N,D) or None, window (N,D) or None) for ``origins``
    origins per trajectory; ``window`` = x(t0) − x(t0 − W τ) for a memory model (``memory`` = W > 0)."""
    from glassgen.system.data import Snapshot

    out = []
    for traj in trajectories:
        i, j = lag_pairs(traj.times, lag)
        before = dict(zip(j.tolist(), i.tolist()))  # frame -> the frame one lag earlier
        wi, wj = lag_pairs(traj.times, memory * lag) if memory else (np.zeros(0, int), np.zeros(0, int))
        window = dict(zip(wj.tolist(), wi.tolist()))  # frame -> the frame W lags earlier
        if history:  # origins that have a step (and a window) behind them, as a running chain has
            ok = np.array([k in before and (not memory or k in window) for k in i], dtype=bool)
            i, j = i[ok], j[ok]
        if i.size == 0:
            raise InputError(traj.meta.get("source", "trajectory"), f"no pair of frames {lag:g} apart"
                             + (" with a step of the same lag before it" if history else "")
                             + (f" and a frame {memory} lags before it" if memory else ""))
        keep = np.unique(np.linspace(0, i.size - 1, min(origins, i.size)).round().astype(int))
        for a, b in zip(i[keep], j[keep]):
            x = traj.positions
            out.append((Snapshot(traj.species, traj.box, x[a], dict(traj.meta)), x[b] - x[a],
                        x[a] - x[before[a]] if history else None, x[a] - x[window[a]] if memory else None))
    return out


def _msd(disps, species, n_species: int) -> np.ndarray:
    """Mean |Δr|² per species over every pair and draw; disps[k] (..., N, D) goes with species[k] (N,)."""
    sums, counts = np.zeros(n_species), np.zeros(n_species)
    for d, sp in zip(disps, species):
        sq = np.sum(np.asarray(d) ** 2, axis=-1).reshape(-1, len(sp))
        for s in range(n_species):
            sums[s] += sq[:, sp == s].sum()
            counts[s] += sq.shape[0] * np.sum(sp == s)
    if np.any(counts == 0):
        raise InputError("calibrate", f"species {np.flatnonzero(counts == 0).tolist()} of the model are absent "
                                      "from the trajectories")
    return sums / counts


def calibrate_noise(model, trajectories, lag: float, origins: int = 4, samples: int = 2,
                    trials=(0.98, 1.0, 1.02, 1.04, 1.06), seed: int = 0, solver=None, progress=None) -> dict:
    """Per-species noise factor c with one draw's MSD equal to MD's, measured on ``trajectories``.

    Args:
        model: a flow model or checkpoint path.
        trajectories: :class:`glassgen.Trajectory` objects at the model's state point.
        lag: τ of the draws (LJ time); the trajectories need frames τ apart.
        origins: start frames per trajectory (evenly spread); samples: draws per start.
        trials: increasing factors tried (all species together); the answer is interpolated between them.
        solver: :class:`glassgen.SolverConfig` of the draws, as the rollout will use it (default ``SolverConfig()``).
    Returns ``{"noise_scale": [c_s], "md_msd": [..], "trial_msd": {c: [..]}, "check_msd": [..]}``.
    """
    from glassgen.sampling.sample import _as_model, draw
    from glassgen.sampling.solvers import SolverConfig

    model = _as_model(model)
    solver = solver or SolverConfig()
    trials = sorted(float(c) for c in trials)
    pairs = md_pairs(trajectories, float(lag), int(origins), model.history, model.memory)
    species = [snap.species for snap, *_ in pairs]
    n_species = int(model.prior.log_scales.shape[1])
    md = _msd([d for _, d, *_ in pairs], species, n_species)

    def draws(c):
        out = []
        for k, (snap, _, prev, window) in enumerate(pairs):
            d, _ = draw(model, snap, lag, samples, solver, seed + k, prev, window, 1.0, c, None)
            out.append(d)
            if progress is not None:
                progress()
        return _msd(out, species, n_species)

    curve = np.array([draws(c) for c in trials])  # (n_trials, S)
    chosen = []
    for s in range(n_species):
        logm, target = np.log(curve[:, s]), np.log(md[s])
        if not np.all(np.diff(logm) > 0):
            raise InputError("calibrate", f"species {s}: one draw's MSD does not grow with the noise factor "
                                          f"({curve[:, s].round(4).tolist()} at {trials})")
        if not logm[0] <= target <= logm[-1]:
            raise InputError("calibrate", f"species {s}: MD's MSD {md[s]:.4g} lies outside the draws' "
                                          f"{curve[0, s]:.4g} … {curve[-1, s]:.4g} at factors {trials[0]:g} … "
                                          f"{trials[-1]:g}; widen --trials")
        chosen.append(float(np.exp(np.interp(target, logm, np.log(trials)))))
    check = draws(chosen)
    return {"noise_scale": chosen, "md_msd": md.tolist(), "trial_msd": {c: m.tolist() for c, m in zip(trials, curve)},
            "check_msd": check.tolist(), "pairs": len(pairs), "samples": int(samples), "lag": float(lag)}
