"""Probability paths, prior and training objective for displacement fields.

Convention (as in facebookresearch/flow_matching): flow time t runs from 0 (noise
x0 drawn from the prior) to 1 (data x1 = the displacement field Δr(τ)), along a
Gaussian path

    x_t = α_t x1 + σ_t x0,        target velocity  u_t = α'_t x1 + σ'_t x0.

``kind="flow"``: linear (optimal-transport) path α_t = t, σ_t = 1 − t (conditional
flow matching, Lipman et al. 2023). ``kind="diffusion"``: variance-preserving trig
path α_t = sin(πt/2), σ_t = cos(πt/2); regressing its velocity is the
v-prediction diffusion objective (Salimans & Ho 2022) and its score, recovered
from the velocity by :func:`score_term`, drives the stochastic sampler.

The prior is a Gaussian whose standard deviation per Cartesian component is set
per species and per lag from the data (:class:`PriorScale`), so the network works
on O(1) numbers. The centre-of-mass displacement is zero in MD (momentum is
conserved), so it is projected out of noise, data and velocity
(:func:`remove_com`). Flow time is drawn once per graph (sample) and broadcast to
its particles.

Shapes: displacement fields are (B,N,D): B samples (graphs) of one configuration.
"""
from __future__ import annotations

import math

import torch

from glassgen.core.errors import InputError

KINDS = ("flow", "diffusion")


def schedule(kind: str, t: torch.Tensor):
    """Return ``(α, σ, dα/dt, dσ/dt)`` of the path at times ``t`` (any shape)."""
    if kind == "flow":
        one = torch.ones_like(t)
        return t, 1.0 - t, one, -one
    if kind == "diffusion":
        a = 0.5 * math.pi
        return torch.sin(a * t), torch.cos(a * t), a * torch.cos(a * t), -a * torch.sin(a * t)
    raise InputError(None, f"unknown path kind {kind!r}; choose one of {KINDS}")


def remove_com(x: torch.Tensor, mass: torch.Tensor | None = None) -> torch.Tensor:
    """Subtract the mass-weighted mean over particles, per graph.

    Args:
        x: (B,N,D) displacements or velocities.
        mass: optional (N,) masses (all 1 in Kob–Andersen).

    Shapes: returns (B,N,D) with ``Σ_i m_i x_i = 0`` for every graph.
    """
    if mass is None:
        return x - x.mean(dim=-2, keepdim=True)
    w = (mass / mass.sum()).to(x.dtype)[:, None]
    return x - (w * x).sum(dim=-2, keepdim=True)


def sample_time(n_graphs: int, n_nodes: int, generator=None, device=None, dtype=torch.float32):
    """Flow time drawn uniformly once per graph and broadcast to its nodes.

    ``generator``: one, or one per graph (:func:`draws`).

    Shapes: returns ``(t_graph (B,), t_node (B,N,1))``; ``t_node[b, i] == t_graph[b]``.
    """
    t = draws(torch.rand, (n_graphs,), generator, device, dtype)
    return t, t[:, None, None].expand(n_graphs, n_nodes, 1)


def draws(fn, shape, generator, device, dtype) -> torch.Tensor:
    """``fn`` (torch.randn or torch.rand) of ``shape`` from ``generator``, on ``device``.

    ``generator`` may be a list of one generator per row (``shape[0]`` of them): row i comes from the
    i-th, so a sample's noise is keyed by the sample and not by the batch it lands in (data-parallel
    training, glassgen.core.distributed). Numbers are drawn where their generator lives and then moved,
    so a CPU generator serves a model on any device.
    """
    if isinstance(generator, (list, tuple)):
        if len(generator) != shape[0]:
            raise ValueError(f"{len(generator)} generators for {shape[0]} rows")
        rows = [fn((1, *shape[1:]), generator=g, device=g.device, dtype=dtype) for g in generator]
        return torch.cat(rows).to(device) if rows else torch.empty(shape, device=device, dtype=dtype)
    where = generator.device if generator is not None else device
    return fn(shape, generator=generator, device=where, dtype=dtype).to(device)


