"""Training examples of the flow model: ensembles and trajectory pairs/triples as plain dicts.

Every example is ``{"species" (N,), "initial" (N,D), "box" (D,), "lags" (K,), "disp" (R,K,N,D),
"source", "meta"}`` (``meta``: the data file's metadata); examples cut from trajectories also carry ``"prev"`` (1,K,N,D) and ``"has_prev"`` (K,),
the history of a second-order model, and with a memory window ``"win"`` (1,K,N,D) and ``"has_win"`` (K,)
(docs/generative.md, Contracts). Denoising examples (:func:`denoise_examples`) have the same keys; their
"lag" is a noise amplitude.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from glassgen.core.errors import InputError
from glassgen.stats.dynamics import lag_pairs
from glassgen.flow import paths


def load_examples(files, lag: float | None = None, lags=None, inherent=None, memory: int = 0, denoise=None,
                  denoise_every: float = 25.0, file_index: int = 0) -> list:
    """Training examples ``{"species","initial","box","lags" (K,),"disp" (R,K,N,D),"source"}``.

    ``.npz`` files in the BOTAN layout (types, initial_positions, positions (R,N,D)) need
    ``lag``; their box is the Kob–Andersen box at density 1.2. Glassgen ensembles (H5MD)
    carry their lags. Glassgen trajectories (H5MD) give pairs ``(x(t0), x(t0 + τ) - x(t0))``
    for every frame t0 and every τ in ``lags`` for which the frame t0 + τ exists: one
    example (R = 1) per such origin (see :func:`trajectory_examples`). ``inherent`` (optional, one
    per file) are the inherent-structure trajectories of trajectory files (``glassgen inherent``):
    the examples then start from IS(t0) instead of x(t0). ``memory`` W > 0: trajectory examples also
    carry the window x(t0) − x(t0 − W τ) (:func:`trajectory_examples`). ``denoise`` (noise amplitudes)
    makes trajectory files give denoising examples instead of pairs (:func:`denoise_examples`).
    ``file_index``: the position of ``files[0]`` in a longer list (it seeds the denoising noise), so that
    :func:`open_examples`, which calls this file by file, gives the same examples.
    """
    from glassgen.io.h5md import file_kind, read_ensemble, read_trajectory
    from glassgen.io.npz import read_npz
    from glassgen.system.ka import DENSITY

    if inherent is not None and len(inherent) != len(files):
        raise InputError(str(files[0]), f"{len(inherent)} inherent-structure files for {len(files)} data files")
    out = []
    for n_file, f in enumerate(files):
        if inherent is not None:  # before the format branches, so no kind of file ignores its IS file
            if str(f).endswith(".npz") or file_kind(f) != "trajectory":
                raise InputError(str(f), "inherent-structure starts need trajectory files, not ensembles")
            if file_kind(inherent[n_file]) != "trajectory":
                raise InputError(str(inherent[n_file]), "is not a trajectory; inherent-structure starts need "
                                                        "`glassgen inherent` output")
        if denoise and (str(f).endswith(".npz") or file_kind(f) != "trajectory"):
            raise InputError(str(f), "data.denoise needs trajectory files (it displaces their frames), not ensembles")
        if str(f).endswith(".npz"):
            if lag is None:
                raise InputError(str(f), ".npz ensembles carry no time: set data.lag in the recipe")
            ens = read_npz(f, time=float(lag), density=DENSITY)  # the converter's checks, one line per bad file
        elif file_kind(f) == "trajectory" and denoise:
            seed = [file_index + n_file, zlib.crc32(Path(f).name.encode())]
            traj = read_trajectory(f)
            out.extend(_with_meta(denoise_examples(traj, denoise, str(f), denoise_every, seed), traj.meta))
            continue
        elif file_kind(f) == "trajectory":
            if not lags:
                raise InputError(str(f), "trajectory files need data.lags (the lags τ to cut pairs at, LJ time)")
            starts = read_trajectory(inherent[n_file]) if inherent is not None else None
            traj = read_trajectory(f)
            out.extend(_with_meta(trajectory_examples(traj, lags, str(f), starts, memory), traj.meta))
            continue
        else:
            ens = read_ensemble(f)
        out.append({"species": ens.species, "initial": ens.initial, "box": ens.box, "lags": ens.times,
                    "disp": ens.displacements(), "source": str(f), "meta": ens.meta})
    return out


def open_examples(files, lag: float | None = None, lags=None, inherent=None, memory: int = 0, denoise=None,
                  denoise_every: float = 25.0, workers: int = 4, cache: int = 64):
    """The examples of :func:`load_examples` as a :class:`glassgen.io.stream.Stream`, read file by file when used.

    The last ``cache`` files stay in memory and ``workers`` threads read ahead, so memory does not grow with the
    number of files. Every file is read once here, to count its examples (a file that cannot be read fails
    now, in one line naming it).
    """
    from glassgen.io.stream import Stream

    if inherent is not None and len(inherent) != len(files):
        raise InputError(str(files[0]), f"{len(inherent)} inherent-structure files for {len(files)} data files")

    def load(key):
        i, f = key
        return load_examples([f], lag, lags, None if inherent is None else [inherent[i]], memory, denoise,
                             denoise_every, file_index=i)
    return Stream(list(enumerate(files)), load, workers=workers, cache=cache, name=lambda key: str(key[1]))


def _with_meta(examples: list, meta: dict) -> list:
    for ex in examples:
        ex["meta"] = meta  # the file's metadata (one dict shared by its examples): temperature, provenance
    return examples


def trajectory_examples(traj, lags, source: str, starts=None, memory: int = 0) -> list:
    """One example per frame t0 that has at least one frame at t0 + τ, τ in ``lags``.

    The lag values stored are the requested ones (not the float differences of frame times),
    so examples of different origins share exactly the same lags (the prior pools by lag).
    Each example also carries the history of a second-order chain: ``prev`` = x(t0) − x(t0 − τ)
    for every lag whose earlier frame exists (``has_prev`` True), zeros where it does not.
    A file whose metadata lists ``origins`` (times) uses only those frames as origins (branch files).
    Shapes: ``disp`` and ``prev`` (1, K_t0, N, D), unwrapped; ``has_prev`` (K_t0,) bool;
    ``initial`` the frame at t0. With ``memory`` W > 0 also ``win`` = x(t0) − x(t0 − W τ) (1, K_t0, N, D)
    and ``has_win`` (K_t0,) in the same way: a memory model's mobility window.

    With ``starts`` (the trajectory's inherent structures, e.g. every 5 LJ, from ``glassgen inherent``)
    only origins with an inherent structure are used, and the example starts from it: ``initial`` =
    IS(t0), ``disp`` = x(t0 + τ) − IS(t0) (the thermal future), ``prev`` = IS(t0) − IS(t0 − τ) (the
    IS-to-IS step a minimising chain reads as its history).
    """
    lags = np.array(sorted(float(t) for t in lags))
    if np.any(lags <= 0):
        raise InputError(source, f"data.lags must be positive; got {lags.tolist()}")
    by_origin: dict[int, list] = {}
    before: dict[tuple, int] = {}  # (τ, frame) -> the frame τ earlier
    window: dict[tuple, int] = {}  # (τ, frame) -> the frame W τ earlier
    for tau in lags:
        for i, j in zip(*lag_pairs(traj.times, tau)):
            by_origin.setdefault(int(i), []).append((tau, int(j)))
            before[(tau, int(j))] = int(i)
        if memory:
            for i, j in zip(*lag_pairs(traj.times, memory * tau)):
                window[(tau, int(j))] = int(i)
    frame = _inherent_frames(traj, starts, source)
    allowed = _allowed_origins(traj, source)
    out = []
    for i in sorted(by_origin):
        if frame(i) is None or not allowed[i]:
            continue
        have, idx = zip(*by_origin[i])
        x0 = frame(i)
        disp = traj.positions[list(idx)] - x0
        ex = {"species": traj.species, "initial": x0, "box": traj.box, "lags": np.array(have), "disp": disp[None],
              "source": f"{source}@t={traj.times[i]:g}"}
        ex["prev"], ex["has_prev"] = _back(x0, frame, [before.get((tau, i)) for tau in have])
        if memory:
            ex["win"], ex["has_win"] = _back(x0, frame, [window.get((tau, i)) for tau in have])
        out.append(ex)
    if not out and starts is not None:
        raise InputError(source, f"no origin with a frame {lags.tolist()} later has an inherent structure "
                                 f"(inherent-structure times {starts.times[:5].tolist()}...)")
    if not out:
        raise InputError(source, f"no pair of frames is {lags.tolist()} apart (frame times {traj.times[:5].tolist()}...)"
                         + (f" from its origins {traj.meta['origins']}" if "origins" in traj.meta else ""))
    return out


def _allowed_origins(traj, source: str) -> np.ndarray:
    """(F,) bool: the frames that may be origins; all of them unless the file's ``origins`` meta names times
    (branch files, glassgen.md.branches: their earlier frames are the history of a chain, not data to learn)."""
    times = traj.meta.get("origins")
    if times is None:
        return np.ones(len(traj.times), bool)
    times = np.asarray(times, dtype=np.float64).ravel()
    hit = np.isclose(traj.times[:, None], times[None, :], rtol=1e-6, atol=1e-9)
    if times.size == 0 or not np.all(hit.any(0)):
        raise InputError(source, f"metadata origins {times.tolist()} are not all frame times of the file")
    return hit.any(1)


def denoise_examples(traj, levels, source: str, every: float = 25.0, seed=0) -> list:
    """Equilibrium-denoising examples: a frame x displaced by Gaussian noise, and the way back.

    For every frame whose time is at least ``every`` after the last one used, and every amplitude σ in
    ``levels`` (σ_AA, per component), one example ``initial`` = x + σ ε, ``lags`` = [σ], ``disp`` (1,1,N,D)
    = −σ ε, ε ~ N(0, 1) from ``seed``. A flow fit on them samples where an equilibrium configuration lies,
    given one displaced by about σ: the model's "lag" input is the noise amplitude (docs/generative.md,
    "Equilibrium denoiser").
    """
    levels = [float(v) for v in levels]
    if not levels or min(levels) <= 0 or not np.all(np.isfinite(levels)):
        raise InputError(source, f"data.denoise must list positive noise amplitudes; got {levels}")
    rng = np.random.default_rng(seed)
    out, last = [], -np.inf
    for i, t in enumerate(traj.times):
        if t < last + every:
            continue
        last = t
        for sigma in levels:
            noise = sigma * rng.standard_normal(traj.positions[i].shape)
            out.append({"species": traj.species, "initial": traj.positions[i] + noise, "box": traj.box,
                        "lags": np.array([sigma]), "disp": -noise[None, None], "source": f"{source}@t={t:g}+{sigma:g}"})
    return out


def _back(x0, frame, earlier):
    """(x0 − frame(h) per earlier frame h, zeros where h is None or has no start) as (1,K,N,D), and the (K,) mask."""
    earlier = [h if h is not None and frame(h) is not None else None for h in earlier]
    d = np.stack([x0 - frame(h) if h is not None else np.zeros_like(x0) for h in earlier])
    return d[None], np.array([h is not None for h in earlier])


def _inherent_frames(traj, starts, source: str):
    """frame(i): the start configuration of origin i, x(t_i) or IS(t_i) (None where it has no IS)."""
    if starts is None:
        return lambda i: traj.positions[i]
    if starts.n_particles != traj.n_particles or not np.array_equal(starts.species, traj.species) \
            or not np.allclose(starts.box, traj.box):
        raise InputError(source, "its inherent-structure file has other particles, species or box")
    at = {round(float(t), 6): k for k, t in enumerate(starts.times)}

    def frame(i):
        k = at.get(round(float(traj.times[i]), 6))
        return None if k is None else starts.positions[k]
    return frame


def memory_exponents(examples, n_species: int) -> list:
    """β_a per species: least-squares slope of log(|Δ|² + ε) on log(|Δ_W|² + ε) over the examples with a
    window, each (origin, lag, species) centred, so the slope is within a configuration, not across lags.
    The memory prior (FlowModel.window_factor) then widens the noise of particle i by (|Δ_W,i|² + ε)^(β/2)."""
    from glassgen.flow.model import WINDOW_EPS

    sxy, sxx = np.zeros(n_species), np.zeros(n_species)
    for ex in examples:
        for k in np.flatnonzero(ex.get("has_win", [])):
            y = np.log(np.sum(ex["disp"][0, k] ** 2, axis=-1) + WINDOW_EPS)
            x = np.log(np.sum(ex["win"][0, k] ** 2, axis=-1) + WINDOW_EPS)
            for a in range(n_species):
                sel = ex["species"] == a
                if sel.sum() > 1:
                    xc, yc = x[sel] - x[sel].mean(), y[sel] - y[sel].mean()
                    sxy[a] += xc @ yc
                    sxx[a] += xc @ xc
    if np.any(sxx == 0):
        raise InputError("recipe", f"model.memory_prior: species {np.flatnonzero(sxx == 0).tolist()} has no window in the data")
    return (sxy / sxx).tolist()


def prior_from_examples(examples) -> paths.PriorScale:
    """The prior's scale per species and lag, in one pass that holds no example (a stream is read file by file)."""
    items = ((lag, ex["species"], ex["disp"][:, k]) for ex in examples for k, lag in enumerate(ex["lags"]))
    return paths.PriorScale.from_displacements(items)
