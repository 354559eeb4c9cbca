"""Neighbour-graph timing: glassgen.pbc.neighbour_graph against a dense O(N^2) reference.

Prints one table: for N = 4096 and N = 65 536 particles (uniform random, density 1.2,
cutoff 2.0) the median wall time of several warm calls of

- ``glassgen numpy``: :func:`glassgen.pbc.neighbour_graph` with numpy positions,
- ``glassgen torch``: the same with a float64 torch tensor (vectors built in torch),
- ``raw vesin``: the bare vesin cell-list call that glassgen wraps (i, j, S, D),
- ``dense torch``: every pair's minimum-image vector in torch, O(N^2), row-chunked
  so that no temporary exceeds 256 MB (peak well under 4 GB at N = 65 536),

and each time divided by the ``glassgen numpy`` time of the same N. Before timing,
the dense reference's edge list is checked equal to glassgen's.

    python benchmarks/neighbour_graph.py              # defaults: 7 repeats, 2 for dense at large N
    python benchmarks/neighbour_graph.py --sizes 4096 --repeats 11
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from glassgen.ka import box_edge
from glassgen.pbc import minimum_image, neighbour_graph

CHUNK_BYTES = 1 << 28


def dense_reference(x: torch.Tensor, box: torch.Tensor, cutoff: float):
    """All pairs with 0 < |r_ij| < cutoff by brute force; returns (edge_index (2,E), edge_len (E,))."""
    n = x.shape[0]
    rows = max(1, CHUNK_BYTES // (n * x.shape[1] * x.element_size()))
    src, dst, lens = [], [], []
    for a in range(0, n, rows):
        dx = minimum_image(x[None, :, :] - x[a : a + rows, None, :], box)  # (rows, N, D)
        r = dx.norm(dim=-1)
        del dx
        i, j = torch.nonzero((r < cutoff) & (r > 0), as_tuple=True)
        src.append(i + a)
        dst.append(j)
        lens.append(r[i, j])
    return torch.stack([torch.cat(src), torch.cat(dst)]), torch.cat(lens)


def raw_vesin(x: np.ndarray, box: np.ndarray, cutoff: float):
    from vesin import NeighborList

    return NeighborList(cutoff=cutoff, full_list=True).compute(x, np.diag(box), True, quantities="ijSD")


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: imports, allocator, thread pools
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 65536])
    ap.add_argument("--density", type=float, default=1.2)
    ap.add_argument("--cutoff", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=7, help="timed calls per method (median reported)")
    ap.add_argument("--dense-repeats-large", type=int, default=2, help="timed dense calls for N > 10 000")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; density {args.density}, cutoff {args.cutoff}")
    header = f"{'N':>7} {'edges':>9} {'method':<15} {'median ms':>10} {'/ glassgen numpy':>17} {'calls':>6}"
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(args.seed)
    for n in args.sizes:
        edge = box_edge(n, args.density)
        box = np.full(3, edge)
        x = rng.uniform(0.0, edge, size=(n, 3))
        xt, bt = torch.from_numpy(x), torch.from_numpy(box)

        g = neighbour_graph(x, box, args.cutoff)
        ref_index, ref_len = dense_reference(xt, bt, args.cutoff)
        if not np.array_equal(g["edge_index"], ref_index.numpy()):
            raise SystemExit(f"N={n}: glassgen edge list differs from the dense reference")
        err = float(np.abs(g["edge_len"] - ref_len.numpy()).max())
        n_edges = g["edge_index"].shape[1]

        dense_reps = args.repeats if n <= 10_000 else args.dense_repeats_large
        rows = [
            ("glassgen numpy", lambda: neighbour_graph(x, box, args.cutoff), args.repeats),
            ("glassgen torch", lambda: neighbour_graph(xt, bt, args.cutoff), args.repeats),
            ("raw vesin", lambda: raw_vesin(x, box, args.cutoff), args.repeats),
            ("dense torch", lambda: dense_reference(xt, bt, args.cutoff), dense_reps),
        ]
        base = None
        for name, fn, reps in rows:
            t = median_time(fn, reps)
            base = base or t
            print(f"{n:>7} {n_edges:>9} {name:<15} {t * 1e3:>10.1f} {t / base:>17.2f} {reps:>6}")
        print(f"{'':>7} edge lists equal to the dense reference; max |edge_len| difference {err:.1e}")


if __name__ == "__main__":
    main()
