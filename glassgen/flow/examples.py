"""Training examples of the flow model: ensembles and trajectory pairs/triples as plain dicts.

Every example is ``{"species" (N,), "initial" (N,D), "box" (D,), "lags" (K,), "disp" (R,K,N,D),
"source", "meta"}`` (``meta``: the data file's metadata); examples cut from trajectories also carry ``"prev"`` (1,K,N,D) and ``"has_prev"`` (K,),
the history of a second-order model, and with a memory window ``"win"`` (1,K,N,D) and ``"has_win"`` (K,)
(docs/generative.md, Contracts). Denoising examples (:func:`denoise_examples`) have the same keys; their
"lag" is a noise amplitude.
"""
from __future__ import annotations

import itertools
import zlib
from pathlib import Path

import numpy as np

from glassgen.core.card import domain_from_data
from glassgen.core.errors import InputError
from glassgen.stats.lags import lag_pairs
from glassgen.flow import paths
from glassgen.flow.recipe import REMOVED_AT
from glassgen.stats.monitors import reference


def load_examples(files, lag: float | None = None, lags=None, memory: int = 0, denoise=None,
                  denoise_every: float = 25.0, file_index: int = 0, denoise_widths: str = "fixed") -> list:
    """Training examples ``{"species","initial","box","lags" (K,),"disp" (R,K,N,D),"source"}``.

    ``.npz`` files in the BOTAN layout (types, initial_positions, positions (R,N,D)) need
    ``lag``; their box is the Kob–Andersen box at density 1.2. Glassgen ensembles (H5MD)
    carry their lags. Glassgen trajectories (H5MD) give pairs ``(x(t0), x(t0 + τ) - x(t0))``
    for every frame t0 and every τ in ``lags`` for which the frame t0 + τ exists: one
    example (R = 1) per such origin (see :func:`trajectory_examples`). ``memory`` W > 0: trajectory examples also
    carry the window x(t0) − x(t0 − W τ) (:func:`trajectory_examples`). ``denoise`` (noise amplitudes)
    makes trajectory files give denoising examples instead of pairs (:func:`denoise_examples`, with
    ``denoise_widths``). ``file_index``: the position of ``files[0]`` in a longer list (it seeds the denoising noise), so that
    :func:`open_examples`, which calls this file by file, gives the same examples.
    """
    from glassgen.io.h5md import file_kind, read_ensemble, read_trajectory
    from glassgen.io.npz import read_npz
    from glassgen.system.ka import DENSITY

    out = []
    for n_file, f in enumerate(files):
        if denoise and (str(f).endswith(".npz") or file_kind(f) != "trajectory"):
            raise InputError(str(f), "data.denoise needs trajectory files (it displaces their frames), not ensembles")
        if str(f).endswith(".npz"):
            if lag is None:
                raise InputError(str(f), ".npz ensembles carry no time: set data.lag in the recipe")
            ens = read_npz(f, time=float(lag), density=DENSITY)  # the converter's checks, one line per bad file
        elif file_kind(f) == "trajectory" and denoise:
            seed = [file_index + n_file, zlib.crc32(Path(f).name.encode())]
            traj = read_trajectory(f)
            out.extend(_with_meta(denoise_examples(traj, denoise, str(f), denoise_every, seed,
                                                           denoise_widths), traj.meta))
            continue
        elif file_kind(f) == "trajectory":
            if not lags:
                raise InputError(str(f), "trajectory files need data.lags (the lags τ to cut pairs at, LJ time)")
            traj = read_trajectory(f)
            if "origins" in traj.meta:  # cut at every frame, a branch file would silently train on chain steps
                raise InputError(str(f), f"is a branch file (metadata origins), which glassgen no longer reads; "
                                         f"glassgen at commit {REMOVED_AT} does")
            out.extend(_with_meta(trajectory_examples(traj, lags, str(f), memory), traj.meta))
            continue
        else:
            ens = read_ensemble(f)
        out.append({"species": ens.species, "initial": ens.initial, "box": ens.box, "lags": ens.times,
                    "disp": ens.displacements(), "source": str(f), "meta": ens.meta})
    return out


def open_examples(files, lag: float | None = None, lags=None, memory: int = 0, denoise=None,
                  denoise_every: float = 25.0, workers: int = 4, cache: int = 64, denoise_widths: str = "fixed"):
    """The examples of :func:`load_examples` as a :class:`glassgen.io.stream.Stream`, read file by file when used.

    The last ``cache`` files stay in memory and ``workers`` threads read ahead, so memory does not grow with the
    number of files. Every file is read once here, to count its examples (a file that cannot be read fails
    now, in one line naming it).
    """
    from glassgen.io.stream import Stream

    def load(key):
        i, f = key
        return load_examples([f], lag, lags, memory, denoise, denoise_every, file_index=i,
                             denoise_widths=denoise_widths)
    return Stream(list(enumerate(files)), load, workers=workers, cache=cache, name=lambda key: str(key[1]))


