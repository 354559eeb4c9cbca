"""Energy term of the flow loss: torch KA energies, the predicted endpoint, an O(N) term against ka's reference."""
import csv

import numpy as np
import pytest
import torch

from glassgen import Ensemble, write_ensemble

from glassgen.system import ka
from glassgen.core.errors import InputError
from glassgen.flow import paths
from glassgen.flow.energy import energy_term
from glassgen.flow.train import fit_flow

from flow_fixtures import tiny_flow_recipe


def _lattice(rng, m=4):
    """4 m³ KA particles on a jittered fcc lattice at density 1.2 (box 5.98 for m = 4), 20 % of them B."""
    a = (4 / ka.DENSITY) ** (1 / 3)
    cell = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    g = (np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 1, 3) + cell).reshape(-1, 3) * a
    species = (np.arange(len(g)) % 5 == 0).astype(np.int64)
    return (g + 0.03 * rng.normal(size=g.shape)) % (m * a), species, np.full(3, m * a)


@pytest.mark.parametrize("a,b", [(0, 0), (0, 1), (1, 1)])
def test_torch_pair_energy_is_numpys_and_its_derivative_is_the_finite_difference(a, b):
    r = np.linspace(0.8 * ka.SIGMA[a, b], 1.05 * ka.CUTOFF[a, b], 301)
    rt = torch.tensor(r, requires_grad=True)
    v = ka.pair_energy(rt, torch.tensor(a), torch.tensor(b))
    np.testing.assert_allclose(v.detach().numpy(), ka.pair_energy(r, a, b), rtol=1e-12, atol=1e-12)
    (g,) = torch.autograd.grad(v.sum(), rt)
    h = 1e-6
    fd = (ka.pair_energy(r + h, a, b) - ka.pair_energy(r - h, a, b)) / (2 * h)
    inside = np.abs(r - ka.CUTOFF[a, b]) > 2 * h  # the shifted potential has a kink in V' at r_c
    np.testing.assert_allclose(g.numpy()[inside], fd[inside], rtol=1e-5, atol=1e-6)
    assert np.all(g.numpy()[r > ka.CUTOFF[a, b]] == 0)


@pytest.mark.parametrize("kind", paths.KINDS)
def test_endpoint_of_the_conditional_velocity_is_the_data(kind):
    gen = torch.Generator().manual_seed(0)
    x1, x0 = torch.randn(5, 7, 3, generator=gen, dtype=torch.float64), torch.randn(5, 7, 3, generator=gen, dtype=torch.float64)
    t = torch.rand(5, 1, 1, generator=gen, dtype=torch.float64) * 0.98 + 0.01
    a, s, da, ds = paths.schedule(kind, t)
    x1_hat = paths.endpoint(kind, t, a * x1 + s * x0, da * x1 + ds * x0)
    torch.testing.assert_close(x1_hat, x1, rtol=1e-10, atol=1e-10)


def _reference(x0, species, box, x1_hat, x1, t, weight, t_min, delta=1.0):
    """The term from ka.energy_per_particle of the two whole configurations (numpy, no pair-list trick)."""
    tot = 0.0
    for b in range(len(t)):
        if t[b] < t_min:
            continue
        e_hat = ka.energy_per_particle(x0 + x1_hat[b], species, box)
        e = ka.energy_per_particle(x0 + x1[b], species, box)
        d = np.abs(e_hat - e)
        tot += np.where(d < delta, 0.5 * d ** 2, delta * (d - 0.5 * delta)).mean()
    return weight * tot / len(t)


