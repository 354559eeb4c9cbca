"""Least-squares heads on the published trunk, by the particles and pairs the fit averages over (issue #27).

For each head of model1.pth (one decoder per output, both the published shared one), the last Linear is fitted by
least squares (glassgen.encoder.probe, ridge 1e-3 and 1e-1 relative) on configurations 1-7 (identity orientation)
over one set of particles or pairs, and scored on configuration 8 only (node: A; edge: AA, r0 < 1.35).

    PYTHONPATH=. python experiments/botan-T0.44-published/probe_sets.py
"""
from pathlib import Path

import torch

from glassgen.encoder.probe import _Normal
from glassgen.encoder.targets import pearson
from glassgen.encoder.train import initial_model, load_recipe, prepare

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "botan-T0.44-probe-init.yaml"


def sets(it: dict) -> dict:
    sp, (src, dst), short = it["species"], it["edge_index"], it["edge_len"] < 1.35
    aa = (sp[src] == 0) & (sp[dst] == 0)
    return {("node", "all"): None, ("node", "A (scored)"): sp == 0,
            ("edge", "all"): None, ("edge", "AA, r0 < 1.35 (scored)"): aa & short, ("edge", "AA"): aa,
            ("edge", "r0 < 1.35"): short}


def offsets(model, it: dict, config: int) -> None:
    """Mean and standard deviation of the published outputs against the targets', every particle and pair."""
    node, edge = model(it)
    for name, p, y in (("node", node, it["y_node"]), ("edge", edge, it["y_edge"])):
        print(f"configuration {config}, published {name} output mean {p.mean():.3f} sd {p.std():.3f}; "
              f"target mean {y.mean():.3f} sd {y.std():.3f}")


@torch.no_grad()
def main():
    recipe = load_recipe(RECIPE)
    model = initial_model(recipe).eval()
    normal = {}
    for c, it in zip(recipe.data.train, prepare(recipe, recipe.data.train, "cpu")):
        h, e = model.encode(it)
        if c == recipe.data.train[0]:
            offsets(model, it, c)
        z = {"node": model.decoders[0][:-1](h), "edge": model.decoders[1][:-1](e)}
        y = {"node": it["y_node"], "edge": it["y_edge"]}
        for (head, name), sel in sets(it).items():
            eq = normal.setdefault((head, name), _Normal(recipe.model.width))
            eq.add(z[head], y[head]) if sel is None else eq.add(z[head][sel], y[head][sel])
    val = next(iter(prepare(recipe, recipe.data.val, "cpu")))
    offsets(model, val, recipe.data.val[0])
    h, e = model.encode(val)
    z = {"node": model.decoders[0][:-1](h).double(), "edge": model.decoders[1][:-1](e).double()}
    y = {"node": val["y_node"].double(), "edge": val["y_edge"].double()}
    mask = {"node": val["mask_node"], "edge": val["mask_edge"]}
    published = model.decoders[1](e).squeeze(-1)
    print(f"published edge head, configuration 8: {pearson(published[mask['edge']], val['y_edge'][mask['edge']]):.3f}")
    print("| head | fitted over | ridge 1e-3 | ridge 1e-1 |\n|---|---|---|---|")
    for (head, name), eq in normal.items():
        scores = []
        for ridge in (1e-3, 1e-1):
            w, b = eq.solve(ridge)
            pred = z[head] @ w + b
            scores.append(f"{pearson(pred[mask[head]], y[head][mask[head]]):.3f}")
        print(f"| {head} | {name} | {' | '.join(scores)} |")


if __name__ == "__main__":
    main()
