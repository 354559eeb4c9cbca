"""``glassgen evaluate`` end to end: MD halves pass, a Gaussian fake fails, bad input is one line."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glassgen.system.data import Ensemble, Trajectory
from glassgen.core.errors import InputError
from glassgen.io.h5md import write_ensemble, write_trajectory
from glassgen.stats.evaluate import evaluate
from glassgen.stats.features import Options

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"
DYNAMIC = {"msd", "fs", "alpha2", "Q", "chi4", "w1", "prop_mean", "prop_std", "pearson", "spearman", "edge_pearson", "edge_mean"}


def _rows(report, name, species="A"):
    return [r for r in report["statistics"] if r["statistic"] == name and r["species"] == species]


def cage_and_hop(seed, runs=32, times=(10.0, 100.0)):
    """A toy iso-configurational ensemble: caged vibrations plus hops whose rate varies in space."""
    rng = np.random.default_rng(seed)
    m, a = 8, (512 / 1.2) ** (1 / 3) / 8
    g = (np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * a
    x0 = g + rng.normal(0, 0.03, g.shape)
    species = (rng.random(512) < 0.2).astype(int)
    rate = 0.02 * (1.2 + np.sin(2 * np.pi * x0[:, 0] / (m * a)))  # slow and fast regions
    out = np.zeros((runs, len(times), 512, 3))
    for k, t in enumerate(times):
        n_hop = rng.poisson(rate[None] * t, (runs, 512))
        hop = rng.normal(size=(runs, 512, 3)) * np.sqrt(n_hop)[..., None] * 0.6
        out[:, k] = x0 + 0.1 * rng.normal(size=(runs, 512, 3)) + hop
    return Ensemble(species, [m * a] * 3, x0, list(times), out, {"source": f"toy{seed}"})


def gaussian_fake(ens, seed):
    """Each particle Gaussian, scaled to its true propensity (the README's straw man)."""
    rng = np.random.default_rng(seed)
    dr = ens.positions - ens.initial
    p = np.linalg.norm(dr, axis=-1).mean(0)  # (F, N)
    sig = p / (2 * np.sqrt(2 / np.pi))  # E|Δr| of a 3D Gaussian is 2σ√(2/π)
    fake = ens.initial + rng.normal(size=dr.shape) * sig[None, ..., None]
    return Ensemble(ens.species, ens.box, ens.initial, ens.times, fake)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    for sub in ("a", "b", "fake", "full"):
        (root / sub).mkdir()
    for c in (1, 2):
        e = cage_and_hop(c)
        half = dict(species=e.species, box=e.box, initial=e.initial, times=e.times)
        write_ensemble(root / "a" / f"c{c}.h5", Ensemble(positions=e.positions[:16], **half))
        write_ensemble(root / "b" / f"c{c}.h5", Ensemble(positions=e.positions[16:], **half))
        write_ensemble(root / "full" / f"c{c}.h5", e)
        write_ensemble(root / "fake" / f"c{c}.h5", gaussian_fake(e, 10 + c))
    return root


def test_md_halves_pass_dynamics_and_fake_fails_w1_and_alpha2(toy, tmp_path):
    rep = evaluate(toy / "a", toy / "b", tmp_path / "halves", progress=False, n_boot=50)
    saved = json.loads((tmp_path / "halves" / "report.json").read_text())
    assert saved["verdict"] == rep["verdict"] and len(saved["statistics"]) == len(rep["statistics"])
    assert {p for p in rep["plots"]} >= {"msd.png", "fs.png", "alpha2.png", "chi4.png", "van_hove.png", "propensity.png", "rdf.png"}
    assert all((tmp_path / "halves" / p).stat().st_size > 10_000 for p in rep["plots"])
    bad = [r for r in rep["statistics"] if r["statistic"] in DYNAMIC and r["verdict"] == "fail"]
    assert not bad, bad
    assert rep["bootstrap"] == "configurations" and rep["eval_times"] == [10.0, 100.0]
    # the attenuation-corrected expectation reproduces the measured MD-vs-MD correlation
    for r in _rows(rep, "pearson"):
        assert abs(r["difference"]) < 0.03

    fake = evaluate(toy / "fake", toy / "full", tmp_path / "fake", progress=False, n_boot=50, plots=False)
    assert fake["verdict"] == "fail"
    for name in ("w1", "alpha2"):
        late = [r for r in _rows(fake, name) if r["time"] == 100.0][0]
        assert late["verdict"] == "fail", late
    w1 = [r for r in _rows(fake, "w1") if r["time"] == 100.0][0]
    assert w1["generated"] > 3 * w1["noise_floor"]


def test_trajectories_random_walks(tmp_path):
    def walk(seed, step):
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 8.0, (300, 3)) + np.cumsum(rng.normal(0, step, (400, 300, 3)), axis=0)
        return Trajectory(rng.permutation(np.r_[np.zeros(240, int), np.ones(60, int)]), [8.0] * 3, np.arange(400.0), x)

    write_trajectory(tmp_path / "ref.h5", walk(1, 0.05))
    write_trajectory(tmp_path / "same.h5", walk(2, 0.05))
    write_trajectory(tmp_path / "fast.h5", walk(3, 0.08))
    ok = evaluate(tmp_path / "same.h5", tmp_path / "ref.h5", tmp_path / "o1", progress=False, plots=False, n_boot=40)
    assert ok["kind"] == "trajectory" and ok["bootstrap"] == "time-origin blocks"
    tau = [r for r in ok["statistics"] if r["statistic"] == "tau_alpha" and r["species"] == "A"][0]
    # Gaussian walk: F_s = exp(−q² 3s² t/6) → τ_α = 2/(q² s²)
    assert tau["reference"] == pytest.approx(2 / (7.25 ** 2 * 0.05 ** 2), rel=0.08)
    for name in ("msd", "fs", "alpha2"):
        assert all(r["verdict"] == "pass" for r in _rows(ok, name)), _rows(ok, name)
    fast = evaluate(tmp_path / "fast.h5", tmp_path / "ref.h5", tmp_path / "o2", progress=False, plots=False, n_boot=40)
    assert all(r["verdict"] == "fail" for r in _rows(fast, "msd"))
    d = [r for r in fast["statistics"] if r["statistic"] == "D" and r["species"] == "A"][0]
    assert d["generated"] / d["reference"] == pytest.approx((0.08 / 0.05) ** 2, rel=0.1)


