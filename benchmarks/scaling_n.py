"""Cost per generated step against N: time and peak memory, with the fitted exponent (docs/performance.md, "Scaling").

    PYTHONPATH=. nice -n 15 python benchmarks/scaling_n.py [--sizes 4096 32768 262144] [--repeats 3] [--threads 1]

Two cases on seeded random Kob–Andersen configurations at density 1.2 (glassgen.system.overlaps.random_configuration):

  chain_draw    one chain step of the T = 0.6 chain model (flow-proof-T0.6-sig, one draw, heun × 8, with a
                previous displacement as a second-order chain gives it): neighbour graph, encoder, 16 velocity
                evaluations (glassgen.sampling.sample.step_function)
  botan         BOTAN, reference architecture, cutoff 2.0: neighbour graph (cell lists), then one forward
                pass without autograd (sliced into 2^18-edge pieces above that size)

Every (repeat, N, case) runs in its own process, so its peak resident memory is its own: ``peak MiB`` is the
high-water RSS above the process's RSS once the model and the configuration are loaded; CPU s is the process's
user + system time of the call (with one thread, the work itself: on a shared machine wall time also counts the
waiting for a core, which changes from run to run). Repeats are interleaved
(repeat 1 of every N, then repeat 2, ...), so a change of machine load hits all sizes alike. Before its timed
call a process makes one untimed call on the smallest configuration (thread pools, allocator). The exponent is
the least-squares slope of log(median) against log(N), for wall time, CPU time and peak memory.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODEL = "flow-proof-T0.6-sig"
KEEP_HEAP = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}  # glibc's own settings


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """User + system CPU time of this process: on a shared machine, what the work costs whatever the load."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(case: str, config: Path, warm: Path, threads: int | None) -> dict:
    """One timed call of ``case`` on ``config`` in this process; returns the row."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    z, zw = np.load(config), np.load(warm)
    species, box, x = z["species"], z["box"], z["positions"]
    if case == "chain_draw":
        from glassgen.sampling.models import load_model
        from glassgen.sampling.sample import step_function
        from glassgen.sampling.solvers import SolverConfig

        model = load_model(MODEL)
        d = model.checkpoint["defaults"]["sample"]
        solver = SolverConfig(method=d["method"], ode_steps=d["ode_steps"])

        def call(sp, bx, pos):
            prev = 0.1 * np.random.default_rng(1).standard_normal((1,) + pos.shape)
            return step_function(model, sp, bx, solver)(pos[None], d["lag"], [0], prev)
    else:
        from glassgen.encoder.botan import BOTAN, make_graph

        torch.manual_seed(0)
        model = BOTAN().eval()

        def call(sp, bx, pos):
            t = time.perf_counter()
            g = make_graph(pos, sp, bx, model.config.cutoff)
            call.graph_s, call.edges = time.perf_counter() - t, int(g["edge_index"].shape[1])
            with torch.no_grad():
                return model(g)
    rss0 = rss_mib()
    call(zw["species"], zw["box"], zw["positions"])  # warm-up on the smallest configuration
    cpu0, t = cpu_s(), time.perf_counter()
    call(species, box, x)
    row = {"case": case, "n": int(len(species)), "time_s": time.perf_counter() - t, "cpu_s": cpu_s() - cpu0,
           "peak_mib": peak_mib() - rss0, "base_mib": rss0, "threads": torch.get_num_threads(),
           "environment": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_") or k == "THP_MEM_ALLOC_ENABLE"}}
    if case == "botan":
        row.update(graph_s=call.graph_s, forward_s=row["time_s"] - call.graph_s, edges=call.edges)
    return row


def exponent(ns, values) -> float:
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0])


def make_configs(sizes, folder: Path) -> dict:
    from glassgen.system.overlaps import random_configuration

    out = {}
    for n in sizes:
        t = time.perf_counter()
        snap = random_configuration(n, seed=0)
        out[n] = folder / f"ka_{n}.npz"
        np.savez(out[n], species=snap.species, box=snap.box, positions=snap.positions)
        print(f"configuration N = {n}: {time.perf_counter() - t:.0f} s", flush=True)
    return out


def report(rows, sizes) -> None:
    """Medians and ranges per case and N (wall and CPU seconds, peak MiB) and the fitted exponents."""
    print(f"\n{'case':<11}{'N':>8}{'wall s':>9}{'range':>17}{'CPU s':>9}{'range':>17}{'CPU µs/particle':>16}"
          f"{'peak MiB':>9}{'range':>12}{'KiB/particle':>13}")
    for case in ("chain_draw", "botan"):
        done, fits = [], {"wall": [], "cpu": [], "peak": []}
        for n in sizes:
            rs = [r for r in rows if r["case"] == case and r["n"] == n]
            if not rs:
                continue
            done.append(n)
            cols = {k: [r[key] for r in rs] for k, key in (("wall", "time_s"), ("cpu", "cpu_s"), ("peak", "peak_mib"))}
            for k, v in cols.items():
                fits[k].append(np.median(v))
            w, c, p = cols["wall"], cols["cpu"], cols["peak"]
            print(f"{case:<11}{n:>8}{np.median(w):>9.2f}{min(w):>8.2f}–{max(w):<8.2f}{np.median(c):>9.2f}"
                  f"{min(c):>8.2f}–{max(c):<8.2f}{1e6 * np.median(c) / n:>16.1f}{np.median(p):>9.0f}"
                  f"{min(p):>6.0f}–{max(p):<5.0f}{1024 * np.median(p) / n:>13.2f}")
            if case == "botan":
                print(f"{'':<19}graph {np.median([r['graph_s'] for r in rs]):.2f} s, forward "
                      f"{np.median([r['forward_s'] for r in rs]):.2f} s (wall), E = {rs[0]['edges']} edges")
        if len(done) > 1:
            print(f"{case}: fitted exponent (N = {done[0]} .. {done[-1]}): wall time {exponent(done, fits['wall']):.3f}, "
                  f"CPU time {exponent(done, fits['cpu']):.3f}, peak memory {exponent(done, fits['peak']):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 32768, 262144])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads of every run (default torch's)")
    ap.add_argument("--cases", nargs="+", default=["chain_draw", "botan"])
    ap.add_argument("--thp", action="store_true",
                    help="torch's 2 MiB-aligned large allocations with transparent huge pages (THP_MEM_ALLOC_ENABLE=1)")
    ap.add_argument("--keep-heap", action="store_true",
                    help="glibc keeps up to 1 GiB of freed memory for reuse (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_)")
    ap.add_argument("--json", type=Path, default=None, help="also write every row as JSON")
    ap.add_argument("--child", nargs=3, metavar=("CASE", "CONFIG", "WARM"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], Path(a.child[1]), Path(a.child[2]), a.threads)))
        return
    import torch

    sizes = sorted(a.sizes)
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, threads {a.threads or torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}; sizes {sizes}, {a.repeats} interleaved repeats; freed memory "
          f"{'kept (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ 1 GiB)' if a.keep_heap else 'returned (glibc defaults)'}"
          f"{', THP_MEM_ALLOC_ENABLE=1' if a.thp else ''}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        configs = make_configs(sizes, Path(tmp))
        for rep in range(a.repeats):
            for n in sizes:
                for case in a.cases:
                    cmd = [sys.executable, __file__, "--child", case, str(configs[n]), str(configs[sizes[0]])]
                    cmd += ["--threads", str(a.threads)] if a.threads else []
                    env = dict(os.environ, **({"THP_MEM_ALLOC_ENABLE": "1"} if a.thp else {}),
                               **(KEEP_HEAP if a.keep_heap else {}))
                    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    if res.returncode:
                        sys.exit(f"{case} N = {n}: failed (status {res.returncode})\n{res.stderr[-2000:]}")
                    rows.append(dict(json.loads(res.stdout.strip().splitlines()[-1]), repeat=rep,
                                     load=os.getloadavg()[0]))
                    r = rows[-1]
                    print(f"repeat {rep} {case:<11} N = {n:>7}: {r['time_s']:8.3f} s ({r['cpu_s']:8.3f} s CPU), "
                          f"peak {r['peak_mib']:7.0f} MiB "
                          f"(load {r['load']:.2f})", flush=True)
    report(rows, sizes)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
