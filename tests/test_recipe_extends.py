"""`extends:` in the one recipe loader (glassgen.core.recipe), through every recipe kind that uses it."""
import dataclasses
import textwrap
from pathlib import Path

import pytest

from glassgen.core.errors import InputError
from glassgen.core.recipe import load_yaml

BASE = """\
task: flow
out: ../runs/base
data:
  train: [../data/a.h5, ../data/b.h5]
  val: [../data/c.h5]
  lags: [2.0, 5.0]
model: {hidden: 32, n_layers: 3, geometry: 12}
train: {steps: 400, lr: 2.0e-3, seed: 0}
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_variant_in_another_folder_loads_as_the_full_recipe(tmp_path):
    from glassgen.flow.recipe import load_recipe

    base = _write(tmp_path / "recipes" / "base.yaml", BASE)
    variant = _write(tmp_path / "lab" / "recipes" / "wide.yaml", """\
        extends: ../../recipes/base.yaml
        out: ../../runs/wide
        model: {hidden: 64}
        train: {steps: 800}
        """)
    # the same recipe written out in full beside the variant (its data paths relative to lab/recipes/)
    full = _write(tmp_path / "lab" / "recipes" / "wide-full.yaml", BASE.replace("../", "../../")
                  .replace("runs/base", "runs/wide").replace("hidden: 32", "hidden: 64").replace("steps: 400", "steps: 800"))
    got, want = load_recipe(variant), load_recipe(full)
    assert Path(got.out).resolve() == Path(want.out).resolve() == (tmp_path / "runs" / "wide").resolve()
    assert [Path(p).resolve() for p in got.data.train] == [(tmp_path / "data" / n).resolve() for n in ("a.h5", "b.h5")]
    assert [Path(p).resolve() for p in got.data.val] == [Path(p).resolve() for p in want.data.val]
    g, w = dataclasses.asdict(got), dataclasses.asdict(want)
    for r in (g, w):
        r.pop("out"), r["data"].pop("train"), r["data"].pop("val")
    assert g == w
    assert got.model.geometry == 12 and got.model.n_layers == 3 and got.train.lr == 2e-3  # kept from the base
    assert load_recipe(base).model.hidden == 32  # the base itself is untouched


def test_lists_replace_and_mappings_merge(tmp_path):
    _write(tmp_path / "base.yaml", BASE)
    v = _write(tmp_path / "v.yaml", "extends: base.yaml\ndata: {lags: [10.0]}\n")
    data = load_yaml(v)
    assert data["data"]["lags"] == [10.0]  # replaced, not appended
    assert data["data"]["val"] == ["../data/c.h5"] and "extends" not in data


def test_chain_of_bases(tmp_path):
    from glassgen.flow.recipe import load_recipe

    _write(tmp_path / "base.yaml", BASE)
    _write(tmp_path / "mid.yaml", "extends: base.yaml\nmodel: {history: true}\n")
    top = _write(tmp_path / "top.yaml", "extends: mid.yaml\nmodel: {memory: 3}\n")
    r = load_recipe(top)
    assert (r.model.geometry, r.model.history, r.model.memory) == (12, True, 3)


def test_unknown_key_is_an_error_after_the_merge(tmp_path):
    from glassgen.flow.recipe import load_recipe

    _write(tmp_path / "base.yaml", BASE)
    v = _write(tmp_path / "v.yaml", "extends: base.yaml\nmodel: {hiden: 64}\n")
    with pytest.raises(InputError, match=r"v\.yaml.*unknown recipe key 'model\.hiden'"):
        load_recipe(v)
    _write(tmp_path / "bad-base.yaml", BASE + "colour: red\n")
    v2 = _write(tmp_path / "v2.yaml", "extends: bad-base.yaml\nout: x\n")
    with pytest.raises(InputError, match="unknown recipe key 'colour'"):
        load_recipe(v2)


def test_cycles_and_missing_bases_are_errors(tmp_path):
    a = _write(tmp_path / "a.yaml", "extends: b.yaml\ntask: flow\n")
    _write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(InputError, match="cycle"):
        load_yaml(a)
    selfref = _write(tmp_path / "self.yaml", "extends: self.yaml\n")
    with pytest.raises(InputError, match="cycle"):
        load_yaml(selfref)
    lost = _write(tmp_path / "lost.yaml", "extends: nowhere.yaml\n")
    with pytest.raises(InputError, match=r"lost\.yaml.*nowhere\.yaml"):
        load_yaml(lost)
    wrong = _write(tmp_path / "wrong.yaml", "extends: [a.yaml]\n")
    with pytest.raises(InputError, match="'extends' must name a recipe file"):
        load_yaml(wrong)


def test_simulate_recipe_extends_a_preset(tmp_path):
    from glassgen.md import load_preset, load_recipe
    from glassgen.md.recipe import PRESET_DIR

    v = _write(tmp_path / "hot.yaml", f"extends: {PRESET_DIR / 'tiny.yaml'}\nname: hot\ntemperature: 1.5\n")
    hot, tiny = load_recipe(v).to_dict(), load_preset("tiny").to_dict()
    assert (hot.pop("name"), hot.pop("temperature")) == ("hot", 1.5)
    tiny.pop("name"), tiny.pop("temperature")
    assert hot == tiny


def test_propensity_recipe_inherits_its_data_folder(tmp_path):
    from glassgen.encoder.train import load_recipe

    _write(tmp_path / "recipes" / "botan.yaml", """\
        task: propensity
        data: {folder: ../data, train: [1, 2], val: [3], test: [4]}
        train: {steps: 10, pretrain_steps: 2}
        """)
    v = _write(tmp_path / "lab" / "short.yaml", "extends: ../recipes/botan.yaml\ntrain: {steps: 4}\n")
    r = load_recipe(v)
    assert Path(r.data.folder) == (tmp_path / "data").resolve()
    assert (r.train.steps, r.train.pretrain_steps, r.data.train) == (4, 2, [1, 2])
