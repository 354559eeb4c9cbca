"""Wall time and effect of one `--relax` call (glassgen.md.relax.Relaxer) on a Kob–Andersen liquid.

A configuration of N particles at density 1.2 is prepared with the Relaxer itself (random start,
minimisation, 10 LJ time of Langevin at T = 2, then 20 at the target T). Two inputs are relaxed:

- ``clean``: that configuration as it is (what ``--relax-when always`` sees on a healthy step);
- ``overlap``: the same with one A particle moved to 0.5 σ of another A (a pair energy ≈ 1.6e4 ε).

For each kind (minimize with each of ``--iterations`` CG iteration caps; nvt for ``--time`` LJ time at T) the
table gives the median wall time of ``--repeats`` calls of an instance that is already set up (the
set-up cost is paid once per rollout and printed separately), the rms and largest displacement the
call applied, the energy per particle and largest pair energy (glassgen.system.ka) before and after, and
for nvt the kinetic temperature at the end.

    OMP_NUM_THREADS=1 python benchmarks/relax_timing.py [--n 1000] [--temperature 0.44] [--time 1.0] [--iterations 200]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from glassgen.system import ka
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.chain.rollout import monitors


def liquid(n: int, temperature: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    box = np.full(3, ka.box_edge(n))
    species = (np.arange(n) >= ka.n_species_a(n)).astype(np.int64)
    x = rng.random((n, 3)) * box
    with Relaxer(RelaxConfig(kind="minimize", max_iterations=2000), species, box) as r:
        x = r.relax(x)
    for t, length in ((2.0, 10.0), (temperature, 20.0)):
        with Relaxer(RelaxConfig(kind="nvt", temperature=t, time=length), species, box) as r:
            x = r.relax(x, seed)
    return species, box, x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--temperature", type=float, default=0.44)
    ap.add_argument("--time", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iterations", type=int, nargs="+", default=[200], help="minimize max_iterations to compare")
    a = ap.parse_args()
    t0 = time.perf_counter()
    species, box, clean = liquid(a.n, a.temperature)
    print(f"N = {a.n}, L = {box[0]:.4f}, T = {a.temperature}; preparation {time.perf_counter() - t0:.1f} s")
    planted = clean.copy()
    a_ids = np.flatnonzero(species == 0)
    planted[a_ids[1]] = planted[a_ids[0]] + [0.5, 0.0, 0.0]
    inputs = {"clean": clean, "overlap": planted}
    print(f"{'kind':13s} {'input':8s} {'wall_s':>8s} {'rms':>7s} {'max|d|':>7s} {'e_before':>10s} {'e_after':>8s} "
          f"{'maxpair_before':>14s} {'maxpair_after':>13s} {'T_end':>6s}")
    configs = [RelaxConfig(kind="minimize", max_iterations=i) for i in a.iterations]
    for cfg in configs + [RelaxConfig(kind="nvt", temperature=a.temperature, time=a.time)]:
        label = f"minimize/{cfg.max_iterations}" if cfg.kind == "minimize" else f"nvt/{cfg.time:g}"
        t0 = time.perf_counter()
        with Relaxer(cfg, species, box) as r:
            setup = time.perf_counter() - t0
            for name, x in inputs.items():
                walls = []
                for k in range(a.repeats):
                    t0 = time.perf_counter()
                    y = r.relax(x, k)
                    walls.append(time.perf_counter() - t0)
                d = np.linalg.norm(y - x, axis=1)
                before, after = monitors(x, species, box), monitors(y, species, box)
                temp = f"{r.engine.thermo()['temp']:6.3f}" if cfg.kind == "nvt" else "     -"
                print(f"{label:13s} {name:8s} {statistics.median(walls):8.3f} {np.sqrt(np.mean(d**2)):7.3f} "
                      f"{d.max():7.3f} {before['e_pot']:10.3f} {after['e_pot']:8.3f} "
                      f"{before['max_pair_energy']:14.3g} {after['max_pair_energy']:13.3g} {temp}")
        print(f"{label}: set-up of the LAMMPS instance {setup:.3f} s")


if __name__ == "__main__":
    main()
