"""Per-particle factors on the flow prior's scale, normalised per species.

A factor m_i multiplies the prior standard deviation s(a, τ) of particle i. Every factor here has
⟨m²⟩ = 1 over each species' particles, so the prior keeps its measured size per species and only its
distribution over particles changes (the BOTAN mobility prior and the memory-window prior of
:class:`glassgen.flow.model.FlowModel`).
"""
from __future__ import annotations

import torch


def relative_mobility(pred: torch.Tensor, species: torch.Tensor, floor: float = 0.1,
                      power: float = 1.0) -> torch.Tensor:
    """Per-particle factor on the prior scale from predicted propensities: ``m_i = p_i^γ / rms_a(p^γ)``.

    The root mean square is over the particles of i's species a in this snapshot, so
    ``<m²> = 1`` per species and the prior keeps its measured size ``s(a, τ)`` on average;
    only its distribution over particles changes. A regression head can predict values
    near or below zero, so predictions are first floored at ``floor`` × the species mean.
    ``power`` γ > 1 widens the contrast, which a regression head shrinks towards the mean
    (Pearson ≈ 0.45 with MD's propensity at T = 0.44).

    Shapes: pred (N,), species (N,) -> (N,1).
    """
    p = pred.detach().double()
    species = species.long().to(p.device)
    mean = species_mean(p[None], species)[0]
    p = torch.maximum(p, floor * mean[species].abs())
    return unit_rms(p[None] ** power, species)[0].float()[:, None]


def species_mean(v: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
    """Mean of v over each species' particles, per row. Shapes: v (B,N), species (N,) -> (B,S)."""
    n_s = int(species.max()) + 1
    cnt = torch.bincount(species, minlength=n_s).clamp(min=1).to(v.dtype)
    return torch.zeros(v.shape[0], n_s, dtype=v.dtype, device=v.device).index_add_(1, species, v) / cnt


def unit_rms(m: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
    """m divided by its root mean square over each species' particles (per row), so ⟨m²⟩ = 1 per species and
    a prior factor keeps the prior's measured size; a species whose m is all zero gets 1.

    Shapes: m (B,N), species (N,) -> (B,N).
    """
    rms = species_mean(m * m, species).sqrt()[:, species]
    return torch.where(rms > 0, m / rms.clamp(min=1e-300), torch.ones_like(m))
