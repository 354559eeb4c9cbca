"""Linear probe: fit each BOTAN head's last layer by least squares before fine-tuning.

The BOTAN authors' published weights were pretrained on edge targets at another lag: on the T = 0.44 training
configurations their edge output has mean 0.02 against a target mean of 0.26-0.42, and their node output does
not correlate with propensity. Plain fine-tuning spends its first Adam steps on that offset and moves every weight
to do it (docs/botan.md, "Fine-tuning from the published weights"). Solving for the last Linear of each head
first, on the frozen features, removes the offset without touching the features; with the trunk left frozen
after it, training then fits the heads alone.
"""
from __future__ import annotations

import torch
from torch import Tensor


class _Normal:
    """Running normal equations of y ≈ z·w + b (float64), so no feature matrix is ever held."""

    def __init__(self, width: int):
        self.zz = torch.zeros(width + 1, width + 1, dtype=torch.float64)
        self.zy = torch.zeros(width + 1, dtype=torch.float64)

    def add(self, z: Tensor, y: Tensor) -> None:
        z1 = torch.cat([z.double(), z.new_ones(len(z), 1, dtype=torch.float64)], 1)
        self.zz += z1.T @ z1
        self.zy += z1.T @ y.double()

    def solve(self, ridge: float) -> tuple[Tensor, float]:
        """(w, b) of the ridge solution; the ridge (relative to the mean feature power) keeps dead ReLUs at 0."""
        n = self.zz[-1, -1]
        reg = torch.eye(len(self.zy), dtype=torch.float64) * ridge * torch.diagonal(self.zz)[:-1].mean()
        reg[-1, -1] = 0.0  # the bias is not penalised
        sol = torch.linalg.solve(self.zz / n + reg / n, self.zy / n)
        return sol[:-1], float(sol[-1])


@torch.no_grad()
def probe_heads(model, graphs, heads=("node", "edge"), ridge: float = 1e-3) -> None:
    """Set the last Linear of each of ``heads`` of ``model`` to the least-squares fit of its targets in ``graphs``
    on the features entering it, over the particles and pairs the training loss averages over.

    Args:
        model: a :class:`glassgen.encoder.botan.BOTAN` with one decoder per output (``shared_decoder: false``).
        graphs: training items (``y_node``, ``y_edge`` and the graph keys), each under the symmetry it is fitted on;
            with ``node_sel``/``edge_sel`` (glassgen.encoder.train.scored) only those particles and pairs count.
        heads: which of "node" (decoder 0) and "edge" (decoder 1) to fit; the others are left as they are.
        ridge: Tikhonov weight relative to the mean squared feature.
    """
    if model.config.shared_decoder:
        raise ValueError("probe_heads needs one decoder per output (shared_decoder false)")
    which = [k for k, name in enumerate(("node", "edge")) if name in heads]
    normal = {k: _Normal(model.config.width) for k in which}
    for g in graphs:
        h, e = model.encode(g)
        for k, z, y, sel in ((0, h, g["y_node"], g.get("node_sel")), (1, e, g["y_edge"], g.get("edge_sel"))):
            if k in normal:
                z, y = (z, y) if sel is None else (z[sel], y[sel])
                normal[k].add(model.decoders[k][:-1](z), y)
    for k, eq in normal.items():
        head = model.decoders[k]
        w, b = eq.solve(ridge)
        head[-1].weight.copy_(w.to(head[-1].weight)[None])
        head[-1].bias.fill_(b)
