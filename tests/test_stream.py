"""Streaming training data: many files read when needed, in a bounded cache; corrupt files named in one line."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from glassgen import Ensemble, Trajectory, write_ensemble, write_trajectory
from glassgen.cli.app import app
from glassgen.core.errors import InputError
from glassgen.flow.examples import load_examples, open_examples
from glassgen.io.stream import Stream

ROOT = Path(__file__).resolve().parents[1]


def test_stream_indexes_files_of_any_size_and_keeps_only_its_cache():
    sizes = {"a": 3, "b": 0, "c": 1, "d": 4, "e": 2}
    reads, threads = [], set()

    def load(key):
        reads.append(key)
        threads.add(threading.current_thread().name)
        return [{"key": key, "k": k} for k in range(sizes[key])]

    s = Stream(list(sizes), load, workers=2, cache=2)
    flat = [(key, k) for key in sizes for k in range(sizes[key])]
    assert len(s) == len(flat) == 10 and len(reads) == 5  # the counting pass reads every file once
    assert [(x["key"], x["k"]) for x in s] == flat  # iteration: files in order
    assert [(s[i]["key"], s[i]["k"]) for i in range(10)] == flat and s[-1]["key"] == "e"
    assert len(s._cached) <= 2
    assert any(t.startswith("glassgen-read") for t in threads)  # read ahead by the pool
    with pytest.raises(IndexError):
        s[10]
    reads.clear()
    double = s.derived("double", lambda item: 2 * item["k"])
    assert [double[i] for i in range(10)] == [2 * k for _, k in flat]
    assert 0 not in s._cached  # file "a" was read first and dropped since
    before = reads.count("a")
    s.prefetch([0])  # read in the pool, then taken from there
    assert s[1]["k"] == 1 and reads.count("a") == before + 1
    assert [double[i] for i in (0, 1, 2)] == [0, 2, 4] and reads.count("a") == before + 1  # kept with the item
    plain = Stream(list(sizes), load, counts=[sizes[k] for k in sizes], workers=0, cache=1)
    assert [x["k"] for x in plain] == [k for _, k in flat]


def _mixed_files(tmp_path, rng):
    """A BOTAN npz, an H5MD ensemble and an H5MD trajectory of 64 particles."""
    n, box = 64, np.full(3, 4.2)
    species = (np.arange(n) % 5 == 0).astype(int)
    x = rng.uniform(0, 4.2, (n, 3))
    np.savez(tmp_path / "e.npz", types=species.astype(np.int8), initial_positions=x,
             positions=x + 0.2 * rng.standard_normal((3, n, 3)))
    write_ensemble(tmp_path / "e.h5", Ensemble(species, box, x, np.array([1.0]), x[None, None] + 0.2 * rng.standard_normal((2, 1, n, 3))))
    times = np.arange(5.0)
    write_trajectory(tmp_path / "t.h5", Trajectory(species, box, times, x + 0.1 * rng.standard_normal((5, n, 3)).cumsum(0)))
    return [str(tmp_path / f) for f in ("e.npz", "e.h5", "t.h5", "e.npz")]


def test_open_examples_gives_the_examples_of_load_examples(tmp_path):
    files = _mixed_files(tmp_path, np.random.default_rng(0))
    eager = load_examples(files, lag=1.0, lags=[1.0, 2.0])
    lazy = open_examples(files, lag=1.0, lags=[1.0, 2.0], workers=2, cache=1)
    assert len(lazy) == len(eager) == 1 + 1 + 4 + 1  # the trajectory gives one example per origin
    for a, b in zip(eager, list(lazy)):
        assert a["source"] == b["source"] and a.keys() == b.keys()
        for k in ("species", "initial", "box", "lags", "disp"):
            np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_array_equal(lazy[3]["disp"], eager[3]["disp"])


@pytest.mark.parametrize("bad", ["junk.npz", "cut.npz", "cut.h5"])
def test_a_corrupt_file_is_one_line_naming_it(tmp_path, bad):
    files = _mixed_files(tmp_path, np.random.default_rng(1))
    src = tmp_path / ("e.npz" if bad.endswith(".npz") else "t.h5")
    data = src.read_bytes()
    (tmp_path / bad).write_bytes(b"not a data file" if bad == "junk.npz" else data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        open_examples(files[:2] + [str(tmp_path / bad)] + files[2:], lag=1.0, lags=[1.0])
    assert str(err.value).startswith(str(tmp_path / bad)) and "\n" not in str(err.value)


def test_fit_with_a_corrupt_file_is_one_line_naming_it(tmp_path):
    """Both trainers, through the command line: the run stops before training, naming the file."""
    files = _mixed_files(tmp_path, np.random.default_rng(2))
    (tmp_path / "c_1.npz").write_bytes((tmp_path / "e.npz").read_bytes())
    (tmp_path / "c_2.npz").write_bytes((tmp_path / "e.npz").read_bytes()[:300])
    flow = {"task": "flow", "out": str(tmp_path / "f"), "data": {"train": files[:1] + [str(tmp_path / "c_2.npz")], "lag": 1.0},
            "encoder": {"kind": "local", "width": 8, "cutoff": 1.5}, "model": {"hidden": 8, "n_layers": 1, "cutoff": 1.5},
            "train": {"steps": 1, "batch_size": 2}}
    botan = {"task": "propensity", "out": str(tmp_path / "b"),
             "data": {"folder": str(tmp_path), "pattern": "c_{id}.npz", "train": [1, 2], "val": [1], "test": [],
                      "npz_time": 1.0},
             "model": {"width": 8, "steps": 1}, "train": {"steps": 1, "pretrain_steps": 0}}
    for rec in (flow, botan):
        path = tmp_path / f"{rec['task']}.yaml"
        path.write_text(yaml.safe_dump(rec))
        res = CliRunner().invoke(app, ["fit", str(path)])
        assert isinstance(res.exception, InputError), res.output
        assert str(res.exception).startswith(str(tmp_path / "c_2.npz")) and "\n" not in str(res.exception)
        assert not (tmp_path / rec["out"] / "last.safetensors").exists()


def test_bad_stream_settings_are_refused(tmp_path):
    files = _mixed_files(tmp_path, np.random.default_rng(3))
    rec = {"task": "flow", "data": {"train": files[:1], "lag": 1.0, "cache": 0}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(rec))
    from glassgen.flow.recipe import load_recipe

    with pytest.raises(InputError, match="data.cache"):
        load_recipe(tmp_path / "r.yaml")


@pytest.mark.slow  # ~1-3 min each: writes 1000 files and trains twice (run with -m slow)
@pytest.mark.parametrize("trainer", ["flow", "propensity"])
def test_peak_memory_with_1000_files_is_within_10_percent_of_10_files(tmp_path, trainer):
    """benchmarks/stream_memory.py: two training steps on 10 and on 1000 small files (~0.5 MB of examples and
    graphs each: loaded whole, the 1000 would add ~0.5 GB to a ~0.4 GB process)."""
    out = tmp_path / "rows.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stream_memory.py"), "--files", "10", "1000",
                          "--trainers", trainer, "--work", str(tmp_path / "w"), "--json", str(out)],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr[-2000:]
    rows = {r["files"]: r for r in json.loads(out.read_text())}
    assert rows[1000]["peak_mib"] <= 1.1 * rows[10]["peak_mib"], rows
