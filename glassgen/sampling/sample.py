"""Public sampler: displacement fields Δr(τ) of one snapshot, from noise to data.

    disp, nfe = glassgen.sample(model, snapshot, lag=5.0, n_samples=32, solver=glassgen.SolverConfig(ode_steps=16))

Iso-configurational batching: the snapshot is encoded once and the embedding part
of the velocity network is computed once; all samples share them.
"""
from __future__ import annotations

import numpy as np
import torch

from glassgen.core.errors import InputError
from glassgen.flow import paths
from glassgen.sampling import solvers
from glassgen.sampling.solvers import SolverConfig


def _check_guidance(model, w: float) -> None:
    if not np.isfinite(w) or (w != 1.0 and not model.history):
        raise InputError("sampler", f"history guidance {w} (--history-guidance) needs a second-order model "
                         "(model.history) and a finite weight")


def _noise_factor(model, noise_scale, species) -> torch.Tensor | None:
    """(N,1) factor on the prior's standard deviation from ``noise_scale`` (None, a number, or one per species);
    (M,N,1) for species (M,N) of M configurations. 0 starts every draw at the prior's centre (deterministic)."""
    if noise_scale is None:
        return None
    c = np.atleast_1d(np.asarray(noise_scale, dtype=np.float64))
    n_species = int(model.prior.log_scales.shape[1])
    if c.ndim != 1 or len(c) not in (1, n_species) or not np.all(np.isfinite(c)) or np.any(c < 0):
        raise InputError("sampler", f"noise scale (--noise-scale) must be one number >= 0 or one per species "
                                    f"({n_species}); got {np.ravel(c).tolist()}")
    return torch.as_tensor(np.broadcast_to(c, (n_species,))[np.asarray(species)][..., None])


def _as_model(model):
    """A model object from a model, a checkpoint path or a shipped name (:func:`glassgen.sampling.models.load_model`)."""
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        from glassgen.sampling.models import load_model

        return load_model(model)
    return model


def sample(model, snapshot, lag: float, n_samples: int, solver: SolverConfig | None = None, seed=None, *,
           previous=None, window=None, history_guidance: float = 1.0, noise_scale=None, device=None,
           force: bool = False, temperature: float | None = None):
    """Draw ``n_samples`` displacement fields of ``snapshot`` after lag ``lag``.

    Args:
        model: a flow model, the path of its checkpoint or a shipped name (``"flow-proof-T0.6-sig"``).
        snapshot: :class:`glassgen.Snapshot` (positions wrapped or not).
        lag: τ in LJ time units (> 0).
        n_samples: number of independent samples.
        solver: :class:`glassgen.SolverConfig` (method, ode_steps or time_grid, tolerances, batch size);
            default ``SolverConfig()``.
        seed: integer seed of the prior noise (and SDE noise); None draws a fresh one.
        previous: second-order models only (``model.history``): the displacement of the step that
            led to ``snapshot``, over the same lag, (N,D) for all samples or (n_samples,N,D);
            None = no history (the first step of a chain).
        window: memory models only (``model.memory`` = W): the displacement over the last W lags that
            led to ``snapshot``, shaped like ``previous``; None = not known yet (the first W steps).
        history_guidance: w of guidance on the history (second-order models, with ``previous``):
            the velocity is v(no history) + w (v(history) − v(no history)), both from the one
            network (training hides the history of a fraction of samples, ``train.history_dropout``).
            1 = the model as trained; w > 1 strengthens what the history does (the cage back-flow),
            at two network evaluations per velocity call.
        noise_scale: c, one number or one per species: the prior draw x0 ~ N(0, (c s)²) instead of
            N(0, s²) (a sampling temperature; the network still reads x in units of s). None = 1.
            :mod:`glassgen.sampling.calibrate` finds the c that gives one draw MD's MSD; a second-order
            chain settles elsewhere and needs a smaller c (docs/generative.md, "Noise scale").
        device: torch device to move the model to (default: where it is).
        force, temperature: the domain check of a model loaded from a checkpoint
            (:func:`glassgen.sampling.domain.check_domain`): ``temperature`` is the snapshot's when its
            metadata has none; ``force`` samples outside the domain.

    Returns:
        ``(displacements, nfe)``: float64 array (n_samples, N, D) of unwrapped displacements
        in LJ length units with zero centre of mass, and the number of velocity-network
        evaluations of one integration (the maximum over batches).

    Example (a tiny untrained model; a checkpoint or shipped name works the same)::

        >>> import numpy as np, glassgen
        >>> from glassgen.flow.model import FlowModel
        >>> from glassgen.flow.context import LocalEncoder
        >>> from glassgen.flow.paths import PriorScale
        >>> from glassgen.flow.velocity import VelocityConfig
        >>> model = FlowModel(LocalEncoder(n_species=2, width=8, cutoff=1.2),
        ...                   VelocityConfig(embed_dim=8, hidden=8, n_layers=1, cutoff=1.2),
        ...                   PriorScale([1.0, 10.0], [[0.1, 0.1], [0.3, 0.3]]))
        >>> rng = np.random.default_rng(0)
        >>> snap = glassgen.Snapshot(rng.integers(0, 2, 64), np.full(3, 4.0), rng.uniform(0, 4, (64, 3)))
        >>> disp, nfe = glassgen.sample(model, snap, lag=5.0, n_samples=2,
        ...                             solver=glassgen.SolverConfig(method="heun", ode_steps=4), seed=0)
        >>> disp.shape, nfe
        ((2, 64, 3), 8)
    """
    from glassgen.sampling.domain import check_domain

    model = _as_model(model)
    check_domain(model, snapshot, lag, temperature=temperature, force=force)
    return draw(model, snapshot, lag, n_samples, solver or SolverConfig(), seed, previous, window,
                 history_guidance, noise_scale, device)


