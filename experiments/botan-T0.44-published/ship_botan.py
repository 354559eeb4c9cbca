"""Write checkpoints/botan-T0.44.safetensors from the run of recipes/botan-T0.44.yaml (format version 2).

    python experiments/botan-T0.44-published/ship_botan.py ../runs/botan-T0.44 --test-node X --test-edge Y [--note S]

The run's best.safetensors tensors are copied unchanged (a run started before format version 2 existed wrote
version 1). Domain: the shared data's state point (KA 80:20, density 1.2, T = 0.44,
N = 4096, lag 4120). Card: data and weight provenance with their licences, the command, the hardware the run
had, its wall time from log.csv, and the scores on configurations 9-10 with the command that measures them.
"""
import argparse
import csv
import json
from pathlib import Path

from safetensors import safe_open

from glassgen.core.card import hardware
from glassgen.core.checkpoint import write_checkpoint
from glassgen.encoder.reference_weights import ATTRIBUTION

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--test-node", type=float, required=True)
    ap.add_argument("--test-edge", type=float, required=True)
    ap.add_argument("--note", default="", help="what the card should say about the run's history")
    ap.add_argument("-o", default=str(ROOT / "checkpoints" / "botan-T0.44.safetensors"))
    a = ap.parse_args()
    run = Path(a.run)
    with safe_open(str(run / "best.safetensors"), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    info = json.loads(meta["info"])
    rows = list(csv.DictReader(open(run / "log.csv")))
    domain = {"species": [0, 1], "fractions": [0.8, 0.2], "density": 1.2, "temperature": [0.44],
              "n_particles": [4096, 4096], "lag": [4120.0, 4120.0]}
    card = {
        "data": {"files": "shared KA data, isoconfig_N4096T0.44_{1..7}_tc07.npz (train), _8_ (selection)",
                 "source": "Shiba et al., J. Chem. Phys. 158, 084503 (2023), BOTAN authors' MD",
                 "licence": "Apache-2.0"},
        "initial_weights": ATTRIBUTION + " File model1.pth (sha256 f34147b3c42068de...).",
        "training": {"command": "glassgen fit recipes/botan-T0.44.yaml -o ../runs/botan-T0.44 [--resume]",
                     "recipe": "recipes/botan-T0.44.yaml",
                     "hardware": dict(hardware("cpu"), note="2 shared CPU cores, other jobs running"),
                     "wall_time_s": float(rows[-1]["elapsed_s"]), "steps": int(info["step"]),
                     **({"note": a.note} if a.note else {})},
        "metrics": [
            {"name": "val_node (config 8)", "value": info["val_node"], "command": "the training log"},
            {"name": "val_edge (config 8)", "value": info["val_edge"], "command": "the training log"},
            {"name": "node Pearson, configs 9-10", "value": a.test_node,
             "command": "PYTHONPATH=. python benchmarks/botan_eval.py checkpoints/botan-T0.44.safetensors --configs 9 10"},
            {"name": "edge Pearson, configs 9-10", "value": a.test_edge,
             "command": "PYTHONPATH=. python benchmarks/botan_eval.py checkpoints/botan-T0.44.safetensors --configs 9 10"},
        ],
        "licence": "Apache-2.0 (derived from the BOTAN authors' Apache-2.0 weights; keep this notice)",
    }
    write_checkpoint(a.o, state, "botan", json.loads(meta["config"]), domain=domain, card=card,
                     info=dict(info, trained_from="model1.pth"))
    print(f"wrote {a.o}")


if __name__ == "__main__":
    main()
