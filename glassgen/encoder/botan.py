"""BOTAN: the BOnd TArgeting Network (Shiba, Hanai, Suzumura, Shimokawabe, J. Chem. Phys. 158, 084503 (2023)).

A graph network on the periodic neighbour graph of one configuration. With the
defaults it is the published architecture (reference code h3-Open-BDEC/pyg_botan,
Apache-2.0), 54 209 parameters. Every MLP is Linear -> ReLU -> Linear -> ReLU:

    h⁰_i  = MLP_node(s_i)                      s_i = species id as a float (KA: 0 = A, 1 = B)
    e⁰_ij = MLP_edge(r_j - r_i)                minimum image, 0 < |r_ij| < cutoff, both directions
    for k = 1..steps (shared weights by default):
        e_ij = MLP_E([h_i, h_j, e_ij, e⁰_ij])  (i = src, j = dst)
        h_j  = MLP_N([h_j, h⁰_j, Σ_{i→j} e_ij])
    node output  y_i  = Lin(MLP_dec(h_i))      propensity |Δr_i|
    edge output  y_ij = Lin(MLP_dec(e_ij))     |r_ij(t)| - |r_ij(0)|

Speed (see docs/botan.md): the first Linear of MLP_E and MLP_N is applied block by
block. W·[h_i, h_j, e, e⁰] = (W_s h)_i + (W_d h)_j + W_e e + (W_0 e⁰ + b): the two
node blocks are N×64 products gathered onto edges (E ≫ N), and the e⁰ block is the
same at every step, so it is computed once. The weights keep the reference layout
(one Linear(256, 64)), so the parameter count and a reference state dict are unchanged.

Graph input is a dict (see :func:`make_graph`): ``species`` (N,) int64,
``edge_index`` (2,E) int64 [src, dst], ``edge_vec`` (E,D) float32, optional ``batch``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from glassgen.core.errors import InputError
from glassgen.system.pbc import neighbour_graph, neighbour_graph_batch


# Edges per slice of an inference pass over a large graph (BOTAN.encode): 2^18 edges × 64 floats is 64 MiB per
# temporary; graphs below it (N = 4096 has ~166 k edges) take the one-pass path. Measured at N = 32 768 (1.3 M
# edges, forward without autograd): peak 2296 MiB in one pass, 1159 MiB in 2^20-edge slices, 832 MiB in 2^18,
# the same outputs and time (docs/performance.md).
EDGE_CHUNK = 1 << 18


@dataclass
class BOTANConfig:
    """Architecture. The defaults reproduce the published BOTAN (54 209 parameters).

    Args:
        width: width of every hidden layer and embedding.
        steps: number of message-passing steps.
        shared_weights: one EdgeUpdate/NodeUpdate pair for all steps (reference) or one per step.
        shared_decoder: one decoder for node and edge outputs (reference) or two.
        dim: spatial dimension D (edge encoder input).
        cutoff: graph cutoff in LJ σ_AA; edges for 0 < |r_ij| < cutoff.
    """

    width: int = 64
    steps: int = 7
    shared_weights: bool = True
    shared_decoder: bool = True
    dim: int = 3
    cutoff: float = 2.0

    def __post_init__(self):
        if self.width < 1 or self.steps < 1 or self.dim not in (2, 3) or not self.cutoff > 0:
            raise InputError("model config", f"width, steps must be >= 1, dim 2 or 3, cutoff > 0; got {asdict(self)}")


def mlp(n_in: int, width: int) -> nn.Sequential:
    """Linear(n_in, width) -> ReLU -> Linear(width, width) -> ReLU (ReLU after the last layer, as published)."""
    return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())


def _second_layer(pre: Tensor, mlp_: nn.Sequential) -> Tensor:
    """Finish an MLP whose first Linear (pre-activation ``pre``) was computed block by block."""
    # In-place ReLUs: the pre-activations are not needed by autograd, and fresh E×64
    # buffers cost page faults on the CPU.
    lin2 = mlp_[2]
    return torch.addmm(lin2.bias, pre.relu_(), lin2.weight.t()).relu_()


class EdgeUpdate(MessagePassing):
    """e_ij ← MLP_E([h_i, h_j, e_ij, e⁰_ij]) with the first Linear split into blocks.

    W = [W_s | W_d | W_e | W_0] (each width×width):
    pre_ij = (h W_sᵀ)_i + (h W_dᵀ)_j + e_ij W_eᵀ + c_ij,   c = e⁰ W_0ᵀ + b (from :meth:`constant`).

    Shapes:
        h: (N, W); e, c: (E, W); edge_index: (2, E) [src i, dst j]; returns (E, W).
    """

    def __init__(self, width: int):
        super().__init__()
        self.width = width
        self.mlp = mlp(4 * width, width)

    def constant(self, e0: Tensor) -> Tensor:
        """c = e⁰ W_0ᵀ + b, the step-independent part. Shapes: e0 (E, W) -> (E, W)."""
        w = self.width
        lin = self.mlp[0]
        return torch.addmm(lin.bias, e0, lin.weight[:, 3 * w :].t())

    def forward(self, h: Tensor, e: Tensor, c: Tensor, edge_index: Tensor) -> Tensor:
        w = self.width
        weight = self.mlp[0].weight
        hs = h @ weight[:, :w].t()
        hd = h @ weight[:, w : 2 * w].t()
        return self.edge_updater(edge_index, hs=hs, hd=hd, e=e, c=c)

    def edge_update(self, hs_j: Tensor, hd_i: Tensor, e: Tensor, c: Tensor) -> Tensor:
        # PyG flow source_to_target: _j gathers from edge_index[0] (src), _i from edge_index[1] (dst).
        w = self.width
        pre = torch.addmm(c, e, self.mlp[0].weight[:, 2 * w : 3 * w].t())
        pre = pre.add_(hs_j).add_(hd_i)
        return _second_layer(pre, self.mlp)


class NodeUpdate(MessagePassing):
    """h_j ← MLP_N([h_j, h⁰_j, Σ_{i→j} e_ij]) with the first Linear split into blocks.

    W = [W_h | W_0 | W_a]: pre_j = h_j W_hᵀ + c_j + a_j W_aᵀ, c = h⁰ W_0ᵀ + b, a_j = Σ_{i: (i,j) ∈ E} e_ij.

    Shapes:
        h, c: (N, W); e: (E, W); edge_index: (2, E); returns (N, W).
    """

    def __init__(self, width: int):
        super().__init__(aggr="sum")
        self.width = width
        self.mlp = mlp(3 * width, width)

    def constant(self, h0: Tensor) -> Tensor:
        """c = h⁰ W_0ᵀ + b. Shapes: h0 (N, W) -> (N, W)."""
        w = self.width
        lin = self.mlp[0]
        return torch.addmm(lin.bias, h0, lin.weight[:, w : 2 * w].t())

    def forward(self, h: Tensor, e: Tensor, c: Tensor, edge_index: Tensor) -> Tensor:
        w = self.width
        weight = self.mlp[0].weight
        agg = self.propagate(edge_index, e=e, size=(h.shape[0], h.shape[0]))
        pre = torch.addmm(c, h, weight[:, :w].t())
        pre = pre.addmm_(agg, weight[:, 2 * w :].t())
        return _second_layer(pre, self.mlp)

    def message(self, e: Tensor) -> Tensor:
        return e

    def aggregate(self, inputs: Tensor, index: Tensor, dim_size: int | None = None) -> Tensor:
        # index_add_ is the plain sum over incoming edges (the generic scatter path broadcasts the index).
        return inputs.new_zeros(dim_size, inputs.shape[1]).index_add_(0, index, inputs)


class BOTAN(nn.Module):
    """The BOTAN network. ``forward(graph) -> (node (N,), edge (E,))``; :meth:`encode` gives the embeddings."""

    def __init__(self, config: BOTANConfig | None = None):
        super().__init__()
        self.config = cfg = config or BOTANConfig()
        w = cfg.width
        self.node_encoder = mlp(1, w)
        self.edge_encoder = mlp(cfg.dim, w)
        n_layers = 1 if cfg.shared_weights else cfg.steps
        self.edge_updates = nn.ModuleList(EdgeUpdate(w) for _ in range(n_layers))
        self.node_updates = nn.ModuleList(NodeUpdate(w) for _ in range(n_layers))
        n_dec = 1 if cfg.shared_decoder else 2
        self.decoders = nn.ModuleList(nn.Sequential(*mlp(w, w), nn.Linear(w, 1)) for _ in range(n_dec))

    def encode(self, graph: dict, chunk: int | None = None) -> tuple[Tensor, Tensor]:
        """Node and edge embeddings after the last message-passing step.

        Without autograd, a graph of more than ``chunk`` edges (default :data:`EDGE_CHUNK`) is encoded
        ``chunk`` edges at a time (:meth:`_encode_chunked`): the same numbers, in two E×width buffers
        instead of about seven.

        Shapes:
            graph["species"]: (N,); graph["edge_index"]: (2, E); graph["edge_vec"]: (E, D).
            Returns h (N, width), e (E, width).
        """
        edge_index = graph["edge_index"]
        chunk = EDGE_CHUNK if chunk is None else int(chunk)
        if not torch.is_grad_enabled() and edge_index.shape[1] > chunk:
            return self._encode_chunked(graph, chunk)
        h0 = self.node_encoder(graph["species"].to(self.edge_encoder[0].weight.dtype)[:, None])
        e0 = self.edge_encoder(graph["edge_vec"])
        h, e = h0, e0
        shared = self.config.shared_weights
        if shared:  # the step-independent terms, once for all steps
            ce, cn = self.edge_updates[0].constant(e0), self.node_updates[0].constant(h0)
        for k in range(self.config.steps):
            eu, nu = self.edge_updates[0 if shared else k], self.node_updates[0 if shared else k]
            if not shared:
                ce, cn = eu.constant(e0), nu.constant(h0)
            e = eu(h, e, ce, edge_index)
            h = nu(h, e, cn, edge_index)
        return h, e

    @torch.no_grad()
    def _encode_chunked(self, graph: dict, chunk: int) -> tuple[Tensor, Tensor]:
        """:meth:`encode` without autograd, edges in slices of ``chunk``: memory 2 E×W + O(chunk×W).

        Kept whole: e (the edge state, updated in place slice by slice) and either c = e⁰ W_0ᵀ + b
        (shared weights) or e⁰ (one c per step, made slice by slice). A slice's update reads only its
        own e, c and the node state of the step before, so the slices are independent within a step.
        """
        src, dst = graph["edge_index"]
        w, shared = self.config.width, self.config.shared_weights
        h0 = self.node_encoder(graph["species"].to(self.edge_encoder[0].weight.dtype)[:, None])
        n_edges = src.shape[0]
        e = h0.new_empty(n_edges, w)
        keep = h0.new_empty(n_edges, w)  # c (shared weights) or e⁰
        parts = [slice(a, min(a + chunk, n_edges)) for a in range(0, n_edges, chunk)]
        for s in parts:
            e[s] = self.edge_encoder(graph["edge_vec"][s])
            keep[s] = self.edge_updates[0].constant(e[s]) if shared else e[s]
        h = h0
        for k in range(self.config.steps):
            eu, nu = self.edge_updates[0 if shared else k], self.node_updates[0 if shared else k]
            we = eu.mlp[0].weight
            hs, hd = h @ we[:, :w].t(), h @ we[:, w:2 * w].t()
            agg = h.new_zeros(h.shape[0], w)
            for s in parts:
                c = keep[s] if shared else eu.constant(keep[s])
                pre = torch.addmm(c, e[s], we[:, 2 * w:3 * w].t())
                pre.add_(hs.index_select(0, src[s])).add_(hd.index_select(0, dst[s]))
                e[s] = _second_layer(pre, eu.mlp)
                agg.index_add_(0, dst[s], e[s])
            wn = nu.mlp[0].weight
            pre = torch.addmm(nu.constant(h0), h, wn[:, :w].t()).addmm_(agg, wn[:, 2 * w:].t())
            h = _second_layer(pre, nu.mlp)
        return h, e

    def decode_nodes(self, h: Tensor) -> Tensor:
        """Node head: predicted propensity. Shapes: (N, W) -> (N,)."""
        return self.decoders[0](h).squeeze(-1)

    def decode_edges(self, e: Tensor, chunk: int | None = None) -> Tensor:
        """Edge head: predicted change of pair distance. Shapes: (E, W) -> (E,); in slices without autograd."""
        chunk = EDGE_CHUNK if chunk is None else int(chunk)
        if torch.is_grad_enabled() or e.shape[0] <= chunk:
            return self.decoders[-1](e).squeeze(-1)
        return torch.cat([self.decoders[-1](e[a:a + chunk]).squeeze(-1) for a in range(0, e.shape[0], chunk)])

    def forward(self, graph: dict, chunk: int | None = None) -> tuple[Tensor, Tensor]:
        h, e = self.encode(graph, chunk)
        return self.decode_nodes(h), self.decode_edges(e, chunk)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def expected_parameters(cfg: BOTANConfig) -> int:
    """Parameter count from the configuration alone (what :class:`BOTAN` must have)."""
    w = cfg.width

    def m(n_in):
        return n_in * w + w + w * w + w

    layers = 1 if cfg.shared_weights else cfg.steps
    decoders = 1 if cfg.shared_decoder else 2
    return m(1) + m(cfg.dim) + layers * (m(4 * w) + m(3 * w)) + decoders * (m(w) + w + 1)


def make_graph(positions, species, box, cutoff: float = 2.0, device=None, source: str | None = None) -> dict:
    """Model input for one configuration (cell lists, O(N)).

    Args:
        positions: (N, D) wrapped or unwrapped coordinates.
        species: (N,) integer species ids.
        box: (D,) box edges.

    Returns:
        dict with ``species`` (N,) int64, ``edge_index`` (2, E) int64, ``edge_vec`` (E, D) float32
        (minimum image r_dst - r_src), ``edge_len`` (E,) float32.
    """
    g = neighbour_graph(np.asarray(positions, dtype=np.float64), box, cutoff, source=source)
    out = {
        "species": torch.as_tensor(np.asarray(species), dtype=torch.long),
        "edge_index": torch.from_numpy(g["edge_index"]),
        "edge_vec": torch.from_numpy(g["edge_vec"]).float(),
        "edge_len": torch.from_numpy(g["edge_len"]).float(),
    }
    return {k: v.to(device) for k, v in out.items()} if device is not None else out


def make_graph_batch(positions, species, boxes, cutoff: float = 2.0, device=None) -> dict:
    """Several configurations as one disjoint graph (adds ``batch`` (N_total,)); see :func:`make_graph`."""
    g = neighbour_graph_batch([np.asarray(x, dtype=np.float64) for x in positions], boxes, cutoff)
    out = {
        "species": torch.as_tensor(np.concatenate([np.asarray(s) for s in species]), dtype=torch.long),
        "edge_index": torch.from_numpy(g["edge_index"]),
        "edge_vec": torch.from_numpy(g["edge_vec"]).float(),
        "edge_len": torch.from_numpy(g["edge_len"]).float(),
        "batch": torch.from_numpy(g["batch"]),
    }
    return {k: v.to(device) for k, v in out.items()} if device is not None else out
