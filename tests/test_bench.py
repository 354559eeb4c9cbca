"""glassgen bench: the quick run writes a JSON with the machine, versions and positive timings; bad input refused."""
import json

import pytest
import torch
from typer.testing import CliRunner

from glassgen.cli.app import app
from glassgen.core.errors import InputError
from glassgen.sampling.bench import check_device

ROWS = ("botan_train_step", "flow_train_step", "sample", "chain_draw")


def test_quick_bench_json_has_machine_versions_and_positive_rates(tmp_path):
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(app, ["bench", "--quick", "--threads", "1", "--json", str(out)])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    for key in ("cpu", "cpu_count", "torch", "torch_geometric", "dtype", "device", "device_name", "torch_threads"):
        assert r["machine"][key], key
    assert r["machine"]["dtype"] == "float32" and r["machine"]["torch_threads"] == 1
    assert "data loading excluded" in r["data_loading"] and "data loading excluded" in res.output
    assert set(r["benchmarks"]) == set(ROWS) == set(r["profile"])
    for key in ROWS:
        b = r["benchmarks"][key]
        assert b["n_particles"] == 128 and len(b["times_s"]) == r["settings"]["repeats"] == 2
        assert 0 < b["min_s"] <= b["median_s"] <= b["max_s"] and b["rate"] > 0
        assert r["profile"][key] and all(p["self_ms"] > 0 and p["calls"] > 0 for p in r["profile"][key])
    assert r["benchmarks"]["botan_train_step"]["parameters"] == 54209  # the reference architecture
    assert r["benchmarks"]["botan_train_step"]["edges"] > r["benchmarks"]["flow_train_step"]["edges"] > 0
    assert r["benchmarks"]["sample"]["rate"] == pytest.approx(2 / r["benchmarks"]["sample"]["median_s"])
    again = CliRunner().invoke(app, ["bench", "--quick", "--json", str(out)])  # never silently overwritten
    assert again.exit_code != 0 and "--overwrite" in str(again.exception)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_device_is_a_one_line_refusal():
    with pytest.raises(InputError, match="sees no CUDA") as err:
        check_device("cuda")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="unknown torch device"):
        check_device("gpu0")
