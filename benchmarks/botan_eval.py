"""Supervised BOTAN scores on shared configurations: node and edge Pearson per configuration and their mean.

    PYTHONPATH=. python benchmarks/botan_eval.py CKPT [CKPT ...] --configs 9 10
    PYTHONPATH=. python benchmarks/botan_eval.py ../shared/models/pyg_botan_initial/model1.pth --configs 9 10

Node: Pearson of the predicted and the 32-run MD propensity over A particles; edge: over AA pairs with
r0 < 1.35 (docs/botan.md). A ``.pth`` file is read as the BOTAN authors' published state_dict.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from glassgen.encoder.checkpoint import load_model
from glassgen.encoder.reference_weights import load_reference_weights
from glassgen.encoder.targets import pearson
from glassgen.encoder.train import load_recipe, prepare

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "botan-T0.44.yaml"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--configs", type=int, nargs="+", default=[9, 10])
    args = ap.parse_args()
    items = prepare(load_recipe(RECIPE), args.configs, "cpu")
    print(f"| model | {' | '.join(f'node {c} | edge {c}' for c in args.configs)} | node mean | edge mean | s/config |")
    print("|---" * (2 * len(args.configs) + 4) + "|")
    for ck in args.checkpoints:
        model = load_reference_weights(ck) if ck.endswith(".pth") else load_model(ck)[0]
        scores, t0 = [], time.perf_counter()
        with torch.no_grad():
            for it in items:
                node, edge = model(it)
                scores.append((pearson(node[it["mask_node"]], it["y_node"][it["mask_node"]]),
                               pearson(edge[it["mask_edge"]], it["y_edge"][it["mask_edge"]])))
        dt = (time.perf_counter() - t0) / len(items)
        s = np.asarray(scores, dtype=float)
        cells = " | ".join(f"{n:.3f} | {e:.3f}" for n, e in s)
        print(f"| {ck} | {cells} | {s[:, 0].mean():.3f} | {s[:, 1].mean():.3f} | {dt:.2f} |")


if __name__ == "__main__":
    main()
