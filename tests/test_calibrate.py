"""Noise scale (sampling temperature) and its calibration against MD's one-step MSD."""
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from glassgen import Snapshot, Trajectory, write_trajectory
from glassgen.cli.app import app
from glassgen.core.errors import InputError
from glassgen.flow import paths
from glassgen.sampling.calibrate import calibrate_noise
from glassgen.flow.context import LocalEncoder
from glassgen.flow.model import FlowModel, save_model
from glassgen.sampling.sample import sample
from glassgen.sampling.solvers import SolverConfig
from glassgen.flow.velocity import VelocityConfig

L, S = 6.0, (0.05, 0.09)  # box edge; prior width per species at every lag


def lattice(seed=0):
    g = np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    species = (np.arange(len(g)) % 4 == 0).astype(int)
    return species, (g + 0.05 * np.random.default_rng(seed).normal(size=g.shape)) % L


def still_model(history=False, seed=0):
    """A flow model whose velocity is zero: a draw is its prior noise x0 ~ N(0, (c s)²), COM removed."""
    torch.manual_seed(seed)
    m = FlowModel(LocalEncoder(width=8, cutoff=1.5), VelocityConfig(embed_dim=8, hidden=8, n_layers=1, history=history),
                  paths.PriorScale([1.0, 100.0], [list(S), list(S)]), "flow")
    with torch.no_grad():
        m.velocity.head[2].weight.zero_()
        m.velocity.head[2].bias.zero_()
    return m


