"""Long-time rollout check: analytic random walks, a too-fast model, planted energy drift."""
import json

import numpy as np
import pytest

from glassgen.system import ka
from glassgen.system.data import Trajectory
from glassgen.core.errors import InputError
from glassgen.stats.longtime import chi4_peak, compare, write_report

Q = 7.25


def walks(m, d_coef, seed, n=200, frames=21, dt=1.0, box=48.0):
    """m independent Brownian trajectories: ⟨Δx²⟩ = 2 D t per component.

    Walkers start on a simple cubic lattice of spacing box/⌈n^⅓⌉ (8 σ by default), far beyond the KA
    cutoff from each other, so every frame's energy is 0: random starts overlap (E/N ~ 1e13) and those
    heavy tails would make the energy rows a coin toss.
    """
    rng = np.random.default_rng(seed)
    species = (np.arange(n) >= ka.n_species_a(n)).astype(int)
    side = int(np.ceil(n ** (1 / 3) - 1e-9))
    sites = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n] * (box / side)
    out = []
    for _ in range(m):
        steps = rng.normal(scale=np.sqrt(2 * d_coef * dt), size=(frames - 1, n, 3))
        x = sites + np.concatenate([np.zeros((1, n, 3)), np.cumsum(steps, 0)])
        out.append(Trajectory(species, np.full(3, box), dt * np.arange(frames), x))
    return out


def rows(res):
    return {r["statistic"]: r for r in res["rows"]}


def test_random_walks_match_the_analytic_curves_and_each_other():
    d = 0.01
    ref, gen = walks(8, d, 0), walks(8, d, 1)
    res = compare(gen, ref)
    t = res["reference"]["times"]
    np.testing.assert_allclose(res["reference"]["msd"], 6 * d * t, rtol=0.06)
    np.testing.assert_allclose(res["reference"]["fs"], np.exp(-Q * Q * d * t), atol=0.02)  # Gaussian: exp(-q²⟨Δx²⟩/2)
    assert res["reference"]["tau_alpha"] == pytest.approx(1 / (Q * Q * d), rel=0.03)
    r = rows(res)
    assert all(v["pass"] for k, v in r.items() if k.startswith(("F_s", "MSD", "tau")))
    assert r["tau_alpha rel."]["floor"] < 0.05  # 8 trajectories x 20 origins: a tight floor


def test_a_too_fast_model_fails_msd_tau_and_fs():
    ref, gen = walks(8, 0.005, 0), walks(8, 0.01, 1)
    r = rows(compare(gen, ref))
    assert r["MSD_A(t=1) rel."]["difference"] == pytest.approx(1.0, abs=0.1) and not r["MSD_A(t=1) rel."]["pass"]
    assert r["tau_alpha rel."]["difference"] == pytest.approx(-0.5, abs=0.05) and not r["tau_alpha rel."]["pass"]
    assert not r["F_s,A(t=3)"]["pass"]


def test_minority_species_that_runs_away_fails_only_the_msd_b_rows():
    """B particles twice as mobile, A untouched: every MSD_B row fails near +100 %, every A row passes."""
    ref, gen = walks(8, 0.01, 0), walks(8, 0.01, 1)
    for g in gen:
        b = g.species == 1
        g.positions[:, b] = g.positions[0, b] + np.sqrt(2.0) * (g.positions[:, b] - g.positions[0, b])
    r = rows(compare(gen, ref))
    msd_b = [v for k, v in r.items() if k.startswith("MSD_B")]
    assert len(msd_b) == 20 and all(not v["pass"] and v["difference"] == pytest.approx(1.0, abs=0.25) for v in msd_b)
    assert all(v["pass"] for k, v in r.items() if k.startswith(("F_s", "MSD_A", "tau")))
    assert all(v["pass"] for k, v in rows(compare(walks(8, 0.01, 2), ref)).items() if k.startswith("MSD_B"))


def test_planted_energy_drift_is_caught_and_a_stationary_one_is_not(tmp_path):
    g = np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.1 + 0.2
    n, box = len(g), np.full(3, 6.6)
    species = (np.arange(n) >= ka.n_species_a(n)).astype(int)
    rng = np.random.default_rng(0)
    times = np.arange(21.0)

    def traj(squeeze):
        x = g + 0.03 * rng.normal(size=(21, n, 3))
        # squeeze: every even particle walks towards its +z neighbour (the next index), ending at 0.75 σ
        x[:, ::2, 2] += squeeze * np.linspace(0, 0.35, 21)[:, None]
        return Trajectory(species, box, times, x)

    ref = [traj(0.0) for _ in range(6)]
    stationary = rows(compare([traj(0.0) for _ in range(6)], ref))
    drifting = compare([traj(1.0) for _ in range(6)], ref)
    key = "E_pot/N drift (last - first quarter)"
    assert stationary[key]["pass"] and not rows(drifting)[key]["pass"] and rows(drifting)[key]["difference"] > 0.5
    files = write_report(drifting, tmp_path)
    assert (tmp_path / "longtime.png").stat().st_size > 10_000 and "FAIL" in (tmp_path / "longtime.md").read_text()
    data = json.loads((tmp_path / "longtime.json").read_text())
    assert data["failed"] >= 1 and len(data["generated"]["fs"]) == 20 and files[0] == "longtime.md"


