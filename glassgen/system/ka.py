"""The Kob–Andersen 80:20 binary Lennard-Jones mixture: parameters, energies and forces.

W. Kob and H. C. Andersen, Phys. Rev. E 51, 4626 (1995). Species 0 = A, 1 = B;
LJ units (σ_AA = ε_AA = m = k_B = 1). Pair potential

    V_ab(r) = 4 ε_ab [(σ_ab/r)^12 − (σ_ab/r)^6] − V_ab^LJ(r_c,ab),   r < r_c,ab = 2.5 σ_ab,

i.e. truncated at 2.5 σ_ab and shifted to zero there (LAMMPS ``pair_modify shift yes``).
Simulation, statistics and rollout monitors all take their numbers from here.
"""
from __future__ import annotations

import numpy as np

from glassgen.system.pbc import neighbour_graph

EPSILON = np.array([[1.0, 1.5], [1.5, 0.5]])
SIGMA = np.array([[1.0, 0.8], [0.8, 0.88]])
CUTOFF_FACTOR = 2.5
CUTOFF = CUTOFF_FACTOR * SIGMA  # (2,2) pair cutoffs in σ_AA
MASS = 1.0
FRACTION_A = 0.8
DENSITY = 1.2
SPECIES_NAMES = ("A", "B")


def n_species_a(n: int) -> int:
    """Number of A particles for N particles: round(0.8 N)."""
    return int(round(FRACTION_A * n))


def box_edge(n: int, density: float = DENSITY, dim: int = 3) -> float:
    """Edge of the cubic box holding N particles at the given number density."""
    return (n / density) ** (1.0 / dim)


def pair_energy(r, a, b):
    """Shifted pair energy V_ab(r) for arrays of distances and species ids (0 beyond the cutoff), float64."""
    r = np.asarray(r, dtype=np.float64)
    eps, sig, rc = (t[a, b] for t in (EPSILON, SIGMA, CUTOFF))
    sr6 = (sig / r) ** 6
    src6 = (sig / rc) ** 6
    v = 4.0 * eps * (sr6 * sr6 - sr6) - 4.0 * eps * (src6 * src6 - src6)
    return np.where(r < rc, v, 0.0)


def energy_per_particle(positions, species, box, graph: dict | None = None) -> np.ndarray:
    """Potential energy of each particle, (N,): half of each pair energy goes to each partner.

    Args:
        positions: (N,D) coordinates (wrapped or unwrapped).
        species: (N,) ids, 0 = A, 1 = B.
        box: (D,) box edges.
        graph: optional neighbour graph from :func:`glassgen.system.pbc.neighbour_graph` built
            with a cutoff of at least 2.5 σ_AA; built here otherwise.
    """
    species = np.asarray(species, dtype=np.int64)
    if graph is None:
        graph = neighbour_graph(positions, box, float(CUTOFF.max()))
    src, dst = np.asarray(graph["edge_index"])
    r = np.asarray(graph["edge_len"], dtype=np.float64)
    e_pair = pair_energy(r, species[src], species[dst])
    # Each unordered pair appears twice (both directions): half to src each time.
    return 0.5 * np.bincount(src, weights=e_pair, minlength=len(species))


def forces(positions, species, box) -> np.ndarray:
    """Forces F_i = −∂U/∂r_i of the shifted potential, (N,D) [ε/σ] (the shift does not change them).

    Args:
        positions: (N,D) coordinates (wrapped or unwrapped).
        species: (N,) ids, 0 = A, 1 = B.
        box: (D,) box edges.
    """
    species = np.asarray(species, dtype=np.int64)
    graph = neighbour_graph(positions, box, float(CUTOFF.max()))
    src, dst = np.asarray(graph["edge_index"])
    r = np.asarray(graph["edge_len"], dtype=np.float64)
    a, b = species[src], species[dst]
    sr6 = (SIGMA[a, b] / r) ** 6
    dvdr = np.where(r < CUTOFF[a, b], 4.0 * EPSILON[a, b] * (6.0 * sr6 - 12.0 * sr6 * sr6) / r, 0.0)
    f = np.zeros((len(species), np.asarray(graph["edge_vec"]).shape[1]))
    # edge_vec = r_dst − r_src, so −∂V/∂r_src = V'(r) (r_dst − r_src)/r; both directions are edges
    np.add.at(f, src, (dvdr / r)[:, None] * np.asarray(graph["edge_vec"], dtype=np.float64))
    return f


def mean_energy(positions, species, box) -> float:
    """Potential energy per particle, averaged over the configuration."""
    return float(energy_per_particle(positions, species, box).mean())


def min_pair_distances(positions, species, box, cutoff: float = 2.0) -> dict:
    """Smallest pair distance per species pair, e.g. ``{"AA": 0.93, "AB": 0.78, "BB": 0.85}``.

    Pairs farther apart than ``cutoff`` are not seen; a species pair with no
    partner inside it reports ``inf``.
    """
    species = np.asarray(species, dtype=np.int64)
    g = neighbour_graph(positions, box, cutoff)
    src, dst = np.asarray(g["edge_index"])
    r = np.asarray(g["edge_len"])
    out = {}
    n_types = int(species.max()) + 1 if species.size else 0
    for a in range(n_types):
        for b in range(a, n_types):
            m = (species[src] == a) & (species[dst] == b)
            name = (SPECIES_NAMES[a] + SPECIES_NAMES[b]) if max(a, b) < len(SPECIES_NAMES) else f"{a}-{b}"
            out[name] = float(r[m].min()) if m.any() else float("inf")
    return out
