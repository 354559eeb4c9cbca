"""glassgen bench: the quick run writes a JSON with the machine, versions and positive timings; bad input refused."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from glassgen.core.errors import InputError
from glassgen.sampling.bench import check_device

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("botan_train_step", "flow_train_step", "sample", "chain_draw")


def _bench(*args):
    return subprocess.run([sys.executable, "-m", "glassgen", "bench", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_quick_bench_json_has_machine_versions_and_positive_rates(tmp_path):
    out = tmp_path / "bench.json"
    res = _bench("--quick", "--threads", "1", "--json", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    r = json.loads(out.read_text())
    for key in ("cpu", "cpu_count", "torch", "torch_geometric", "dtype", "device", "device_name", "torch_threads"):
        assert r["machine"][key], key
    assert r["machine"]["dtype"] == "float32" and r["machine"]["torch_threads"] == 1
    assert "data loading excluded" in r["data_loading"] and "data loading excluded" in res.stdout
    assert set(r["benchmarks"]) == set(ROWS) == set(r["profile"])
    for key in ROWS:
        b = r["benchmarks"][key]
        assert b["n_particles"] == 250 and len(b["times_s"]) == r["settings"]["repeats"] == 2
        assert 0 < b["min_s"] <= b["median_s"] <= b["max_s"] and b["rate"] > 0
        assert r["profile"][key] and all(p["self_ms"] > 0 and p["calls"] > 0 for p in r["profile"][key])
    assert r["benchmarks"]["botan_train_step"]["parameters"] == 54209  # the reference architecture
    # the flow model reads its encoder's graph: BOTAN's own (equal) for a BOTAN-conditioned generator
    assert r["benchmarks"]["botan_train_step"]["edges"] >= r["benchmarks"]["flow_train_step"]["edges"] > 0
    assert r["benchmarks"]["sample"]["rate"] == pytest.approx(2 / r["benchmarks"]["sample"]["median_s"])
    assert isinstance(r["machine"]["environment"], dict)
    again = _bench("--quick", "--json", str(out))  # never silently overwritten: one line, status 2
    assert again.returncode == 2 and again.stderr.strip().splitlines()[-1] == f"error: {out}: exists; pass --overwrite to replace it"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_device_is_a_one_line_refusal():
    with pytest.raises(InputError, match="sees no CUDA") as err:
        check_device("cuda")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="unknown torch device"):
        check_device("gpu0")