def gaussian_md(factors, n_traj=3, frames=6, lag=2.0, seed=0):
    """Trajectories whose steps are Gaussian with std factors[s] * S[s] per component."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_traj):
        species, x = lattice(seed + k)
        std = np.asarray(factors)[species, None] * np.asarray(S)[species, None]
        steps = std * rng.normal(size=(frames - 1, *x.shape))
        pos = np.concatenate([x[None], x[None] + np.cumsum(steps, axis=0)])
        out.append(Trajectory(species, np.full(3, L), lag * np.arange(frames), pos, {"source": f"md{k}"}))
    return out


def test_noise_scale_multiplies_each_species_prior_width():
    m, (species, x) = still_model(), lattice()
    snap = Snapshot(species, np.full(3, L), x)
    d1, _ = sample(m, snap, 2.0, 3, solver=SolverConfig(ode_steps=2), seed=7)
    np.testing.assert_array_equal(d1, sample(m, snap, 2.0, 3, solver=SolverConfig(ode_steps=2), seed=7, noise_scale=1.0)[0])
    np.testing.assert_allclose(sample(m, snap, 2.0, 3, solver=SolverConfig(ode_steps=2), seed=7, noise_scale=2.0)[0], 2 * d1, atol=1e-12)
    d, _ = sample(m, snap, 2.0, 3, solver=SolverConfig(ode_steps=2), seed=7, noise_scale=[2.0, 3.0])
    for s, c in ((0, 2.0), (1, 3.0)):  # within a species the COM shift cancels: differences scale by c_s
        i = np.flatnonzero(species == s)
        np.testing.assert_allclose(d[:, i] - d[:, i[:1]], c * (d1[:, i] - d1[:, i[:1]]), atol=1e-6)  # float32 draws
    zero = [sample(m, snap, 2.0, 2, solver=SolverConfig("euler", 1), seed=k, noise_scale=0.0)[0] for k in (1, 2)]
    np.testing.assert_array_equal(zero[0], zero[1])  # c = 0: the draw from the prior's centre, whatever the seed
    np.testing.assert_array_equal(zero[0][0], zero[0][1])
    for bad in ([1.0, 1.0, 1.0], -1.0, [1.0, float("nan")], -0.0 - 1e-9):
        with pytest.raises(InputError, match="noise scale"):
            sample(m, snap, 2.0, 1, solver=SolverConfig(ode_steps=2), noise_scale=bad)


@pytest.mark.parametrize("history", [False, True])
def test_calibration_recovers_the_width_of_gaussian_steps(history):
    """MD steps of a_s s_s per component against a model that draws c s_s: the answer is c_s = a_s,
    up to the sampling noise of the two MSDs, which the exact ratio below takes out."""
    md = gaussian_md([1.3, 0.8])
    m = still_model(history=history)
    res = calibrate_noise(m, md, 2.0, origins=3, samples=4, trials=(0.7, 0.9, 1.1, 1.3, 1.5))
    assert res["pairs"] == 9
    gen1 = np.array(res["trial_msd"][0.9]) / 0.9 ** 2  # a draw at c is exactly c times the draw at 1
    exact = np.sqrt(np.array(res["md_msd"]) / gen1)
    np.testing.assert_allclose(res["noise_scale"], exact, rtol=1e-3)
    np.testing.assert_allclose(res["noise_scale"], [1.3, 0.8], rtol=0.1)
    np.testing.assert_allclose(res["check_msd"], res["md_msd"], rtol=0.03)


def test_calibration_refuses_a_target_outside_the_trials_and_short_trajectories():
    m = still_model()
    with pytest.raises(InputError, match="widen --trials"):
        calibrate_noise(m, gaussian_md([2.0, 2.0]), 2.0, origins=2, samples=1, trials=(0.9, 1.1))
    with pytest.raises(InputError, match="no pair of frames 5 apart"):
        calibrate_noise(m, gaussian_md([1.0, 1.0]), 5.0, origins=2, samples=1)
    with pytest.raises(InputError, match="with a step of the same lag before it"):
        calibrate_noise(still_model(history=True), gaussian_md([1.0, 1.0], frames=2), 2.0, origins=2, samples=1)


def test_md_pairs_of_a_memory_model_carry_the_window_of_the_chain():
    """With memory W, only origins with a step and W lags behind them are used, and each pair carries
    previous = x(t0) - x(t0 - τ) and window = x(t0) - x(t0 - W τ), as a running chain reads them."""
    from glassgen.sampling.calibrate import md_pairs

    md = gaussian_md([1.0, 1.0], n_traj=1, frames=8)
    x = md[0].positions
    pairs = md_pairs(md, 2.0, origins=10, history=True, memory=3)
    assert len(pairs) == 4  # origins 3..6 of frames 0..7
    for snap, d, prev, win in pairs:
        a = int(np.flatnonzero((x == snap.positions).all(axis=(1, 2)))[0])
        np.testing.assert_array_equal(d, x[a + 1] - x[a])
        np.testing.assert_array_equal(prev, x[a] - x[a - 1])
        np.testing.assert_array_equal(win, x[a] - x[a - 3])
    assert all(w is None for *_, w in md_pairs(md, 2.0, origins=10, history=True))
    with pytest.raises(InputError, match="a frame 9 lags before it"):
        md_pairs(md, 2.0, origins=2, history=True, memory=9)


def test_cli_calibrate_prints_the_option_and_rollout_takes_it(tmp_path):
    save_model(still_model(), tmp_path / "m.safetensors")
    for k, t in enumerate(gaussian_md([1.2, 1.2], n_traj=2)):
        write_trajectory(tmp_path / f"md{k}.h5", t)
    runner = CliRunner()
    res = runner.invoke(app, ["calibrate", str(tmp_path / "m.safetensors"), str(tmp_path / "md0.h5"),
                              str(tmp_path / "md1.h5"), "--lag", "2", "--origins", "2", "--samples", "2",
                              "--trials", "1,1.1,1.3,1.5", "-o", str(tmp_path / "cal.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "cal.json").read_text())
    line = res.output.strip().splitlines()[-1]
    assert line == "--noise-scale " + ",".join(f"{c:.4f}" for c in out["noise_scale"])
    assert all(1.0 < c < 1.5 for c in out["noise_scale"])
    species, x = lattice()  # spaced 1.2: a step of these widths keeps E_pot/N < 0 (a blown-up rollout exits 1)
    write_trajectory(tmp_path / "wide.h5", Trajectory(species, np.full(3, 1.2 * L), np.zeros(1), 1.2 * x[None]))
    args = ["rollout", str(tmp_path / "m.safetensors"), "--init", str(tmp_path / "wide.h5"), "--steps", "1",
            "--lag", "2", "--ode-steps", "2", "--max-resample", "0"]
    res = runner.invoke(app, args + ["--noise-scale", line.split()[1], "-o", str(tmp_path / "r.h5")])
    assert res.exit_code == 0, res.output
    from glassgen import read_trajectory

    assert read_trajectory(tmp_path / "r.h5").meta["noise_scale"] == line.split()[1]
    res = runner.invoke(app, args + ["--noise-scale", "1,1,1", "-o", str(tmp_path / "z.h5")])
    assert isinstance(res.exception, InputError) and "noise scale" in str(res.exception)
    assert not (tmp_path / "z.h5").exists()
