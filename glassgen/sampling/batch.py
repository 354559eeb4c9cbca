"""One draw for each of M configurations of one system, all advanced together (the chain's trajectories).

    disp = draw_batch(model, species, box, positions (M,N,D), lag, solver, seeds)   # (M,N,D)

The M configurations are encoded as one disjoint graph (:meth:`glassgen.flow.model.FlowModel.graph_batch`),
once per call, and every velocity evaluation of the integration is one network call over all M N particles.
Draw j depends on its own configuration, seed and history only: its prior noise (and the SDE noise of
``euler_maruyama``) comes from a generator seeded by ``seeds[j]`` alone, drawn exactly as
:func:`glassgen.sampling.sample.draw` draws it for one sample, and the centre of mass is removed per
configuration. What the batch can change is rounding (the same network ops on larger tensors): a batched
draw agrees with the one-configuration draw to float32 precision, not bit for bit.

Adaptive solvers (``dopri5``, ...) pick their step sizes from the error of everything integrated together,
so a batched draw would depend on its batch mates beyond rounding: they integrate one configuration at a time.
Memory grows linearly with M N; :class:`glassgen.chain.rollout.RolloutConfig` ``batch_trajectories`` chunks it.
From :data:`ORDER_MIN` particles on, the network sees each configuration numbered cell by cell; the noise is
drawn in the caller's order first, so the draw is the same up to rounding.
"""
from __future__ import annotations

import numpy as np
import torch

from glassgen.core.errors import InputError
from glassgen.flow import paths
from glassgen.sampling import solvers
from glassgen.sampling.sample import _check_guidance, _noise_factor, draw
from glassgen.system.pbc import cell_order

# From this many particles on, each configuration is renumbered cell by cell for the network (and back after):
# random numbering makes the gathers of a large graph miss the cache (1.6x the CPU time at N = 262 144;
# docs/performance.md, "Particle order"). Below it, nothing changes, bit for bit.
ORDER_MIN = 1 << 16


@torch.no_grad()
def draw_batch(model, species, box, positions, lag, solver, seeds, previous=None, window=None,
               history_guidance: float = 1.0, noise_scale=None, device=None) -> np.ndarray:
    """Draw j of configuration ``positions[j]`` with seed ``seeds[j]``, all M in one network call per evaluation.

    ``previous`` / ``window`` (M,N,D) or None: the history of a second-order (memory) model, one row per
    configuration (see :func:`glassgen.sampling.sample.sample`); ``history_guidance``, ``noise_scale``,
    ``device`` as there. Returns float64 (M,N,D) unwrapped displacements with zero centre of mass.
    """
    x = np.asarray(positions, dtype=np.float64)
    if x.ndim != 3 or len(seeds) != len(x):
        raise InputError("sampler", f"draw_batch takes (M,N,D) positions and M seeds; got {x.shape} and {len(seeds)}")
    m, n, d = x.shape
    if solver.method in solvers.ADAPTIVE:
        from glassgen.system.data import Snapshot

        rows = (lambda a: [None] * m if a is None else a)
        return np.stack([draw(model, Snapshot(species, box, xj), lag, 1, solver, int(s), p, w, history_guidance,
                              noise_scale, device)[0][0]
                         for xj, s, p, w in zip(x, seeds, rows(previous), rows(window))])
    if not (np.isfinite(lag) and lag > 0):
        raise InputError("sampler", f"lag must be a positive time in LJ units; got {lag}")
    _check_guidance(model, history_guidance)
    hist = _history(previous, window, (m, n, d), model)
    orders = [cell_order(xj, box) for xj in x] if n >= ORDER_MIN else None
    if orders is not None:  # each configuration in its own cell order; rows go back to the caller's order below
        x, species = _reorder(x, orders), _reorder(np.broadcast_to(species, (m, n)), orders)
        hist = {k: _reorder(a, orders) for k, a in hist.items()}
    factor = _noise_factor(model, noise_scale, species)
    if device is not None:
        model = model.to(device)
    model.eval()
    dev = next(model.parameters()).device
    gens = [torch.Generator(device=dev) for _ in range(m)]
    for g, s in zip(gens, seeds):
        g.manual_seed(int(s))
    emb = model.embed(model.graph_batch(species, x, box))
    lag_t = torch.tensor([float(lag)])
    v, sc = model.velocity_fn(emb, lag_t, **hist)
    if previous is not None and history_guidance != 1.0:
        vc, vu, w = v, model.velocity_fn(emb, lag_t)[0], history_guidance
        v = (lambda t, y: (1.0 - w) * vu(t, y) + w * vc(t, y))  # two network calls, as in draw

    def noise(scale):  # row j from generator j alone, as draw's (1,N,D) prior draw of one sample
        z = torch.cat([torch.randn((1, n, d), generator=g, device=scale.device, dtype=scale.dtype) for g in gens])
        if orders is not None:  # drawn in the caller's particle order: the same draw, reordered
            z = torch.stack([zj[torch.as_tensor(o, device=z.device)] for zj, o in zip(z, orders)])
        return paths.remove_com(scale * z)

    x0 = noise(sc if factor is None else sc * factor.to(sc))
    if solver.method == "euler_maruyama":
        out, _ = solvers.euler_maruyama(v, x0, lambda t, y, u: paths.score_term(model.kind, t, y, u),
                                        lambda shape: noise(sc), solver.ode_steps, solver.time_grid, solver.gamma,
                                        lambda t: paths.schedule(model.kind, t)[1])
    else:
        out, _ = solvers.odeint(v, x0, solver.method, solver.ode_steps, solver.time_grid, rtol=solver.rtol,
                                atol=solver.atol)
    out = out.double().cpu().numpy()
    return out if orders is None else _reorder(out, [np.argsort(o) for o in orders])


def _reorder(rows, orders) -> np.ndarray:
    """Row j of ``rows`` (M,N,...) with its particles in the order ``orders[j]``."""
    return np.stack([r[o] for r, o in zip(rows, orders)])


def _history(previous, window, shape, model) -> dict:
    """velocity_fn's history keywords, each (M,N,D) (one row per configuration), checked."""
    hist = {}
    for name, arr in (("previous", previous), ("window", window)):
        if arr is None:
            continue
        arr = np.asarray(arr, dtype=np.float64)
        if arr.shape != shape:
            raise InputError("sampler", f"{name} displacement must be {shape} (one per configuration); got {arr.shape}")
        hist[name] = arr
    if window is not None and (previous is None or not model.memory):
        raise InputError("sampler", "a window displacement needs a memory model (model.memory) and the previous one")
    return hist
