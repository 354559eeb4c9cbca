"""The one checkpoint format (glassgen.core.checkpoint): round trip, refusals, version 1, names, training metadata."""
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file

from glassgen.core import checkpoint as ck
from glassgen.core.errors import InputError
from glassgen.encoder.botan import BOTAN, BOTANConfig
from glassgen.encoder.checkpoint import save_model as save_botan
from glassgen.flow.context import LocalEncoder
from glassgen.flow.model import FlowModel, save_model as save_flow
from glassgen.flow.paths import PriorScale
from glassgen.flow.velocity import VelocityConfig
from glassgen.sampling.models import load_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.stem for p in (ROOT / "checkpoints").glob("*.safetensors"))
DOMAIN = {"species": [0, 1], "fractions": [0.8, 0.2], "density": 1.2, "temperature": [0.6],
          "n_particles": [1000, 1000], "lag": [2.11, 10.0]}


def flow_model():
    torch.manual_seed(0)
    return FlowModel(LocalEncoder(n_species=2, width=4, cutoff=1.2), VelocityConfig(embed_dim=4, hidden=4, n_layers=1,
                     cutoff=1.2), PriorScale([2.11, 10.0], [[0.05, 0.06], [0.1, 0.12]]))


@pytest.mark.parametrize("kind", ["flow", "botan"])
def test_round_trip_gives_identical_state_dict_and_metadata(tmp_path, kind):
    path = tmp_path / f"{kind}.safetensors"
    card = {"training": {"command": "glassgen fit r.yaml", "wall_time_s": 1.5}, "metrics": [{"name": "x", "value": 1}]}
    defaults = {"rollout": {"lag": 5.0, "relax": "quench"}}
    if kind == "flow":
        model = flow_model()
        save_flow(model, path, {"step": 3}, domain=DOMAIN, defaults=defaults, card=card)
    else:
        model = BOTAN(BOTANConfig(width=8, steps=1))
        save_botan(path, model, {"step": 3}, DOMAIN, card)
        defaults = {}
    loaded = load_model(path)
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in a)
    meta = loaded.checkpoint
    assert meta["kind"] == kind and meta["format_version"] == ck.FORMAT_VERSION and meta["path"] == str(path)
    assert (meta["domain"], meta["defaults"], meta["card"], meta["info"]) == (DOMAIN, defaults, card, {"step": 3})
    assert ck.read_metadata(path) == {k: v for k, v in meta.items() if k != "path"}
    state, meta2 = ck.read_checkpoint(path)
    assert all(torch.equal(state[k], a[k]) for k in a) and meta2["config"] == meta["config"]


def test_missing_domain_fields_read_as_unknown_and_bad_ones_are_refused(tmp_path):
    save_flow(flow_model(), tmp_path / "m.safetensors", domain={"temperature": [0.44]})
    dom = ck.read_metadata(tmp_path / "m.safetensors")["domain"]
    assert dom["temperature"] == [0.44] and all(dom[k] == "unknown" for k in ck.DOMAIN_FIELDS if k != "temperature")
    for bad, words in (({"temprature": [1]}, "unknown domain field 'temprature'"), ({"lag": [10, 2]}, "'lag'"),
                       ({"species": [0, 1], "fractions": [1.0]}, "'fractions'"), ({"density": "dense"}, "'density'")):
        with pytest.raises(InputError, match=words):
            save_flow(flow_model(), tmp_path / "bad.safetensors", domain=bad)
    assert not (tmp_path / "bad.safetensors").exists()


def _patched(src, dst, **meta):
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        md = dict(f.metadata())
        state = {k: f.get_tensor(k) for k in f.keys()}
    md.update(meta)
    save_file(state, str(dst), metadata={k: v for k, v in md.items() if v is not None})


def test_corrupted_foreign_and_unknown_files_are_refused_in_one_line(tmp_path):
    good = tmp_path / "good.safetensors"
    save_flow(flow_model(), good, domain=DOMAIN)
    raw = good.read_bytes()
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint at all")
    (tmp_path / "cut.safetensors").write_bytes(raw[:-200])
    save_file({"w": torch.zeros(3)}, str(tmp_path / "foreign.safetensors"), metadata={"framework": "someone else"})
    _patched(good, tmp_path / "kind.safetensors", kind="corrector")
    _patched(good, tmp_path / "json.safetensors", domain="{not json")
    _patched(good, tmp_path / "nodomain.safetensors", domain=None)
    _patched(good, tmp_path / "v9.safetensors", format_version="9", glassgen_version="9.9")
    cases = {"junk": "not a safetensors checkpoint", "cut": "", "foreign": "not a glassgen checkpoint",
             "kind": "model kind 'corrector' is unknown to this glassgen (known: botan, flow)",
             "json": "'domain' is not valid JSON", "nodomain": "has no 'domain'",
             "v9": "format version 9 (written by glassgen 9.9)", "absent": "checkpoint not found"}
    for name, words in cases.items():
        with pytest.raises(InputError, match=re.escape(words)) as e:
            load_model(tmp_path / f"{name}.safetensors")
        assert str(e.value).startswith(str(tmp_path / f"{name}.safetensors")) and "\n" not in str(e.value)


