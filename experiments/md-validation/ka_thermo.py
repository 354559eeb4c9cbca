"""Potential energy per particle and pressure of glassgen's LAMMPS KA set-up, to compare with
Pedersen, Schrøder & Dyre, PRL 120, 165501 (2018) (T = 1.028, density 1.2: u = -5.974, p = 10.166).

Same protocol as tests/test_simulate_physics.py (random start, minimise, 20 LJ times of Nosé–Hoover NVT,
then 100 LJ times sampled every 0.25), at any N:

    python experiments/md-validation/ka_thermo.py 500 1000 [--seed 101]   (seeds S, S+1, S+2 placement, S+3 velocities)
"""
from __future__ import annotations

import argparse

import numpy as np

from glassgen.system import ka
from glassgen.md.lammps_engine import Engine, thermostat_commands, velocity_command

T = 1.028


def block_error(x, blocks=10):
    means = np.array([b.mean() for b in np.array_split(np.asarray(x), blocks)])
    return means.std(ddof=1) / np.sqrt(blocks)


ap = argparse.ArgumentParser()
ap.add_argument("n", type=int, nargs="+")
ap.add_argument("--seed", type=int, default=101)
a = ap.parse_args()
for n in a.n:
    e = Engine(threads=1)
    e.setup(n, ka.n_species_a(n), ka.box_edge(n), 0.005, "random", (a.seed, a.seed + 1, a.seed + 2))
    e.minimize()
    e.command(velocity_command(T, a.seed + 3), *thermostat_commands("nvt", T, T, 0.5))
    e.run(4000)
    pe, press = [], []
    for _ in range(200):
        e.run(50)
        th = e.thermo()
        pe.append(th["pe"])
        press.append(th["press"])
    e.close()
    print(f"N = {n}, seed {a.seed}: u = {np.mean(pe):.4f} ± {block_error(pe):.4f}, p = {np.mean(press):.3f} ± {block_error(press):.3f}")
