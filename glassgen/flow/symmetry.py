"""Symmetry error of a velocity field under the box's point symmetries (and the exact group average).

A velocity field v(s; x) of snapshot s is equivariant under a box symmetry R if
``v(R s; R x) = R v(s; x)``. The network is not equivariant by construction (BOTAN
embeddings read edge vectors); it learns the symmetry from augmentation, and
:func:`symmetry_error` measures how well.
"""
from __future__ import annotations

import torch

from glassgen.flow.context import box_symmetries


def model_velocity(model, lag):
    """``graph, rot -> v(t, x)`` of a FlowModel on the snapshot rotated by ``rot``."""
    def make(graph, rot):
        v, _ = model.velocity_fn(model.embed(graph, rot), torch.tensor([float(lag)]))
        return v
    return make


def group_averaged(make, group: torch.Tensor):
    """The exactly equivariant field ``v̄(s; x) = (1/G) Σ_g R_gᵀ v(R_g s; R_g x)``, same signature as ``make``."""
    def make_avg(graph, rot):
        base = rot if rot is not None else torch.eye(group.shape[-1], dtype=torch.float64)
        fields = [(r, make(graph, r @ base)) for r in group]  # R_g acts on x, which is already in the frame of rot

        def v(t, x):
            out = 0
            for r, f in fields:  # (R x) in row layout is x @ Rᵀ; Rᵀ v is v @ R
                rr = r.to(x.dtype)
                out = out + f(t, x @ rr.T) @ rr
            return out / len(fields)
        return v
    return make_avg


@torch.no_grad()
def symmetry_error(make, graph: dict, box, n_samples: int = 2, t: float = 0.5, scale: float = 0.1, seed: int = 0,
                   group: torch.Tensor | None = None) -> float:
    """Relative RMS violation of equivariance, averaged over the box's symmetries.

    Args:
        make: ``(graph, rot or None) -> v(t, x)`` (e.g. :func:`model_velocity`).
        graph: the encoder's graph of the snapshot (glassgen.flow.context.build_graph).
        box: (D,) box edges (selects the symmetry group).
        n_samples, t, scale: B random displacement fields of that std at flow time t.

    Returns:
        ``sqrt(mean_g |Rᵀ v(R s; R x) − v(s; x)|² / mean |v(s; x)|²)``.
    """
    group = box_symmetries(box) if group is None else group
    n, d = graph["positions"].shape
    x = scale * torch.randn(n_samples, n, d, generator=torch.Generator().manual_seed(seed))
    x = x - x.mean(dim=1, keepdim=True)
    ref = make(graph, None)(torch.tensor(t), x)
    num = 0.0
    for r in group[1:]:
        rr = r.to(x.dtype)
        num += (make(graph, r)(torch.tensor(t), x @ rr.T) @ rr - ref).pow(2).mean().item()
    return float((num / (len(group) - 1) / ref.pow(2).mean().item()) ** 0.5)