def _as_version_1(src, dst, kind):
    """The metadata a format-version-1 file of that kind carried (flow: extra keys at the top level)."""
    if kind == "flow":
        return _patched(src, dst, format="glassgen-flow", format_version="1", kind=None, domain=None, defaults=None,
                        card=None, info=None, step="40", val_loss="0.9")
    return _patched(src, dst, format="glassgen-checkpoint", format_version="1", kind=None, model="botan", domain=None,
                    defaults=None, card=None, info='{"step": 40}')


@pytest.mark.parametrize("kind", ["flow", "botan"])
def test_version_1_is_refused_with_the_conversion_and_converts_with_the_same_tensors(tmp_path, kind, monkeypatch,
                                                                                     capsys):
    import glassgen.cli.app

    new = tmp_path / "new.safetensors"
    if kind == "flow":
        save_flow(flow_model(), new)
    else:
        save_botan(new, BOTAN(BOTANConfig(width=8, steps=1)))
    _as_version_1(new, tmp_path / "old.safetensors", kind)
    new.unlink()
    with pytest.raises(InputError, match="format version 1 .*glassgen upgrade-checkpoint OLD NEW"):
        load_model(tmp_path / "old.safetensors")
    monkeypatch.setattr(sys, "argv", ["glassgen", "upgrade-checkpoint", str(tmp_path / "old.safetensors"), str(new),
                                      "--domain", '{"temperature": [0.6], "lag": [2.11, 10]}'])
    with pytest.raises(SystemExit) as e:
        glassgen.cli.app.main()
    assert e.value.code in (0, None), capsys.readouterr().err
    assert "domain unknown: species, fractions, density, n_particles" in capsys.readouterr().out
    meta = ck.read_metadata(new)
    assert meta["kind"] == kind and meta["info"]["step"] == 40 and meta["info"]["converted_from"]["format_version"] == 1
    assert meta["domain"]["temperature"] == [0.6] and meta["domain"]["lag"] == [2.11, 10]
    from safetensors.numpy import load_file

    a, b = load_file(str(tmp_path / "old.safetensors")), load_file(str(new))
    assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)
    load_model(new)
    with pytest.raises(InputError, match="exists"):  # never onto another file
        ck.upgrade_v1(tmp_path / "old.safetensors", new)
    with pytest.raises(InputError, match="already format version 2"):
        ck.upgrade_v1(new, new)


def test_shipped_names_resolve_and_unknown_names_list_them(tmp_path, monkeypatch):
    monkeypatch.delenv(ck.ENV, raising=False)
    assert SHIPPED and ck.shipped_names() == SHIPPED
    for name in SHIPPED:
        assert ck.resolve(name) == ROOT / "checkpoints" / f"{name}.safetensors"
    with pytest.raises(InputError) as e:
        ck.resolve("flow-proof-T0.7-nope")
    msg = str(e.value)
    assert "\n" not in msg and all(n in msg for n in SHIPPED) and "$GLASSGEN_CHECKPOINTS" in msg
    with pytest.raises(InputError, match="checkpoint not found"):
        ck.resolve(tmp_path / "missing.safetensors")  # a path is never looked up as a name
    # a path wins over a name; $GLASSGEN_CHECKPOINTS comes before the source tree
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(ROOT / "checkpoints" / f"{SHIPPED[0]}.safetensors", mine / f"{SHIPPED[0]}.safetensors")
    save_flow(flow_model(), mine / "private.safetensors")
    monkeypatch.setenv(ck.ENV, str(mine))
    assert ck.resolve(SHIPPED[0]) == mine / f"{SHIPPED[0]}.safetensors"
    assert ck.resolve("private") == mine / "private.safetensors" and "private" in ck.shipped_names()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "private").write_bytes(b"x")
    assert ck.resolve("private") == Path("private")