class PriorScale(torch.nn.Module):
    """Per-species, per-lag standard deviation of one displacement component.

    Measured from data as ``s(a, τ) = sqrt(<|Δr|²>_{species a} / D)``; between the
    measured lags it is interpolated linearly in (log τ, log s), outside them it is
    held at the nearest measured value (no extrapolation of the dynamics).

    Args:
        lags: (K,) increasing lags in LJ time units.
        scales: (K,S) measured standard deviations for S species.

    Shapes: ``forward(species (N,), lag (B,))`` returns (B,N,1).
    """

    def __init__(self, lags, scales):
        super().__init__()
        lags = torch.as_tensor(lags, dtype=torch.float64).reshape(-1)
        scales = torch.as_tensor(scales, dtype=torch.float64).reshape(len(lags), -1)
        if len(lags) == 0 or torch.any(lags <= 0) or torch.any(torch.diff(lags) <= 0):
            raise InputError(None, f"prior lags must be positive and increasing; got {lags.tolist()}")
        if torch.any(~torch.isfinite(scales)) or torch.any(scales <= 0):
            raise InputError(None, "prior scales must be finite and positive (a species without particles?)")
        self.register_buffer("log_lags", lags.log())
        self.register_buffer("log_scales", scales.log())

    @classmethod
    def from_displacements(cls, items) -> "PriorScale":
        """Estimate from ``[(lag, species (N,), displacements (R,N,D)), ...]`` (several per lag are pooled).

        ``items`` may be any iterable (a generator over a data stream): it is read once, summed as it goes.
        """
        acc: dict[float, list] = {}  # lag -> [Σ|Δ|² per species, component count per species]

        def grow(v, n):
            return torch.nn.functional.pad(v, (0, n - len(v))) if len(v) < n else v
        for lag, species, disp in items:
            species = torch.as_tensor(species, dtype=torch.long)
            d2 = torch.as_tensor(disp, dtype=torch.float64).pow(2).sum(-1)  # (R,N)
            s2 = torch.zeros(int(species.max()) + 1, dtype=torch.float64).index_add_(0, species, d2.sum(0))
            cnt = torch.bincount(species).double() * d2.shape[0] * disp.shape[-1]
            a = acc.setdefault(float(lag), [torch.zeros(0, dtype=torch.float64)] * 2)
            n = max(len(a[0]), len(s2))  # species seen so far
            a[0], a[1] = grow(a[0], n) + grow(s2, n), grow(a[1], n) + grow(cnt, n)
        n_species = max(len(a[0]) for a in acc.values())
        lags = sorted(acc)
        return cls(lags, torch.stack([(grow(acc[k][0], n_species) / grow(acc[k][1], n_species)).sqrt() for k in lags]))

    def forward(self, species: torch.Tensor, lag: torch.Tensor) -> torch.Tensor:
        ll = torch.as_tensor(lag, dtype=torch.float64, device=self.log_lags.device).reshape(-1).log()
        k = len(self.log_lags)
        if k == 1:
            logs = self.log_scales[0].expand(len(ll), -1)
        else:
            ll = ll.clamp(self.log_lags[0], self.log_lags[-1])
            j = torch.searchsorted(self.log_lags, ll).clamp(1, k - 1)
            w = ((ll - self.log_lags[j - 1]) / (self.log_lags[j] - self.log_lags[j - 1]))[:, None]
            logs = (1 - w) * self.log_scales[j - 1] + w * self.log_scales[j]
        return logs.exp()[:, species.long()].unsqueeze(-1).float()


def draw_prior(scale: torch.Tensor, shape, generator=None, mass=None) -> torch.Tensor:
    """Noise x0 ~ N(0, diag(scale²)) with the centre of mass removed.

    ``generator``: one, or one per sample (:func:`draws`).

    Shapes: ``scale`` (B,N,1), ``shape`` = (B,N,D); returns (B,N,D).
    """
    z = draws(torch.randn, shape, generator, scale.device, scale.dtype)
    return remove_com(scale * z, mass)


def score_term(kind: str, t, x, v):
    """``σ_t Σ ∇log p_t(x)`` from the marginal velocity v (finite for all t in [0, 1]).

    For x_t = α x1 + σ x0 with x0 ~ N(0, Σ), Tweedie's formula E[x0 | x_t] = −σ Σ∇log p_t
    and v = E[α' x1 + σ' x0 | x_t] give ``σ Σ∇log p_t = −(α v − α' x) / (α σ' − α' σ)``;
    the denominator is −1 (flow) or −π/2 (diffusion). Used by the stochastic sampler.
    """
    a, s, da, ds = schedule(kind, t)
    return -(a * v - da * x) / (a * ds - da * s)


def flow_loss(kind: str, velocity_fn, x1: torch.Tensor, scale: torch.Tensor, generator=None, mass=None,
              pairs: torch.Tensor | None = None, pair_weight: float = 0.0):
    """Conditional flow-matching loss on one batch of B graphs sharing N particles.

    Args:
        kind: ``"flow"`` or ``"diffusion"``.
        velocity_fn: ``(t (B,), x_t (B,N,D)) -> v (B,N,D)`` in physical units.
        x1: (B,N,D) data displacements (centre of mass is removed here).
        scale: (B,N,1) prior standard deviation for every particle.
        pairs: (2,P) neighbour pairs (i, j); with ``pair_weight`` > 0 the loss adds
            ``pair_weight`` × the mean squared error of the *relative* velocity v_j − v_i,
            in units of sqrt(s_i² + s_j²). The error is linear in v, so the minimiser is still
            E[u | x_t]; the term only reweights errors towards the relative motion of
            neighbours, which decides whether generated configurations overlap.

    Returns:
        The mean squared velocity error in prior units (so A and B particles and all
        lags weigh alike), plus the pair term.
    """
    b, n, _ = x1.shape
    x1 = remove_com(x1, mass)
    x0 = draw_prior(scale, x1.shape, generator, mass)
    t, tn = sample_time(b, n, generator, x1.device, x1.dtype)
    a, s, da, ds = schedule(kind, tn)
    xt = a * x1 + s * x0
    target = da * x1 + ds * x0
    v = velocity_fn(t, xt)
    loss = ((v - target) / scale).pow(2).mean()
    if pairs is not None and pair_weight > 0:
        i, j = pairs
        err = v - target
        rel = (err[:, j] - err[:, i]) / (scale[:, i].pow(2) + scale[:, j].pow(2)).sqrt()
        loss = loss + pair_weight * rel.pow(2).mean()
    return loss

