"""Linear-probe start for fine-tuning BOTAN from the published weights (experiment, issue #27).

The published weights were pretrained at another lag: on configurations 1-7 their edge output has mean 0.02
against a target mean of 0.26-0.42, and their node output is uncorrelated with propensity. The first Adam steps
of fine-tuning then spend on that offset, moving every weight. Here each head's last Linear is fitted first by
least squares (ridge) on the frozen features of the training configurations, one head per output
(shared_decoder false, both starting from the published shared decoder); fine-tuning then starts from it.

    PYTHONPATH=. python experiments/botan-T0.44-published/probe_init.py RECIPE OUT.safetensors [--syms K]
"""
import argparse

import numpy as np
import torch

from glassgen.encoder.checkpoint import save_model
from glassgen.encoder.targets import cubic_symmetries, pearson, transform_graph
from glassgen.encoder.train import initial_model, load_recipe, prepare


def ridge(z: torch.Tensor, y: torch.Tensor, lam: float = 1e-3) -> tuple[torch.Tensor, float]:
    """Least squares y ≈ z w + b with a small ridge on w (features may be dead ReLUs)."""
    z, y = z.double(), y.double()
    zm, ym = z.mean(0), y.mean()
    zc = z - zm
    a = zc.T @ zc / len(z) + lam * torch.eye(z.shape[1], dtype=z.dtype)
    w = torch.linalg.solve(a, zc.T @ (y - ym) / len(z))
    return w, float(ym - zm @ w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("recipe")
    ap.add_argument("out")
    ap.add_argument("--syms", type=int, default=4, help="cube symmetries per configuration (first is identity)")
    args = ap.parse_args()
    recipe = load_recipe(args.recipe)
    assert not recipe.model.shared_decoder, "one head per output"
    model = initial_model(recipe).eval()
    syms = cubic_symmetries(recipe.model.dim)[torch.randperm(48, generator=torch.Generator().manual_seed(0))]
    syms = torch.cat([torch.eye(3)[None], syms[: args.syms - 1]])
    feats = {0: ([], []), 1: ([], [])}
    with torch.no_grad():
        for it in prepare(recipe, recipe.data.train, "cpu"):
            for m in syms:
                h, e = model.encode(transform_graph(it, m))
                feats[0][0].append(model.decoders[0][:4](h)); feats[0][1].append(it["y_node"])
                feats[1][0].append(model.decoders[1][:4](e)); feats[1][1].append(it["y_edge"])
        for k, name in ((0, "node"), (1, "edge")):
            z, y = torch.cat(feats[k][0]), torch.cat(feats[k][1])
            w, b = ridge(z, y)
            before = pearson(model.decoders[k][4](feats[k][0][0]).squeeze(-1), feats[k][1][0])
            model.decoders[k][4].weight.copy_(w.float()[None])
            model.decoders[k][4].bias.fill_(b)
            after = pearson(model.decoders[k][4](feats[k][0][0]).squeeze(-1), feats[k][1][0])
            print(f"{name}: {int((z.abs().sum(0) > 0).sum())}/{z.shape[1]} live features, train config "
                  f"{recipe.data.train[0]} Pearson (all particles/edges) {before:.3f} -> {after:.3f}")
        for it, c in zip(prepare(recipe, recipe.data.val, "cpu"), recipe.data.val):
            n, e = model(it)
            print(f"config {c}: node {pearson(n[it['mask_node']], it['y_node'][it['mask_node']]):.3f} "
                  f"edge {pearson(e[it['mask_edge']], it['y_edge'][it['mask_edge']]):.3f}")
    save_model(args.out, model, info={"step": 0, "task": "propensity", "probe": args.recipe})


if __name__ == "__main__":
    main()
