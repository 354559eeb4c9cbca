"""What ``glassgen evaluate`` compares with what: file pairs, that they are comparable, the lags, their features.

Generated and reference files are matched by name (two folders) or given as two files; each pair must be of
one kind (ensembles or trajectories), composition and box, ensembles also of one initial configuration. The
lags compared are the common ensemble times, or for trajectories the common lags nearest τ_α and τ_α/10.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from glassgen.core.errors import InputError
from glassgen.io.h5md import read
from glassgen.stats.dynamics import per_sample_curves, tau_alpha
from glassgen.stats.features import Options, config_features
from glassgen.system.data import Ensemble
from glassgen.system.pbc import minimum_image


def ensemble_files(path) -> list:
    """The H5MD files of a file or folder argument (sorted), or a one-line error naming it."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".h5", ".h5md"))
        if not files:
            raise InputError(str(path), "folder holds no .h5/.h5md files")
        return files
    return [path]


def match_files(generated, reference) -> list:
    """Pairs (gen file, ref file): two files, or two folders matched by file name."""
    g, r = Path(generated), Path(reference)
    for p in (g, r):
        if not p.exists():
            raise InputError(str(p), "no such file or folder")
    if g.is_dir() != r.is_dir():
        raise InputError(str(g), "GENERATED and REFERENCE must both be files or both be folders")
    gf, rf = ensemble_files(g), ensemble_files(r)
    if not g.is_dir():
        return [(gf[0], rf[0])]
    by_name = {p.name: p for p in rf}
    missing = [p.name for p in gf if p.name not in by_name]
    if missing:
        raise InputError(str(r), f"no reference file for {', '.join(missing[:5])} (files are matched by name)")
    return [(p, by_name[p.name]) for p in gf]


def check_pair(gen, ref) -> None:
    src = str(gen.meta.get("source"))
    if type(gen) is not type(ref):
        raise InputError(src, f"is a {type(gen).__name__.lower()} but the reference is a {type(ref).__name__.lower()}")
    if isinstance(gen, Ensemble):
        if gen.species.shape != ref.species.shape or np.any(gen.species != ref.species):
            raise InputError(src, "species differ from the reference (same particles in the same order are required)")
    elif not np.array_equal(*(np.bincount(x, minlength=max(gen.species.max(), ref.species.max()) + 1) for x in (gen.species, ref.species))):
        raise InputError(src, f"composition {np.bincount(gen.species).tolist()} differs from the reference's {np.bincount(ref.species).tolist()}")
    if not np.allclose(gen.box, ref.box, rtol=1e-9):
        raise InputError(src, f"box {gen.box.tolist()} differs from the reference box {ref.box.tolist()}")
    if isinstance(gen, Ensemble) and np.abs(minimum_image(gen.initial - ref.initial, gen.box)).max() > 1e-6:
        raise InputError(src, "initial configuration differs from the reference's (iso-configurational comparison)")


def _common(a, b, rtol=1e-6):
    return np.array([x for x in a if np.any(np.abs(b - x) <= rtol * x)])


def choose_times(gen, ref, times=None) -> list:
    """Evaluation lags: the common ensemble times, or for trajectories the common lags nearest
    τ_α,A(reference) and τ_α/10 (at most a quarter of either span, so many origins remain)."""
    if isinstance(ref, Ensemble):
        common = _common(ref.times, gen.times)
    else:
        lg, lr = gen.times[1:] - gen.times[0], ref.times[1:] - ref.times[0]
        common = _common(lr[lr <= lr[-1] / 4], lg[lg <= lg[-1] / 4])
    if common.size == 0:
        raise InputError(str(gen.meta.get("source")), "no lag time in common with the reference")
    if times:
        bad = [t for t in times if _common([t], common).size == 0]
        if bad:
            raise InputError(str(ref.meta.get("source")), f"times {bad} are not lags of both data sets (available: {common.tolist()[:12]})")
        return sorted(float(t) for t in times)
    if isinstance(ref, Ensemble):
        return common.tolist()
    c = per_sample_curves(ref, 0, n_lags=32, max_origins=32)
    tau = tau_alpha(c["times"], [v.mean() for v in c["fs"]])
    top = tau if np.isfinite(tau) else common[-1]
    pick = {float(common[np.argmin(np.abs(np.log(common / x)))]) for x in (top / 10, top)}
    return sorted(pick)


def pair_features(pairs, times, fopt: Options, progress: bool):
    """Features of every (generated, reference) file pair, one pair in memory at a time, at the times chosen
    on the first pair. Returns (generated features, reference features, eval_times)."""
    fg, fr, eval_times = [], [], None
    for gp, rp in tqdm(pairs, desc="features", disable=not progress, unit="config"):
        gen, ref = read(gp), read(rp)
        check_pair(gen, ref)
        if eval_times is None:
            eval_times = choose_times(gen, ref, times)
        fg.append(config_features(gen, eval_times, fopt, gp.name))
        fr.append(config_features(ref, eval_times, fopt, rp.name))
        for side in (fg, fr):
            ta, tb = side[-1]["curves"]["A"]["times"], side[0]["curves"]["A"]["times"]
            if ta.shape != tb.shape or not np.allclose(ta, tb, rtol=1e-6):
                raise InputError(side[-1]["source"], "frame/lag times differ from the other files on the same side")
        del gen, ref
    return fg, fr, eval_times
