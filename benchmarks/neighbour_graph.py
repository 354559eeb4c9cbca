"""Neighbour-graph timing: glassgen.system.pbc.neighbour_graph against a dense O(N^2) reference.

Prints one table: for N = 4096 and N = 65 536 particles (uniform random, density 1.2,
cutoff 2.0) the median wall time of several warm calls of

- ``glassgen numpy``: :func:`glassgen.system.pbc.neighbour_graph` with numpy positions,
- ``glassgen torch``: the same with a float64 torch tensor (vectors built in torch),
- ``raw vesin``: the bare vesin cell-list call that glassgen wraps (i, j, S, D),
- ``dense torch``: every pair's minimum-image vector in torch, O(N^2), row-chunked
  so that no temporary exceeds 256 MB (peak well under 4 GB at N = 65 536),

and each time divided by the ``glassgen numpy`` time of the same N. Before timing,
the dense reference's edge list is checked equal to glassgen's.

    python benchmarks/neighbour_graph.py              # defaults: 7 repeats; dense at N > 10 000 timed once
    python benchmarks/neighbour_graph.py --sizes 4096 --repeats 11
"""
from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time

import numpy as np
import torch

from glassgen.system.ka import box_edge
from glassgen.system.pbc import minimum_image, neighbour_graph

CHUNK_BYTES = 1 << 28


def keep_heap_flat() -> None:
    """Make glibc give big temporaries back to the system as soon as they are freed.

    After a large free glibc raises its mmap threshold and then serves the dense
    reference's ~10-100 MB temporaries from a heap that fragments: peak RSS grew by
    ~17 MB per chunk, to 11.5 GB at N = 65 536. A fixed 1 MB threshold keeps it ~1.2 GB.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # -3 = M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


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


def median_time(fn, repeats: int, warm_up: bool = True) -> float:
    if warm_up:  # imports, allocator, thread pools
        fn()
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
    ap.add_argument("--dense-repeats-large", type=int, default=0,
                    help="extra timed dense calls for N > 10 000, besides the one that checks the edge lists")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    keep_heap_flat()

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {os.cpu_count()} cores, load average {load}; "
          f"density {args.density}, cutoff {args.cutoff}")
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
        t0 = time.perf_counter()
        ref_index, ref_len = dense_reference(xt, bt, args.cutoff)
        first_dense = time.perf_counter() - t0
        if not np.array_equal(g["edge_index"], ref_index.numpy()):
            raise SystemExit(f"N={n}: glassgen edge list differs from the dense reference")
        err = float(np.abs(g["edge_len"] - ref_len.numpy()).max())
        n_edges = g["edge_index"].shape[1]

        rows = [
            ("glassgen numpy", lambda: neighbour_graph(x, box, args.cutoff)),
            ("glassgen torch", lambda: neighbour_graph(xt, bt, args.cutoff)),
            ("raw vesin", lambda: raw_vesin(x, box, args.cutoff)),
            ("dense torch", lambda: dense_reference(xt, bt, args.cutoff)),
        ]
        base = None
        for name, fn in rows:
            if name == "dense torch" and n > 10_000:  # minutes per call: the checking call is one sample
                samples = [first_dense] + [median_time(fn, 1, warm_up=False) for _ in range(args.dense_repeats_large)]
                t, reps = statistics.median(samples), len(samples)
            else:
                t, reps = median_time(fn, args.repeats), args.repeats
            base = base or t
            print(f"{n:>7} {n_edges:>9} {name:<15} {t * 1e3:>10.1f} {t / base:>17.2f} {reps:>6}", flush=True)
        print(f"{'':>7} edge lists equal to the dense reference; max |edge_len| difference {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
