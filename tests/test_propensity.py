"""Propensity targets, cube-symmetry augmentation, evaluation masks."""
import numpy as np
import pytest
import torch

from glassgen.system.data import Ensemble
from glassgen.system.pbc import minimum_image, neighbour_graph
from glassgen.encoder.targets import (cubic_symmetries, edge_targets, eval_masks, node_targets, pearson, transform_graph,
                                 transform_positions)


def small_ensemble(n=250, runs=5, seed=0, scale=0.4, heavy=True):
    rng = np.random.default_rng(seed)
    box = np.full(3, (n / 1.2) ** (1 / 3))
    x0 = rng.uniform(0, box, (n, 3))
    species = (rng.permutation(n) < n // 5).astype(np.int64)
    # Heavy-tailed displacements, some larger than a box edge, so unwrapping matters.
    disp = (rng.standard_t(2, size=(runs, 1, n, 3)) if heavy else rng.normal(size=(runs, 1, n, 3))) * scale
    return Ensemble(species, box, x0, np.array([10.0]), x0 + disp)


def test_48_symmetries_form_the_cube_group():
    s = cubic_symmetries()
    assert s.shape == (48, 3, 3)
    assert len({tuple(m.flatten().tolist()) for m in s}) == 48
    for m in s:
        torch.testing.assert_close(m @ m.T, torch.eye(3))
    keys = {tuple(m.flatten().tolist()) for m in s}
    assert all(tuple((a @ b).flatten().tolist()) in keys for a in s for b in s)  # closed under products


def test_node_target_is_mean_displacement_length():
    ens = small_ensemble()
    y = node_targets(ens)
    brute = np.mean([[np.linalg.norm(ens.positions[r, 0, i] - ens.initial[i]) for i in range(ens.n_particles)] for r in range(ens.n_runs)], axis=0)
    np.testing.assert_allclose(y, brute, rtol=1e-12)


def test_edge_target_matches_minimum_image_at_time_t_for_small_moves():
    ens = small_ensemble(scale=0.05, heavy=False)  # moves << L/2: the minimum image at time t is the same pair vector
    g = neighbour_graph(ens.initial, ens.box, 2.0)
    y = edge_targets(ens, g["edge_index"], g["edge_vec"])
    src, dst = g["edge_index"]
    brute = np.zeros(len(src))
    for run in ens.positions[:, 0]:
        brute += np.linalg.norm(minimum_image(run[dst] - run[src], ens.box), axis=-1) - g["edge_len"]
    np.testing.assert_allclose(y, brute / ens.n_runs, atol=1e-10)


def _transformed_ensemble(ens, m):
    m = np.asarray(m, dtype=np.float64)
    x0 = transform_positions(ens.initial, m, ens.box)
    # Unwrapped run positions follow the initial ones: x0' + M Δr.
    disp = (ens.positions - ens.initial) @ m.T
    return Ensemble(ens.species, ens.box, x0, ens.times, x0 + disp)


@pytest.mark.parametrize("k", [5, 17, 30, 47])
def test_targets_invariant_and_graph_transform_exact_under_cube_symmetry(k):
    ens = small_ensemble(seed=k)
    m = cubic_symmetries()[k]
    g = neighbour_graph(ens.initial, ens.box, 2.0)
    ens2 = _transformed_ensemble(ens, m)
    g2 = neighbour_graph(ens2.initial, ens2.box, 2.0)
    # Same pairs (the neighbour set is mapped onto itself), edge vectors rotated by M.
    np.testing.assert_array_equal(g["edge_index"], g2["edge_index"])
    moved = transform_graph({"edge_vec": torch.from_numpy(g["edge_vec"])}, m.double())["edge_vec"].numpy()
    np.testing.assert_allclose(moved, g2["edge_vec"], atol=1e-9)
    np.testing.assert_allclose(node_targets(ens2), node_targets(ens), rtol=1e-12)
    np.testing.assert_allclose(edge_targets(ens2, g2["edge_index"], g2["edge_vec"]),
                               edge_targets(ens, g["edge_index"], g["edge_vec"]), atol=1e-10)


def test_eval_masks_select_A_and_close_AA_pairs():
    ens = small_ensemble()
    g = neighbour_graph(ens.initial, ens.box, 2.0)
    s = torch.from_numpy(ens.species)
    node, edge = eval_masks(s, torch.from_numpy(g["edge_index"]), torch.from_numpy(g["edge_len"]))
    assert torch.equal(node, s == 0)
    src, dst = g["edge_index"]
    want = (ens.species[src] == 0) & (ens.species[dst] == 0) & (g["edge_len"] < 1.35)
    assert np.array_equal(edge.numpy(), want) and 0 < want.sum() < len(want)


def test_pearson_matches_numpy():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=100), rng.normal(size=100)
    assert pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)