def test_energy_term_matches_whole_configuration_energies_and_is_periodic(rng):
    x0, species, box = _lattice(rng)
    x1 = 0.08 * rng.normal(size=(3,) + x0.shape)
    x1_hat = x1 + 0.005 * rng.normal(size=x1.shape)
    t = np.array([0.9, 0.5, 0.95])
    ref = _reference(x0, species, box, x1_hat, x1, t, 3.0, 0.8)
    xh = torch.tensor(x1_hat, requires_grad=True)
    got = energy_term(xh, torch.tensor(x1), torch.tensor(t), x0, species, box, 3.0, 0.8)
    assert ref > 1e-3 and got.item() == pytest.approx(ref, rel=1e-7)
    (g,) = torch.autograd.grad(got, xh)
    assert torch.isfinite(g).all() and g[1].abs().max() == 0 and g[0].abs().max() > 0  # sample 1 is at t < t_min
    # lattice shifts and a translation of the snapshot change nothing
    moved = x0 + box * rng.integers(-2, 3, size=x0.shape) + 0.37
    again = energy_term(torch.tensor(x1_hat), torch.tensor(x1), torch.tensor(t), moved, species, box, 3.0, 0.8)
    assert again.item() == pytest.approx(ref, rel=1e-7)
    # errors of several ε reach Huber's linear branch (same as the reference); pairs that come from beyond the
    # 0.1 skin into the 2.5 cutoff are missed, at energies near the shifted potential's zero
    far = x1 + 0.04 * rng.normal(size=x1.shape)
    big = energy_term(torch.tensor(far), torch.tensor(x1), torch.tensor(t), x0, species, box, 1.0, 0.8).item()
    assert big > 1.0 and big == pytest.approx(_reference(x0, species, box, far, x1, t, 1.0, 0.8), rel=1e-4)


def test_energy_term_vanishes_on_the_data_and_before_t_min(rng):
    x0, species, box = _lattice(rng)
    x1 = torch.tensor(0.08 * rng.normal(size=(2,) + x0.shape))
    t = torch.tensor([0.85, 0.99])
    assert energy_term(x1.clone(), x1, t, x0, species, box, 10.0, 0.8).item() == pytest.approx(0.0, abs=1e-12)
    xh = (x1 + 0.05).requires_grad_()  # a uniform shift moves no pair: no energy change
    assert energy_term(xh, x1, t, x0, species, box, 10.0, 0.8).item() == pytest.approx(0.0, abs=1e-12)
    off = energy_term(x1 + torch.randn_like(x1), x1, torch.tensor([0.1, 0.7]), x0, species, box, 10.0, 0.8)
    assert off.item() == 0.0


@pytest.fixture()
def ka_toy(tmp_path, rng):
    x0, species, box = _lattice(rng)
    for name in ("a", "b"):
        d = 0.05 * rng.normal(size=(8, 1) + x0.shape)
        write_ensemble(tmp_path / f"{name}.h5", Ensemble(species, box, x0, np.array([10.0]), x0[None, None] + d))

    def recipe(out, **train):
        return tiny_flow_recipe(tmp_path, out, ["a.h5"], ["b.h5"], augment=False, **train)
    return tmp_path, recipe


def test_fit_with_the_energy_term_changes_training_but_not_validation(ka_toy):
    tmp, recipe = ka_toy
    fit_flow(recipe("plain"), progress=False)
    fit_flow(recipe("energy", energy_weight=50.0, energy_from=0.0), progress=False)
    fit_flow(recipe("never", energy_weight=50.0, energy_from=0.999999), progress=False)  # no t of this seed reaches it
    rows = {k: list(csv.DictReader(open(tmp / k / "log.csv"))) for k in ("plain", "energy", "never")}
    first = {k: float(v[0]["loss"]) for k, v in rows.items()}
    assert first["energy"] > first["plain"] and first["never"] == first["plain"]  # same weights, batch and noise
    assert np.isfinite(float(rows["energy"][-1]["val_loss"]))


@pytest.mark.parametrize("train,match", [({"energy_weight": -1.0}, "energy_weight"), ({"energy_from": 1.0}, "energy_from"),
                                         ({"energy_weight": "yes"}, "energy_weight"), ({"energy_weight": True}, "energy_weight")])
def test_energy_recipe_errors(ka_toy, train, match):
    _, recipe = ka_toy
    with pytest.raises(InputError, match=match):
        fit_flow(recipe("bad", **train), progress=False)


def test_energy_term_refuses_small_boxes_and_foreign_species(tmp_path, rng):
    x0, species, box = _lattice(rng, m=3)  # box 4.48: the pair list would not be unique
    write_ensemble(tmp_path / "a.h5", Ensemble(species, box, x0, np.array([10.0]), x0[None, None] + 0.01))
    r = tiny_flow_recipe(tmp_path, "r", ["a.h5"], steps=1, energy_weight=1.0)
    with pytest.raises(InputError, match="a.h5.*box edges above 5.2"):
        fit_flow(r, progress=False)
    x0, species, box = _lattice(rng)
    write_ensemble(tmp_path / "a.h5", Ensemble(species * 2, box, x0, np.array([10.0]), x0[None, None] + 0.01))
    with pytest.raises(InputError, match="a.h5.*Kob–Andersen"):
        fit_flow(r, progress=False)
