"""Kob–Andersen potential: analytic values and an O(N²) reference."""
import numpy as np
import pytest

from glassgen.system import ka


def test_parameters_are_the_published_ones():
    np.testing.assert_array_equal(ka.EPSILON, [[1.0, 1.5], [1.5, 0.5]])
    np.testing.assert_array_equal(ka.SIGMA, [[1.0, 0.8], [0.8, 0.88]])
    np.testing.assert_array_equal(ka.CUTOFF, 2.5 * ka.SIGMA)
    assert ka.n_species_a(4096) == 3277
    assert ka.box_edge(4096) == pytest.approx(15.05658, abs=1e-5)


@pytest.mark.parametrize("a,b", [(0, 0), (0, 1), (1, 1)])
def test_pair_energy_shift_and_minimum(a, b):
    eps, sig, rc = ka.EPSILON[a, b], ka.SIGMA[a, b], ka.CUTOFF[a, b]
    assert ka.pair_energy(rc * (1 - 1e-9), a, b) == pytest.approx(0.0, abs=1e-8)
    assert ka.pair_energy(rc * 1.01, a, b) == 0.0
    shift = 4 * eps * ((sig / rc) ** 12 - (sig / rc) ** 6)
    assert ka.pair_energy(2 ** (1 / 6) * sig, a, b) == pytest.approx(-eps - shift)
    r = np.linspace(0.9 * sig, rc * 0.999, 2000)
    assert np.argmin(ka.pair_energy(r, a, b)) == pytest.approx(np.argmin(np.abs(r - 2 ** (1 / 6) * sig)), abs=1)


def test_energy_per_particle_matches_brute_force(rng):
    n = 400
    box = np.full(3, ka.box_edge(n))
    x = rng.uniform(0, box[0], (n, 3))
    species = (np.arange(n) >= ka.n_species_a(n)).astype(int)
    d = x[:, None] - x[None]
    d -= box * np.round(d / box)
    r = np.linalg.norm(d, axis=-1)
    np.fill_diagonal(r, np.inf)
    e_pair = ka.pair_energy(r, species[:, None], species[None, :])
    e_ref = 0.5 * e_pair.sum(axis=1)
    e = ka.energy_per_particle(x, species, box)
    np.testing.assert_allclose(e, e_ref, rtol=1e-10, atol=1e-10)
    # translation and lattice wrapping do not change energies
    np.testing.assert_allclose(ka.energy_per_particle(x + 3.3 + 2 * box, species, box), e, rtol=1e-9, atol=1e-9)


def test_min_pair_distances(rng):
    box = np.full(3, 6.0)
    x = rng.uniform(0.5, 5.5, (60, 3))
    species = np.array([0] * 50 + [1] * 10)
    x[0] = [1.0, 1.0, 1.0]
    x[50] = [1.0, 1.0, 1.7]  # an A–B pair at 0.7 across nothing
    x[1] = [5.95, 3.0, 3.0]
    x[2] = [0.05, 3.0, 3.0]  # an A–A pair at 0.1 across the face
    m = ka.min_pair_distances(x, species, box)
    assert m["AA"] == pytest.approx(0.1)
    assert m["AB"] <= 0.7 + 1e-12


def test_forces_are_minus_the_energy_gradient_and_sum_to_zero():
    m = 7
    a = (1 / ka.DENSITY) ** (1 / 3)
    g = np.arange(m) * a
    rng = np.random.default_rng(0)
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) + 0.05 * rng.standard_normal((m ** 3, 3))
    species = (rng.uniform(size=len(x)) < 0.2).astype(int)
    box = np.full(3, m * a)
    f = ka.forces(x, species, box)
    total = lambda y: ka.energy_per_particle(y, species, box).sum()
    h = 1e-5
    for i in (0, 1, int(np.flatnonzero(species == 1)[0])):  # A and B particles, all three components
        for d in range(3):
            e = np.zeros_like(x)
            e[i, d] = h
            assert f[i, d] == pytest.approx(-(total(x + e) - total(x - e)) / (2 * h), abs=1e-4 * np.abs(f).max())
    np.testing.assert_allclose(f.sum(0), 0.0, atol=1e-9 * np.abs(f).max())  # Newton's third law
    shifted = x + box * rng.integers(-2, 3, x.shape)  # lattice vectors do not change the configuration
    np.testing.assert_allclose(ka.forces(shifted, species, box), f, atol=1e-9 * np.abs(f).max())