def test_bad_inputs_are_one_line_errors(toy, tmp_path):
    with pytest.raises(InputError, match="both be files or both be folders"):
        evaluate(toy / "a" / "c1.h5", toy / "b", tmp_path / "x", progress=False)
    (tmp_path / "other").mkdir()
    e = cage_and_hop(1)
    write_ensemble(tmp_path / "other" / "zz.h5", e)
    with pytest.raises(InputError, match="no reference file for zz.h5"):
        evaluate(tmp_path / "other", toy / "b", tmp_path / "x", progress=False)
    moved = Ensemble(e.species, e.box, (e.initial + 0.3) % e.box[0], e.times, e.positions + 0.3)
    write_ensemble(tmp_path / "moved.h5", moved)
    with pytest.raises(InputError, match="initial configuration differs"):
        evaluate(tmp_path / "moved.h5", toy / "b" / "c1.h5", tmp_path / "x", progress=False)
    with pytest.raises(InputError, match="not lags of both"):
        evaluate(toy / "a", toy / "b", tmp_path / "x", times=[55.0], progress=False)
    res = subprocess.run([sys.executable, "-m", "glassgen.cli.app", "evaluate", str(tmp_path / "nope"), str(toy / "b"), "-o", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "no such file" in res.stderr


@pytest.mark.shared_data
@pytest.mark.skipif(not DATA.exists(), reason="shared BOTAN data absent")
def test_botan_gaussian_fake_fails_and_halves_pass(tmp_path):
    """Configurations 9 and 10 (the data README's numbers: W1 ≈ 0.09 vs floor ≈ 0.009; α₂ 0.5 vs 1.7)."""
    box = [(4096 / 1.2) ** (1 / 3)] * 3
    for sub in ("md", "fake", "a", "b"):
        (tmp_path / sub).mkdir()
    for c in (9, 10):
        d = np.load(DATA / f"isoconfig_N4096T0.44_{c}_tc07.npz")
        e = Ensemble(d["types"], box, d["initial_positions"], [4120.0], d["positions"][:, None])
        write_ensemble(tmp_path / "md" / f"c{c}.h5", e)
        write_ensemble(tmp_path / "fake" / f"c{c}.h5", gaussian_fake(e, c))
        kw = dict(species=e.species, box=e.box, initial=e.initial, times=e.times)
        write_ensemble(tmp_path / "a" / f"c{c}.h5", Ensemble(positions=e.positions[:16], **kw))
        write_ensemble(tmp_path / "b" / f"c{c}.h5", Ensemble(positions=e.positions[16:], **kw))
    opt = Options(n_structure=2)  # structure is not what this test is about: keep it cheap
    fake = evaluate(tmp_path / "fake", tmp_path / "md", tmp_path / "o1", opt, progress=False, plots=False, n_boot=50)
    w1, a2, fs = _rows(fake, "w1")[0], _rows(fake, "alpha2")[0], _rows(fake, "fs")[0]
    assert w1["verdict"] == "fail" and a2["verdict"] == "fail" and fake["verdict"] == "fail"
    assert 0.07 < w1["generated"] < 0.11 and 0.005 < w1["noise_floor"] < 0.015
    assert 0.4 < a2["generated"] < 0.6 and 1.5 < a2["reference"] < 1.9
    assert 0.18 < fs["generated"] < 0.22 and 0.31 < fs["reference"] < 0.36
    halves = evaluate(tmp_path / "a", tmp_path / "b", tmp_path / "o2", opt, progress=False, plots=False, n_boot=50)
    assert halves["verdict"] == "pass", [r for r in halves["statistics"] if r["verdict"] == "fail"]
