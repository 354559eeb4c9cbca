"""Reference samplers that need no training: physical null models to compare learned ones against.

``brownian_step_fn`` moves every particle independently with Gaussian displacements of per-component
variance 2 D_s τ (species s), centre of mass removed. It reproduces the MSD of a liquid with diffusion
constants D_s and nothing else: no cage, no hops, no dynamic heterogeneity (α₂ = 0, χ₄ of independent
particles). It follows the rollout's step-function protocol (``glassgen.chain.rollout``).
"""
from __future__ import annotations

import numpy as np

from glassgen.core.errors import InputError


def brownian_step_fn(species, diffusion):
    """Step function for independent Brownian particles.

    Args:
        species: (N,) 0-based species ids.
        diffusion: diffusion constant per species (sequence indexed by species id), LJ units σ²/τ.

    Returns:
        ``step(positions (M,N,D), lag, seeds) -> (M,N,D)`` displacements.
    """
    species = np.asarray(species, dtype=np.int64)
    diffusion = np.asarray(diffusion, dtype=np.float64)
    if diffusion.ndim != 1 or diffusion.size <= species.max() or np.any(diffusion < 0):
        raise InputError("brownian", f"need a non-negative diffusion constant for each of {species.max() + 1} species")
    d_particle = diffusion[species][:, None]

    def step(positions, lag, seeds):
        out = np.empty(np.shape(positions))
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            d = rng.standard_normal(out.shape[1:]) * np.sqrt(2.0 * d_particle * lag)
            out[j] = d - d.mean(axis=0)  # MD conserves momentum: no centre-of-mass drift
        return out

    return step
