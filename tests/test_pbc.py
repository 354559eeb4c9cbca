"""Neighbour graph and folding: brute-force references and invariances."""
import itertools

import numpy as np
import pytest
import torch

from glassgen.core.errors import InputError
from glassgen.system.pbc import fold, half_pairs, minimum_image, neighbour_graph, neighbour_graph_batch, unfold


def brute_force_pairs(x, box, cutoff):
    """O(N²) minimum-image reference: {(i, j): r_j - r_i}."""
    d = x[None, :, :] - x[:, None, :]
    d = d - box * np.round(d / box)
    r = np.linalg.norm(d, axis=-1)
    i, j = np.nonzero((r < cutoff) & (r > 0))
    return {(a, b): d[a, b] for a, b in zip(i, j)}


def as_dict(g):
    ei, vec = np.asarray(g["edge_index"]), np.asarray(g["edge_vec"])
    return {(int(a), int(b)): v for a, b, v in zip(ei[0], ei[1], vec)}


def random_config(rng, n, box, on_faces=0):
    x = rng.uniform(0, 1, size=(n, len(box))) * box
    # particles exactly on faces (0 and L) are where folding conventions break
    for k in range(on_faces):
        x[k, k % len(box)] = 0.0 if k % 2 == 0 else box[k % len(box)]
    return x


@pytest.mark.parametrize("trial", range(6))
def test_matches_brute_force_on_random_boxes(rng, trial):
    box = rng.uniform(4.0, 9.0, size=3)
    n = int(rng.integers(50, 400))
    x = random_config(rng, n, box, on_faces=6)
    # cutoffs from small to just below half the smallest edge
    cutoff = [1.0, 1.7, 0.4999 * box.min()][trial % 3]
    ref = brute_force_pairs(x, box, cutoff)
    got = as_dict(neighbour_graph(x, box, cutoff))
    assert set(got) == set(ref)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], atol=1e-10)


def test_edge_vectors_follow_shift_formula_and_are_sorted(rng):
    box = np.array([6.0, 7.0, 8.0])
    x = random_config(rng, 300, box) + rng.integers(-3, 4, size=(300, 3)) * box
    g = neighbour_graph(x, box, 2.0)
    src, dst = g["edge_index"]
    np.testing.assert_allclose(g["edge_vec"], x[dst] - x[src] + g["shifts"] * box, atol=1e-12)
    np.testing.assert_allclose(g["edge_len"], np.linalg.norm(g["edge_vec"], axis=1))
    assert np.all(np.diff(src * len(x) + dst) > 0)
    assert np.all((g["edge_len"] > 0) & (g["edge_len"] < 2.0))


@pytest.mark.parametrize("dim", [3, 2])
def test_half_pairs_are_each_brute_force_pair_once_with_its_shift(rng, dim):
    box = rng.uniform(5.0, 9.0, size=dim)
    x = random_config(rng, 300, box, on_faces=4) + rng.integers(-3, 4, size=(300, dim)) * box  # unwrapped
    i, j, s = half_pairs(x, box, 2.3)
    assert np.all(i < j) and np.all(np.diff(i * len(x) + j) > 0)
    ref = {k: v for k, v in brute_force_pairs(x, box, 2.3).items() if k[0] < k[1]}
    assert set(zip(i.tolist(), j.tolist())) == set(ref)
    got = x[j] - x[i] + s * box
    np.testing.assert_allclose(got, np.stack([ref[(a, b)] for a, b in zip(i, j)]), atol=1e-9)
    g = neighbour_graph(x, box, 2.3)  # the full graph's src < dst half, in the same order
    half = g["edge_index"][0] < g["edge_index"][1]
    np.testing.assert_array_equal(np.stack([i, j]), g["edge_index"][:, half])
    np.testing.assert_array_equal(s, g["shifts"][half])


def test_both_directions_present(rng):
    box = np.full(3, 7.0)
    g = neighbour_graph(random_config(rng, 200, box), box, 2.5)
    e = as_dict(g)
    for (i, j), v in e.items():
        np.testing.assert_allclose(e[(j, i)], -v, atol=1e-12)


def test_lattice_shifts_leave_graph_unchanged(rng):
    box = rng.uniform(5.0, 8.0, size=3)
    x = random_config(rng, 250, box)
    shifted = x + rng.integers(-5, 6, size=x.shape) * box
    a, b = neighbour_graph(x, box, 2.0), neighbour_graph(shifted, box, 2.0)
    np.testing.assert_array_equal(a["edge_index"], b["edge_index"])
    np.testing.assert_allclose(a["edge_vec"], b["edge_vec"], atol=1e-9)


