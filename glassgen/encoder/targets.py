"""Supervised propensity data: targets from iso-configurational ensembles, cubic-box augmentation, scores.

Targets of one ensemble at lag t (R runs, displacements Δr_i = r_i(t) - r_i(0), unwrapped):

    node  y_i  = (1/R) Σ_runs |Δr_i|                               (propensity)
    edge  y_ij = (1/R) Σ_runs |r_ij(0) + Δr_j - Δr_i| - |r_ij(0)|   r_ij(0) = minimum image r_j - r_i at t = 0

for every directed edge (i, j) of the t = 0 neighbour graph. Both are invariant
under the 48 symmetries of the cubic box (they depend on lengths only).
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import torch

from glassgen.system.data import Ensemble
from glassgen.core.errors import InputError
from glassgen.stats.propensity import pearson  # noqa: F401  (re-exported: training reports it)

# Evaluation convention of the BOTAN paper: A particles (node), AA pairs closer than 1.35 (edge).
EDGE_EVAL_CUTOFF = 1.35


def read_npz_ensemble(path, density: float = 1.2, time: float = 4120.0) -> Ensemble:
    """One BOTAN-format npz as an :class:`Ensemble` (box from ``density``, ``time`` the lag of its frame).

    Thin call of the converter's reader (``glassgen.io.npz.read_npz``), which owns the npz checks.
    """
    from glassgen.io.npz import read_npz

    return read_npz(path, time=time, density=density)


def read_ensembles(folder, names: list[str], density: float = 1.2, time: float = 4120.0) -> list[Ensemble]:
    """Read ensembles by file name from ``folder``: ``.npz`` via :func:`read_npz_ensemble`, ``.h5``/``.h5md`` via H5MD."""
    from glassgen.io.h5md import read_ensemble

    out = []
    for name in names:
        p = Path(folder) / name
        if not p.is_file():
            raise InputError(str(p), "ensemble file not found")
        out.append(read_npz_ensemble(p, density, time) if p.suffix == ".npz" else read_ensemble(p))
    return out


def config_files(folder, pattern: str, ids: list[int]) -> list[str]:
    """File names ``pattern.format(id=i)`` (e.g. ``isoconfig_N4096T0.44_{id}_tc07.npz``)."""
    if "{id}" not in pattern:
        raise InputError(str(folder), f"file pattern {pattern!r} must contain {{id}}")
    return [pattern.format(id=i) for i in ids]


def frame_index(ens: Ensemble, time: float | None) -> int:
    """Index of the lag ``time`` in ``ens.times`` (the only one if ``time`` is None)."""
    src = str(ens.meta.get("source", "<ensemble>"))
    if time is None:
        if len(ens.times) != 1:
            raise InputError(src, f"ensemble has lags {ens.times.tolist()}; give 'time' in the recipe")
        return 0
    k = int(np.argmin(np.abs(ens.times - time)))
    if not np.isclose(ens.times[k], time, rtol=1e-6):
        raise InputError(src, f"no lag {time} in the ensemble (lags {ens.times.tolist()})")
    return k


def node_targets(ens: Ensemble, frame: int = 0) -> np.ndarray:
    """(N,) mean over runs of |Δr_i| at lag index ``frame``."""
    disp = ens.positions[:, frame] - ens.initial
    return np.linalg.norm(disp, axis=-1).mean(axis=0)


def edge_targets(ens: Ensemble, edge_index: np.ndarray, edge_vec: np.ndarray, frame: int = 0) -> np.ndarray:
    """(E,) mean over runs of |r_ij(0) + Δr_j - Δr_i| - |r_ij(0)|.

    Shapes:
        edge_index: (2, E) [i = src, j = dst]; edge_vec: (E, D) = r_ij(0), minimum image.
    """
    src, dst = edge_index
    r0 = np.asarray(edge_vec, dtype=np.float64)
    len0 = np.linalg.norm(r0, axis=-1)
    acc = np.zeros(len(r0))
    for run in ens.positions[:, frame]:  # one run at a time: E×D per run, not R×E×D
        disp = run - ens.initial
        acc += np.linalg.norm(r0 + disp[dst] - disp[src], axis=-1) - len0
    return acc / ens.n_runs


def cubic_symmetries(dim: int = 3) -> torch.Tensor:
    """The 2^D·D! symmetries of the hypercubic box (48 in 3D) as (M, D, D) signed permutation matrices."""
    mats = []
    for perm in itertools.permutations(range(dim)):
        for signs in itertools.product((1.0, -1.0), repeat=dim):
            m = torch.zeros(dim, dim)
            for row, (col, s) in enumerate(zip(perm, signs)):
                m[row, col] = s
            mats.append(m)
    return torch.stack(mats)


def transform_positions(x: np.ndarray, mat, box: np.ndarray) -> np.ndarray:
    """Apply a cube symmetry to positions and fold back into [0, L): x' = fold(M x). Shapes: x (N, D)."""
    from glassgen.system.pbc import fold

    return fold(np.asarray(x, dtype=np.float64) @ np.asarray(mat, dtype=np.float64).T, box)[0]


