"""refine's L-BFGS on planted overlaps of decreasing distance (the jittered lattice of tests/test_refine.py).

    python experiments/lbfgs-refine/overlap_probe.py 0.5 0.1 0.01
"""
import sys

import torch

sys.path.insert(0, "tests")
from test_refine import lattice, planted  # noqa: E402

from glassgen.md.refine import refine  # noqa: E402

torch.set_num_threads(1)
species, box, x = lattice(seed=4)
print("| pair distance (σ) | E_pot/N before | L-BFGS iterations | largest force left (ε/σ) | E_pot/N after |")
print("|---|---|---|---|---|")
for d in map(float, sys.argv[1:]):
    _, (rep,) = refine(planted(species, x, 3, d)[None], species, box, [0], min_steps=200)
    print(f"| {d} | {rep['e_start']:.3g} | {rep['min_steps']} | {rep['max_force']:.3g} | {rep['e_end']:.4g} |")
