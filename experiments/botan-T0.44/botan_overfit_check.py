"""Diagnostic: can a small BOTAN fit one shared configuration's targets? (Shows the initial plateau.)

    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/botan-T0.44/botan_overfit_check.py

Width 16, 2 steps, Adam 3e-3, p = 0.5, 150 steps on configuration 8 (training fit, not generalisation).
Prints loss and (node, edge) Pearson on that same configuration every 30 steps.
"""
import time

import torch

from glassgen.encoder.botan import BOTAN, BOTANConfig
from glassgen.encoder.targets import pearson
from glassgen.encoder.train import evaluate, load_recipe, prepare, train_step

torch.manual_seed(0)
recipe = load_recipe("experiments/recipes/botan-propensity-T0.44-short.yaml")
item = prepare(recipe, [8], "cpu")[0]
model = BOTAN(BOTANConfig(width=16, steps=2))
opt = torch.optim.Adam(model.parameters(), 3e-3)
t0 = time.time()
for s in range(150):
    loss = train_step(model, opt, item, 0.5, 1.0)
    if s % 30 == 29:
        node, edge = evaluate(model, [item])
        print(f"step {s + 1:4d}  loss {loss:.4f}  node {node:+.3f}  edge {edge:+.3f}  ({time.time() - t0:.0f} s)")
mask = item["mask_node"]
count = torch.zeros(len(mask)).index_add_(0, item["edge_index"][1], (item["edge_len"] < 1.35).float())
print(f"reference: Pearson(node target, number of neighbours < 1.35) on A = {pearson(count[mask], item['y_node'][mask]):+.3f}")
