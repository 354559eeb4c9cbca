"""The trained weights shipped in checkpoints/: each loads by name, is the model its recipe builds, carries the
domain it was trained on and the settings it was validated with, and draws sound fields."""
from pathlib import Path

import numpy as np
import pytest

from glassgen import Snapshot

from glassgen.system import ka
from glassgen.flow import paths
from glassgen.core.checkpoint import FORMAT_VERSION, read_metadata
from glassgen.core.recipe import load_yaml
from glassgen.flow.mobility import EnergySize
from glassgen.flow.model import load_model
from glassgen.flow.recipe import load_recipe
from glassgen.sampling.models import load_model as load_any
from glassgen.sampling.sample import sample
from glassgen.sampling.solvers import SolverConfig
from glassgen.flow.train import build_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "checkpoints").glob("*.safetensors"))
CHAINS = [p for p in SHIPPED if p.stem.startswith("flow-proof-")]  # the chain models of the rollout proof
GENERATORS = [p for p in SHIPPED if p.stem.startswith("flow-") and p not in CHAINS]


def test_every_shipped_checkpoint_has_its_recipe_and_an_entry_in_the_readme():
    assert SHIPPED, "checkpoints/ ships no weights"
    readme = (ROOT / "checkpoints" / "README.md").read_text()
    for path in SHIPPED:
        assert (ROOT / "recipes" / f"{path.stem}.yaml").is_file(), f"{path.name}: no recipes/{path.stem}.yaml"
        assert f"`{path.name}`" in readme, f"{path.name} is not described in checkpoints/README.md"


@pytest.mark.parametrize("path", CHAINS + GENERATORS, ids=[p.stem for p in CHAINS + GENERATORS])
def test_shipped_checkpoint_is_the_model_its_recipe_builds(path):
    recipe = load_recipe(ROOT / "recipes" / f"{path.stem}.yaml")
    model = load_model(path)
    n_species = model.config()["n_species"]
    lags = recipe.data.lags or [recipe.data.lag]  # trajectory data name their lags; npz ensembles their one lag
    prior = paths.PriorScale(np.asarray(lags), np.ones((len(lags), n_species)))
    size = EnergySize.placeholder(n_species) if recipe.model.energy_prior else None  # its fit is data
    assert build_model(recipe, prior, size).config() == model.config()
    # the prior's lags are the recipe's: a rollout at another lag would interpolate the scale silently
    np.testing.assert_allclose(np.exp(model.prior.log_lags.numpy()), lags, rtol=1e-6)
    meta = read_metadata(path)
    assert meta["format_version"] == FORMAT_VERSION and meta["kind"] == "flow"
    assert meta["info"]["step"] == recipe.train.steps and np.isfinite(meta["info"]["val_loss"])


@pytest.mark.parametrize("path", CHAINS, ids=[p.stem for p in CHAINS])
def test_shipped_domain_is_the_training_data_and_defaults_are_the_validated_settings(path):
    """Domain: the training MD recipe's state point and the fit recipe's lags; defaults: a rollout at the lag
    the proof chained, with a thermal correction at the model's own temperature."""
    recipe = load_recipe(ROOT / "recipes" / f"{path.stem}.yaml")
    t = path.stem.split("-T")[1].split("-")[0]
    md = load_yaml(ROOT / "recipes" / f"proof-T{t}-train.yaml")
    meta = read_metadata(path)
    dom, roll = meta["domain"], meta["defaults"]["rollout"]
    assert dom["temperature"] == [md["temperature"]] == [float(t)]
    assert dom["density"] == md["system"]["density"] and dom["n_particles"] == [md["system"]["n"]] * 2
    assert dom["species"] == [0, 1] and dom["fractions"] == [0.8, 0.2]
    assert dom["lag"] == [min(recipe.data.lags), max(recipe.data.lags)]
    assert dom["lag"][0] <= roll["lag"] <= dom["lag"][1] and roll["relax_temperature"] == float(t)
    assert roll["relax"] == "quench" and roll["relax_when"] == "always" and roll["max_resample"] == 0
    assert meta["defaults"]["sample"]["lag"] == roll["lag"]
    card = meta["card"]
    assert card["training"]["command"].startswith("glassgen fit recipes/" + path.stem)
    assert all(m["command"].startswith("glassgen ") and "value" in m for m in card["metrics"])
    # a shipped name resolves to the file, and the loaded model carries the same metadata
    assert load_any(path.stem).checkpoint["domain"] == dom


def _ka_snapshot(seed=0, n_side=10, density=1.2):
    """A perturbed simple-cubic KA 80:20 configuration at the proof's density (not equilibrated)."""
    rng = np.random.default_rng(seed)
    L = ka.box_edge(n_side**3, density)
    g = (np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * L / n_side
    species = np.zeros(n_side**3, int)
    species[rng.permutation(n_side**3)[: n_side**3 // 5]] = 1
    return Snapshot(species, np.full(3, L), (g + 0.05 * rng.normal(size=g.shape)) % L)


@pytest.mark.parametrize("path", CHAINS + GENERATORS, ids=[p.stem for p in CHAINS + GENERATORS])
def test_shipped_checkpoint_draws_are_finite_seeded_and_translation_invariant(path):
    model = load_model(path)
    snap = _ka_snapshot()
    lag = float(np.exp(model.prior.log_lags[len(model.prior.log_lags) // 2].item()))
    hist = np.zeros_like(snap.positions) if model.velocity.cfg.history else None
    kw = dict(solver=SolverConfig("heun", 2), seed=3, force=True)  # a lattice start: no temperature
    if hist is not None:
        kw["previous"] = hist
    if model.velocity.cfg.memory:
        kw["window"] = hist
    a, _ = sample(model, snap, lag, 1, **kw)
    shifted = Snapshot(snap.species, snap.box, (snap.positions + np.array([1.3, -0.4, 2.2])) % snap.box)
    b, _ = sample(model, shifted, lag, 1, **kw)
    assert np.isfinite(a).all() and a.shape == (1, *snap.positions.shape)
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(a[0].mean(0), 0.0, atol=1e-5)


T044 = {"species": [0, 1], "fractions": [0.8, 0.2], "density": 1.2, "temperature": [0.44],
        "n_particles": [4096, 4096], "lag": [4120.0, 4120.0]}


def test_shipped_botan_is_its_recipes_model_from_the_published_weights_with_their_attribution():
    from glassgen.encoder.train import load_recipe as load_propensity

    path = ROOT / "checkpoints" / "botan-T0.44.safetensors"
    recipe = load_propensity(ROOT / "recipes" / "botan-T0.44.yaml")
    model = load_any("botan-T0.44")
    assert model.config == recipe.model and recipe.train.init.endswith("model1.pth")
    meta = read_metadata(path)
    assert meta["kind"] == "botan" and meta["domain"] == T044
    assert "Shiba" in meta["card"]["initial_weights"] and "Apache" in meta["card"]["licence"]


@pytest.mark.parametrize("path", GENERATORS, ids=[p.stem for p in GENERATORS])
def test_shipped_generator_reads_the_shipped_botan_and_carries_its_state_point(path):
    """The T = 0.44 generator's frozen encoder is botan-T0.44, weight for weight; its domain is the shared data's."""
    meta = read_metadata(path)
    assert meta["domain"] == T044 and meta["defaults"]["sample"]["lag"] == 4120.0
    enc = load_model(path).encoder.state_dict()
    botan = load_any("botan-T0.44").state_dict()
    assert enc.keys() == botan.keys() and all(np.array_equal(enc[k].numpy(), botan[k].numpy()) for k in botan)
