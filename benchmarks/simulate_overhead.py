"""Wall time of `glassgen simulate` against the same LAMMPS input run bare.

For N = 1000 and 4096 a short recipe with every stage (minimise, melt, quench, NVT
equilibration with drift samples, one NVE trajectory with block-log frames, one
ensemble of 4 runs) is run twice per repeat, interleaved:

- glassgen: :func:`glassgen.md.simulate` into a fresh folder (LAMMPS start-up,
  chunked runs, per-frame gathers, checkpoints and H5MD output all included);
- bare: a fresh LAMMPS instance with the same command-line flags executes
  ``lammps-input.lmp`` that the glassgen run wrote (same commands, same number of MD
  steps, consecutive runs merged, no gathers or output).

Both use the same thread count. The machine may be shared, so the table reports
medians over repeats and the ratio of medians.

    python benchmarks/simulate_overhead.py [--repeats 3] [--threads 1] [--sizes 1000 4096]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from glassgen.md import recipe_from_dict, simulate
from glassgen.md.lammps_engine import load_lammps


def recipe(n: int):
    return recipe_from_dict({
        "name": f"bench-N{n}", "temperature": 1.0, "seed": 3, "system": {"n": n},
        "melt": {"temperature": 2.0, "time": 1.0}, "quench": {"time": 1.0},
        "equilibration": {"tau_alpha": 1.0, "multiple": 20, "spacing": 1.0, "samples": 20},
        "trajectories": {"count": 1, "length": 20.0, "block": 5.0, "log_frames": 12},
        "ensembles": {"configurations": 1, "runs": 4, "t_min": 0.01, "t_max": 2.5, "frames": 16},
    }, f"benchmark N={n}")


def time_glassgen(r, threads: int, workdir: Path) -> tuple[float, Path]:
    out = Path(tempfile.mkdtemp(dir=workdir)) / "out"
    t0 = time.perf_counter()
    simulate(r, out, threads=threads, progress=False)
    return time.perf_counter() - t0, out / "lammps-input.lmp"


def time_bare(script: Path, threads: int) -> float:
    lammps = load_lammps()
    args = ["-screen", "none", "-log", "none", "-nocite"]
    if threads > 1:
        args += ["-sf", "omp", "-pk", "omp", str(threads)]
    t0 = time.perf_counter()
    lmp = lammps(cmdargs=args)
    lmp.file(str(script))
    lmp.close()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 4096])
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.sizes:
            r = recipe(n)
            _, script = time_glassgen(r, a.threads, Path(tmp))  # warm-up, and the bare input
            steps = sum(int(line.split()[1]) for line in script.read_text().splitlines() if line.startswith("run "))
            g, b = [], []
            for k in range(a.repeats):
                order = ("g", "b") if k % 2 == 0 else ("b", "g")  # alternate who runs first
                for who in order:
                    if who == "g":
                        g.append(time_glassgen(r, a.threads, Path(tmp))[0])
                    else:
                        b.append(time_bare(script, a.threads))
            rows.append((n, steps, g, b))
    print(f"threads per run: {a.threads}; repeats: {a.repeats} (interleaved); times in seconds, medians")
    print(f"{'N':>6} {'MD steps':>9} {'glassgen':>9} {'bare':>9} {'ratio':>7} {'overhead':>9}  all glassgen / all bare")
    for n, steps, g, b in rows:
        mg, mb = statistics.median(g), statistics.median(b)
        print(f"{n:>6} {steps:>9} {mg:>9.2f} {mb:>9.2f} {mg / mb:>7.3f} {100 * (mg / mb - 1):>8.1f}%  "
              f"{' '.join(f'{x:.2f}' for x in g)} / {' '.join(f'{x:.2f}' for x in b)}")


if __name__ == "__main__":
    main()
