"""Chapman–Kolmogorov check of a one-step sampler: two steps of τ against one step of 2τ (and MD at 2τ).

A rollout chains draws Δ ~ p(Δ | x, τ). That is only sound if the sampler obeys the
Chapman–Kolmogorov equation: Δ₁ ~ p(·|x₀, τ) followed by Δ₂ ~ p(·|x₀ + Δ₁, τ) must give the same
distribution of Δ₁ + Δ₂ as one draw from p(·|x₀, 2τ). For every start configuration this module
draws ``n_samples`` two-step chains and ``n_samples`` one-step draws and compares them (and each with
MD at 2τ when given) with the statistics of :mod:`glassgen.stats`: per-species MSD, F_s(q), α₂, and
the Wasserstein-1 distance of the |Δr| distributions. Noise floors and verdicts are those of
``glassgen evaluate`` (half splits, :data:`glassgen.stats.compare.TOLERANCES`, K_FLOOR). Details and
the floor for a trajectory reference: docs/statistics.md, "Chapman–Kolmogorov check".
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from glassgen.core.version import __version__
from glassgen.system.data import Ensemble, Snapshot
from glassgen.core.errors import InputError
from glassgen.system.pbc import fold
from glassgen.chain import ck_compare as ckc
from glassgen.stats.dynamics import DEFAULT_Q
from glassgen.stats.evaluate import json_ready
from glassgen.stats.matching import ensemble_files
from glassgen.stats.lags import lag_pairs
from glassgen.stats.uncertainty import N_SPLITS

CK_PAIR = "two-step vs one-step"


def _seed(seed: int, role: int, start: int, sample: int) -> int:
    """Independent seed per (role, start, sample): the rollout's SeedSequence hashing, other roles."""
    from glassgen.chain.rollout import step_seed

    return step_seed(seed, role, start, sample)


def _draw(step_fn, positions, lag, seeds, what, previous=None):
    from glassgen.chain.rollout import draw_step  # second-order samplers: the second step reads the first

    out = np.asarray(draw_step(step_fn, positions, lag, seeds, previous), dtype=np.float64)
    if out.shape != positions.shape or not np.all(np.isfinite(out)):
        raise InputError("chapman-kolmogorov", f"{what}: the sampler returned shape {out.shape} with "
                         f"{int(np.sum(~np.isfinite(out)))} NaN/inf values (expected {positions.shape})")
    return out


def draw_chains(step_fn, start: Snapshot, lag: float, n_samples: int, seed: int = 0, index: int = 0):
    """Two-step totals Δ₁ + Δ₂ (lag τ each) and one-step draws (lag 2τ) from one start.

    Shapes: start.positions (N,D) → two arrays (n_samples, N, D), unwrapped displacements.
    """
    x0 = fold(start.positions, start.box)[0]
    xs = np.repeat(x0[None], n_samples, axis=0)
    seeds = lambda role: [_seed(seed, role, index, j) for j in range(n_samples)]  # noqa: E731
    d1 = _draw(step_fn, xs, lag, seeds(1), "first step of τ")
    d2 = _draw(step_fn, fold(x0 + d1, start.box)[0], lag, seeds(2), "second step of τ", previous=d1)
    one = _draw(step_fn, xs, 2.0 * lag, seeds(0), "one step of 2τ")
    return d1 + d2, one


def _check_inputs(starts, lag, md, n_samples):
    if not starts:
        raise InputError("chapman-kolmogorov", "no start configuration")
    if not (np.isfinite(lag) and lag > 0):
        raise InputError("chapman-kolmogorov", f"lag τ must be a positive time in LJ units; got {lag}")
    if int(n_samples) != n_samples or n_samples < 4:
        raise InputError("chapman-kolmogorov", f"n_samples must be an integer >= 4 (two halves for the floor); got {n_samples}")
    comp = np.bincount(starts[0].species)
    for s in starts:
        if not np.array_equal(np.bincount(s.species, minlength=comp.size), comp):
            raise InputError(str(s.meta.get("source")), "start configurations must share one composition")
    if md is None:
        return
    if len(md) != len(starts):
        raise InputError("chapman-kolmogorov", f"{len(md)} MD displacement sets for {len(starts)} starts")
    for s, d in zip(starts, md):
        if np.ndim(d) != 3 or np.shape(d)[1:] != s.positions.shape or not np.all(np.isfinite(d)):
            raise InputError(str(s.meta.get("source")), f"MD displacements must be finite (R,{s.n_particles},"
                             f"{s.positions.shape[1]}); got {np.shape(d)}")