def open_training_data(recipe):
    """A flow recipe's (glassgen.flow.recipe.FitRecipe) training and validation examples (streamed, glassgen.io.stream), the data monitors rollouts of the model
    are compared with (checkpoint metadata ``data_monitors``), the training domain and each file's provenance."""
    d, mem = recipe.data, recipe.model.memory
    dn = {"denoise": d.denoise, "denoise_every": d.denoise_every, "denoise_widths": d.denoise_widths,
          "workers": d.workers, "cache": d.cache}
    train = open_examples(d.train, d.lag, d.lags, mem, **dn)
    if recipe.model.history and not any(ex.get("has_prev", np.zeros(1, bool)).any() for ex in train):
        raise InputError("recipe", "model.history needs trajectory files with frames one lag apart twice (no history found)")
    if mem and not any(ex.get("has_win", np.zeros(1, bool)).any() for ex in train):
        raise InputError("recipe", f"model.memory = {mem} needs trajectory frames {mem} lags before an origin "
                                   "(no window found)")
    val = open_examples(d.val, d.lag, d.lags, mem, **dn) if d.val else []
    clean = (lambda ex: ex["initial"] + ex["disp"][0, 0]) if d.denoise else (lambda ex: ex["initial"])
    meta = {"data_monitors": reference(train.mapped(lambda ex: (ex["species"], clean(ex), ex["box"])))}
    if d.denoise:  # what makes the checkpoint a corrector (glassgen.sampling.corrector), and its noise input
        meta["denoise"] = {"levels": [float(v) for v in d.denoise], "widths": d.denoise_widths}
    domain = domain_from_data(((ex["species"], ex["box"], ex["meta"]) for ex in train),
                              np.array(d.denoise, dtype=float) if d.denoise else
                              np.concatenate([ex["lags"] for ex in train]), d.temperature)
    provenance = {ex["meta"].get("source", ex["source"]): ex["meta"] for ex in itertools.chain(train, val)}  # per file
    return train, val, meta, domain, provenance


def _with_meta(examples: list, meta: dict) -> list:
    for ex in examples:
        ex["meta"] = meta  # the file's metadata (one dict shared by its examples): temperature, provenance
    return examples


def trajectory_examples(traj, lags, source: str, memory: int = 0) -> list:
    """One example per frame t0 that has at least one frame at t0 + τ, τ in ``lags``.

    The lag values stored are the requested ones (not the float differences of frame times),
    so examples of different origins share exactly the same lags (the prior pools by lag).
    Each example also carries the history of a second-order chain: ``prev`` = x(t0) − x(t0 − τ)
    for every lag whose earlier frame exists (``has_prev`` True), zeros where it does not.
    Shapes: ``disp`` and ``prev`` (1, K_t0, N, D), unwrapped; ``has_prev`` (K_t0,) bool;
    ``initial`` the frame at t0. With ``memory`` W > 0 also ``win`` = x(t0) − x(t0 − W τ) (1, K_t0, N, D)
    and ``has_win`` (K_t0,) in the same way: a memory model's mobility window.
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
    out = []
    for i in sorted(by_origin):
        have, idx = zip(*by_origin[i])
        x0 = traj.positions[i]
        disp = traj.positions[list(idx)] - x0
        ex = {"species": traj.species, "initial": x0, "box": traj.box, "lags": np.array(have), "disp": disp[None],
              "source": f"{source}@t={traj.times[i]:g}"}
        ex["prev"], ex["has_prev"] = _back(traj, i, [before.get((tau, i)) for tau in have])
        if memory:
            ex["win"], ex["has_win"] = _back(traj, i, [window.get((tau, i)) for tau in have])
        out.append(ex)
    if not out:
        raise InputError(source, f"no pair of frames is {lags.tolist()} apart (frame times {traj.times[:5].tolist()}...)")
    return out


def denoise_examples(traj, levels, source: str, every: float = 25.0, seed=0, widths: str = "fixed") -> list:
    """Equilibrium-denoising examples: a frame x displaced by Gaussian noise, and the way back.

    For every frame whose time is at least ``every`` after the last one used, and every amplitude σ in
    ``levels`` (σ_AA, per component), one example ``initial`` = x + w ε, ``lags`` = [σ], ``disp`` (1,1,N,D)
    = −w ε, ε ~ N(0, 1) from ``seed``, with w = σ (``widths="fixed"``) or w = σ u, u ~ U(0, 1) drawn per
    example (``"uniform"``). A flow fit on them samples where an equilibrium configuration lies, given one
    displaced by about σ: the model's "lag" input is the noise amplitude, or with uniform widths the largest
    one, so that the model itself must judge how far the input lies from equilibrium (a corrector for draws
    whose error is unknown; docs/generative.md, "Equilibrium denoiser").
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
            width = sigma * rng.uniform() if widths == "uniform" else sigma
            noise = width * rng.standard_normal(traj.positions[i].shape)
            out.append({"species": traj.species, "initial": traj.positions[i] + noise, "box": traj.box,
                        "lags": np.array([sigma]), "disp": -noise[None, None], "source": f"{source}@t={t:g}+{width:g}"})
    return out


def _back(traj, i, earlier):
    """(x(t_i) − x(t_h) per earlier frame h, zeros where h is None) as (1,K,N,D), and the (K,) mask."""
    x0 = traj.positions[i]
    d = np.stack([x0 - traj.positions[h] if h is not None else np.zeros_like(x0) for h in earlier])
    return d[None], np.array([h is not None for h in earlier])


def prior_from_examples(examples) -> paths.PriorScale:
    """The prior's scale per species and lag, in one pass that holds no example (a stream is read file by file)."""
    items = ((lag, ex["species"], ex["disp"][:, k]) for ex in examples for k, lag in enumerate(ex["lags"]))
    return paths.PriorScale.from_displacements(items)
