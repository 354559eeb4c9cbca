"""g(r), S(q), KA energy and closest pairs: analytic cases."""
import numpy as np
import pytest

from glassgen.system import ka
from glassgen.core.errors import InputError
from glassgen.stats import closest_pairs, configuration_energy, coordination, first_peak, rdf, rdf_partials, structure_factor, structure_factor_from_rdf
from glassgen.stats.structure import reciprocal_vectors


def dimer_frames(n_frames=12, n_mol=400, box=10.0, b=1.0, seed=0):
    """Ideal gas of rigid dimers of bond b: S(q) = 1 + sin(qb)/(qb) exactly (q ≠ 0)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_frames):
        c = rng.uniform(0, box, (n_mol, 3))
        v = rng.normal(size=(n_mol, 3))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out.append(np.concatenate([c, c + b * v]))
    return np.array(out)


def test_ideal_gas_rdf_is_one():
    rng = np.random.default_rng(1)
    box, n, nf = 8.0, 1000, 10
    x = rng.uniform(0, box, (nf, n, 3))
    species = (rng.random(n) < 0.3).astype(int)
    edges_dr = 0.05
    r, gs = rdf_partials(x, [box] * 3, species, [(None, None), (0, 0), (0, 1), (1, 1)], r_max=3.0, bins=60)
    for pair, g in gs.items():
        far = r > 1.0
        n_a = n if pair[0] is None else np.sum(species == pair[0])
        n_b = n if pair[1] is None else np.sum(species == pair[1])
        # Poisson error of each bin's count, in units of g
        expected_counts = nf * n_a * n_b / box ** 3 * 4 * np.pi * r ** 2 * edges_dr
        sigma = 1 / np.sqrt(expected_counts[far])
        assert np.all(np.abs(g[far] - 1) < 5 * sigma + 1e-3), pair
        assert abs(np.average(g[far], weights=1 / sigma ** 2) - 1) < 0.01


def test_dimer_structure_factor_direct_and_from_rdf():
    box, b, n_frames = 10.0, 1.0, 12
    x = dimer_frames(n_frames, box=box, b=b)
    q, s = structure_factor(x, [box] * 3, q_max=10.0, max_per_shell=48)
    exact = 1 + np.sinc(q * b / np.pi)
    _, shell, _ = reciprocal_vectors([box] * 3, 10.0, 48)
    n_vec = np.bincount(shell)
    # per vector |ρ_q|²/N is exponentially distributed around S: relative error 1/√(vectors·frames)
    assert np.all(np.abs(s - exact) < 5 * exact / np.sqrt(n_vec * n_frames))
    r, g = rdf(x, [box] * 3, r_max=4.95, bins=248)
    assert g[np.abs(r - b) < 0.02].max() > 4  # the bond as a spike: 1/(ρ 4πb² dr) ≈ 5 above 1
    s_g = structure_factor_from_rdf(r, g, 800 / box ** 3, q)
    m = q > 3.0
    assert np.max(np.abs(s_g[m] - exact[m])) < 0.05
    assert np.max(np.abs(s_g[m] - s[m])) < 0.15


def test_partial_structure_factor_of_ideal_gas_is_one():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 9.0, (10, 800, 3))
    species = np.r_[np.zeros(600, int), np.ones(200, int)]
    q, s = structure_factor(x, [9.0] * 3, species, sel=1, q_max=8.0)
    _, shell, _ = reciprocal_vectors([9.0] * 3, 8.0, 48)
    assert np.all(np.abs(s - 1) < 5 / np.sqrt(np.bincount(shell) * 10))


def test_ka_energy_and_closest_pairs_of_a_known_configuration():
    box = [10.0] * 3
    # an AB pair at 1.0 straddling the box face, an AA pair at 1.2, far from each other
    x = np.array([[0.2, 5, 5], [9.2, 5, 5], [5, 1, 1], [5, 2.2, 1]])
    species = np.array([0, 1, 0, 0])
    e_ab = ka.pair_energy(1.0, 0, 1)
    e_aa = ka.pair_energy(1.2, 0, 0)
    assert configuration_energy(x, species, box) == pytest.approx((e_ab + e_aa) / 4, rel=1e-12)
    d = closest_pairs(x, species, box)
    assert d["AB"] == pytest.approx(1.0) and d["AA"] == pytest.approx(1.2) and d["BB"] == np.inf


def test_first_peak():
    r = np.linspace(0, 3, 301)
    g = 1 + 2 * np.exp(-((r - 1.1) / 0.05) ** 2)
    h, pos = first_peak(r, g)
    assert h == pytest.approx(3.0, abs=1e-3) and pos == pytest.approx(1.1, abs=0.01)


def test_coordination_of_a_simple_cubic_lattice():
    """Every site of a unit-spacing simple cubic lattice has 6 neighbours within 1.15, 18 within 1.5."""
    g = np.arange(6, dtype=float)
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    species = np.zeros(len(x), int)
    box = np.full(3, 6.0)
    assert coordination(x, species, box, 0, 0, 1.15) == pytest.approx(6.0)
    assert coordination(x, species, box, 0, 0, 1.5) == pytest.approx(18.0)


def test_coordination_matches_brute_force_and_ignores_wrapping():
    rng = np.random.default_rng(3)
    box = np.array([7.0, 7.0, 7.0])
    x = rng.uniform(0, 7.0, (300, 3))
    species = (rng.uniform(size=300) < 0.3).astype(int)
    d = x[:, None] - x[None]
    d -= box * np.round(d / box)  # O(N^2) minimum image reference
    r = np.sqrt((d ** 2).sum(-1))
    np.fill_diagonal(r, np.inf)
    for a, b in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        ref = (r[species == a][:, species == b] < 1.2).sum() / (species == a).sum()
        assert coordination(x, species, box, a, b, 1.2) == pytest.approx(ref)
        shifted = x + box * rng.integers(-3, 4, x.shape)  # lattice vectors: same configuration
        assert coordination(shifted, species, box, a, b, 1.2) == pytest.approx(ref)
    n_a, n_b = (species == 0).sum(), (species == 1).sum()
    assert n_a * coordination(x, species, box, 0, 1, 1.2) == pytest.approx(n_b * coordination(x, species, box, 1, 0, 1.2))


def test_coordination_of_an_absent_species_is_an_error():
    with pytest.raises(InputError, match="no particle of species 1"):
        coordination(np.zeros((2, 3)) + [[0, 0, 0], [1, 0, 0]], [0, 0], np.full(3, 5.0), 1, 1, 1.15)
