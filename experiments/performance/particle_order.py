"""Does memory locality explain the chain draw's growth above N = 32 768? One chain draw of flow-proof-T0.6-sig
(benchmarks/scaling_n.py's chain_draw case) on the same configuration with its particles in the generator's
random order and sorted by cell (cells of edge 1.5, x slowest): the same system, so only the order of the rows
the network's gathers read differs.

    PYTHONPATH=. python experiments/performance/particle_order.py [--n 262144] [--repeats 1]
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


def cell_sorted(src: Path, dst: Path) -> None:
    z = dict(np.load(src))
    cell = np.floor(z["positions"] % z["box"] / 1.5).astype(np.int64)
    order = np.lexsort((cell[:, 2], cell[:, 1], cell[:, 0]))
    z["positions"], z["species"] = z["positions"][order], z["species"][order]
    np.savez(dst, **z)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=262144)
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        configs = scaling_n.make_configs([4096, a.n], Path(tmp))
        files = {"random order": configs[a.n], "cell order": Path(tmp) / "sorted.npz"}
        cell_sorted(configs[a.n], files["cell order"])
        rows = []
        for rep in range(a.repeats):
            for name, f in files.items():
                res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scaling_n.py"), "--child", "chain_draw",
                                      str(f), str(configs[4096]), "--threads", "1"], capture_output=True, text=True, check=True)
                r = json.loads(res.stdout.strip().splitlines()[-1])
                rows.append(r)
                print(f"repeat {rep} N = {a.n} {name:<13} wall {r['time_s']:7.2f} s, CPU {r['cpu_s']:7.2f} s "
                      f"({1e6 * r['cpu_s'] / a.n:.0f} µs/particle), peak {r['peak_mib']:6.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
