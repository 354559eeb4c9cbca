"""Per-configuration ensemble metrics for the flow benchmarks, as thin calls into glassgen.stats.

All take displacements (R,N,3) of one configuration (LJ units) and species (N,); A = species 0.
"""
import numpy as np

from glassgen.stats import pearson
from glassgen.stats.dynamics import fs_samples, moments_samples
from glassgen.stats.propensity import propensity_from_displacements as propensity  # noqa: F401
from glassgen.stats.uncertainty import wasserstein1

Q = 7.25  # wave number of the first peak of S(q), A particles


def fs(d, species, q=Q):
    return float(np.mean(fs_samples(d, q, mask=species == 0)))


def alpha2(d, species, dim=3):
    r2, r4 = moments_samples(d, mask=species == 0)
    return float(dim * r4.mean() / ((dim + 2) * r2.mean() ** 2) - 1)


def w1(da, db, species):
    a = np.linalg.norm(da[:, species == 0], axis=-1).ravel()
    b = np.linalg.norm(db[:, species == 0], axis=-1).ravel()
    return float(wasserstein1(a, b))


def pearson_a(x, y, species):
    return float(pearson(x[species == 0], y[species == 0]))


def edge_target(d, vec0, edge_index):
    """Mean over runs of |r_ij(t)| − |r_ij(0)| (BOTAN's edge target). vec0 (E,3) min-image r_j − r_i at t = 0."""
    src, dst = edge_index
    rt = np.linalg.norm(vec0[None] + d[:, dst] - d[:, src], axis=-1)
    return (rt - np.linalg.norm(vec0, axis=-1)[None]).mean(0)
