"""A flow trained a few hundred steps on a toy conditional Gaussian mixture reproduces it (multi-lag)."""
import numpy as np
import pytest
import torch
import yaml

from glassgen import Ensemble, Snapshot, write_ensemble
from glassgen.flow.model import load_model
from glassgen.sampling.sample import sample
from glassgen.sampling.solvers import SolverConfig
from glassgen.flow.train import fit_flow

L, LAGS = 4.0, (1.0, 100.0)
# (mode offset m, mode width w) of the x component of A particles per lag: nearly Gaussian at short
# lag, two well separated modes (cage and hop) at long lag; B particles and y, z are Gaussian.
MODES = {1.0: (0.06, 0.05), 100.0: (0.5, 0.06)}
B_STD = {1.0: 0.05, 100.0: 0.25}


def lattice(seed=0):
    rng = np.random.default_rng(seed)
    g = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    x = (g + 0.08 * rng.normal(size=g.shape)) % L
    species = (np.arange(64) % 5 == 0).astype(int)  # 13 B, 51 A
    return species, x


def toy_displacements(species, lag, n_runs, rng):
    m, w = MODES[lag]
    a = species == 0
    d = rng.normal(size=(n_runs, len(species), 3))
    d[:, a, 1:] *= 0.1
    sign = rng.choice([-1.0, 1.0], size=(n_runs, int(a.sum())))
    d[:, a, 0] = sign * m + w * d[:, a, 0]
    d[:, ~a] *= B_STD[lag]
    return d - d.mean(axis=1, keepdims=True)  # momentum conservation: no centre-of-mass motion


def stats(d, species):
    """Per species: mean and variance of each component, and the bimodal fraction |x_A| > m/2."""
    out = {}
    for s in (0, 1):
        v = d[:, species == s].reshape(-1, 3)
        out[s] = (v.mean(0), v.var(0))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("toy")
    species, x = lattice()
    rng = np.random.default_rng(1)
    disp = np.stack([toy_displacements(species, lag, 256, rng) for lag in LAGS], axis=1)  # (R,K,N,3)
    write_ensemble(tmp / "toy.h5", Ensemble(species, np.full(3, L), x, np.array(LAGS), x[None, None] + disp))
    recipe = {"task": "flow", "out": "run", "data": {"train": ["toy.h5"]},
              "encoder": {"kind": "local", "width": 32, "cutoff": 1.2},
              "model": {"hidden": 32, "n_layers": 2, "cutoff": 1.2},  # 6 neighbours: keeps the test fast
              "train": {"steps": 300, "batch_size": 16, "lr": 3e-3, "ema_decay": 0.98, "augment": False,
                        "checkpoint_every": 300, "eval_every": 300}}
    (tmp / "r.yaml").write_text(yaml.safe_dump(recipe))
    torch.manual_seed(0)
    fit_flow(tmp / "r.yaml", progress=False)
    return load_model(tmp / "run" / "best.safetensors"), Snapshot(species, np.full(3, L), x), species


@pytest.mark.parametrize("lag", LAGS)
def test_conditional_mixture_mean_and_variance(trained, lag):
    model, snap, species = trained
    gen, nfe = sample(model, snap, lag, 128, solver=SolverConfig("heun", 8), seed=3)
    assert nfe == 16
    ref = toy_displacements(species, lag, 4096, np.random.default_rng(7))
    sg, sr = stats(gen, species), stats(ref, species)
    scale = np.sqrt(sr[0][1].sum())  # typical displacement at this lag
    for s in (0, 1):
        np.testing.assert_allclose(sg[s][0], sr[s][0], atol=0.08 * scale)  # means (≈ 0 by symmetry and COM)
        np.testing.assert_allclose(sg[s][1], sr[s][1], rtol=0.25, atol=0.003 * scale**2)  # per-component variance


def test_lag_dependent_shape_not_just_scale(trained):
    """Scale comes from the prior; the bimodal shape at the long lag must come from the network."""
    model, snap, species = trained
    a = species == 0
    frac = {}
    for lag in LAGS:
        gen, _ = sample(model, snap, lag, 128, solver=SolverConfig("heun", 8), seed=4)
        m = MODES[lag][0]
        frac[lag] = np.mean(np.abs(gen[:, a, 0]) > m / 2)
        ref = toy_displacements(species, lag, 4096, np.random.default_rng(8))
        ref_frac = np.mean(np.abs(ref[:, a, 0]) > m / 2)
        # x variance of A grows ~70x between the lags; the model follows it
        assert abs(frac[lag] - ref_frac) < 0.08, (lag, frac[lag], ref_frac)
    # a Gaussian with the right variance would put only ~62% of A particles beyond m/2 at the long lag
    assert frac[100.0] > 0.85
