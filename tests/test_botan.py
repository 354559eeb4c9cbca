"""BOTAN model: parameter count, agreement with a plain (unfused) implementation, symmetries, batching."""
from pathlib import Path

import numpy as np
import pytest
import torch

from glassgen.encoder.botan import BOTAN, BOTANConfig, count_parameters, expected_parameters, make_graph, make_graph_batch
from glassgen.core.errors import InputError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"


def ka_like(n=300, seed=0, density=1.2):
    """Random 80:20 configuration at KA density (positions uniform: enough for invariance tests)."""
    rng = np.random.default_rng(seed)
    box = np.full(3, (n / density) ** (1 / 3))
    species = (rng.permutation(n) < n // 5).astype(np.int64)
    return rng.uniform(0, box, size=(n, 3)), species, box


def plain_forward(model, graph):
    """The architecture written the direct way (concatenate, full MLPs, sum over incoming edges)."""
    src, dst = graph["edge_index"]
    h0 = model.node_encoder(graph["species"].float()[:, None])
    e0 = model.edge_encoder(graph["edge_vec"])
    h, e = h0, e0
    for k in range(model.config.steps):
        i = 0 if model.config.shared_weights else k
        e = model.edge_updates[i].mlp(torch.cat([h[src], h[dst], e, e0], dim=1))
        agg = torch.zeros_like(h).index_add_(0, dst, e)
        h = model.node_updates[i].mlp(torch.cat([h, h0, agg], dim=1))
    return model.decoders[0](h).squeeze(-1), model.decoders[-1](e).squeeze(-1)


def test_default_parameter_count_is_the_published_one():
    model = BOTAN()
    assert count_parameters(model) == 54209 == expected_parameters(model.config)


@pytest.mark.parametrize("cfg", [BOTANConfig(width=16, steps=3, shared_weights=False), BOTANConfig(width=8, shared_decoder=False)])
def test_parameter_count_follows_config(cfg):
    assert count_parameters(BOTAN(cfg)) == expected_parameters(cfg)


def test_bad_config_is_input_error():
    with pytest.raises(InputError):
        BOTANConfig(width=0)


@pytest.mark.parametrize("cfg", [BOTANConfig(), BOTANConfig(width=16, steps=3, shared_weights=False, shared_decoder=False)])
def test_fused_forward_equals_plain_implementation(cfg):
    torch.manual_seed(1)
    model = BOTAN(cfg)
    graph = make_graph(*ka_like(400))
    with torch.no_grad():
        fused, plain = model(graph), plain_forward(model, graph)
    for a, b in zip(fused, plain):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # Gradients too: the fused layers must train like the plain ones.
    grads = []
    for f in (model, lambda g: plain_forward(model, g)):
        model.zero_grad()
        n, e = f(graph)
        (n.square().mean() + e.square().mean()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("cfg", [BOTANConfig(), BOTANConfig(width=16, steps=3, shared_weights=False, shared_decoder=False)])
def test_chunked_inference_equals_one_pass(cfg):
    """Large graphs are encoded a slice of edges at a time without autograd: the same outputs as one pass."""
    torch.manual_seed(2)
    model = BOTAN(cfg)
    graph = make_graph(*ka_like(400))
    n_edges = graph["edge_index"].shape[1]
    with torch.no_grad():
        one = model(graph, chunk=n_edges)
        sliced = model(graph, chunk=997)  # not a divisor of E: a short last slice
        plain = plain_forward(model, graph)
    for a, b, c in zip(one, sliced, plain):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(b, c, rtol=1e-5, atol=1e-6)
    n, e = model(graph, chunk=997)  # with autograd the one-pass path runs (it keeps what backward needs)
    assert n.requires_grad and e.shape == (n_edges,)


def test_encode_shapes_and_heads():
    x, s, box = ka_like(200)
    graph = make_graph(x, s, box)
    model = BOTAN()
    with torch.no_grad():
        h, e = model.encode(graph)
        node, edge = model(graph)
    assert h.shape == (200, 64) and e.shape == (graph["edge_index"].shape[1], 64)
    assert torch.equal(model.decode_nodes(h), node) and torch.equal(model.decode_edges(e), edge)


def _predict(model, x, s, box):
    g = make_graph(x, s, box)
    with torch.no_grad():
        n, e = model(g)
    return n, e, g["edge_index"]


def test_permutation_equivariance():
    torch.manual_seed(2)
    model = BOTAN()
    x, s, box = ka_like(300, seed=3)
    perm = np.random.default_rng(4).permutation(len(x))
    n1, e1, ei1 = _predict(model, x, s, box)
    n2, e2, ei2 = _predict(model, x[perm], s[perm], box)
    torch.testing.assert_close(n2, n1[perm], rtol=1e-5, atol=1e-6)
    # Edge (a, b) of the permuted system is edge (perm[a], perm[b]) of the original.
    key1 = {(int(i), int(j)): k for k, (i, j) in enumerate(ei1.T)}
    idx = torch.tensor([key1[(int(perm[a]), int(perm[b]))] for a, b in ei2.T])
    torch.testing.assert_close(e2, e1[idx], rtol=1e-5, atol=1e-6)


def test_translation_invariance():
    model = BOTAN()
    x, s, box = ka_like(300, seed=5)
    n1, e1, ei1 = _predict(model, x, s, box)
    n2, e2, ei2 = _predict(model, x + np.array([3.7, -1.2, 0.45]), s, box)
    assert torch.equal(ei1, ei2)
    torch.testing.assert_close(n2, n1, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(e2, e1, rtol=1e-5, atol=1e-6)


def test_wrapping_by_lattice_vectors_changes_nothing():
    model = BOTAN()
    x, s, box = ka_like(300, seed=6)
    images = np.random.default_rng(7).integers(-3, 4, size=x.shape)
    n1, e1, ei1 = _predict(model, x, s, box)
    n2, e2, ei2 = _predict(model, x + images * box, s, box)
    assert torch.equal(ei1, ei2)
    torch.testing.assert_close(n2, n1, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(e2, e1, rtol=1e-5, atol=1e-6)


def test_batched_equals_per_graph():
    torch.manual_seed(8)
    model = BOTAN()
    confs = [ka_like(250, seed=9), ka_like(320, seed=10, density=1.1)]
    batch = make_graph_batch([c[0] for c in confs], [c[1] for c in confs], [c[2] for c in confs])
    with torch.no_grad():
        nb, eb = model(batch)
        singles = [model(make_graph(*c)) for c in confs]
    torch.testing.assert_close(nb, torch.cat([n for n, _ in singles]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(eb, torch.cat([e for _, e in singles]), rtol=1e-5, atol=1e-6)
    assert torch.equal(batch["batch"], torch.repeat_interleave(torch.arange(2), torch.tensor([250, 320])))


@pytest.mark.shared_data
def test_shared_configuration_graph_size():
    f = SHARED / "isoconfig_N4096T0.44_1_tc07.npz"
    if not f.exists():
        pytest.skip("shared data absent")
    with np.load(f) as z:
        g = make_graph(z["initial_positions"], z["types"], np.full(3, (4096 / 1.2) ** (1 / 3)))
    # Same edge count as pyg_botan's dense construction on this configuration.
    assert g["edge_index"].shape[1] == 166484
