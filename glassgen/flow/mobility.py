"""Factors on the flow prior's scale: per particle (normalised per species) and per configuration.

A factor m_i multiplies the prior standard deviation s(a, τ) of particle i. The per-particle factors here
have ⟨m²⟩ = 1 over each species' particles, so the prior keeps its measured size per species and only its
distribution over particles changes (the BOTAN mobility prior and the memory-window prior of
:class:`glassgen.flow.model.FlowModel`). :class:`EnergySize` sets the size itself per configuration, from
the snapshot's potential energy.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from glassgen.core.errors import InputError


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


class EnergySize(nn.Module):
    """Per-configuration size of the prior from the snapshot's potential energy per particle e.

    At a deep supercooled state point, configurations of a few thousand particles relax at very different
    rates (at T = 0.44, N = 4096 the mean-square displacement at one lag differs by 2× between the shared
    configurations), and the lower a snapshot's energy, the slower it relaxes. Fitted on the training data,
    per species a: ``log(MSD_a / (D s(a,τ)²)) = b0_a + b1_a (e − ē)``; the factor on particle i's prior
    scale is ``exp((b0 + b1 (e − ē)) / 2)`` of its species, with e clamped to the training range (no
    extrapolation, as :class:`glassgen.flow.paths.PriorScale` holds lags).

    Buffers: ``fit`` (S,2) = [b0, b1] per species; ``energy`` (3,) = [ē, e_min, e_max] of the training
    configurations.

    Shapes: ``forward(e (M,), species (N,))`` -> (M,N,1).
    """

    def __init__(self, fit, energy):
        super().__init__()
        self.register_buffer("fit", torch.as_tensor(fit, dtype=torch.float64).reshape(-1, 2))
        self.register_buffer("energy", torch.as_tensor(energy, dtype=torch.float64).reshape(3))

    @classmethod
    def placeholder(cls, n_species: int) -> "EnergySize":
        """Zero fit over a unit range: the shape a checkpoint's buffers are loaded into."""
        return cls(np.zeros((n_species, 2)), [0.0, -1.0, 1.0])

    @classmethod
    def from_data(cls, items, prior) -> "EnergySize":
        """Least-squares fit from ``[(lag, species (N,), energy e, displacements (R,N,D)), ...]`` and the
        measured prior scale ``prior`` (:class:`glassgen.flow.paths.PriorScale`); one row per (item, species)."""
        es, ys = [], []
        for lag, species, e, disp in items:
            species = torch.as_tensor(np.asarray(species), dtype=torch.long)
            d = torch.as_tensor(np.asarray(disp), dtype=torch.float64)
            s2 = prior(species, torch.tensor([float(lag)]))[0, :, 0].double() ** 2  # (N,)
            ratio = species_mean((d.pow(2).sum(-1) / (d.shape[-1] * s2)).mean(0)[None], species)[0]
            es.append(float(e))
            ys.append(ratio.log())
        e = np.array(es)
        if len(np.unique(np.round(e, 12))) < 2:
            raise InputError("recipe", "model.energy_prior needs training configurations of at least two different "
                                       f"potential energies; got {len(np.unique(e))}")
        y = torch.stack(ys).numpy()  # (C,S)
        x = np.stack([np.ones_like(e), e - e.mean()], axis=1)
        fit = np.linalg.lstsq(x, y, rcond=None)[0].T  # (S,2)
        return cls(fit, [e.mean(), e.min(), e.max()])

    def forward(self, e, species):
        ref, lo, hi = self.energy
        e = torch.as_tensor(e, dtype=torch.float64, device=ref.device).reshape(-1).clamp(lo, hi) - ref
        b = self.fit[species.long().to(ref.device)]  # (N,2)
        return torch.exp(0.5 * (b[None, :, 0] + b[None, :, 1] * e[:, None]))[..., None].float()


def snapshot_size(size: EnergySize, graph: dict, m: int = 1):
    """Potential energy per particle of each of the m configurations of a snapshot graph
    (:func:`glassgen.flow.context.build_graph`) and the energy prior's factor on every particle's prior scale.

    Shapes: -> (e (M,), factor (M N,1)).
    """
    from glassgen.system.ka import mean_energy

    x = graph["positions"].numpy().reshape(m, -1, graph["positions"].shape[-1])
    sp = graph["species"].reshape(m, -1)
    e = torch.tensor([mean_energy(xi, si.numpy(), graph["box"].numpy()) for xi, si in zip(x, sp)], dtype=torch.float64)
    _, lo, hi = size.energy.tolist()
    far = [v for v in e.tolist() if not lo - (hi - lo) <= v <= hi + (hi - lo)]
    if far:  # an overlapping raw draw, or another state point: the size is held at the range's end
        warnings.warn(f"snapshot potential energy {far[0]:.4g} per particle is far outside this model's training "
                      f"range [{lo:.4f}, {hi:.4f}]; its energy prior is held at the nearest end")
    return e, torch.cat([size(ei, si)[0] for ei, si in zip(e, sp)])