def transform_graph(graph: dict, mat: torch.Tensor) -> dict:
    """The same graph seen after applying ``mat`` to the positions: edge vectors rotate, nothing else changes.

    Valid because a cube symmetry maps the periodic box and every minimum-image
    vector onto themselves (checked in tests against a graph rebuilt from
    :func:`transform_positions`).
    """
    out = dict(graph)
    out["edge_vec"] = graph["edge_vec"] @ mat.to(graph["edge_vec"]).T
    return out


def eval_masks(species: torch.Tensor, edge_index: torch.Tensor, edge_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Node mask: type A; edge mask: AA pairs with r₀ < 1.35. Shapes: (N,), (E,) bool."""
    node = species == 0
    edge = node[edge_index[0]] & node[edge_index[1]] & (edge_len < EDGE_EVAL_CUTOFF)
    return node, edge


def natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def prepare(recipe, ids: list[int], device, systems: list | None = None):
    """Graphs, targets and evaluation masks of the configurations ``ids`` of a propensity recipe
    (glassgen.encoder.train), on ``device``, made when used.

    A sequence (:class:`glassgen.io.stream.Stream`) that keeps the last ``data.cache`` configurations, with
    ``data.workers`` threads reading ahead (``prefetch`` names the next ones). Every file is read once here,
    so a missing or unreadable one fails now, in one line naming it. ``systems``, when given, gets
    ``(species, box, lag, metadata)`` of every ensemble (the checkpoint's domain; species in the smallest
    integer type, to keep a thousand files' worth small)."""
    from glassgen.io.stream import Stream

    d = recipe.data
    names = config_files(d.folder, d.pattern, ids)

    def ensemble(name):
        ens = read_ensembles(d.folder, [name], d.npz_density, d.npz_time)[0]
        return ens, frame_index(ens, d.time if d.time is not None or len(ens.times) == 1 else None)

    def summary(name):
        ens, k = ensemble(name)
        return [(ens.species.astype(np.min_scalar_type(int(ens.species.max(initial=0)))), ens.box, float(ens.times[k]),
                 ens.meta)]
    where = {"counts": [1] * len(names), "workers": d.workers, "name": lambda n: str(Path(d.folder) / n)}
    seen = list(Stream(names, summary, cache=1, **where))
    if systems is not None:
        systems.extend(seen)
    return Stream(names, lambda name: [_item(recipe, *ensemble(name), device)], cache=d.cache, **where)


def _item(recipe, ens, k: int, device) -> dict:
    """One configuration's graph, targets at lag index ``k`` and evaluation masks, as tensors on ``device``."""
    from glassgen.system.pbc import neighbour_graph

    g = neighbour_graph(ens.initial, ens.box, recipe.model.cutoff, source=ens.meta.get("source"))
    item = {
        "species": torch.from_numpy(ens.species),
        "edge_index": torch.from_numpy(g["edge_index"]),
        "edge_vec": torch.from_numpy(g["edge_vec"]).float(),
        "edge_len": torch.from_numpy(g["edge_len"]).float(),
        "y_node": torch.from_numpy(node_targets(ens, k)).float(),
        "y_edge": torch.from_numpy(edge_targets(ens, g["edge_index"], g["edge_vec"], k)).float(),
    }
    item["mask_node"], item["mask_edge"] = eval_masks(item["species"], item["edge_index"], item["edge_len"])
    return {k_: v.to(device) for k_, v in item.items()}
