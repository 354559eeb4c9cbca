"""Cost of the flow velocity network on one N = 4096 configuration (shared data, config 1).

Prints: velocity-graph size per cutoff; per-snapshot `prepare` time; forward and
forward+backward time per evaluation for B samples, factored vs concatenated edge layers
(same weights, same outputs). Run: PYTHONPATH=. python benchmarks/flow_step.py [--batch 8]
"""
import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from glassgen.flow.context import LocalEncoder, build_graph
from glassgen.flow.velocity import VelocityConfig, VelocityNet
from glassgen.system.ka import box_edge

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"


def timeit(fn, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    z = np.load(DATA / "isoconfig_N4096T0.44_1_tc07.npz")
    box = np.full(3, box_edge(len(z["types"])))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, B = {a.batch}")
    for c in (1.2, 1.5, 2.0):
        t = time.perf_counter()
        g = build_graph(z["types"], z["initial_positions"], box, c)
        print(f"cutoff {c}: E = {g['edge_index'].shape[1]} directed edges, graph {1e3 * (time.perf_counter() - t):.0f} ms")
    g = build_graph(z["types"], z["initial_positions"], box, 1.5)
    g["edge_vec"] = g["edge_vec"].float()
    torch.manual_seed(0)
    with torch.no_grad():
        h, e = LocalEncoder(cutoff=1.5).encode(g)  # stand-in for BOTAN embeddings: same shapes (N,64), (E,64)
    x = 0.3 * torch.randn(a.batch, len(h), 3)
    s, ll = torch.rand(a.batch), torch.full((a.batch,), 8.3)
    print(f"{'variant':<14}{'prepare ms':>12}{'forward ms':>12}{'fwd+bwd ms':>12}")
    res, nets = {}, {}
    for factored in (False, True):
        torch.manual_seed(1)
        net = VelocityNet(VelocityConfig(factored=factored))
        if nets:
            net.load_state_dict(next(iter(nets.values())).state_dict())
        nets[factored] = net
        with torch.no_grad():
            tp = timeit(lambda: net.prepare(h, e, g["edge_index"]), a.repeats)
            prep = net.prepare(h, e, g["edge_index"])
            tf = timeit(lambda: net(prep, x, s, ll), a.repeats)
            out = net(prep, x, s, ll)

        def fb():
            p = net.prepare(h, e, g["edge_index"])
            net(p, x, s, ll).pow(2).mean().backward()
        tb = timeit(fb, a.repeats)
        res[factored] = (tp, tf, tb, out)
        print(f"{'factored' if factored else 'concatenated':<14}{1e3 * tp:>12.1f}{1e3 * tf:>12.1f}{1e3 * tb:>12.1f}")
    diff = (res[True][3] - res[False][3]).abs().max().item()
    print(f"speed-up factored/concatenated: prepare {res[False][0] / res[True][0]:.2f}x, forward "
          f"{res[False][1] / res[True][1]:.2f}x, fwd+bwd {res[False][2] / res[True][2]:.2f}x; max |Δv| = {diff:.2e}")


if __name__ == "__main__":
    main()
