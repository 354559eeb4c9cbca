"""Small ensemble metrics for the flow benchmarks (kept here until glassgen.stats lands on main).

All take displacements (R,N,3) of one configuration (LJ units) and species (N,).
"""
import numpy as np
from scipy.stats import pearsonr, wasserstein_distance

Q = 7.25  # wave number of the first peak of S(q), A particles


def propensity(d):
    return np.linalg.norm(d, axis=-1).mean(0)


def fs(d, species, q=Q):
    r = np.linalg.norm(d[:, species == 0], axis=-1)
    return float(np.mean(np.sinc(q * r / np.pi)))  # sin(qr)/(qr), isotropic 3D


def alpha2(d, species):
    r2 = (d[:, species == 0] ** 2).sum(-1)
    return float(3 * np.mean(r2**2) / (5 * np.mean(r2) ** 2) - 1)


def w1(da, db, species):
    a = np.linalg.norm(da[:, species == 0], axis=-1).ravel()
    b = np.linalg.norm(db[:, species == 0], axis=-1).ravel()
    return float(wasserstein_distance(a, b))


def pearson_a(x, y, species):
    return float(pearsonr(x[species == 0], y[species == 0])[0])


def edge_target(d, vec0, edge_index):
    """Mean over runs of |r_ij(t)| − |r_ij(0)| (BOTAN's edge target). vec0 (E,3) min-image r_j − r_i at t = 0."""
    src, dst = edge_index
    rt = np.linalg.norm(vec0[None] + d[:, dst] - d[:, src], axis=-1)
    return (rt - np.linalg.norm(vec0, axis=-1)[None]).mean(0)
