"""The long-time check from the start snapshot and per chain step: a chain whose speed drifts is caught."""
import json

import numpy as np
import pytest

from glassgen.system import ka
from glassgen.system.data import Trajectory
from glassgen.stats.longtime import compare, write_report
from glassgen.stats.stationarity import band_factor, split_rms

Q, D = 7.25, 0.01


def walks(m, d_steps, seed, n=200, box=48.0):
    """m Brownian trajectories (dt = 1) whose diffusion coefficient during step k is d_steps[k].

    Walkers start on a lattice of spacing 8 σ (box/6), beyond the KA cutoff, so every energy is 0.
    """
    d_steps = np.asarray(d_steps, dtype=np.float64)
    rng = np.random.default_rng(seed)
    species = (np.arange(n) >= ka.n_species_a(n)).astype(int)
    sites = np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n] * (box / 6)
    out = []
    for _ in range(m):
        steps = rng.normal(size=(len(d_steps), n, 3)) * np.sqrt(2 * d_steps)[:, None, None]
        x = sites + np.concatenate([np.zeros((1, n, 3)), np.cumsum(steps, 0)])
        out.append(Trajectory(species, np.full(3, box), np.arange(len(d_steps) + 1.0), x))
    return out


def rows(table):
    return {r["statistic"]: r for r in table["rows"]}


def test_the_reference_process_with_another_seed_passes_all_three_tables():
    ref, gen = walks(8, np.full(20, D), 0), walks(8, np.full(20, D), 1)
    res = compare(gen, ref)
    start, step = res["from_start"]["reference"], res["stationarity"]["reference"]
    np.testing.assert_allclose(start["msd"], 6 * D * start["times"], rtol=0.1)  # 1280 A walkers from t = 0
    np.testing.assert_allclose(start["fs"], np.exp(-Q * Q * D * start["times"]), atol=0.03)
    np.testing.assert_allclose(step["fs"], np.exp(-Q * Q * D), atol=0.03)  # the same one-lag value at every origin
    np.testing.assert_allclose(step["msd_B"], 6 * D, rtol=0.2)
    assert res["tables"] == {"all_origins": {"passed": 64, "failed": 0}, "from_start": {"passed": 83, "failed": 0},
                             "stationarity": {"passed": 60, "failed": 0}}
    assert res["passed"] == 207 and res["failed"] == 0
    assert res["stationarity"]["origins"].tolist() == list(range(20)) and res["stationarity"]["lag"] == 1.0


def test_a_chain_slow_at_first_and_fast_later_passes_all_origins_and_fails_the_other_two(tmp_path):
    """D rises linearly from D/2 to 3D/2 over 20 steps: the all-origin MSD and F_s average out right."""
    ref = walks(8, np.full(20, D), 0)
    drift = D * (0.5 + np.arange(20) / 19)
    assert drift.mean() == pytest.approx(D)
    res = compare(walks(8, drift, 1), ref)
    every = rows(res)
    assert all(v["pass"] for k, v in every.items() if k.startswith(("F_s", "MSD", "tau")))
    assert every["MSD_A(t=20) rel."]["difference"] == pytest.approx(0.0, abs=0.05)
    step = rows(res["stationarity"])
    first, last = step["F_s,A(t0=0, +1)"], step["F_s,A(t0=19, +1)"]
    assert not first["pass"] and first["difference"] > 0.1  # slow: F_s too high
    assert not last["pass"] and last["difference"] < -0.1
    assert step["MSD_A(t0=0, +1) rel."]["difference"] == pytest.approx(-0.5, abs=0.1)
    assert step["MSD_B(t0=19, +1) rel."]["difference"] == pytest.approx(0.5, abs=0.2)
    assert step["F_s,A(t0=9, +1)"]["pass"] and step["MSD_A(t0=10, +1) rel."]["pass"]  # D ≈ D in the middle
    start = rows(res["from_start"])
    assert not start["MSD_A(t=1) rel."]["pass"] and start["MSD_A(t=1) rel."]["difference"] == pytest.approx(-0.5, abs=0.1)
    assert start["MSD_A(t=20) rel."]["pass"]  # the same distance in the end
    assert not start["tau_alpha rel."]["pass"] and start["tau_alpha rel."]["difference"] > 0.3
    assert res["failed"] == sum(t["failed"] for t in res["tables"].values()) and res["tables"]["stationarity"]["failed"] >= 20

    files = write_report(res, tmp_path)
    assert files[-1] == "longtime_stationarity.png" and (tmp_path / files[-1]).stat().st_size > 20_000
    text = (tmp_path / "longtime.md").read_text()
    assert "### From the start snapshot" in text and "| F_s,A(t0=0, +1) |" in text
    assert text.rstrip().splitlines()[-1].startswith("verdict: FAIL")
    data = json.loads((tmp_path / "longtime.json").read_text())
    assert len(data["stationarity"]["rows"]) == 60 and data["tables"]["stationarity"]["failed"] >= 20
    assert len(data["from_start"]["generated"]["fs"]) == 20


def test_energy_from_the_start_snapshot_sees_a_chain_that_heats_at_its_first_step():
    g = np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.1 + 0.2
    n, box = len(g), np.full(3, 6.6)
    species = (np.arange(n) >= ka.n_species_a(n)).astype(int)
    rng = np.random.default_rng(0)

    def traj(jump):
        x = g + 0.03 * rng.normal(size=(21, n, 3))
        x[1:, ::2, 2] += jump  # every even particle moves towards its +z neighbour after the start snapshot
        return Trajectory(species, box, np.arange(21.0), x)

    ref = [traj(0.0) for _ in range(6)]
    energy = lambda res: [v for k, v in rows(res["from_start"]).items() if k.startswith("E_pot/N(t=")]
    assert all(v["pass"] for v in energy(compare([traj(0.0) for _ in range(6)], ref)))
    hot = [traj(0.08) for _ in range(6)]
    res = compare(hot, ref)
    direct = np.mean([ka.mean_energy(t.positions[3], species, box) - ka.mean_energy(t.positions[0], species, box)
                      for t in hot])
    assert res["from_start"]["generated"]["energy"][2] == pytest.approx(direct, rel=1e-9)  # lag 3 = frame 3
    assert len(energy(res)) == 20 and not any(v["pass"] for v in energy(res)) and direct > 0.2


def test_split_rms_and_band_factor():
    v = np.arange(12.0).reshape(4, 3) ** 2
    splits = [(np.array([1.0, 1, 0, 0]), np.array([0.0, 0, 1, 1])), (np.array([1.0, 0, 1, 0]), np.array([0.0, 1, 0, 1]))]
    by_hand = [np.mean(v[:2], 0) - np.mean(v[2:], 0), np.mean(v[[0, 2]], 0) - np.mean(v[[1, 3]], 0)]
    np.testing.assert_allclose(split_rms(v, splits), np.sqrt(np.mean(np.square(by_hand), 0)))
    assert band_factor(1) == 2.0 and band_factor(60) == pytest.approx(3.34, abs=0.01)
