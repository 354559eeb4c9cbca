"""A small Kob–Andersen liquid made with the real LAMMPS relaxer, shared by the tests that need LAMMPS."""
import numpy as np

from glassgen.system import ka
from glassgen.md.relax import RelaxConfig, Relaxer


def ka_liquid(n: int, seed: int, temperature: float = 1.0, time: float = 2.0):
    """(species, box, x): n particles at density 1.2 from a random start, minimised, then ``time`` of Langevin at T."""
    rng = np.random.default_rng(seed)
    box = np.full(3, ka.box_edge(n))
    species = (rng.permutation(n) >= ka.n_species_a(n)).astype(np.int64)
    with Relaxer(RelaxConfig(kind="minimize", max_iterations=1000), species, box) as r:
        x = r.relax(rng.random((n, 3)) * box)
    with Relaxer(RelaxConfig(kind="nvt", temperature=temperature, time=time), species, box) as r:
        x = r.relax(x, 1)
    return species, box, x
