"""Structure monitors (glassgen.stats.monitors): brute-force g(r) peaks, invariances, reference and comparison."""
import numpy as np
import pytest

from glassgen.system import ka
from glassgen.stats.monitors import NAMES, PEAK_BIN, PEAK_WINDOW, compare, monitors, reference
from glassgen.system.pbc import minimum_image


def config(seed=0, n_side=8, spacing=1.05):
    """A jittered simple-cubic configuration, 20 % B at random sites: box 8.4 > 2 × 2.5 σ."""
    rng = np.random.default_rng(seed)
    g = np.arange(n_side) * spacing
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) + 0.07 * rng.normal(size=(n_side ** 3, 3))
    species = (rng.permutation(len(x)) >= ka.n_species_a(len(x))).astype(int)
    return species, x % (n_side * spacing), np.full(3, n_side * spacing)


def brute_force_peak(species, x, box, a, b):
    """First-peak height of g_ab from all O(N²) minimum-image distances."""
    ia, ib = np.flatnonzero(species == a), np.flatnonzero(species == b)
    r = np.linalg.norm(minimum_image(x[ib][None] - x[ia][:, None], box), axis=-1)
    r = r[r > 0]
    edges = np.arange(0.0, ka.SIGMA.max() * PEAK_WINDOW[1] + PEAK_BIN, PEAK_BIN)
    shell = 4 * np.pi / 3 * np.diff(edges ** 3)
    g = np.histogram(r, edges)[0] * np.prod(box) / (len(ia) * (len(ib) - (a == b)) * shell)
    mid = 0.5 * (edges[1:] + edges[:-1])
    lo, hi = (w * ka.SIGMA[a, b] for w in PEAK_WINDOW)
    return g[(mid >= lo) & (mid <= hi)].max()


def test_first_peaks_equal_brute_force_partial_rdf():
    species, x, box = config()
    m = monitors(x, species, box)
    for a, b, name in ((0, 0, "AA"), (0, 1, "AB"), (1, 1, "BB")):
        assert m[f"gpeak_{name}"] == pytest.approx(brute_force_peak(species, x, box, a, b), rel=1e-12)
    assert m["gpeak_AA"] > 2  # the lattice's first shell at 1.05 sits inside the AA window


def test_monitors_are_invariant_under_translation_wrapping_and_permutation():
    species, x, box = config(1)
    ref = monitors(x, species, box)
    rng = np.random.default_rng(2)
    moved = x + [0.37, -2.1, 5.3] + box * rng.integers(-3, 4, size=x.shape)  # shifted and unwrapped
    perm = rng.permutation(len(x))
    for s, y in ((species, moved), (species[perm], x[perm])):
        got = monitors(y, s, box)
        assert set(got) == set(NAMES)
        for k in NAMES:
            assert got[k] == pytest.approx(ref[k], rel=1e-9, abs=1e-12), k


def test_missing_species_gives_nan_peak_and_inf_distance():
    species, x, box = config(3)
    m = monitors(x, np.zeros_like(species), box)
    assert np.isnan(m["gpeak_AB"]) and np.isnan(m["gpeak_BB"]) and np.isinf(m["rmin_BB"])
    assert np.isfinite(m["gpeak_AA"])


def test_reference_is_mean_and_std_over_configurations_and_skips_small_boxes():
    configs = [config(s) for s in range(5)]
    ref = reference(configs)
    each = [monitors(x, s, b) for s, x, b in configs]
    for k in NAMES:
        v = [e[k] for e in each]
        assert ref[k] == pytest.approx([np.mean(v), np.std(v), 5])
    assert reference(configs, max_configurations=2)["e_pot"][2] == 2
    small = config(0, n_side=4)  # box 4.2: under twice the KA cutoff
    assert reference([small]) == {} and reference([small] + configs[:1])["e_pot"][2] == 1


def test_compare_reports_drift_in_reference_std_and_falls_back_to_start_frames():
    rows = [{"step": k, "trajectory": j, "e_pot": -6.7 + 0.01 * k, "gpeak_BB": 1.0, "rmin_AA": ""}
            for k in range(9) for j in range(2)]
    ref = {"e_pot": [-6.7, 0.02, 10], "gpeak_BB": [0.9, 0.05, 10]}
    c = compare(rows, ref)
    assert c["e_pot"]["source"] == "training data" and c["e_pot"]["start"] == pytest.approx(-6.7)
    assert c["e_pot"]["end"] == pytest.approx(-6.7 + 0.01 * 7)  # last quarter: steps 6, 7, 8 -> mean 7
    assert c["e_pot"]["z"] == pytest.approx(0.07 / 0.02)
    assert c["gpeak_BB"]["z"] == pytest.approx(2.0)
    assert "rmin_AA" not in c  # no values, no row
    own = compare(rows)
    assert own["e_pot"]["source"] == "start frames" and own["e_pot"]["reference"] == pytest.approx(-6.7)
