"""Chapman–Kolmogorov check: Brownian steps are consistent (analytic values), ballistic steps are flagged."""
import json
import subprocess
import sys

import numpy as np
import pytest

from glassgen.system import ka
from glassgen.chain.baselines import brownian_step_fn
from glassgen.system.data import Ensemble, Snapshot, Trajectory
from glassgen.core.errors import InputError
from glassgen.io.h5md import write_ensemble, write_trajectory
from glassgen.chain.chapman import chapman_kolmogorov, draw_chains, reference_starts, summary_lines
from glassgen.stats.dynamics import DEFAULT_Q

D = np.array([0.01, 0.015])  # σ²/τ per species: F_s,A(q=7.25, 2τ) ≈ 0.35 at τ = 1
LAG = 1.0


def starts(k=3, n_side=6, spacing=0.95):
    """k jittered simple-cubic KA-like configurations (80:20)."""
    g = np.arange(n_side) * spacing
    x = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) + 0.1
    n = len(x)
    species = (np.arange(n) >= ka.n_species_a(n)).astype(int)
    rng = np.random.default_rng(5)
    return [Snapshot(species, np.full(3, n_side * spacing), (x + 0.02 * rng.normal(size=x.shape)) % (n_side * spacing),
                     {"source": f"start{i}"}) for i in range(k)]


def exact_component_variance(species, diffusion, t):
    """Per-component variance of d_i − mean_j d_j with d_j ~ N(0, 2 D_j t): the COM removal is exact."""
    s2 = 2 * np.asarray(diffusion)[species] * t
    n = len(species)
    return s2 * (1 - 2 / n) + s2.sum() / n**2


def ballistic_step_fn(v=0.1):
    """Deliberately non-Markovian-in-τ sampler: standard deviation ∝ τ (ballistic), so 2 × τ ≠ 2τ."""
    def step(positions, lag, seeds):
        out = np.empty(np.shape(positions))
        for j, s in enumerate(seeds):
            d = np.random.default_rng(s).standard_normal(out.shape[1:]) * v * lag
            out[j] = d - d.mean(axis=0)
        return out
    return step


def md_like(st, diffusion, runs, seed):
    """Independent 'MD' displacements at 2τ: one Brownian draw of lag 2τ per run."""
    fn = brownian_step_fn(st[0].species, diffusion)
    return [fn(np.repeat(s.positions[None], runs, 0), 2 * LAG, [seed + 1000 * i + r for r in range(runs)])
            for i, s in enumerate(st)]


def rows(res, comparison, statistic=None):
    return [r for r in res["rows"] if r["comparison"] == comparison and (statistic is None or r["statistic"] == statistic)]


def test_two_brownian_steps_equal_one_of_twice_the_lag():
    st = starts()
    res = chapman_kolmogorov(brownian_step_fn(st[0].species, D), st, LAG, n_samples=16, seed=1)
    assert res["verdict"] == "consistent" and res["md_verdict"] is None
    ck = rows(res, "two-step vs one-step")
    assert {r["statistic"] for r in ck} == {"msd", "fs", "alpha2", "w1"} and len(ck) == 8
    assert all(r["verdict"] == "pass" for r in ck)
    var = exact_component_variance(st[0].species, D, 2 * LAG)
    for sp, name in ((0, "A"), (1, "B")):
        v = var[st[0].species == sp][0]
        for side in ("two_step", "one_step"):
            got = res["values"][side]
            assert got[f"msd[{name}]"] == pytest.approx(3 * v, rel=0.04)  # MSD = 3·2D·2τ (COM-corrected)
            assert got[f"fs[{name}]"] == pytest.approx(np.exp(-DEFAULT_Q**2 * v / 2), abs=0.02)  # exp(−q²·D·2τ)
            assert abs(got[f"alpha2[{name}]"]) < 0.05  # Gaussian
        msd = [r for r in ck if r["statistic"] == "msd" and r["species"] == name][0]
        assert abs(msd["generated"] / msd["reference"] - 1) < 0.03
    for r in rows(res, "two-step vs one-step", "w1"):
        assert 0 < r["generated"] < 2 * r["noise_floor"]  # a draw of the floor, not beyond


