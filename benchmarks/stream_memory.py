"""Peak memory of training against the number of data files: the data is streamed, not loaded whole.

    PYTHONPATH=. nice -n 15 python benchmarks/stream_memory.py [--files 10 1000] [--trainers flow propensity]

Writes K small synthetic BOTAN-layout .npz ensembles (N particles, R runs; one random Kob–Andersen
configuration, jittered per file, with Gaussian displacements), then runs ``glassgen fit`` for two steps on the
first K of them, for each K and each trainer (flow: ``data.train`` lists the files; propensity: ``data.pattern``
names them by id), each in its own process. Prints the peak resident memory of each run (ru_maxrss) and the ratio
of the largest K to the smallest; ``--json OUT`` writes the rows. With the whole data set in memory, 1000 files of
the default size would add ~0.5 GB (examples and graphs); streamed, only ``data.cache`` files are held.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def write_files(folder: Path, k: int, n: int, runs: int) -> list[Path]:
    """The K files (kept when a --work folder already has them: another glassgen can then be measured on them)."""
    if all((folder / f"c_{i}.npz").is_file() for i in range(k)):
        return [folder / f"c_{i}.npz" for i in range(k)]
    from glassgen.system.overlaps import random_configuration

    folder.mkdir(parents=True, exist_ok=True)
    base = random_configuration(n, seed=0)
    rng = np.random.default_rng(1)
    out = []
    for i in range(k):
        x0 = (base.positions + 0.05 * rng.standard_normal(base.positions.shape)) % base.box
        disp = 0.3 * rng.standard_normal((runs, n, 3))
        out.append(folder / f"c_{i}.npz")
        np.savez(out[-1], types=base.species.astype(np.int8), initial_positions=x0, positions=x0 + disp)
    return out


def recipe(trainer: str, folder: Path, k: int, out: Path, stream_keys: bool = True) -> dict:
    common = {"workers": 2, "cache": 8} if stream_keys else {}  # without: a glassgen before streaming runs it
    if trainer == "flow":
        return {"task": "flow", "out": str(out),
                "data": {"train": [str(folder / f"c_{i}.npz") for i in range(1, k + 1)], "val": [str(folder / "c_0.npz")],
                         "lag": 1.0, **common},
                "encoder": {"kind": "local", "width": 8, "cutoff": 1.5},
                "model": {"hidden": 8, "n_layers": 1, "cutoff": 1.5},
                "train": {"steps": 2, "batch_size": 2, "eval_every": 2, "checkpoint_every": 2, "val_samples": 1}}
    return {"task": "propensity", "out": str(out),
            "data": {"folder": str(folder), "pattern": "c_{id}.npz", "train": list(range(1, k + 1)), "val": [0],
                     "test": [], "npz_time": 1.0, **common},
            "model": {"width": 8, "steps": 1},
            "train": {"steps": 2, "pretrain_steps": 0, "eval_every": 2, "checkpoint_every": 2}}


def child(path: Path) -> dict:
    from glassgen.cli.app import FIT_TASKS
    import importlib

    import yaml

    task = yaml.safe_load(path.read_text())["task"]
    module, func = FIT_TASKS[task]
    t = time.perf_counter()
    getattr(importlib.import_module(module), func)(path)
    return {"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "seconds": time.perf_counter() - t}


def measure(files, trainers, n: int, runs: int, work: Path, stream_keys: bool = True) -> list[dict]:
    import yaml

    data = work / "data"
    write_files(data, max(files) + 1, n, runs)
    rows = []
    for trainer in trainers:
        for k in files:
            path = work / f"{trainer}_{k}.yaml"
            path.write_text(yaml.safe_dump(recipe(trainer, data, k, work / f"run_{trainer}_{k}", stream_keys)))
            res = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True)
            if res.returncode:
                sys.exit(f"{trainer} with {k} files failed:\n{res.stderr[-3000:]}")
            rows.append(dict(json.loads(res.stdout.strip().splitlines()[-1]), trainer=trainer, files=k))
            print(f"{trainer:<11}{k:>6} files: peak {rows[-1]['peak_mib']:7.1f} MiB, {rows[-1]['seconds']:6.1f} s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, nargs="+", default=[10, 1000])
    ap.add_argument("--trainers", nargs="+", default=["flow", "propensity"], choices=["flow", "propensity"])
    ap.add_argument("--particles", type=int, default=256)
    ap.add_argument("--runs", type=int, default=32)
    ap.add_argument("--work", type=Path, default=None, help="folder for the files and runs (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--no-stream-keys", action="store_true",
                    help="recipes without data.workers/cache, to measure a glassgen that loads data whole")
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child)))
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(sorted(a.files), a.trainers, a.particles, a.runs, a.work or Path(tmp), not a.no_stream_keys)
    for trainer in a.trainers:
        rs = sorted((r for r in rows if r["trainer"] == trainer), key=lambda r: r["files"])
        print(f"{trainer}: peak with {rs[-1]['files']} files / with {rs[0]['files']} = "
              f"{rs[-1]['peak_mib'] / rs[0]['peak_mib']:.3f}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