def test_translation_invariance(rng):
    box = np.full(3, 7.5)
    x = random_config(rng, 250, box)
    a = neighbour_graph(x, box, 2.0)
    b = neighbour_graph(x + rng.uniform(-20, 20, size=3), box, 2.0)
    assert as_dict(a).keys() == as_dict(b).keys()
    np.testing.assert_allclose(a["edge_vec"], b["edge_vec"], atol=1e-9)


def test_two_dimensional_matches_brute_force(rng):
    box = np.array([9.0, 11.0])
    x = random_config(rng, 300, box, on_faces=4)
    ref = brute_force_pairs(x, box, 2.0)
    got = as_dict(neighbour_graph(x, box, 2.0))
    assert set(got) == set(ref)


def test_batched_equals_per_graph(rng):
    boxes = [np.full(3, 6.0), np.array([7.0, 6.5, 8.0]), np.full(3, 5.0)]
    xs = [random_config(rng, n, b) for n, b in zip((120, 200, 80), boxes)]
    gb = neighbour_graph_batch(xs, boxes, 2.0)
    offset, start = 0, 0
    for x, b in zip(xs, boxes):
        g = neighbour_graph(x, b, 2.0)
        e = g["edge_index"].shape[1]
        np.testing.assert_array_equal(gb["edge_index"][:, start:start + e], g["edge_index"] + offset)
        np.testing.assert_allclose(gb["edge_vec"][start:start + e], g["edge_vec"])
        offset, start = offset + len(x), start + e
    assert start == gb["edge_index"].shape[1]
    np.testing.assert_array_equal(np.bincount(gb["batch"]), [120, 200, 80])


def test_torch_input_matches_numpy_and_carries_gradients(rng):
    box = np.full(3, 7.0)
    x = random_config(rng, 200, box)
    g_np = neighbour_graph(x, box, 2.0)
    xt = torch.tensor(x, requires_grad=True)
    g_t = neighbour_graph(xt, box, 2.0)
    np.testing.assert_array_equal(g_t["edge_index"].numpy(), g_np["edge_index"])
    np.testing.assert_allclose(g_t["edge_vec"].detach().numpy(), g_np["edge_vec"], atol=1e-12)
    g_t["edge_len"].sum().backward()
    # every particle with neighbours feels the pull of the sum of its distances
    assert torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0
    gb = neighbour_graph_batch([xt, xt], [box, box], 2.0)
    assert gb["batch"].tolist() == [0] * 200 + [1] * 200


def test_cutoff_not_below_half_box_is_rejected(rng):
    box = np.full(3, 5.0)
    x = random_config(rng, 20, box)
    with pytest.raises(InputError, match="half the smallest box edge"):
        neighbour_graph(x, box, 2.5)
    with pytest.raises(InputError, match="cutoff must be positive"):
        neighbour_graph(x, box, 0.0)


def test_nan_positions_are_rejected():
    x = np.zeros((4, 3))
    x[2, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        neighbour_graph(x, np.full(3, 6.0), 1.0)


def test_fold_is_exact_and_idempotent(rng):
    box = np.array([15.05658, 7.3, 9.1])
    x = rng.normal(0, 40, size=(2000, 3))
    # values on and next to faces, including -tiny which rounds to L when folded
    x[:6] = [[0, 0, 0], [15.05658, 7.3, 9.1], [-1e-17, -1e-300, 0],
             [np.nextafter(15.05658, 0), 7.3 * 3, -9.1], [-15.05658, -7.3 * 2, 9.1 * 5], [30.11316, 14.6, 18.2]]
    w, k = fold(x, box)
    assert np.all((w >= 0) & (w < box))
    assert k.dtype == np.int64
    np.testing.assert_allclose(unfold(w, k, box), x, atol=1e-12 * np.abs(x).max())
    w2, k2 = fold(unfold(w, k, box), box)
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(k2, k)


def test_minimum_image_numpy_and_torch_agree(rng):
    box = np.array([5.0, 6.0, 7.0])
    dx = rng.uniform(-30, 30, size=(500, 3))
    m = minimum_image(dx, box)
    assert np.all(np.abs(m) <= box / 2 + 1e-12)
    np.testing.assert_allclose(np.round((dx - m) / box), (dx - m) / box, atol=1e-9)
    np.testing.assert_allclose(minimum_image(torch.tensor(dx), box).numpy(), m)


def test_cubic_symmetries_preserve_edge_lengths(rng):
    """The 48 symmetries of a cube map the graph onto itself (lengths as multisets)."""
    box = np.full(3, 7.0)
    x = random_config(rng, 150, box)
    ref = np.sort(neighbour_graph(x, box, 2.0)["edge_len"])
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            y = (x[:, perm] * np.array(signs)) % box
            np.testing.assert_allclose(np.sort(neighbour_graph(y, box, 2.0)["edge_len"]), ref, atol=1e-10)
