"""Time BOTAN per N = 4096 graph: forward, and forward + backward + Adam, with an ablation of each speed-up.

    PYTHONPATH=. python benchmarks/botan_step.py [--repeats 5] [--compile] [--threads T] [--device cpu]

Every variant uses the same weights (the default 54 209-parameter model) on shared
configuration 1 (166 484 directed edges) and runs in its own subprocess, so the
peak resident memory (ru_maxrss, minus the RSS before the first forward) is its own.
Rows, each adding one change to the previous:

  reference   layout of pyg_botan: concatenate [h_src, h_dst, e, e0] and [h, h0, agg], full MLPs,
              PyG's generic scatter-add (broadcast index), fresh tensors everywhere
  split       first Linear applied block by block: node blocks as N×64 products gathered onto edges
  hoist       step-independent blocks (e0 W_0 + b, h0 W_0 + b) computed once, not 7 times
  library     glassgen.encoder.botan.BOTAN: + index_add_ aggregation, in-place ReLU/adds (no fresh E×64 buffers)
  compiled    torch.compile(library) (only with --compile; compile time reported separately)

``max |Δout|`` is the largest difference of any node or edge output from the reference row.

Medians over --repeats; the machine load (1-min average) is printed before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44" / "isoconfig_N4096T0.44_1_tc07.npz"
VARIANTS = ["reference", "split", "hoist", "library", "compiled"]


def _mlp2(mlp, pre):
    """Finish an MLP (ReLU, Linear, ReLU) from its first-layer pre-activation, out of place."""
    return torch.relu(mlp[2](torch.relu(pre)))


def variant_forward(name, model, g):
    """Node and edge outputs of ``model`` computed the ``name`` way (same maths, different kernels)."""
    if name in ("library", "compiled"):
        return model(g)
    src, dst = g["edge_index"]
    eu, nu = model.edge_updates[0].mlp, model.node_updates[0].mlp
    w = model.config.width
    h0 = model.node_encoder(g["species"].float()[:, None])
    e0 = model.edge_encoder(g["edge_vec"])
    h, e = h0, e0
    if name == "hoist":
        ce = torch.nn.functional.linear(e0, eu[0].weight[:, 3 * w:], eu[0].bias)
        cn = torch.nn.functional.linear(h0, nu[0].weight[:, w:2 * w], nu[0].bias)
    for _ in range(model.config.steps):
        if name == "reference":
            e = eu(torch.cat([h[src], h[dst], e, e0], dim=1))
            agg = torch.zeros_like(h).scatter_add_(0, dst[:, None].expand(-1, w), e)
            h = nu(torch.cat([h, h0, agg], dim=1))
            continue
        W, Wn = eu[0].weight, nu[0].weight
        if name == "split":
            ce = torch.nn.functional.linear(e0, W[:, 3 * w:], eu[0].bias)
            cn = torch.nn.functional.linear(h0, Wn[:, w:2 * w], nu[0].bias)
        hs, hd = h @ W[:, :w].t(), h @ W[:, w:2 * w].t()
        e = _mlp2(eu, hs[src] + hd[dst] + e @ W[:, 2 * w:3 * w].t() + ce)
        agg = torch.zeros_like(h).scatter_add_(0, dst[:, None].expand(-1, w), e)
        h = _mlp2(nu, h @ Wn[:, :w].t() + cn + agg @ Wn[:, 2 * w:].t())
    return model.decoders[0](h).squeeze(-1), model.decoders[0](e).squeeze(-1)


def run_one(name, repeats, device):
    """Measure one variant in this process; prints one JSON line."""
    from glassgen.encoder.botan import BOTAN, make_graph

    with np.load(DATA) as z:
        x0, types = z["initial_positions"], z["types"]
    box = np.full(3, (len(x0) / 1.2) ** (1 / 3))
    t_graph = []
    for _ in range(repeats):
        t = time.perf_counter()
        g = make_graph(x0, types, box, 2.0, device)
        t_graph.append(time.perf_counter() - t)
    torch.manual_seed(0)
    model = BOTAN().to(device)
    f = model
    compile_s = None
    if name == "compiled":
        f = torch.compile(model, dynamic=True)
        t = time.perf_counter()
        n, e = f(g)
        (n.square().mean() + e.square().mean()).backward()
        compile_s = time.perf_counter() - t
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        ref_out = variant_forward("reference", model, g)
        out = variant_forward(name, f, g) if name != "compiled" else f(g)
    diff = max(float((a - b).abs().max()) for a, b in zip(out, ref_out))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    fwd, step = [], []
    for _ in range(repeats):
        sync(); t = time.perf_counter()
        with torch.no_grad():
            variant_forward(name, f, g)
        sync(); fwd.append(time.perf_counter() - t)
        sync(); t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        n, e = variant_forward(name, f, g)
        loss = 0.4 * n.square().mean() + 0.6 * e.square().mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync(); step.append(time.perf_counter() - t)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda")
            else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024)
    if name == "compiled" and not device.startswith("cuda"):
        peak = None  # the compile itself already set the process's peak RSS
    print(json.dumps(dict(name=name, edges=int(g["edge_index"].shape[1]), graph_ms=1e3 * float(np.median(t_graph)),
                          fwd=float(np.median(fwd)), step=float(np.median(step)), peak_mib=peak,
                          max_diff=diff, compile_s=compile_s)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.only:
        return run_one(a.only, a.repeats, a.device)
    if not DATA.exists():
        sys.exit(f"{DATA}: shared data absent")
    names = [v for v in VARIANTS if v != "compiled" or a.compile]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {a.device}, "
          f"load before {os.getloadavg()[0]:.2f}")
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, "--only", name, "--repeats", str(a.repeats), "--device", a.device]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        if res.returncode:
            sys.exit(res.stderr)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    base = rows[0]
    print(f"N = 4096, E = {base['edges']}, graph construction (cell lists) {base['graph_ms']:.1f} ms (median)")
    print(f"{'variant':10s} {'forward s':>10s} {'fwd+bwd+Adam s':>15s} {'speed-up':>9s} {'peak MiB':>9s} {'max |Δout|':>11s}")
    for r in rows:
        extra = f"  (compile {r['compile_s']:.0f} s)" if r["compile_s"] else ""
        print(f"{r['name']:10s} {r['fwd']:10.3f} {r['step']:15.3f} {base['step'] / r['step']:8.2f}x "
              f"{'n/a' if r['peak_mib'] is None else format(r['peak_mib'], '.0f'):>9s} {r['max_diff']:11.2e}{extra}")
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
