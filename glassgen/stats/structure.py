"""Static structure: g(r), S(q) (direct and from g(r)), coordination numbers, Kob–Andersen energy and closest pairs.

Normalisations (D-dimensional, V the box volume):

- g_ab(r) = V ⟨n_ab(r)⟩ / (N_a (N_b − δ_ab) v(r)), n_ab(r) the number of ordered pairs
  (i ∈ a, j ∈ b, i ≠ j) in the shell [r, r + dr) of volume v(r); → 1 for an ideal gas;
- S_a(q) = ⟨|Σ_{j∈a} exp(i q·r_j)|²⟩ / N_a over reciprocal-lattice vectors q = 2πn/L in
  a |q| shell (direct, exact for the periodic box);
- S(q) from g(r): 1 + ρ ∫₀^R S_d r^{d−1} (g(r) − 1) W(r) K(qr) dr with K the isotropic
  kernel (sin x/x in 3D) and W the Lorch window sin(πr/R)/(πr/R) that tames the cut at R.

Neighbour searches go through :func:`glassgen.system.pbc.neighbour_graph`; energies through
:mod:`glassgen.system.ka`.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gamma

from glassgen.system import ka
from glassgen.core.errors import InputError
from glassgen.system.pbc import neighbour_graph
from glassgen.stats.dynamics import isotropic_kernel

RDF_R_MAX = 3.0  # σ: three shells; the graph at this cutoff also serves the KA energy (r_c = 2.5)
RDF_BINS = 150


def _sphere_area(dim: int) -> float:
    return 2 * np.pi ** (dim / 2) / gamma(dim / 2)


def rdf_edges(r_max: float = RDF_R_MAX, bins: int = RDF_BINS) -> np.ndarray:
    return np.linspace(0.0, r_max, bins + 1)


def rdf_counts(graph: dict, species, pairs, edges) -> np.ndarray:
    """Histogram of ordered-pair distances per species pair from one neighbour graph.

    Args:
        graph: from :func:`glassgen.system.pbc.neighbour_graph` with cutoff ≥ ``edges[-1]``.
        species: (N,) ids.
        pairs: list of (a, b); ``None`` for a or b means any species.

    Shapes: → (len(pairs), len(edges) − 1) counts.
    """
    s = np.asarray(species)
    src, dst = np.asarray(graph["edge_index"])
    r = np.asarray(graph["edge_len"])
    out = np.zeros((len(pairs), len(edges) - 1))
    for k, (a, b) in enumerate(pairs):
        m = np.ones(r.shape, bool)
        if a is not None:
            m &= s[src] == a
        if b is not None:
            m &= s[dst] == b
        out[k] = np.histogram(r[m], edges)[0]
    return out


def rdf_from_counts(counts, n_frames, n_a: int, n_b: int, same: bool, box, edges) -> np.ndarray:
    """g(r) from summed ordered-pair counts (see the module normalisation)."""
    box = np.asarray(box, dtype=np.float64)
    dim = box.shape[0]
    shell = _sphere_area(dim) / dim * np.diff(np.asarray(edges) ** dim)
    pairs = n_a * (n_b - 1 if same else n_b)
    return np.asarray(counts) / n_frames * np.prod(box) / (pairs * shell)


def rdf(positions, box, species=None, pair=(None, None), r_max: float = RDF_R_MAX, bins: int = RDF_BINS):
    """Radial distribution function averaged over frames → ``(r, g)``.

    Args:
        positions: (N, D) or (F, N, D) coordinates (wrapped or unwrapped).
        species: (N,) ids; ``pair=(a, b)`` selects the partial g_ab, None = all particles.
        r_max: must be below half the smallest box edge.
    """
    r, gs = rdf_partials(positions, box, species, [tuple(pair)], r_max, bins)
    return r, gs[tuple(pair)]


def rdf_partials(positions, box, species=None, pairs=None, r_max: float = RDF_R_MAX, bins: int = RDF_BINS):
    """Several partial g_ab(r) from one neighbour search per frame → ``(r, {(a, b): g})``.

    ``pairs`` defaults to every species pair (a ≤ b); see :func:`rdf` for the arguments.
    """
    x = np.asarray(positions, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    s = np.zeros(x.shape[1], np.int64) if species is None else np.asarray(species)
    if pairs is None:
        ids = np.unique(s).tolist()
        pairs = [(a, b) for a in ids for b in ids if a <= b]
    edges = rdf_edges(r_max, bins)
    counts = sum(rdf_counts(neighbour_graph(f, box, r_max), s, pairs, edges) for f in x)
    out = {}
    for k, (a, b) in enumerate(pairs):
        n_a = int(np.sum(s == a)) if a is not None else s.size
        n_b = int(np.sum(s == b)) if b is not None else s.size
        if n_a == 0 or n_b == 0:
            raise InputError(None, f"no particles for species pair {(a, b)}")
        out[(a, b)] = rdf_from_counts(counts[k], len(x), n_a, n_b, a == b, box, edges)
    return 0.5 * (edges[1:] + edges[:-1]), out


def reciprocal_vectors(box, q_max: float = 12.0, max_per_shell: int = 48, seed: int = 0):
    """Reciprocal-lattice vectors 2πn/L with 0 < |q| < q_max, one of each ±q pair, binned by |q|.

    Shells have the width of the smallest reciprocal spacing 2π/L_max; at most
    ``max_per_shell`` vectors per shell are kept (a fixed random choice, ``seed``).

    Returns:
        ``(q_vectors (M, D), shell index (M,), shell centres (B,))``.
    """
    box = np.asarray(box, dtype=np.float64)
    dq = 2 * np.pi / box
    nmax = np.floor(q_max / dq).astype(int)
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in nmax], indexing="ij")
    n = np.stack([g.ravel() for g in grids], axis=1)
    # keep one of ±n: the first non-zero component positive
    lead = n[np.arange(n.shape[0]), np.argmax(n != 0, axis=1)]
    n = n[lead > 0]
    q = n * dq
    qn = np.linalg.norm(q, axis=1)
    q, qn = q[qn < q_max], qn[qn < q_max]
    width = dq.min()
    shell = np.floor(qn / width).astype(int)
    rng = np.random.default_rng(seed)
    keep = []
    for s_id in np.unique(shell):
        idx = np.nonzero(shell == s_id)[0]
        keep.append(idx if idx.size <= max_per_shell else np.sort(rng.choice(idx, max_per_shell, replace=False)))
    keep = np.concatenate(keep)
    q, qn, shell = q[keep], qn[keep], shell[keep]
    uniq, inv = np.unique(shell, return_inverse=True)
    centres = np.array([qn[inv == k].mean() for k in range(uniq.size)])
    return q, inv, centres


def structure_factor(positions, box, species=None, sel=None, q_max: float = 12.0, max_per_shell: int = 48):
    """Direct S(q) on reciprocal-lattice vectors → ``(q, S)`` (partial S_aa with ``sel=a``).

    Args:
        positions: (N, D) or (F, N, D) coordinates; frames are averaged.
        species: (N,) ids; ``sel`` picks one species, None = all particles.
    """
    x = np.asarray(positions, dtype=np.float64)
    x = x[None] if x.ndim == 2 else x
    if species is not None and sel is not None:
        x = x[:, np.asarray(species) == sel]
    if x.shape[1] == 0:
        raise InputError(None, f"no particles of species {sel}")
    qv, shell, centres = reciprocal_vectors(box, q_max, max_per_shell)
    s_vec = np.zeros(qv.shape[0])
    for f in x:
        ph = f @ qv.T  # (N, M)
        s_vec += np.cos(ph).sum(0) ** 2 + np.sin(ph).sum(0) ** 2
    s_vec /= x.shape[0] * x.shape[1]
    return centres, np.bincount(shell, s_vec) / np.bincount(shell)


def structure_factor_from_rdf(r, g, density: float, q, dim: int = 3, window: bool = True) -> np.ndarray:
    """S(q) = 1 + ρ ∫ S_d r^{d−1} (g − 1) W(r) K(qr) dr on the bin grid of ``r`` (uniform bins).

    ``density`` is the number density of the species in g (ρ_a for a partial g_aa).
    """
    r, g, q = (np.asarray(v, dtype=np.float64) for v in (r, g, q))
    dr = r[1] - r[0]
    big_r = r[-1] + dr / 2
    w = np.sinc(r / big_r) if window else np.ones_like(r)
    integrand = _sphere_area(dim) * r ** (dim - 1) * (g - 1.0) * w * dr
    return 1.0 + density * (isotropic_kernel(np.outer(q, r), dim) @ integrand)


def coordination(positions, species, box, a: int, b: int, r_cut: float) -> float:
    """Partial coordination number z_ab: the mean number of species-b neighbours within ``r_cut`` of a
    species-a particle (i ≠ j), = (1/N_a) Σ_{i∈a} #{j ∈ b : 0 < |r_ij| < r_cut}. With r_cut at the first
    minimum of g_ab it counts contacts; the rollout docs use z_BB (r_cut 1.15 σ) to follow chemical order.

    Shapes: positions (N,D), species (N,), box (D,) -> float.
    """
    species = np.asarray(species)
    n_a = int((species == a).sum())
    if n_a == 0:
        raise InputError(None, f"no particle of species {a}: z_{a}{b} is undefined")
    src, dst = neighbour_graph(positions, box, r_cut)["edge_index"]
    return float(((species[src] == a) & (species[dst] == b)).sum() / n_a)


def configuration_energy(positions, species, box, graph: dict | None = None) -> float:
    """Kob–Andersen potential energy per particle [ε] of one configuration (via glassgen.system.ka)."""
    return float(ka.energy_per_particle(positions, species, box, graph).mean())


def closest_pairs(positions, species, box, cutoff: float = 1.5) -> dict:
    """Smallest distance per species pair [σ] (``{"AA": .., "AB": .., "BB": ..}``) via glassgen.system.ka."""
    return ka.min_pair_distances(positions, species, box, cutoff)


def first_peak(r, g, r_min: float = 0.5):
    """``(height, position)`` of the highest value of g beyond ``r_min``."""
    r, g = np.asarray(r), np.asarray(g)
    m = r > r_min
    k = int(np.argmax(np.where(m, g, -np.inf)))
    return float(g[k]), float(r[k])