@torch.no_grad()
def draw(model, snapshot, lag, n_samples, solver, seed, previous, window, history_guidance, noise_scale, device):
    """:func:`sample` without the domain check (the draws of a chain are not snapshots of the domain)."""
    method, ode_steps, time_grid = solver.method, solver.ode_steps, solver.time_grid
    if not (np.isfinite(lag) and lag > 0):
        raise InputError("sampler", f"lag must be a positive time in LJ units; got {lag}")
    if int(n_samples) != n_samples or n_samples < 1:
        raise InputError("sampler", f"n_samples must be a positive integer; got {n_samples}")
    _check_guidance(model, history_guidance)
    factor = _noise_factor(model, noise_scale, snapshot.species)
    if device is not None:
        model = model.to(device)
    model.eval()
    dev = next(model.parameters()).device
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**62, ()).item()))
    n, d = snapshot.positions.shape
    lag_t = torch.tensor([float(lag)])
    hist = {}  # velocity_fn's history keywords, each (1,N,D) for all samples or (n_samples,N,D)
    for name, arr in (("previous", previous), ("window", window)):
        if arr is None:
            continue
        arr = np.asarray(arr, dtype=np.float64)
        if arr.shape not in ((n, d), (int(n_samples), n, d)):
            raise InputError("sampler", f"{name} displacement must be ({n},{d}) or ({int(n_samples)},{n},{d}); "
                             f"got {arr.shape}")
        hist[name] = arr if arr.ndim == 3 else arr[None]
    if window is not None and (previous is None or not model.memory):
        raise InputError("sampler", "a window displacement needs a memory model (model.memory) and the previous one")
    per_sample = any(a.shape[0] > 1 for a in hist.values())
    emb = model.embed(model.graph(snapshot.species, snapshot.positions, snapshot.box, snapshot.meta.get("source")))
    guided = previous is not None and history_guidance != 1.0

    def field(h):
        vc, scale = model.velocity_fn(emb, lag_t, **h)
        if not guided:
            return vc, scale
        vu, _ = model.velocity_fn(emb, lag_t)
        w = history_guidance
        return (lambda t, x: (1.0 - w) * vu(t, x) + w * vc(t, x)), scale  # two network calls, as nfe counts

    if not per_sample:
        v, scale = field(hist)
    bs = int(solver.batch_size or n_samples)
    out, nfe = [], 0
    for start in range(0, int(n_samples), bs):
        b = min(bs, int(n_samples) - start)
        if per_sample:  # the snapshot part is recomputed per batch: cheap next to the integration
            v, scale = field({k: a[start:start + b] if a.shape[0] > 1 else a for k, a in hist.items()})
        sc = scale.expand(b, -1, -1)
        x0 = paths.draw_prior(sc if factor is None else sc * factor.to(sc), (b, n, d), gen)
        if method == "euler_maruyama":
            x, k = solvers.euler_maruyama(
                v, x0, lambda t, x, u: paths.score_term(model.kind, t, x, u),
                lambda shape: paths.draw_prior(sc, shape, gen), ode_steps, time_grid, solver.gamma,
                lambda t: paths.schedule(model.kind, t)[1])
        else:
            x, k = solvers.odeint(v, x0, method, ode_steps, time_grid, rtol=solver.rtol, atol=solver.atol)
        out.append(x.double().cpu().numpy())
        nfe = max(nfe, 2 * k if guided else k)
    return np.concatenate(out), nfe