def test_ballistic_steps_are_flagged():
    st = starts()
    res = chapman_kolmogorov(ballistic_step_fn(), st, LAG, n_samples=16, seed=1)
    assert res["verdict"] == "inconsistent"
    for r in rows(res, "two-step vs one-step", "msd"):
        assert r["generated"] / r["reference"] == pytest.approx(0.5, rel=0.05)  # 2τ² against (2τ)²
        assert r["verdict"] == "fail"
    assert all(r["verdict"] == "fail" for r in rows(res, "two-step vs one-step", "w1"))
    assert "INCONSISTENT" in summary_lines(res)[-1]


@pytest.mark.parametrize("runs, floor", [(8, "runs"), (1, "starts")])
def test_md_reference_passes_when_equal_and_fails_when_faster(runs, floor):
    st = starts(6 if runs == 1 else 3)
    fn = brownian_step_fn(st[0].species, D)
    same = chapman_kolmogorov(fn, st, LAG, md_like(st, D, runs, 7), n_samples=16, seed=2)
    assert same["md_floor"] == floor and same["md_verdict"] == "pass" and same["verdict"] == "consistent"
    assert {r["comparison"] for r in same["rows"]} == {"two-step vs one-step", "two-step vs MD", "one-step vs MD"}
    fast = chapman_kolmogorov(fn, st, LAG, md_like(st, 1.5 * D, runs, 7), n_samples=16, seed=2)
    assert fast["md_verdict"] == "fail" and fast["verdict"] == "consistent"
    for r in rows(fast, "two-step vs MD", "msd"):
        assert r["generated"] / r["reference"] == pytest.approx(1 / 1.5, rel=0.1) and r["verdict"] == "fail"