def test_chi4_peak_parabola_recovers_a_smooth_maximum():
    t = np.geomspace(0.1, 100, 25)
    c = 5.0 - 0.8 * (np.log(t) - np.log(7.0)) ** 2
    h, tp = chi4_peak(t, c)
    assert h == pytest.approx(5.0, abs=1e-9) and tp == pytest.approx(7.0, rel=1e-9)


def test_mismatched_systems_and_too_few_frames_are_input_errors():
    ref = walks(2, 0.01, 0)
    with pytest.raises(InputError, match="box or composition"):
        compare(walks(2, 0.01, 1, box=50.0), ref)
    with pytest.raises(InputError, match="fewer than 3"):
        compare(walks(2, 0.01, 1, frames=2), ref)
    with pytest.raises(InputError, match="at least 2 MD"):
        compare(walks(2, 0.01, 1), ref[:1])


def test_cli_long_time_reads_folders_and_exits_by_verdict(tmp_path):
    from typer.testing import CliRunner

    from glassgen import write_trajectory
    from glassgen.cli.app import app

    for name, d, seed in (("md", 0.01, 0), ("same", 0.01, 1), ("fast", 0.03, 2)):
        (tmp_path / name).mkdir()
        for j, t in enumerate(walks(8, d, seed, frames=11)):  # with 4 a side MD against MD fails some table most times
            write_trajectory(tmp_path / name / f"t{j}.h5", t)
    runner = CliRunner()
    res = runner.invoke(app, ["evaluate", str(tmp_path / "same"), str(tmp_path / "md"), "--long-time", "-o", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "tau_alpha rel." in res.output and (tmp_path / "a" / "longtime.png").exists()
    res = runner.invoke(app, ["evaluate", str(tmp_path / "fast"), str(tmp_path / "md"), "--long-time", "-o", str(tmp_path / "b")])
    assert res.exit_code == 1 and "FAIL" in res.output


def test_t_min_keeps_only_its_multiples_of_a_log_plus_linear_grid():
    ref = walks(4, 0.01, 0, frames=21)
    kept = [0, 1, 2, 5, 6, 8, 10, 11, 13, 15, 16, 20]  # block starts every 5 plus uneven frames inside blocks
    for t in ref:
        t.times, t.positions = t.times[kept], t.positions[kept]
    with pytest.raises(InputError, match="--t-min"):
        compare(ref[:2], ref[2:])
    res = compare(ref[:2], ref[2:], t_min=5.0)
    assert res["grid"].tolist() == [0.0, 5.0, 10.0, 15.0, 20.0]


def test_mobility_persistence_sees_fixed_mobilities_and_not_homogeneous_walks():
    """Particles with their own fixed diffusivity stay mobile window after window; equal ones do not."""
    from glassgen.stats.propensity import mobility_persistence

    rng = np.random.default_rng(3)
    n, frames = 200, 41
    d_i = np.exp(rng.normal(scale=1.0, size=n))[None, :, None]  # per-particle, for the whole trajectory
    hetero = np.concatenate([np.zeros((1, n, 3)), np.cumsum(rng.normal(size=(frames - 1, n, 3)) * np.sqrt(d_i), 0)])
    homo = np.concatenate([np.zeros((1, n, 3)), np.cumsum(rng.normal(size=(frames - 1, n, 3)), 0)])
    assert mobility_persistence(hetero, 4) > 0.4
    assert abs(mobility_persistence(homo, 4)) < 0.1
    x = np.zeros((5, 3, 3))
    x[1:, :, 0] = np.arange(1, 5)[:, None] * np.array([0.1, 0.2, 0.3])  # ballistic: every window alike
    assert mobility_persistence(x, 2) == pytest.approx(1.0)
    with pytest.raises(InputError, match="F > 2·window"):
        mobility_persistence(x, 3)
    ref, gen = walks(4, 0.01, 0, frames=81), walks(4, 0.01, 1, frames=81)
    r = rows(compare(gen, ref))
    row = [v for k, v in r.items() if k.startswith("mobility persistence A")]
    assert len(row) == 1 and row[0]["pass"] is None and abs(row[0]["md"]) < 0.1  # informative: no verdict
