"""Hard-core projection: push overlapping pairs apart to a contact distance, nothing else.

A generated displacement field can bring two neighbours closer than the Kob–Andersen
repulsion ever lets them come in equilibrium (MD at T = 0.6, N = 1000 has ~1 pair per
configuration above 3 ε and almost none above 5 ε). :func:`project_overlaps` is the smallest
correction that removes such pairs: every pair whose KA pair energy exceeds ``energy`` is
moved apart, symmetrically along its separation, to the distance r_ab(energy) where its
energy equals ``energy`` (:func:`contact_distance`); new violations this creates are
picked up in the next sweep. Particles in no violating pair do not move at all, pair
corrections are equal and opposite (the centre of mass stays where it was), and no energy
is minimised: a projection, not a quench (``docs/rollout.md``, "Relaxation", kind ``project``).
"""
from __future__ import annotations

import numpy as np

from glassgen.system import ka
from glassgen.system.pbc import neighbour_graph


def contact_distance(energy: float) -> np.ndarray:
    """(2,2) distances r_ab < 2^(1/6) σ_ab on the repulsive branch where V_ab(r) = ``energy`` (ε_AA).

    Closed form: with y = (σ/r)^6 the shifted potential is 4ε(y² − y) − V_c, so
    y = (1 + sqrt(1 + (energy + V_c)/ε)) / 2, V_c the LJ value at the cutoff (glassgen.system.ka).
    """
    eps, sig = ka.EPSILON, ka.SIGMA
    yc = (sig / ka.CUTOFF) ** 6
    vc = 4.0 * eps * (yc * yc - yc)
    disc = 1.0 + (energy + vc) / eps
    if np.any(energy + vc <= -eps):  # at or below the bottom of a well: no repulsive contact
        raise ValueError(f"energy {energy} is below a pair minimum: no repulsive contact")
    return sig * (0.5 * (1.0 + np.sqrt(disc))) ** (-1.0 / 6.0)


def project_overlaps(positions, species, box, energy: float = 3.0, max_sweeps: int = 200):
    """Move every pair above ``energy`` apart to its contact distance; returns (positions, n_pairs, sweeps).

    Args:
        positions: (N,3) unwrapped coordinates (the correction is added to them as they are).
        species: (N,) ids, 0 = A, 1 = B.
        box: (3,) orthorhombic box edges.
        energy: pair-energy threshold in ε_AA.
        max_sweeps: Jacobi sweeps at most (each rebuilds the short-range neighbour list).

    Returns:
        ``(x, n, sweeps)``: corrected (N,3) positions, the number of pair corrections applied, sweeps run
        (``max_sweeps`` if violations remain; the rollout's monitors then log them as kept overlaps).
    """
    x = np.array(positions, dtype=np.float64)
    species = np.asarray(species, dtype=np.int64)
    rc = contact_distance(energy)
    # aim 0.1 % beyond the contact: pushing one pair nudges its partners' other pairs, and exact
    # targets make those sweeps converge only geometrically; the overshoot (~0.001 σ) ends them
    target = rc * (1 + 1e-3)
    n_fixed = 0
    for sweep in range(max_sweeps):
        g = neighbour_graph(x, box, float(rc.max()))
        src, dst = g["edge_index"]
        r = g["edge_len"]
        pair = (species[src], species[dst])
        need = target[pair] - r
        m = (src < dst) & (r < rc[pair])
        if not m.any():
            return x, n_fixed, sweep
        u = g["edge_vec"][m] / r[m, None]
        push = 0.5 * need[m, None] * u  # half to each partner along r_j - r_i
        dx = np.zeros_like(x)
        np.add.at(dx, dst[m], push)
        np.add.at(dx, src[m], -push)
        x += dx
        n_fixed += int(m.sum())
    return x, n_fixed, max_sweeps


def random_configuration(n: int, density: float = ka.DENSITY, seed: int = 0, energy: float = 3.0, max_sweeps: int = 500):
    """A Kob–Andersen-like configuration without MD: 80:20 species at uniform random positions, every pair
    above ``energy`` then pushed apart by :func:`project_overlaps` (a few seconds at N = 32 768).

    Not an equilibrium liquid, but with its density and no hard overlaps: at N = 4096 and cutoff 2.0 it has
    ~164 k directed edges (an MD configuration at T = 0.44 has ~166 k), which is what timings need.
    Returns a :class:`glassgen.system.data.Snapshot` (positions folded into the box).
    """
    from glassgen.system.data import Snapshot
    from glassgen.system.pbc import fold

    rng = np.random.default_rng(seed)
    box = np.full(3, ka.box_edge(n, density))
    species = (np.arange(n) >= ka.n_species_a(n)).astype(np.int64)
    rng.shuffle(species)
    x, _, _ = project_overlaps(rng.uniform(0.0, box, size=(n, 3)), species, box, energy, max_sweeps)
    return Snapshot(species, box, fold(x, box)[0], {"source": f"random KA configuration (N = {n}, seed {seed})"})


def overlap_region(positions, species, box, energy: float, radius: float) -> np.ndarray:
    """Indices of the particles within ``radius`` of a pair whose KA pair energy exceeds ``energy``."""
    g = neighbour_graph(positions, box, max(radius, 1.0))
    src, dst = g["edge_index"]
    close = g["edge_len"] < 1.0  # repulsive range: pair energies above ~0 ε need r < σ
    e = ka.pair_energy(g["edge_len"][close], species[src[close]], species[dst[close]])
    hot = np.zeros(len(species), bool)
    hot[src[close][e > energy]] = True
    if not hot.any():
        return np.zeros(0, dtype=np.int64)
    near = hot.copy()
    near[dst[hot[src] & (g["edge_len"] < radius)]] = True
    return np.nonzero(near)[0]