def test_draws_are_deterministic_and_chained_from_the_moved_configuration():
    st = starts(1)
    seen = []

    def spy(positions, lag, seeds):
        seen.append((positions.copy(), lag))
        return brownian_step_fn(st[0].species, D)(positions, lag, seeds)

    a = draw_chains(spy, st[0], LAG, 4, seed=3)
    b = draw_chains(spy, st[0], LAG, 4, seed=3)
    c = draw_chains(spy, st[0], LAG, 4, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    (x0, l1), (x1, l2), (_, l3) = seen[:3]
    assert (l1, l2, l3) == (LAG, LAG, 2 * LAG)
    assert np.all((x1 >= 0) & (x1 < st[0].box)) and not np.allclose(x1, x0)  # second step sees folded x₀ + Δ₁


def test_bad_inputs():
    st = starts(2)
    fn = brownian_step_fn(st[0].species, D)
    with pytest.raises(InputError, match="n_samples"):
        chapman_kolmogorov(fn, st, LAG, n_samples=3)
    with pytest.raises(InputError, match="2 MD displacement sets for 1 starts|1 MD displacement sets for 2 starts"):
        chapman_kolmogorov(fn, st, LAG, md_like(st[:1], D, 4, 0), n_samples=4)
    with pytest.raises(InputError, match="MD displacements must be"):
        chapman_kolmogorov(fn, st, LAG, [np.zeros((4, 5, 3))] * 2, n_samples=4)
    with pytest.raises(InputError, match="positive time"):
        chapman_kolmogorov(fn, st, -1.0, n_samples=4)
    with pytest.raises(InputError, match="returned shape"):
        chapman_kolmogorov(lambda x, lag, s: np.full(x.shape, np.nan), st, LAG, n_samples=4)


def test_reference_starts_from_ensembles_and_trajectories(tmp_path):
    st = starts(2)
    md = md_like(st, D, 4, 1)
    for i, (s, d) in enumerate(zip(st, md)):
        pos = np.stack([s.positions + 0.5 * d, s.positions + d], axis=1)  # lags τ and 2τ
        write_ensemble(tmp_path / "ens" / f"c{i}.h5", Ensemble(s.species, s.box, s.positions, [LAG, 2 * LAG], pos))
    got_s, got_md = reference_starts(tmp_path / "ens", LAG, n_starts=8)
    assert len(got_s) == 2
    np.testing.assert_allclose(got_md[1], md[1], atol=1e-12)
    with pytest.raises(InputError, match="no lag 2τ = 3"):
        reference_starts(tmp_path / "ens", 1.5)
    times = np.arange(0.0, 10.5, 0.5)  # frames 2τ = 2 apart: 17 origins
    x = st[0].positions + np.cumsum(np.r_[np.zeros((1, *st[0].positions.shape)),
                                          0.01 * np.random.default_rng(0).normal(size=(20, *st[0].positions.shape))], 0)
    write_trajectory(tmp_path / "t.h5", Trajectory(st[0].species, st[0].box, times, x))
    got_s, got_md = reference_starts(tmp_path / "t.h5", LAG, n_starts=5)
    assert len(got_s) == 5 and got_md[0].shape == (1, *x.shape[1:])
    np.testing.assert_allclose(got_md[-1][0], x[20] - x[16], atol=1e-12)  # last origin t = 8, frame t = 10


def test_evaluate_command_runs_the_check_with_a_flow_checkpoint(tmp_path):
    import torch

    from glassgen.flow import paths
    from glassgen.flow.context import LocalEncoder
    from glassgen.flow.model import FlowModel, save_model
    from glassgen.flow.velocity import VelocityConfig

    torch.manual_seed(0)
    model = FlowModel(LocalEncoder(width=8, cutoff=1.5), VelocityConfig(embed_dim=8, hidden=8, n_layers=1),
                      paths.PriorScale([1.0, 2.0], [[0.1, 0.1], [0.14, 0.14]]), "flow")
    save_model(model, tmp_path / "m.safetensors")
    s = starts(1)[0]
    md = md_like([s], D, 8, 3)[0]
    ens = Ensemble(s.species, s.box, s.positions, [2 * LAG], (s.positions + md)[:, None])
    write_ensemble(tmp_path / "ref.h5", ens)
    cmd = [sys.executable, "-m", "glassgen.cli.app", "evaluate", str(tmp_path / "ref.h5"), str(tmp_path / "ref.h5"),
           "-o", str(tmp_path / "out"), "--no-plots", "--ck-model", str(tmp_path / "m.safetensors"), "--ck-lag", str(LAG),
           "--ck-samples", "4", "--ck-ode-steps", "2", "--ck-method", "euler"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode in (0, 1), res.stderr
    out = json.loads((tmp_path / "out" / "chapman_kolmogorov.json").read_text())
    assert out["n_starts"] == 1 and out["n_samples"] == 4 and out["md_floor"] == "runs"
    assert {r["comparison"] for r in out["rows"]} == {"two-step vs one-step", "two-step vs MD", "one-step vs MD"}
    assert "Chapman–Kolmogorov verdict" in res.stdout
    ok = out["verdict"] == "consistent" and out["md_verdict"] == "pass"
    assert (res.returncode == 0) == (ok and json.loads((tmp_path / "out" / "report.json").read_text())["verdict"] == "pass")
    bad = [str(tmp_path / "out2") if a == str(tmp_path / "out") else a for a in cmd[:-8]] + ["--ck-lag", "0.7"]
    res = subprocess.run(bad, capture_output=True, text=True)  # REF has no lag 1.4
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "no lag 2τ" in res.stderr
    assert not (tmp_path / "out2").exists()  # refused before the evaluation wrote anything


def test_second_step_of_a_second_order_sampler_reads_the_first():
    """A history step function gets None on the first step (and on the one step of 2τ) and Δ₁ on the
    second: a chain that steps back by half its last step has two-step totals Δ₁/2."""
    st = starts(1)[0]
    got = []

    def fn(positions, lag, seeds, previous=None):
        got.append(previous)
        first = np.full(positions.shape, 0.1) * np.asarray(seeds, dtype=float)[:, None, None] / max(seeds)
        return first if previous is None else -0.5 * previous

    fn.history = True
    two, _ = draw_chains(fn, st, 1.0, 4)
    assert got[0] is None and got[2] is None and got[1] is not None
    np.testing.assert_allclose(two, 0.5 * got[1], rtol=1e-12)
    assert np.abs(got[1]).max() > 0.05
