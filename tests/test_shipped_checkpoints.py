"""The trained weights shipped in checkpoints/: each loads, is the model its recipe builds, and draws sound fields."""
from pathlib import Path

import numpy as np
import pytest

from glassgen import Snapshot

from glassgen.system import ka
from glassgen.flow import paths
from glassgen.flow.model import checkpoint_metadata, load_model
from glassgen.flow.recipe import load_recipe
from glassgen.sampling.sample import sample
from glassgen.flow.train import build_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "checkpoints").glob("*.safetensors"))


def test_every_shipped_checkpoint_has_its_recipe_and_an_entry_in_the_readme():
    assert SHIPPED, "checkpoints/ ships no weights"
    readme = (ROOT / "checkpoints" / "README.md").read_text()
    for path in SHIPPED:
        assert (ROOT / "recipes" / f"{path.stem}.yaml").is_file(), f"{path.name}: no recipes/{path.stem}.yaml"
        assert f"`{path.name}`" in readme, f"{path.name} is not described in checkpoints/README.md"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_checkpoint_is_the_model_its_recipe_builds(path):
    recipe = load_recipe(ROOT / "recipes" / f"{path.stem}.yaml")
    model = load_model(path)
    n_species = model.config()["n_species"]
    prior = paths.PriorScale(np.asarray(recipe.data.lags), np.ones((len(recipe.data.lags), n_species)))
    assert build_model(recipe, prior).config() == model.config()
    # the prior's lags are the recipe's: a rollout at another lag would interpolate the scale silently
    np.testing.assert_allclose(np.exp(model.prior.log_lags.numpy()), recipe.data.lags, rtol=1e-6)
    meta = checkpoint_metadata(path)
    assert meta["format_version"] == 1 and meta["step"] > 0 and np.isfinite(meta["val_loss"])


def _ka_snapshot(seed=0, n_side=10, density=1.2):
    """A perturbed simple-cubic KA 80:20 configuration at the proof's density (not equilibrated)."""
    rng = np.random.default_rng(seed)
    L = ka.box_edge(n_side**3, density)
    g = (np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) * L / n_side
    species = np.zeros(n_side**3, int)
    species[rng.permutation(n_side**3)[: n_side**3 // 5]] = 1
    return Snapshot(species, np.full(3, L), (g + 0.05 * rng.normal(size=g.shape)) % L)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_checkpoint_draws_are_finite_seeded_and_translation_invariant(path):
    model = load_model(path)
    snap = _ka_snapshot()
    lag = float(np.exp(model.prior.log_lags[1].item()))
    hist = np.zeros_like(snap.positions) if model.velocity.cfg.history else None
    kw = dict(method="heun", ode_steps=2, seed=3)
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
