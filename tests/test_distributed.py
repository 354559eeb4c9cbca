"""Data-parallel training: `torchrun -m glassgen fit` on 2 CPU processes (gloo) trains on the same examples with
the same losses as 1 process, and a run resumes under another number of processes."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from glassgen import Ensemble, write_ensemble
from glassgen.core import distributed
from glassgen.encoder.train import fit as fit_botan
from glassgen.flow.train import fit as fit_flow

from flow_fixtures import tiny_flow_recipe

ROOT = Path(__file__).resolve().parents[1]


def torchrun(args, cwd, nproc=2):
    """``torchrun --standalone --nproc-per-node NPROC -m glassgen ARGS``, one thread per process."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "glassgen", *args]
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return res


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_keyed_generators_and_shards_on_one_process():
    a = torch.rand(3, generator=distributed.generator(0, 5, 2))
    assert torch.equal(a, torch.rand(3, generator=distributed.generator(0, 5, 2)))
    assert not torch.equal(a, torch.rand(3, generator=distributed.generator(0, 5, 3)))
    assert not torch.equal(a, torch.rand(3, generator=distributed.generator(1, 5, 2)))
    assert distributed.shard(7) == range(0, 7) and distributed.world_size() == 1 and distributed.is_main()
    loss = torch.tensor(0.25)
    assert distributed.all_reduce_gradients([torch.nn.Parameter(torch.ones(2))], loss) is loss


def test_flow_two_processes_match_one_and_resume_on_one(tmp_path):
    rng = np.random.default_rng(0)
    g = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    x = (g + 0.08 * rng.normal(size=g.shape)) % 4.0
    species = (np.arange(64) % 5 == 0).astype(int)
    for name in ("a", "b"):
        d = 0.1 * rng.normal(size=(8, 1, 64, 3))
        write_ensemble(tmp_path / f"{name}.h5", Ensemble(species, np.full(3, 4.0), x, np.array([10.0]), x[None, None] + d))
    # batch 3 over 2 processes: parts of 1 and 2 samples, so the weighting of uneven parts is tested too
    train = dict(steps=4, batch_size=3, pair_weight=0.5, checkpoint_every=2, eval_every=2)
    fit_flow(tiny_flow_recipe(tmp_path, "one", ["a.h5"], ["b.h5"], **train))
    split = tiny_flow_recipe(tmp_path, "two", ["a.h5"], ["b.h5"], **train)
    torchrun(["fit", str(split), "--max-minutes", "0"], tmp_path)  # stops at the first checkpoint, step 2
    assert [r["step"] for r in rows(tmp_path / "two" / "log.csv")] == ["1", "2"]  # rank 0 alone wrote it
    fit_flow(split, resume=True)  # steps 3 and 4 on one process
    one, two = rows(tmp_path / "one" / "log.csv"), rows(tmp_path / "two" / "log.csv")
    assert [r["step"] for r in two] == ["1", "2", "3", "4"]
    for key in ("loss", "grad_norm", "val_loss"):
        a, b = [float(r[key] or "nan") for r in one], [float(r[key] or "nan") for r in two]
        np.testing.assert_allclose(b, a, rtol=1e-4, equal_nan=True, err_msg=key)
    assert len({r["loss"] for r in one}) == 4  # the steps differ: equality above is not of constants
    s1 = torch.load(tmp_path / "one" / "train_state.pt", weights_only=True)
    s2 = torch.load(tmp_path / "two" / "train_state.pt", weights_only=True)
    for k in s1["ema"]:
        torch.testing.assert_close(s2["ema"][k], s1["ema"][k], rtol=1e-4, atol=1e-6)


def test_botan_two_processes_match_one_and_resume_on_one(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    n, box = 160, (160 / 1.2) ** (1 / 3)
    for i in (1, 2, 3, 4):
        x0 = rng.uniform(0, box, (n, 3))
        np.savez(tmp_path / "data" / f"conf_{i}.npz", types=(rng.permutation(n) < n // 5).astype(np.int8),
                 initial_positions=x0, positions=x0 + 0.3 * rng.normal(size=(4, n, 3)))

    def recipe(name):
        r = {"task": "propensity", "out": name,
             "data": {"folder": "data", "pattern": "conf_{id}.npz", "train": [1, 2, 3], "val": [4], "test": []},
             "model": {"width": 8, "steps": 2},
             "train": {"steps": 4, "batch": 3, "pretrain_steps": 1, "lr": 3e-3, "eval_every": 1, "checkpoint_every": 2}}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(r))
        return tmp_path / f"{name}.yaml"

    fit_botan(recipe("one"), out=tmp_path / "one")
    torchrun(["fit", str(recipe("two")), "--max-minutes", "0"], tmp_path)
    assert [r["step"] for r in rows(tmp_path / "two" / "log.csv")] == ["1", "2"]
    fit_botan(recipe("two"), out=tmp_path / "two", resume=True)
    one, two = rows(tmp_path / "one" / "log.csv"), rows(tmp_path / "two" / "log.csv")
    assert [r["step"] for r in two] == ["1", "2", "3", "4"] and [r["epoch"] for r in two] == ["1.0", "2.0", "3.0", "4.0"]
    np.testing.assert_allclose([float(r["train_loss"]) for r in two], [float(r["train_loss"]) for r in one], rtol=1e-4)
    for key in ("val_node", "val_edge"):  # Pearson correlations, some near 0: an absolute tolerance
        np.testing.assert_allclose([float(r[key]) for r in two], [float(r[key]) for r in one], atol=2e-5, err_msg=key)
    assert len({r["train_loss"] for r in one}) == 4