def to_ensemble(snapshot, lag: float, displacements: np.ndarray, meta: dict | None = None):
    """A generated :class:`glassgen.Ensemble` (positions = initial + displacement, unwrapped).

    Shapes: displacements (R,N,D) -> ensemble positions (R,1,N,D).
    """
    from glassgen.system.data import Ensemble
    from glassgen.system.pbc import fold

    initial = fold(snapshot.positions, snapshot.box)[0]
    pos = initial[None, None] + displacements[:, None]
    return Ensemble(snapshot.species, snapshot.box, initial, np.array([float(lag)]), pos, dict(meta or {}))


def relax_samples(snapshot, displacements: np.ndarray, cfg, seed=None, model=None):
    """Correct generated displacement fields with the true potential (:class:`glassgen.md.relax.Relaxer`) or a
    learned corrector (:mod:`glassgen.sampling.corrector`; ``model``: the generator, whose state point it must share).

    Sample r is relaxed from ``initial + displacements[r]`` with its own seed (``SeedSequence([seed, r])``),
    the same correction ``rollout --relax`` applies to a step. Returns the corrected displacements
    (R,N,D) and each sample's rms move (R,) in σ.
    """
    from glassgen.system.pbc import fold
    from glassgen.sampling.corrector import relaxer as make_relaxer  # it builds on this module

    initial = fold(snapshot.positions, snapshot.box)[0]
    out, rms = np.empty_like(displacements), np.empty(len(displacements))
    base = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)  # fresh, like the noise
    with make_relaxer(cfg, snapshot.species, snapshot.box, model) as relaxer:
        for r, d in enumerate(displacements):
            x = relaxer.relax(initial + d, int(np.random.SeedSequence([base, r]).generate_state(1)[0]))
            out[r] = x - initial
            rms[r] = np.sqrt(np.mean(np.sum((out[r] - d) ** 2, axis=-1)))
    return out, rms


def load_snapshot(path):
    """The configuration to condition on: a BOTAN ``.npz`` (initial_positions; KA box at density 1.2),
    the initial configuration of a glassgen ensemble, or the first frame of a trajectory."""
    from pathlib import Path

    from glassgen.system.data import Snapshot

    path = Path(path)
    if path.suffix == ".npz":
        from glassgen.system.ka import box_edge

        if not path.is_file():
            raise InputError(str(path), "no such file")
        z = np.load(path)
        if "initial_positions" not in z or "types" not in z:
            raise InputError(str(path), "a snapshot .npz needs 'types' and 'initial_positions'")
        n = len(z["types"])
        return Snapshot(z["types"], np.full(3, box_edge(n)), z["initial_positions"], {"source": str(path)})
    from glassgen.io.h5md import read

    obj = read(path)
    return obj.snapshot() if hasattr(obj, "snapshot") else obj.frame(0)


def step_function(model, species, box, solver: SolverConfig | None = None, **kw):
    """A :mod:`glassgen.chain.rollout` step function ``(positions (M,N,D), lag, seeds, previous=None) -> (M,N,D)``.

    The M configurations advance together, one network call per velocity evaluation for all of them
    (:func:`glassgen.sampling.batch.draw_batch`; the chain decides how many it passes at once, its
    ``batch_trajectories``), and each gets one draw seeded by its own seed alone, so a chain is
    reproducible draw by draw (what rollout's resume needs). A second-order model
    (``model.history``) reads ``previous`` (M,N,D), the displacement of each chain's last step, and a
    memory model (``model.memory`` = W) also ``window`` (M,N,D), each chain's displacement over its last W
    steps (None until the chain has W steps); the attributes ``history`` and ``memory`` say what it wants.
    ``kw``: ``history_guidance``, ``noise_scale``, ``device`` of :func:`sample`. No domain check here: the
    chain's states are the model's own (check the start with :func:`glassgen.sampling.domain.check_domain`).
    """
    from glassgen.sampling.batch import draw_batch  # it builds on draw: imported here, not at the top

    model = _as_model(model)
    solver = solver or SolverConfig()
    guidance, noise, device = kw.pop("history_guidance", 1.0), kw.pop("noise_scale", None), kw.pop("device", None)
    if kw:
        raise TypeError(f"step_function got unexpected keywords {sorted(kw)}")
    _check_guidance(model, guidance)  # refused before a rollout writes anything
    _noise_factor(model, noise, species)

    def step_fn(positions, lag, seeds, previous=None, window=None):
        prev = previous if model.history else None
        win = window if model.memory else None
        return draw_batch(model, species, box, positions, lag, solver, seeds, prev, win, guidance, noise, device)

    step_fn.history = model.history
    step_fn.memory = model.memory
    return step_fn
