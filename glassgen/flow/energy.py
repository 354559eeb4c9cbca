"""Energy term of the flow loss: the predicted endpoint's per-particle energy against the data's.

The plain flow loss weighs every displacement component alike, in prior units. Whether a generated
configuration falls into the data's energy basin is decided by a fraction of a diameter in the distances
between neighbours, which that loss barely sees (experiments/rollout-proof/record.md, "Why the energy drifts at T = 0.5").
This term reads the predicted endpoint x̂1 = E[x1 | x_t] (:func:`glassgen.flow.paths.endpoint`) at late
flow times t ≥ t_min, where the posterior is narrow and x̂1 is nearly a sample, and penalises each
particle's Kob–Andersen energy there against its value in the data:

    L_E = λ · (1/B) Σ_b 1[t_b ≥ t_min] · (1/N) Σ_i huber_δ( e_i(r0 + x̂1_b) − e_i(r0 + x1_b) )

with e_i half of i's pair energies (glassgen.system.ka). Pairs are those of the data endpoint r0 + x1 within
2.5 σ_AA + ``SKIN`` (0.1: pairs that only come closer in the prediction are missed, at energies near the
shifted potential's zero); the predicted pair vector is the data's plus the relative error
(x̂1_j − x1_j) − (x̂1_i − x1_i), so no graph is built on the prediction. At t < 1 the energy of the
posterior mean is not the mean energy, so unlike the pair term this one moves the minimiser away from
E[u | x_t]; ``t_min`` keeps it where that bias is small. Huber (quadratic within δ ε, linear beyond)
keeps a near-overlap, whose energy grows as r^-12, from owning the gradient.

Shapes: ``initial`` (N,D), ``disp`` (B,N,D) data displacements of one configuration, ``species`` (N,).
"""
from __future__ import annotations

import numpy as np
import torch

from glassgen.system import ka
from glassgen.system.pbc import neighbour_graph_batch

SKIN = 0.1
ENERGY_CUTOFF = float(ka.CUTOFF.max()) + SKIN  # pair list cutoff of the data endpoints


def endpoint_pairs(initial, disp, species, box) -> dict:
    """Pair list of the B data endpoints r0 + x1_b as one disjoint graph of B·N nodes, and their energies.

    Returns ``{"edge_index" (2,E), "vec" (E,D) float64, "a", "b" (E,) species, "e_data" (B,N) float64}``.
    """
    initial = np.asarray(initial, dtype=np.float64)
    disp = np.asarray(disp, dtype=np.float64)
    species = np.asarray(species, dtype=np.int64)
    g = neighbour_graph_batch([initial + d for d in disp], [np.asarray(box, dtype=np.float64)] * len(disp),
                              ENERGY_CUTOFF)
    sp = np.tile(species, len(disp))
    src, dst = g["edge_index"]
    e_data = ka.energy_per_particle(None, sp, box, graph=g).reshape(len(disp), -1)
    t = torch.from_numpy
    return {"edge_index": t(g["edge_index"]), "vec": t(g["edge_vec"]), "a": t(sp[src]), "b": t(sp[dst]),
            "e_data": t(e_data)}


def energy_term(x1_hat: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, initial, species, box, weight: float,
                t_min: float = 0.8, delta: float = 1.0) -> torch.Tensor:
    """L_E above for predicted endpoints ``x1_hat`` and data ``x1`` (B,N,D) at flow times ``t`` (B,).

    Pairs are built only for the samples with t ≥ t_min (the others add nothing).
    """
    b, n, d = x1.shape
    on = torch.nonzero(t >= t_min).reshape(-1)
    if weight <= 0 or len(on) == 0:
        return x1_hat.sum() * 0.0  # keeps the graph (and the device) of the loss
    pairs = endpoint_pairs(initial, x1[on].detach().double().cpu().numpy(), species, box)
    dev = x1.device
    err = (x1_hat[on] - x1[on]).double().reshape(-1, d)
    src, dst = pairs["edge_index"].to(dev)
    vec = pairs["vec"].to(dev) + err.index_select(0, dst) - err.index_select(0, src)
    e_pair = ka.pair_energy(vec.norm(dim=-1), pairs["a"].to(dev), pairs["b"].to(dev))
    e = 0.5 * torch.zeros(len(err), dtype=err.dtype, device=dev).index_add(0, src, e_pair)
    per = torch.nn.functional.huber_loss(e.reshape(len(on), n), pairs["e_data"].to(e), reduction="none", delta=delta)
    return (weight * per.mean(dim=1).sum() / b).to(x1.dtype)
