"""Small generated inputs shared by the format tests (no test data files are committed)."""
from __future__ import annotations

import numpy as np


def random_walk(n=24, frames=5, box=(5.0, 6.0, 7.0), step=0.45, seed=0):
    """Unwrapped positions (F,N,3) of N random walkers that cross box faces, and their species (N,)."""
    rng = np.random.default_rng(seed)
    box = np.asarray(box, dtype=np.float64)
    x0 = rng.uniform(0.0, 1.0, (n, 3)) * box
    moves = rng.normal(0.0, step, (frames - 1, n, 3))
    x = np.concatenate([x0[None], x0[None] + np.cumsum(moves, axis=0)])
    species = (np.arange(n) % 5 == 0).astype(np.int64)  # 1 in 5 is B, like KA's 80:20
    return x, species


def dump_text(x, species, box, lo=(0.0, 0.0, 0.0), columns="id type x y z ix iy iz", steps=None,
              rebuild_every=2, seed=1, times=None) -> str:
    """A LAMMPS text dump of unwrapped positions ``x`` (F,N,3) with the origin at ``lo``.

    Like LAMMPS, wrapped coordinates are re-wrapped only every ``rebuild_every`` frames
    (neighbour-list rebuilds), so in between some lie slightly outside the box; atom
    lines come in a shuffled order; types are species + 1.
    """
    box, lo = np.asarray(box, float), np.asarray(lo, float)
    rng = np.random.default_rng(seed)
    f_, n, _ = x.shape
    steps = np.arange(f_) * 100 if steps is None else steps
    cols = columns.split()
    out = []
    for k in range(f_):
        image = np.floor(x[k - k % rebuild_every] / box).astype(np.int64)
        w = x[k] - image * box
        values = {"id": np.arange(1, n + 1), "type": species + 1, "vx": rng.normal(size=n)}
        for a, ax in enumerate("xyz"):
            values[ax] = w[:, a] + lo[a]
            values[ax + "u"] = x[k, :, a] + lo[a]
            values[ax + "s"] = w[:, a] / box[a]
            values[ax + "su"] = x[k, :, a] / box[a]
            values["i" + ax] = image[:, a]
        if times is not None:
            out += ["ITEM: TIME", repr(float(times[k]))]
        out += ["ITEM: TIMESTEP", str(int(steps[k])), "ITEM: NUMBER OF ATOMS", str(n), "ITEM: BOX BOUNDS pp pp pp"]
        out += [f"{float(lo[a])!r} {float(lo[a] + box[a])!r}" for a in range(3)]
        out.append("ITEM: ATOMS " + columns)
        for i in rng.permutation(n):
            out.append(" ".join(repr(float(values[c][i])) if c in ("x", "y", "z", "xu", "yu", "zu", "xs", "ys", "zs", "xsu", "ysu", "zsu", "vx")
                                else str(int(values[c][i])) for c in cols))
    return "\n".join(out) + "\n"


def botan_like(n=40, runs=3, edge=None, seed=0):
    """Arrays of a BOTAN-style npz: types int8 (N,), wrapped initial (N,3), unwrapped positions (R,N,3)."""
    rng = np.random.default_rng(seed)
    edge = (n / 1.2) ** (1 / 3) if edge is None else edge
    types = (np.arange(n) % 5 == 0).astype(np.int8)
    x0 = rng.uniform(0.0, edge, (n, 3))
    x = x0 + rng.normal(0.0, 0.8, (runs, n, 3))
    return {"types": types, "initial_positions": x0, "positions": x}
