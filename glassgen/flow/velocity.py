"""Conditional velocity network: message passing on the snapshot's neighbour graph.

Inputs per evaluation: the encoder's node/edge embeddings h (N,F), e (E,F) of the
snapshot (BOTAN or any other encoder; they are plain tensors here), the noisy
displacements x_s of B samples in prior units z = x_s / s_i, the flow time s and
log τ per sample. Output: one 3-vector per particle (velocity in prior units).

Everything that depends only on the snapshot (the embedding part of the node input,
the snapshot edge features and their projection in every layer) is computed once by
:meth:`VelocityNet.prepare` and shared by all samples and flow times. Edge layers are
factored into per-node products, ``W [h_i, h_j, e_ij] = (W1 h)_i + (W2 h)_j + W3 e_ij``
(gathers instead of per-edge matmuls on the concatenation), so per sample and
evaluation the edges cost only gathers, adds, a ReLU and the mean.

With ``geometry = K > 0`` every message also reads the pair distance of the
*displaced* configuration, r'_ij = |r_ij + x_j − x_i| (physical units, x the noisy
displacement at flow time s), expanded in K Gaussians on [0.5, cutoff]; with ``pair_sigma`` the distance is first divided by the
contact distance σ_ab of the pair's species (the Kob–Andersen potential is a function of r/σ_ab, so
one set of Gaussians then reads the same contact for AA, AB and BB pairs). Without geometry the
network sees r_ij only through the snapshot embeddings and x_j − x_i only in prior
units, and has to learn the non-linear map to r'_ij before it can keep neighbours
apart; generated fields then overlap (measured: experiments/displaced-geometry-T0.6/README.md).

Translation invariant (only embeddings and displacement differences of the
snapshot enter), permutation equivariant (sum/mean aggregation). Not rotation
equivariant: trained with the box's symmetries as augmentation.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch_geometric.nn import MessagePassing

# Without autograd, factored layers of graphs above this many edges run a slice of edges at a time: every
# per-edge temporary then stays at 16 MiB (hidden 64, float32), under glibc's 32 MiB mmap limit, so it is
# reused from the heap instead of page-faulted fresh at every evaluation (docs/performance.md, "Scaling in N").
EDGE_CHUNK = 1 << 16


@dataclass
class VelocityConfig:
    """Shape of the velocity network (stored in checkpoints)."""

    embed_dim: int = 64  # width F of the encoder embeddings it reads
    hidden: int = 64
    n_layers: int = 3  # message-passing steps (shallow: 2-4)
    cutoff: float = 1.5  # velocity graph: pairs closer than this (a subset of the encoder's graph)
    n_fourier: int = 8  # sinusoidal features of flow time s and of log τ
    dim: int = 3
    factored: bool = True  # first edge layer as per-node products (same function, fewer flops)
    geometry: int = 0  # K Gaussians of the displaced pair distance r'_ij per message; 0 = off (pre-0.6 checkpoints)
    history: bool = False  # node input also reads the previous step's displacement (second-order chain)
    memory: int = 0  # W > 1: node input also reads the displacement over the last W lags (needs history); 0 = off
    pair_sigma: list | None = None  # (S,S) contact distances: geometry reads r'_ij / σ_ab; None = physical r'_ij

    def __post_init__(self):
        if self.pair_sigma is not None:
            sig = torch.as_tensor(self.pair_sigma, dtype=torch.float64)
            if sig.ndim != 2 or sig.shape[0] != sig.shape[1] or not bool((sig > 0).all()) \
                    or not torch.equal(sig, sig.T):
                raise ValueError(f"pair_sigma must be a symmetric (S,S) table of positive lengths; got {self.pair_sigma}")
            if not self.geometry:
                raise ValueError("pair_sigma scales the displaced geometry: it needs geometry > 0")
            self.pair_sigma = sig.tolist()
        if self.memory and (int(self.memory) != self.memory or self.memory < 2 or not self.history):
            raise ValueError(f"memory is a window of W >= 2 lags read with the history (needs history); got {self.memory}")

    def to_dict(self) -> dict:
        return asdict(self)


def displaced_rbf(vec, x, edge_index, k: int, r_max: float, sigma=None) -> torch.Tensor:
    """Gaussian expansion of r'_ij = |r_ij + x_j − x_i| (or r'_ij / σ_ij), centres evenly on [0.5, r_max].

    ``vec`` is r_j − r_i of the snapshot (edge i → j as src → dst), ``x`` the physical
    displacements of B samples, ``sigma`` an optional length per edge that r' is divided by.

    Shapes: vec (E,D), x (B,N,D), edge_index (2,E), sigma (E,1) | None -> (B,E,k).
    """
    src, dst = edge_index
    if not torch.is_grad_enabled() and src.shape[0] > EDGE_CHUNK:  # elementwise: slices give the same values
        out = x.new_empty(x.shape[:-2] + (src.shape[0], k))
        for a in range(0, src.shape[0], EDGE_CHUNK):
            cut = slice(a, a + EDGE_CHUNK)
            out[..., cut, :] = displaced_rbf(vec[cut], x, edge_index[:, cut], k, r_max, None if sigma is None else sigma[cut])
        return out
    r = (vec.to(x.dtype) + x.index_select(-2, dst) - x.index_select(-2, src)).norm(dim=-1, keepdim=True)
    if sigma is not None:
        r = r / sigma.to(x.dtype)
    mu = torch.linspace(0.5, r_max, k, device=x.device, dtype=x.dtype)
    width = (r_max - 0.5) / max(k - 1, 1)
    return torch.exp(-(((r - mu) / width) ** 2))


def fourier(v: torch.Tensor, n: int, max_period: float) -> torch.Tensor:
    """Sinusoidal features of a scalar per sample, periods from ``max_period`` down by factors of 2.

    Shapes: ``v`` (B,) -> (B, 2n+1) (the scalar itself is kept as the last feature).
    """
    k = torch.arange(n, device=v.device, dtype=v.dtype)
    w = (2 * math.pi / max_period) * 2.0 ** k
    a = v[:, None] * w
    return torch.cat([a.sin(), a.cos(), v[:, None]], dim=-1)


class NodeInput(nn.Module):
    """u_i = W_o relu(W_h h_i + W_z z_i + W_c c + W_p p_i + b): embedding, noisy displacement, condition, history.

    ``W_h h + b`` depends only on the snapshot and is precomputed (:meth:`static`).
    p_i = [Δ_prev,i / s_i, f] is the displacement of the previous step in prior units and a
    flag f (1 = known, 0 = no history: the first step of a chain); only with ``history``. With a
    memory window W (``terms`` = 2) p_i also holds [Δ_W,i / (s_i √W), f_W], the displacement over the
    last W lags and its flag (FlowModel.history_input).

    Args:
        embed_dim: F; dim: D; cond_dim: C (flow-time and lag features); hidden: H; history: read p;
        terms: how many (displacement, flag) blocks p holds (1, or 2 with memory).

    Shapes: static (N,F) -> (N,H); forward(static (N,H), z (B,N,D), c (B,C), p (B,N,T(D+1)) | None) -> (B,N,H).
    """

    def __init__(self, embed_dim: int, dim: int, cond_dim: int, hidden: int, history: bool = False, terms: int = 1):
        super().__init__()
        self.lin_h = nn.Linear(embed_dim, hidden)
        self.lin_z = nn.Linear(dim, hidden, bias=False)
        self.lin_c = nn.Linear(cond_dim, hidden, bias=False)
        self.lin_p = nn.Linear(terms * (dim + 1), hidden, bias=False) if history else None
        self.out = nn.Linear(hidden, hidden)

    def static(self, h):
        return self.lin_h(h)

    def forward(self, static, z, c, p=None):
        pre = static + self.lin_z(z) + self.lin_c(c)[:, None, :]
        if self.lin_p is not None:
            pre = pre + self.lin_p(p.to(z.dtype))
        return self.out(torch.relu(pre))


class EdgeInput(nn.Module):
    """Snapshot edge features e⁰_ij = W_o relu(W1 h_i + W2 h_j + W3 e_ij + b), once per snapshot.

    With ``factored`` the first layer is computed as per-node products W1 h, W2 h
    gathered onto edges; otherwise as one Linear on the concatenation [h_i, h_j, e_ij]
    (the same function; kept to measure the speed-up).

    Args:
        embed_dim: F; hidden: H; factored: see above.

    Shapes: forward(h (N,F), e (E,F), edge_index (2,E)) -> (E,H).
    """

    def __init__(self, embed_dim: int, hidden: int, factored: bool = True):
        super().__init__()
        self.factored = factored
        self.lin_cat = nn.Linear(3 * embed_dim, hidden)  # columns: [W1 | W2 | W3]
        self.out = nn.Linear(hidden, hidden)

    def forward(self, h, e, edge_index):
        src, dst = edge_index
        if self.factored:
            w1, w2, w3 = self.lin_cat.weight.chunk(3, dim=1)
            pre = (h @ w1.T)[src] + (h @ w2.T)[dst] + e @ w3.T + self.lin_cat.bias
        else:
            pre = self.lin_cat(torch.cat([h[src], h[dst], e], dim=-1))
        return self.out(torch.relu(pre))


class VelocityLayer(MessagePassing):
    """One residual message-passing step with messages from node state, snapshot edges and relative motion.

    For the edge i → j (i = src sends, j = dst receives):
    m_ij = relu(A u_j + B u_i + C e⁰_ij + D d_ij + G g_ij + b),  d_ij = [z_j − z_i, |z_j − z_i|],
    u_j ← u_j + MLP([u_j, W_m mean_{i→j} m_ij]).

    ``C e⁰ + b`` depends only on the snapshot (:meth:`static`, once per snapshot);
    ``A u``, ``B u`` and the linear part of ``D d`` are per-node products gathered onto
    edges (only |z_j − z_i| is per edge), and W_m is applied
    after the mean (it commutes with it), so the per-sample work on edges is gathers,
    adds and one ReLU — no per-edge matmul. With ``factored=False`` the message is
    one Linear on the per-edge concatenation [u_i, u_j, e⁰_ij, d_ij] followed by W_m
    (the same function, for the speed comparison). g_ij (K displaced-distance Gaussians,
    :func:`displaced_rbf`) enters only when ``geometry`` = K > 0; G g is one small
    (K×H) matmul per edge. Without autograd, a graph of more than :data:`EDGE_CHUNK` edges sums the
    factored messages a slice of edges at a time (same mean, summed in another order).

    Args:
        hidden: H; dim: D; factored: see above; geometry: K.

    Shapes: static(e0 (E,H)) -> (E,H);
        forward(u (B,N,H), s (E,H), z (B,N,D), dlen (B,E,1), edge_index (2,E), e0 (E,H), g (B,E,K) | None)
        -> (B,N,H).
    """

    def __init__(self, hidden: int, dim: int = 3, factored: bool = True, geometry: int = 0):
        super().__init__(aggr="mean", node_dim=-2)
        self.factored = factored
        self.lin = nn.Linear(3 * hidden + dim + 1, hidden)  # columns: [A | B | C | D]
        self.lin_g = nn.Linear(geometry, hidden, bias=False) if geometry else None
        self.lin_m = nn.Linear(hidden, hidden, bias=False)
        self.node = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.hidden = hidden

    def _w(self):
        h = self.hidden
        w = self.lin.weight
        return w[:, :h], w[:, h:2 * h], w[:, 2 * h:3 * h], w[:, 3 * h:]

    def static(self, e0):
        return e0 @ self._w()[2].T + self.lin.bias

    def forward(self, u, s, z, dlen, edge_index, e0, g=None):
        src, dst = edge_index
        sliced = self.factored and not torch.is_grad_enabled() and src.shape[0] > EDGE_CHUNK
        gterm = self.lin_g(g) if self.lin_g is not None and not sliced else 0.0
        if self.factored:
            wa, wb, _, wd = self._w()
            # D [z_j - z_i, |.|]: the linear part is a difference of per-node products too
            wz = z @ wd[:, :-1].T
            ua, ub = u @ wa.T + wz, u @ wb.T - wz
            if sliced:
                return u + self.node(torch.cat([u, self.lin_m(self._sliced_mean(ua, ub, s, dlen, edge_index, g))], -1))
            pre = ua.index_select(-2, dst) + ub.index_select(-2, src)
            m = torch.relu(torch.addcmul(pre + s + gterm, dlen, wd[:, -1]))
            agg = self.lin_m(self.propagate(edge_index, m=m, size=(u.shape[-2], u.shape[-2])))
        else:
            b = u.shape[0]
            d = torch.cat([z.index_select(-2, dst) - z.index_select(-2, src), dlen], dim=-1)
            cat = torch.cat([u.index_select(-2, dst), u.index_select(-2, src), e0.expand(b, -1, -1), d], dim=-1)
            m = self.lin_m(torch.relu(self.lin(cat) + gterm))
            agg = self.propagate(edge_index, m=m, size=(u.shape[-2], u.shape[-2]))
        return u + self.node(torch.cat([u, agg], dim=-1))

    def message(self, m):
        return m

    def _sliced_mean(self, ua, ub, s, dlen, edge_index, g):
        """mean_{i→j} m_ij of the factored message, summed :data:`EDGE_CHUNK` edges at a time (inference only;
        the geometry term G g too: whole, it would be a B × E × H tensor per layer and evaluation)."""
        src, dst = edge_index
        wlen = self._w()[3][:, -1]
        total = ua.new_zeros(ua.shape)
        for a in range(0, src.shape[0], EDGE_CHUNK):
            cut = slice(a, a + EDGE_CHUNK)
            pre = ua.index_select(-2, dst[cut]) + ub.index_select(-2, src[cut]) + s[cut]
            if self.lin_g is not None:
                pre = pre + self.lin_g(g[..., cut, :])
            total.index_add_(-2, dst[cut], torch.relu(torch.addcmul(pre, dlen[..., cut, :], wlen)))
        count = torch.bincount(dst, minlength=ua.shape[-2]).clamp_(min=1).to(ua.dtype)
        return total / count[:, None]


class VelocityNet(nn.Module):
    """Velocity field v(s, x_s | snapshot, τ) in prior units (see module docstring).

    Shapes: prepare(h (N,F), e (E,F), edge_index (2,E), vec (E,D) | None, species (N,) | None) -> dict;
        forward(prep, z (B,N,D), s (B,), log_lag (B,), x (B,N,D) | None, p (B,N,T(D+1)) | None) -> (B,N,D);
        ``vec`` (snapshot edge vectors) and ``x`` (physical displacements) are needed iff geometry > 0,
        ``p`` (history, :class:`NodeInput`) iff history, ``species`` iff pair_sigma.
    """

    def __init__(self, cfg: VelocityConfig):
        super().__init__()
        self.cfg = cfg
        cond = 2 * (2 * cfg.n_fourier + 1)
        self.node_in = NodeInput(cfg.embed_dim, cfg.dim, cond, cfg.hidden, cfg.history, 2 if cfg.memory else 1)
        self.edge_in = EdgeInput(cfg.embed_dim, cfg.hidden, cfg.factored)
        self.layers = nn.ModuleList(VelocityLayer(cfg.hidden, cfg.dim, cfg.factored, cfg.geometry)
                                    for _ in range(cfg.n_layers))
        self.head = nn.Sequential(nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, cfg.dim))

    def prepare(self, h, e, edge_index, vec=None, species=None) -> dict:
        """Everything that depends on the snapshot only: computed once, shared by samples and flow times."""
        if self.cfg.geometry and vec is None:
            raise ValueError("a velocity network with geometry > 0 needs the snapshot's edge vectors")
        sigma = None
        if self.cfg.pair_sigma is not None:
            if species is None:
                raise ValueError("a velocity network with pair_sigma needs the snapshot's species")
            table = torch.as_tensor(self.cfg.pair_sigma, dtype=h.dtype, device=h.device)
            species = species.long()
            if int(species.max()) >= table.shape[0]:
                raise ValueError(f"species {int(species.max())} has no row in pair_sigma ({table.shape[0]} species)")
            sigma = table[species[edge_index[0]], species[edge_index[1]]][:, None]
        e0 = self.edge_in(h, e, edge_index)
        return {"node": self.node_in.static(h), "e0": e0, "edge": [layer.static(e0) for layer in self.layers],
                "edge_index": edge_index, "vec": vec, "sigma": sigma}

    def forward(self, prep: dict, z, s, log_lag, x=None, p=None):
        ei = prep["edge_index"]
        # s in [0,1]: periods 2 .. 2/2^(n-1); log τ / 10 spans ~2 for lags 1e-3 .. 1e5.
        c = torch.cat([fourier(s.to(z.dtype), self.cfg.n_fourier, 2.0),
                       fourier(log_lag.to(z.dtype) / 10.0, self.cfg.n_fourier, 4.0)], dim=-1)
        if self.cfg.history and p is None:
            raise ValueError("a velocity network with history needs p (previous displacement and flag)")
        u = self.node_in(prep["node"], z, c, p)
        # edge i -> j runs src -> dst; z_j - z_i with j the receiving particle
        dlen = (z.index_select(-2, ei[1]) - z.index_select(-2, ei[0])).norm(dim=-1, keepdim=True)
        g = None
        if self.cfg.geometry:
            g = displaced_rbf(prep["vec"], x, ei, self.cfg.geometry, self.cfg.cutoff, prep.get("sigma"))
        for layer, st in zip(self.layers, prep["edge"]):
            u = layer(u, st, z, dlen, ei, prep["e0"], g)
        return self.head(u)