def test_an_installed_prefix_is_searched(tmp_path, monkeypatch):
    """A non-editable install puts the files in PREFIX/share/glassgen/checkpoints (pyproject data-files)."""
    share = tmp_path / "prefix" / "share" / "glassgen" / "checkpoints"
    share.mkdir(parents=True)
    save_flow(flow_model(), share / "installed-only.safetensors")
    monkeypatch.delenv(ck.ENV, raising=False)
    monkeypatch.setattr(ck.sysconfig, "get_paths", lambda: {"data": str(tmp_path / "prefix")})
    assert ck.resolve("installed-only") == share / "installed-only.safetensors"
    assert load_model("installed-only").checkpoint["kind"] == "flow"


def test_the_wheel_installs_the_shipped_checkpoints_where_the_lookup_searches(tmp_path):
    src = tmp_path / "src"
    for name in ("glassgen", "checkpoints"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=600)
    if res.returncode and "No module named" in res.stderr:
        pytest.skip(f"cannot build a wheel here: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr[-2000:]
    names = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).namelist()
    for name in SHIPPED:
        assert any(n.endswith(f".data/data/share/glassgen/checkpoints/{name}.safetensors") for n in names), names


def test_flow_training_writes_its_data_domain_and_card(tmp_path):
    from glassgen import Trajectory, write_trajectory
    from glassgen.flow.train import fit_flow

    rng = np.random.default_rng(4)
    edge = 4.0
    g = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    species = (np.arange(64) % 5 == 0).astype(int)
    x = g + np.concatenate([np.zeros((1, 64, 3)), np.cumsum(0.05 * rng.normal(size=(11, 64, 3)), 0)])
    write_trajectory(tmp_path / "t.h5", Trajectory(species, np.full(3, edge), np.arange(12.0), x,
                                                   {"T": 0.7, "recipe": "toy", "seed": 5}))
    write_trajectory(tmp_path / "u.h5", Trajectory(species, np.full(3, edge), np.arange(12.0), x))
    for train, temp, expect in ((["t.h5"], None, [0.7]), (["u.h5"], 0.65, [0.65]), (["u.h5"], None, "unknown")):
        r = {"task": "flow", "out": "run", "data": {"train": train, "val": train, "lags": [1.0, 3.0],
                                                    "temperature": temp, "licence": "CC-BY-4.0"},
             "encoder": {"kind": "local", "width": 8, "cutoff": 1.2}, "model": {"hidden": 8, "n_layers": 2, "cutoff": 1.2},
             "train": {"steps": 2, "batch_size": 4, "checkpoint_every": 2, "eval_every": 2, "val_samples": 1}}
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(r))
        fit_flow(tmp_path / "r.yaml", progress=False)
        meta = ck.read_metadata(tmp_path / "run" / "best.safetensors")
        dom, card = meta["domain"], meta["card"]
        assert dom["temperature"] == expect and dom["lag"] == [1.0, 3.0] and dom["n_particles"] == [64, 64]
        assert dom["species"] == [0, 1] and dom["fractions"] == pytest.approx([51 / 64, 13 / 64], abs=1e-6)
        assert dom["density"] == pytest.approx(1.0)
        assert card["data"]["licence"] == "CC-BY-4.0" and card["training"]["steps"] == 2
        assert card["training"]["wall_time_s"] >= 0 and card["training"]["hardware"]["device"] == "cpu"
        assert card["metrics"][0]["name"] == "validation loss" and card["metrics"][0]["command"]
        assert meta["info"]["val_loss"] == card["metrics"][0]["value"] and meta["defaults"] == {}
        if train == ["t.h5"]:  # the data file's provenance travels with the model
            assert card["data"]["files"][str(tmp_path / "t.h5")] == {"T": 0.7, "recipe": "toy", "seed": 5}
        shutil.rmtree(tmp_path / "run")
    assert json.dumps(card)  # plain JSON all through


def test_cli_names_a_shipped_model_and_lists_them_for_an_unknown_one(tmp_path, monkeypatch, capsys):
    import glassgen.cli.app

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["glassgen", *args])
        with pytest.raises(SystemExit) as e:
            glassgen.cli.app.main()
        return e.value.code or 0, capsys.readouterr()

    monkeypatch.delenv(ck.ENV, raising=False)
    code, res = cli("info", "flow-proof-T0.6-sig")
    assert code == 0 and "flow checkpoint, format version 2" in res.out and '"temperature": [' in res.out
    code, res = cli("rollout", "flow-proof-T9-nope", "--init", str(tmp_path / "x.h5"), "--steps", "1",
                    "-o", str(tmp_path / "o.h5"))
    assert code == 2 and res.err.count("\n") == 1 and res.err.startswith("error: flow-proof-T9-nope: no such checkpoint")
    assert all(name in res.err for name in SHIPPED)