def chapman_kolmogorov(step_fn, starts, lag: float, md_displacements_2tau=None, n_samples: int = 16, seed: int = 0,
                       q: float = DEFAULT_Q, n_splits: int = N_SPLITS, progress: bool = False) -> dict:
    """Two steps of τ against one step of 2τ (and against MD at 2τ) from each start configuration.

    Args:
        step_fn: rollout step function ``(positions (M,N,D) folded, lag, seeds) -> (M,N,D)``, or one per start.
        starts: list of :class:`glassgen.Snapshot` (one composition).
        lag: τ in LJ time units.
        md_displacements_2tau: None, or per start an (R,N,D) array of MD displacements after 2τ.
            With R ≥ 2 for every start the MD floor splits runs within each start and W₁ is taken per
            start; with R = 1 (time origins of trajectories) it splits the starts, and the MD
            comparisons pool all starts into one distribution (a conservative floor).
        n_samples: two-step chains and one-step draws per start.

    Returns:
        dict with ``rows`` (evaluate-style rows plus ``comparison``), ``values`` per side,
        ``verdict`` (``consistent`` / ``inconsistent``: the two-step-vs-one-step rows) and
        ``md_verdict`` (``pass`` / ``fail`` / None: the rows against MD).
    """
    _check_inputs(starts, lag, md_displacements_2tau, n_samples)
    fns = list(step_fn) if isinstance(step_fn, (list, tuple)) else [step_fn] * len(starts)
    dim = starts[0].positions.shape[1]
    two, one = [], []
    from tqdm.auto import tqdm

    for i, s in enumerate(tqdm(starts, desc="chapman-kolmogorov", unit="start", disable=not progress)):
        t, o = draw_chains(fns[i], s, lag, int(n_samples), seed, i)
        two.append(ckc.features(t, s.species, q))
        one.append(ckc.features(o, s.species, q))
    n = int(n_samples)
    floor = [(one, ckc.splits(one, n_splits, seed)), (two, ckc.splits(two, n_splits, seed + 7919))]
    rows = ckc.compare(CK_PAIR, two, one, floor, (n, n), 2 * lag, dim)
    values = {"two_step": ckc.values(two, dim), "one_step": ckc.values(one, dim)}
    md_mode = None
    if md_displacements_2tau is not None:
        md = [ckc.features(np.asarray(d, dtype=np.float64), s.species, q) for d, s in zip(md_displacements_2tau, starts)]
        runs = [len(d) for d in md_displacements_2tau]
        md_mode = "runs" if min(runs) >= 2 else "starts"
        values["md"] = ckc.values(md, dim)
        if md_mode == "starts":  # one MD run per start: pool all starts into one group
            md, two_g, one_g, sizes = ckc.merge(md), ckc.merge(two), ckc.merge(one), (len(starts), len(starts))
        else:
            two_g, one_g, sizes = two, one, (n, float(np.mean(runs)))
        floor = [(md, ckc.splits(md, n_splits, seed + 104729))]
        rows += ckc.compare("two-step vs MD", two_g, md, floor, sizes, 2 * lag, dim)
        rows += ckc.compare("one-step vs MD", one_g, md, floor, sizes, 2 * lag, dim)
    ck = [r["verdict"] for r in rows if r["comparison"] == CK_PAIR]
    mdv = [r["verdict"] for r in rows if r["comparison"] != CK_PAIR]
    return {"lag": float(lag), "lag_2tau": 2.0 * lag, "n_starts": len(starts), "n_samples": n, "q": q, "md_floor": md_mode,
            "md_runs": None if md_displacements_2tau is None else [len(d) for d in md_displacements_2tau],
            "values": {side: {f"{k[0]}[{k[1]}]": v for k, v in vals.items()} for side, vals in values.items()},
            "rows": rows, "verdict": "inconsistent" if "fail" in ck else "consistent",
            "md_verdict": None if not mdv else ("fail" if "fail" in mdv else "pass")}


