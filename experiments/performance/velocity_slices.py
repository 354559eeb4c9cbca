"""A/B of the velocity network's edge slices at inference (glassgen.flow.velocity.EDGE_CHUNK): one chain draw of
flow-proof-T0.6-sig (benchmarks/scaling_n.py's chain_draw case) per process, with slices of 2^16 edges against one
pass, interleaved, on the seeded random configurations scaling_n.py builds.

    PYTHONPATH=. python experiments/performance/velocity_slices.py [--sizes 4096 32768] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import scaling_n  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 32768])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--chunk", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        import glassgen.flow.velocity as vel

        vel.EDGE_CHUNK = a.chunk
        print(json.dumps(scaling_n.child(a.child[0], Path(a.child[1]), Path(a.child[2]), 1)))
        return
    variants = {"slices 2^16": 1 << 16, "one pass": 1 << 62}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        configs = scaling_n.make_configs(sorted(a.sizes), Path(tmp))
        warm = configs[min(a.sizes)]
        for rep in range(a.repeats):
            for n in sorted(a.sizes):
                for name, chunk in variants.items():
                    res = subprocess.run([sys.executable, __file__, "--child", "chain_draw", str(configs[n]), str(warm),
                                          "--chunk", str(chunk)], capture_output=True, text=True, check=True)
                    r = json.loads(res.stdout.strip().splitlines()[-1])
                    rows.append(dict(r, variant=name, repeat=rep))
                    print(f"repeat {rep} N = {n:>6} {name:<12} wall {r['time_s']:7.2f} s, CPU {r['cpu_s']:7.2f} s, "
                          f"peak {r['peak_mib']:6.0f} MiB", flush=True)
    print(f"\n{'N':>6} {'variant':<12} {'CPU s (median, range)':>26} {'peak MiB (median)':>18}")
    for n in sorted(a.sizes):
        for name in variants:
            rs = [r for r in rows if r["n"] == n and r["variant"] == name]
            c = [r["cpu_s"] for r in rs]
            print(f"{n:>6} {name:<12} {np.median(c):>10.2f} ({min(c):.2f}–{max(c):.2f}) {np.median([r['peak_mib'] for r in rs]):>18.0f}")


if __name__ == "__main__":
    main()
