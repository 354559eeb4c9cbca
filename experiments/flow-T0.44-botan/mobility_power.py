"""Diagnostic: benchmarks/flow_eval.py with the prior's per-particle mobility sharpened at sampling time.

The mobility prior draws particle i's noise at s_a * m_i (m_i: relative BOTAN-predicted propensity, <m^2> = 1
per species). Here the draw (only the draw: the network still reads x in units of s_a * m_i, as with
--noise-scale) uses s_a * m_i^g / rms_a(m^g), times c, so caged particles start narrower and mobile ones wider.

    PYTHONPATH=. python experiments/flow-T0.44-botan/mobility_power.py G C -- CKPT --configs 8 --n 128 \
        --method heun --ode-steps 8 --batch-size 16
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import flow_eval  # noqa: E402

from glassgen.flow import paths  # noqa: E402
from glassgen.flow.mobility import unit_rms  # noqa: E402

G, C = float(sys.argv[1]), float(sys.argv[2])
SPECIES = {}
_draw, _load = paths.draw_prior, flow_eval.load_snapshot


def load(path):
    snap = _load(path)
    SPECIES["now"] = torch.as_tensor(snap.species).long()
    return snap


def draw(scale, shape, generator=None, mass=None):
    sp = SPECIES["now"]
    s = scale[0, :, 0].double()
    m = unit_rms(s[None], sp)[0]  # the model's relative mobility m_i (its species' s_a divides out)
    new = (C * s / m * unit_rms(m[None] ** G, sp)[0]).to(scale.dtype)
    return _draw(new[None, :, None].expand_as(scale), shape, generator, mass)


paths.draw_prior, flow_eval.load_snapshot = draw, load
print(f"mobility power g = {G}, noise factor c = {C}")
sys.argv = [sys.argv[0]] + sys.argv[4:]
flow_eval.main()