def reference_starts(reference, lag: float, n_starts: int = 8, rtol: float = 1e-6):
    """Start configurations and MD displacements at 2τ from an H5MD file or folder.

    Ensembles: each file's initial configuration and its R runs at the lag 2τ (which must be one of its
    times). Trajectories: time origins with a frame 2τ later (one run each), evenly spread over all
    files and origins. At most ``n_starts`` starts are kept, evenly spread.

    Returns:
        ``(starts, md)``: list of Snapshot and list of (R,N,D) arrays.
    """
    from glassgen.io.h5md import read

    t2, cands = 2.0 * float(lag), []
    for p in ensemble_files(reference):
        obj = read(p)
        if isinstance(obj, Ensemble):
            k = np.nonzero(np.abs(obj.times - t2) <= rtol * t2)[0]
            if k.size == 0:
                raise InputError(str(p), f"no lag 2τ = {t2:g} among the ensemble's times {obj.times.tolist()[:12]}")
            cands.append((obj.snapshot(), obj.positions[:, k[0]] - obj.initial))
        else:
            i, j = lag_pairs(obj.times, t2, rtol=rtol)
            cands += [(obj.frame(a), (obj.positions[b] - obj.positions[a])[None]) for a, b in zip(i, j)]
    if not cands:
        lags = (obj.times[1:] - obj.times[0])[:12].round(6).tolist()
        raise InputError(str(reference), f"no time origin with a frame 2τ = {t2:g} later (lags from frame 0: {lags} ...)")
    keep = np.unique(np.linspace(0, len(cands) - 1, min(int(n_starts), len(cands))).round().astype(int))
    return [cands[k][0] for k in keep], [cands[k][1] for k in keep]


def prepare_check(checkpoint, reference, lag: float, n_starts: int = 8, solver=None, device: str = "cpu") -> dict:
    """Load the model and the reference starts (every input error surfaces here, before any sampling).

    ``checkpoint``: a path or shipped name; ``solver``: the draws' :class:`glassgen.SolverConfig` (default
    ``SolverConfig()``)."""
    from glassgen.sampling.models import load_model
    from glassgen.sampling.sample import step_function
    from glassgen.sampling.solvers import SolverConfig

    solver = solver or SolverConfig()
    starts, md = reference_starts(reference, lag, n_starts)
    model = load_model(checkpoint, device)
    cache = {}
    for s in starts:  # one step function per species order (files may order particles differently)
        key = s.species.tobytes()
        if key not in cache:
            cache[key] = step_function(model, s.species, s.box, solver)
    return {"step_fns": [cache[s.species.tobytes()] for s in starts], "starts": starts, "md": md,
            "meta": {"checkpoint": str(checkpoint), "reference": str(reference), **solver.meta()}}


def run_check(checkpoint, reference, lag: float, outdir=None, n_samples: int = 16, n_starts: int = 8, solver=None,
              seed: int = 0, q: float = DEFAULT_Q, device: str = "cpu", progress: bool = True,
              prepared: dict | None = None) -> dict:
    """Chapman–Kolmogorov check of a flow checkpoint against an MD reference; writes OUTDIR/chapman_kolmogorov.json.

    ``prepared`` (from :func:`prepare_check` with the same arguments) skips loading again.
    """
    from glassgen.core.atomic import atomic_path, check_writable

    if outdir is not None:
        check_writable(Path(outdir) / "chapman_kolmogorov.json")
    p = prepared or prepare_check(checkpoint, reference, lag, n_starts, solver, device)
    res = chapman_kolmogorov(p["step_fns"], p["starts"], lag, p["md"], n_samples, seed, q, progress=progress)
    res.update(glassgen_version=__version__, seed=seed, **p["meta"])
    if outdir is not None:
        Path(outdir).mkdir(parents=True, exist_ok=True)
        with atomic_path(Path(outdir) / "chapman_kolmogorov.json") as tmp:
            tmp.write_text(json.dumps(json_ready(res), indent=1, allow_nan=False))
    return res


def _fmt(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:.4g}"


def summary_lines(res: dict) -> list:
    """The printed table: one line per comparison, statistic and species, then the verdicts."""
    lines = [f"Chapman–Kolmogorov: two steps of τ = {res['lag']:g} vs one step of 2τ = {res['lag_2tau']:g}"
             + (" vs MD" if res["md_verdict"] is not None else "")
             + f" ({res['n_starts']} starts × {res['n_samples']} samples)",
             f"{'comparison':<22}{'statistic':<10}{'species':<8}{'value':>11}{'reference':>11}{'diff':>11}{'floor':>11}  verdict"]
    for r in res["rows"]:
        lines.append(f"{r['comparison']:<22}{r['statistic']:<10}{r['species']:<8}" + "".join(
            f" {_fmt(r[k]):>10}" for k in ("generated", "reference", "difference", "noise_floor")) + f"  {r['verdict']}")
    lines.append(f"Chapman–Kolmogorov verdict: {res['verdict'].upper()}" +
                 (f"; against MD: {res['md_verdict'].upper()} (floor from MD {res['md_floor']} halves)" if res["md_verdict"] else ""))
    return lines
