"""glassgen: learn and sample the long-time dynamics of glass-forming liquids.

Public API (everything else is internal):

- data model: :class:`Trajectory`, :class:`Ensemble`, :class:`Snapshot`
- storage: :func:`read`, :func:`read_trajectory`, :func:`read_ensemble`,
  :func:`write_trajectory`, :func:`write_ensemble`
- periodic graphs: :func:`neighbour_graph`, :func:`neighbour_graph_batch`
- errors: :class:`InputError`
- generation: :func:`sample` (displacement fields from a flow checkpoint; imports torch on first use)
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
    "sample",
]


def __getattr__(name):  # PEP 562: `glassgen.sample` without importing torch at `import glassgen`
    if name == "sample":
        from glassgen.sampling.sample import sample

        return sample
    raise AttributeError(f"module 'glassgen' has no attribute {name!r}")
