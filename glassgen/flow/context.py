"""The snapshot side of the flow: encoder embeddings, the velocity graph, box symmetries.

Any encoder works if it has a ``cutoff`` (float) and ``encode(graph) -> (h (N,F), e (E,F))``
on the graph dict of :func:`glassgen.system.pbc.neighbour_graph` plus ``species`` (N,),
``positions`` (N,D) and ``box`` (D,) tensors — the BOTAN encoder's interface.
:class:`LocalEncoder` is the tiny built-in one (species + edge vector), used by the
tests and by recipes that do not name a BOTAN checkpoint.

The velocity graph (cutoff ≤ the encoder's) is the subset of the encoder's edges
with ``edge_len < cutoff``; both graphs are sorted by (src, dst), so the encoder's
edge embeddings are selected with that mask.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from glassgen.core.errors import InputError
from glassgen.system.pbc import fold, neighbour_graph, neighbour_graph_batch


class LocalEncoder(nn.Module):
    """Encoder-free embeddings: h_i = MLP(onehot(a_i)), e_ij = MLP([r_ij, |r_ij|, onehot(a_i), onehot(a_j)]).

    Not rotation invariant (it reads r_ij = r_j − r_i), like BOTAN.

    Args:
        n_species: S; width: F; cutoff: graph cutoff.

    Shapes: encode(graph) -> (h (N,F), e (E,F)).
    """

    def __init__(self, n_species: int = 2, width: int = 64, cutoff: float = 1.5, dim: int = 3):
        super().__init__()
        self.n_species, self.cutoff = n_species, float(cutoff)
        self.node = nn.Sequential(nn.Linear(n_species, width), nn.ReLU(), nn.Linear(width, width))
        self.edge = nn.Sequential(nn.Linear(dim + 1 + 2 * n_species, width), nn.ReLU(), nn.Linear(width, width))

    def config(self) -> dict:
        return {"kind": "local", "n_species": self.n_species, "width": self.node[0].out_features,
                "cutoff": self.cutoff, "dim": self.edge[0].in_features - 1 - 2 * self.n_species}

    def encode(self, graph: dict):
        oh = nn.functional.one_hot(graph["species"].long(), self.n_species).float()
        src, dst = graph["edge_index"]
        vec = graph["edge_vec"].float()
        e = self.edge(torch.cat([vec, vec.norm(dim=-1, keepdim=True), oh[src], oh[dst]], dim=-1))
        return self.node(oh), e


def encoder_cutoff(encoder) -> float:
    c = getattr(encoder, "cutoff", None)
    if c is None:
        c = getattr(getattr(encoder, "config", None), "cutoff", None)
    if c is None:
        raise InputError("encoder", "the encoder has no cutoff (needed to build its graph)")
    return float(c)


def box_symmetries(box) -> torch.Tensor:
    """Signed permutation matrices that map the periodic box onto itself.

    48 for a cubic box (all axis permutations × all sign flips); an orthorhombic box
    keeps only permutations among equal edges (8 for three different edges).

    Shapes: returns (G,D,D) float64, identity first.
    """
    box = np.asarray(box, dtype=np.float64)
    d = len(box)
    mats = []
    for perm in itertools.permutations(range(d)):
        if not np.allclose(box[list(perm)], box, rtol=1e-9):
            continue
        for signs in itertools.product((1.0, -1.0), repeat=d):
            m = np.zeros((d, d))
            m[np.arange(d), perm] = signs
            mats.append(m)
    return torch.tensor(np.stack(mats))


def build_graph(species, positions, box, cutoff: float, source: str | None = None) -> dict:
    """Neighbour graph of a snapshot as torch tensors, plus species, positions and box.

    Shapes: species (N,), positions (N,D), box (D,) -> the dict of glassgen.system.pbc with those keys added.
    """
    g = neighbour_graph(np.asarray(positions, dtype=np.float64), box, cutoff, source=source)
    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in g.items()}
    out["species"] = torch.as_tensor(np.asarray(species), dtype=torch.long)
    out["positions"] = torch.as_tensor(np.asarray(positions), dtype=torch.float64)
    out["box"] = torch.as_tensor(np.asarray(box), dtype=torch.float64)
    return out


def build_graph_batch(species, positions, box, cutoff: float) -> dict:
    """M configurations of one system (same box) as one disjoint graph: node indices of configuration m
    offset by m N, edges still sorted by (src, dst), and ``batch`` (M N,) its index.

    Shapes: species (N,) shared, or (M,N) one row per configuration (e.g. each in its own particle order),
    positions (M,N,D), box (D,) -> the dict of :func:`build_graph` over M N nodes.
    """
    x = np.asarray(positions, dtype=np.float64)
    g = neighbour_graph_batch(list(x), [np.asarray(box, dtype=np.float64)] * len(x), cutoff)
    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in g.items()}
    sp = np.array(np.broadcast_to(np.asarray(species), x.shape[:2]).reshape(-1))
    out["species"] = torch.as_tensor(sp, dtype=torch.long)
    out["positions"] = torch.from_numpy(x.reshape(-1, x.shape[-1]).copy())
    out["box"] = torch.as_tensor(np.asarray(box), dtype=torch.float64)
    return out


def rotate_graph(graph: dict, rot: torch.Tensor) -> dict:
    """The same graph after applying a box symmetry ``rot`` (D,D) to the configuration.

    Edges keep their order (the symmetry preserves every pair distance); edge vectors
    and positions are rotated, positions folded back into [0, L).
    """
    rot = rot.to(torch.float64)
    out = dict(graph)
    out["edge_vec"] = graph["edge_vec"] @ rot.T
    x = torch.from_numpy(fold((graph["positions"] @ rot.T).numpy(), graph["box"].numpy())[0])
    src, dst = graph["edge_index"]
    out["positions"] = x
    out["shifts"] = ((out["edge_vec"] - (x[dst] - x[src])) / graph["box"]).round().long()
    return out


def velocity_subgraph(graph: dict, cutoff: float) -> torch.Tensor:
    """Mask over the encoder's edges that form the velocity graph (edge_len < cutoff)."""
    return graph["edge_len"] < cutoff
