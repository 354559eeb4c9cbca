"""Simulation recipes: YAML mapped onto dataclasses, checked before any MD starts.

All times are in LJ units (σ_AA (m/ε_AA)^{1/2}), temperatures in ε_AA/k_B, densities
in σ_AA^-3. Every key, its unit and default is listed in ``docs/simulate.md``.
Unknown keys, impossible values and unwritable outputs raise
:class:`glassgen.core.errors.InputError` naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glassgen.system import ka
from glassgen.core.errors import InputError
from glassgen.core.recipe import from_dict, load_yaml

PRESET_DIR = Path(__file__).resolve().parents[1] / "recipes"
MAX_DENSITY = 5.0  # far above any liquid or glass of LJ particles (fcc at contact is ~1.4)


@dataclass
class System:
    n: int = 1000
    density: float = ka.DENSITY
    box: float | None = None  # cubic edge; overrides density when given
    fraction_a: float = ka.FRACTION_A

    def edge(self) -> float:
        return float(self.box) if self.box is not None else ka.box_edge(self.n, self.density)

    def n_a(self) -> int:
        return int(round(self.fraction_a * self.n))


@dataclass
class Melt:
    temperature: float = 2.0
    time: float = 20.0


@dataclass
class Quench:
    time: float = 20.0  # linear ramp of the thermostat target from melt to run temperature


@dataclass
class Equilibration:
    tau_alpha: float = 1.0  # estimate of τ_α at the run temperature (LJ time)
    multiple: float = 30.0  # NVT equilibration lasts multiple × tau_alpha
    spacing: float = 0.0  # NVT time between successive starting configurations (0: tau_alpha × 3)
    max_extensions: int = 2  # extra equilibration periods when the energy still drifts
    samples: int = 200  # potential-energy samples used by the drift check


@dataclass
class Trajectories:
    count: int = 0
    length: float = 100.0  # LJ time of each trajectory
    block: float = 10.0  # a linear frame every `block`; log-spaced frames inside each block
    log_frames: int = 10  # log-spaced frames per block, from dt up to the block length
    ensemble: str = "nve"  # "nve" or "nvt" (Nosé–Hoover)


@dataclass
class Ensembles:
    configurations: int = 0  # S independent starting configurations
    runs: int = 32  # R runs per configuration, fresh Maxwell–Boltzmann velocities
    t_min: float = 0.005  # first recorded lag (LJ time)
    t_max: float = 100.0  # last recorded lag
    frames: int = 20  # log-spaced lags between t_min and t_max (rounded to whole steps)
    times: list | None = None  # explicit lags instead of t_min/t_max/frames


@dataclass
class Recipe:
    name: str = "custom"
    description: str = ""
    temperature: float = 1.0
    dt: float = 0.005
    seed: int = 1
    start: str = "random"  # "random" or "lattice"; minimised before melting either way
    thermostat_damp: float = 0.5  # Nosé–Hoover damping time (LJ time)
    system: System = field(default_factory=System)
    melt: Melt = field(default_factory=Melt)
    quench: Quench = field(default_factory=Quench)
    equilibration: Equilibration = field(default_factory=Equilibration)
    trajectories: Trajectories = field(default_factory=Trajectories)
    ensembles: Ensembles = field(default_factory=Ensembles)
    source: str = field(default="<in memory>", compare=False)

    # --- derived quantities (steps are what LAMMPS runs) ---------------------------------
    def steps(self, t: float) -> int:
        return int(round(t / self.dt))

    def spacing(self) -> float:
        e = self.equilibration
        return e.spacing if e.spacing > 0 else 3.0 * e.tau_alpha

    def trajectory_frame_steps(self) -> np.ndarray:
        """Frame steps of one trajectory: every block start, plus log-spaced steps inside each block."""
        tr = self.trajectories
        block = self.steps(tr.block)
        n_blocks = int(round(tr.length / tr.block))
        inner = np.unique(np.round(np.geomspace(1, block, tr.log_frames + 1)[:-1]).astype(np.int64))
        inner = inner[(inner > 0) & (inner < block)]
        steps = [b * block + np.concatenate([[0], inner]) for b in range(n_blocks)]
        return np.concatenate(steps + [[n_blocks * block]]).astype(np.int64)

    def ensemble_lag_steps(self) -> np.ndarray:
        e = self.ensembles
        t = np.asarray(e.times, float) if e.times is not None else np.geomspace(e.t_min, e.t_max, e.frames)
        return np.unique(np.maximum(1, np.round(t / self.dt)).astype(np.int64))

    def total_time(self) -> float:
        """Simulated LJ time of the whole recipe (without drift extensions): the progress-bar total."""
        e, n_states = self.equilibration, max(self.trajectories.count, self.ensembles.configurations)
        t = self.melt.time + self.quench.time + e.multiple * e.tau_alpha + max(n_states - 1, 0) * self.spacing()
        t += self.trajectories.count * self.trajectories.length
        if self.ensembles.configurations:
            t += self.ensembles.configurations * self.ensembles.runs * self.ensemble_lag_steps()[-1] * self.dt
        return t

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("source")
        return d


def _num(src, key, v, lo=None, hi=None, integer=False, lo_open=True):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if integer:
        ok = ok and float(v) == int(v)
    if not ok:
        raise InputError(src, f"'{key}' must be a finite {'integer' if integer else 'number'}; got {v!r}")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise InputError(src, f"'{key}' must be {'>' if lo_open else '>='} {lo}; got {v}")
    if hi is not None and v > hi:
        raise InputError(src, f"'{key}' must be <= {hi}; got {v}")
    return int(v) if integer else float(v)


def validate(r: Recipe) -> Recipe:
    """Check every value; raise InputError naming the key. Returns the recipe with normalised types."""
    s = r.source
    r.temperature = _num(s, "temperature", r.temperature, lo=0)
    r.dt = _num(s, "dt", r.dt, lo=0, hi=0.05)
    r.seed = _num(s, "seed", r.seed, lo=1, integer=True, lo_open=False)
    r.thermostat_damp = _num(s, "thermostat_damp", r.thermostat_damp, lo=0)
    if r.start not in ("random", "lattice"):
        raise InputError(s, f"'start' must be 'random' or 'lattice'; got {r.start!r}")
    _validate_system(s, r.system)
    r.melt.temperature = _num(s, "melt.temperature", r.melt.temperature, lo=0)
    r.melt.time = _num(s, "melt.time", r.melt.time, lo=0, lo_open=False)
    r.quench.time = _num(s, "quench.time", r.quench.time, lo=0, lo_open=False)
    e = r.equilibration
    e.tau_alpha = _num(s, "equilibration.tau_alpha", e.tau_alpha, lo=0)
    e.multiple = _num(s, "equilibration.multiple", e.multiple, lo=0)
    e.spacing = _num(s, "equilibration.spacing", e.spacing, lo=0, lo_open=False)
    e.max_extensions = _num(s, "equilibration.max_extensions", e.max_extensions, lo=0, integer=True, lo_open=False)
    e.samples = _num(s, "equilibration.samples", e.samples, lo=10, integer=True, lo_open=False)
    if r.steps(e.multiple * e.tau_alpha) < e.samples:
        raise InputError(s, f"equilibration ({e.multiple} × {e.tau_alpha}) is shorter than {e.samples} steps")
    _validate_trajectories(s, r)
    _validate_ensembles(s, r.ensembles)
    if r.trajectories.count == 0 and r.ensembles.configurations == 0:
        raise InputError(s, "the recipe produces nothing: set trajectories.count or ensembles.configurations > 0")
    return r


def _validate_system(s: str, sy) -> None:
    """system.*: N, composition, box or density; a box that holds the cutoff and both species."""
    sy.n = _num(s, "system.n", sy.n, lo=1, integer=True)
    sy.fraction_a = _num(s, "system.fraction_a", sy.fraction_a, lo=0, hi=1, lo_open=False)
    if sy.box is not None:
        sy.box = _num(s, "system.box", sy.box, lo=0)
        sy.density = sy.n / sy.box**3
    else:
        sy.density = _num(s, "system.density", sy.density, lo=0)
    if sy.density > MAX_DENSITY:
        raise InputError(s, f"density {sy.density:.4g} is impossible for LJ particles (> {MAX_DENSITY}); check system.density / system.box")
    n_a = sy.n_a()
    if n_a == 0 or n_a == sy.n:
        raise InputError(s, f"species {'A' if n_a == 0 else 'B'} would be empty: N = {sy.n}, N_A = round({sy.fraction_a} N) = {n_a}")
    need = 2 * float(ka.CUTOFF.max())
    if sy.edge() <= need:
        raise InputError(s, f"box edge {sy.edge():.4g} is too small for the 2.5 σ cutoff (needs > {need:g}); "
                            f"use more particles (N = {sy.n} at density {sy.density:.4g})")


def _validate_trajectories(s: str, r: Recipe) -> None:
    """trajectories.*: counts, a length of whole blocks of whole MD steps, the ensemble."""
    tr = r.trajectories
    tr.count = _num(s, "trajectories.count", tr.count, lo=0, integer=True, lo_open=False)
    tr.length = _num(s, "trajectories.length", tr.length, lo=0)
    tr.block = _num(s, "trajectories.block", tr.block, lo=0, hi=tr.length)
    tr.log_frames = _num(s, "trajectories.log_frames", tr.log_frames, lo=0, integer=True, lo_open=False)
    if tr.ensemble not in ("nve", "nvt"):
        raise InputError(s, f"'trajectories.ensemble' must be 'nve' or 'nvt'; got {tr.ensemble!r}")
    if abs(tr.length / tr.block - round(tr.length / tr.block)) > 1e-9 or abs(r.steps(tr.block) * r.dt - tr.block) > 1e-9:
        raise InputError(s, f"'trajectories.length' ({tr.length}) must be a whole number of blocks of whole steps ({tr.block})")


def _validate_ensembles(s: str, en) -> None:
    """ensembles.*: counts, and either an increasing list of lags or a log grid t_min .. t_max."""
    en.configurations = _num(s, "ensembles.configurations", en.configurations, lo=0, integer=True, lo_open=False)
    en.runs = _num(s, "ensembles.runs", en.runs, lo=0, integer=True)
    if en.times is not None:
        if not isinstance(en.times, list) or not en.times:
            raise InputError(s, "'ensembles.times' must be a non-empty list of lags")
        en.times = [_num(s, "ensembles.times[]", t, lo=0) for t in en.times]
        if any(b <= a for a, b in zip(en.times, en.times[1:])):
            raise InputError(s, "'ensembles.times' must be strictly increasing")
    else:
        en.t_min = _num(s, "ensembles.t_min", en.t_min, lo=0)
        en.t_max = _num(s, "ensembles.t_max", en.t_max, lo=en.t_min)
        en.frames = _num(s, "ensembles.frames", en.frames, lo=1, integer=True, lo_open=False)


def load_recipe(path) -> Recipe:
    """Read and validate a YAML recipe file."""
    return recipe_from_dict(load_yaml(path), str(path))


def recipe_from_dict(data: dict, source: str = "<in memory>") -> Recipe:
    """Map a recipe dict onto :class:`Recipe` (shared loader: unknown keys are errors) and validate it."""
    if isinstance(data, dict) and "source" in data:
        raise InputError(source, "unknown recipe key 'source' (it is set from the file name)")
    r = from_dict(Recipe, data, source)
    r.source = source
    return validate(r)


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str) -> Recipe:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise InputError(f"preset {name!r}", f"no such preset; choose one of {', '.join(preset_names())}")
    return load_recipe(path)
