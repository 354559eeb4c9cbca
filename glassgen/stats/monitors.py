"""Physical health of configurations: the rollout's per-step monitors and the reference values of training data.

Every monitor comes from one neighbour search with the true Kob–Andersen potential (``glassgen/system/ka.py``):

| name | meaning |
|---|---|
| ``e_pot`` | potential energy per particle (shifted potential, ε_AA) |
| ``max_pair_energy`` | largest single pair energy (ε_AA) |
| ``rmin_AA``, ``rmin_AB``, ``rmin_BB`` | minimum pair distance per species pair (σ_AA) |
| ``gpeak_AA``, ``gpeak_AB``, ``gpeak_BB`` | height of the first peak of the partial g_ab(r): its largest value, in bins of 0.05 σ_AA, between 0.7 and 1.3 σ_ab |

A pair type with no particles gets ``inf`` (distances) or ``nan`` (peaks). ``glassgen fit`` stores the mean and
standard deviation of each over training configurations in the checkpoint (metadata ``info.data_monitors``,
:func:`reference`); the rollout compares its frames with them (:func:`compare`). See ``docs/rollout.md``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glassgen.system import ka
from glassgen.system.pbc import neighbour_graph
from glassgen.stats.structure import rdf_counts, rdf_from_counts

PAIRS = ((0, 0, "AA"), (0, 1, "AB"), (1, 1, "BB"))
PEAK_BIN = 0.05  # σ_AA
PEAK_WINDOW = (0.7, 1.3)  # in σ_ab: the first coordination shell of every KA pair
NAMES = ["e_pot", "max_pair_energy"] + [f"rmin_{p}" for *_, p in PAIRS] + [f"gpeak_{p}" for *_, p in PAIRS]
# monitors whose start-to-end change is a property of the liquid, not of one frame's extremes
COMPARED = ["e_pot"] + [f"gpeak_{p}" for *_, p in PAIRS] + [f"rmin_{p}" for *_, p in PAIRS]


def monitors(positions, species, box) -> dict:
    """The monitors of one configuration (module table). Shapes: positions (N,D), species (N,), box (D,)."""
    species = np.asarray(species)
    box = np.asarray(box, dtype=np.float64)
    g = neighbour_graph(positions, box, float(ka.CUTOFF.max()))
    src, dst = g["edge_index"]
    e_pair = ka.pair_energy(g["edge_len"], species[src], species[dst])
    e_particle = 0.5 * np.bincount(src, weights=e_pair, minlength=len(species))
    out = {"e_pot": float(e_particle.mean()), "max_pair_energy": float(e_pair.max()) if e_pair.size else 0.0}
    edges = np.arange(0.0, float(ka.SIGMA.max()) * PEAK_WINDOW[1] + PEAK_BIN, PEAK_BIN)
    counts = rdf_counts(g, species, [(a, b) for a, b, _ in PAIRS], edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    for k, (a, b, name) in enumerate(PAIRS):
        m = (species[src] == a) & (species[dst] == b)
        out[f"rmin_{name}"] = float(g["edge_len"][m].min()) if m.any() else float("inf")
        n_a, n_b = int(np.sum(species == a)), int(np.sum(species == b))
        if n_a * (n_b - (a == b)) == 0:
            out[f"gpeak_{name}"] = float("nan")
            continue
        gab = rdf_from_counts(counts[k], 1, n_a, n_b, a == b, box, edges)
        lo, hi = (w * ka.SIGMA[a, b] for w in PEAK_WINDOW)
        out[f"gpeak_{name}"] = float(gab[(mid >= lo) & (mid <= hi)].max())
    return out


def reference(configurations, max_configurations: int = 32) -> dict:
    """``{name: [mean, std, n]}`` of the monitors over configurations ``(species, positions, box)``.

    At most ``max_configurations``, evenly spaced in the given order, are measured (a fit's reference
    must not cost more than a few seconds). Configurations the KA monitors cannot measure (a box edge under
    twice the 2.5 σ_AA cutoff, species other than A and B) are left out; with none left the result is ``{}``.
    A sequence (e.g. a view of a :class:`glassgen.io.stream.Stream`) is read once and only the picked
    configurations are fetched again; any other iterable is held whole.
    """
    if isinstance(configurations, Sequence):  # a data stream: hold the indices, fetch only the picked ones
        keep = [i for i, c in enumerate(configurations) if _measurable(*c)]
        items = _Picked(configurations, keep)
    else:
        items = [c for c in configurations if _measurable(*c)]
    if not items:
        return {}
    pick = np.unique(np.linspace(0, len(items) - 1, min(len(items), max_configurations)).round().astype(int))
    rows = [monitors(c[1], c[0], c[2]) for c in (items[i] for i in pick)]
    return {k: [float(np.mean(v)), float(np.std(v)), len(v)]
            for k in NAMES if np.all(np.isfinite(v := np.array([r[k] for r in rows])))}


class _Picked:
    """``seq[keep[i]]`` for i < len(keep): a subset of a sequence without holding its items."""

    def __init__(self, seq, keep):
        self.seq, self.keep = seq, keep

    def __len__(self):
        return len(self.keep)

    def __getitem__(self, i):
        return self.seq[self.keep[i]]


def _measurable(species, positions, box) -> bool:
    s = np.asarray(species)
    return bool(np.asarray(box).min() > 2 * ka.CUTOFF.max() and s.size and s.min() >= 0 and s.max() <= 1)


def compare(rows, ref: dict | None = None) -> dict:
    """Rollout monitors against a reference: ``{name: {reference, std, source, start, end, z}}``.

    ``rows``: the rollout log's rows (dicts with ``step`` and the monitor columns). ``start`` is the mean
    over trajectories at step 0, ``end`` the mean over the last quarter of steps; ``z`` = (end − reference) / std.
    Without ``ref`` (a checkpoint written before ``data_monitors`` existed) the start frames are the reference.
    """
    steps = np.array([int(r["step"]) for r in rows])
    last = steps.max()
    tail = steps >= last - last // 4  # the last quarter of the steps (step 0 alone when nothing ran)

    def values(name, mask):
        v = np.array([float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows])[mask]
        return v[np.isfinite(v)]

    out = {}
    for name in COMPARED:
        start, end = values(name, steps == 0), values(name, tail)
        if ref and name in ref:
            m, s, source = ref[name][0], ref[name][1], "training data"
        elif start.size:
            m, s, source = float(start.mean()), float(start.std()), "start frames"
        else:
            continue
        e = float(end.mean()) if end.size else float("nan")
        out[name] = {"reference": m, "std": s, "source": source, "start": float(start.mean()) if start.size else float("nan"),
                     "end": e, "z": (e - m) / s if s > 0 else float("nan")}
    return out
