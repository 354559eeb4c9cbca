"""glassgen: learn and sample the long-time dynamics of glass-forming liquids.

Public API (everything else is internal):

- data model: :class:`Trajectory`, :class:`Ensemble`, :class:`Snapshot`
- storage: :func:`read`, :func:`read_trajectory`, :func:`read_ensemble`,
  :func:`write_trajectory`, :func:`write_ensemble`
- periodic graphs: :func:`neighbour_graph`, :func:`neighbour_graph_batch`
- errors: :class:`InputError`
- models: :func:`load_model` (a checkpoint path or a shipped name; docs/checkpoints.md)
- generation: :func:`sample` with :class:`SolverConfig`, :func:`rollout` with :class:`RolloutConfig`
  (docs/api.md). These import torch on first use: ``import glassgen`` stays torch-free.
"""
from glassgen.core.version import __version__  # noqa: E402

from glassgen.system.data import Ensemble, Snapshot, Trajectory  # noqa: E402
from glassgen.core.errors import InputError  # noqa: E402
from glassgen.io.h5md import read, read_ensemble, read_trajectory, write_ensemble, write_trajectory  # noqa: E402
from glassgen.system.pbc import neighbour_graph, neighbour_graph_batch  # noqa: E402

__all__ = [
    "__version__",
    "Ensemble",
    "Snapshot",
    "Trajectory",
    "InputError",
    "read",
    "read_ensemble",
    "read_trajectory",
    "write_ensemble",
    "write_trajectory",
    "neighbour_graph",
    "neighbour_graph_batch",
    "load_model",
    "sample",
    "SolverConfig",
    "rollout",
    "RolloutConfig",
]

# name -> module: PEP 562 lazy attributes, so that `import glassgen` does not import torch
_LAZY = {
    "load_model": "glassgen.sampling.models",
    "sample": "glassgen.sampling.sample",
    "SolverConfig": "glassgen.sampling.solvers",
    "rollout": "glassgen.chain.api",
    "RolloutConfig": "glassgen.chain.rollout",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'glassgen' has no attribute {name!r}")
