"""In-memory data model: trajectories and iso-configurational ensembles.

Conventions (also in ``docs/formats.md``; this table is the one place in code):

======================  =============  =========================================
field                   shape          meaning
======================  =============  =========================================
``species``             (N,) int64     0-based species id (KA: 0 = A, 1 = B)
``box``                 (D,) float64   edges of an orthorhombic periodic box,
                                       origin at 0 (readers subtract the lower
                                       bound)
``times``               (F,) float64   LJ time units. Trajectory: absolute time
                                       of each frame. Ensemble: lag since the
                                       initial configuration (all > 0)
``positions``           (F,N,D)        Trajectory: unwrapped positions (float64)
                        (R,F,N,D)      Ensemble: unwrapped positions of R
                                       independent runs; ``positions - initial``
                                       is the true displacement
``initial``             (N,D)          Ensemble: the configuration at lag 0,
                                       folded into [0, box)
``meta``                dict           units, T, density, potential, dt, seeds,
                                       provenance: JSON-serialisable scalars,
                                       strings and lists
======================  =============  =========================================

D is 3 throughout glassgen today; it is kept a parameter (2 or 3) so that 2D
systems can come later without changing the layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from glassgen.core.errors import InputError

# How far outside [0, L) a "wrapped" coordinate may lie before it is treated as
# corrupt rather than as a particle that crossed the face since the last
# re-neighbouring (LAMMPS re-wraps only then).
WRAP_TOLERANCE = 0.5


def _source(meta: dict) -> str:
    return str(meta.get("source", "<in memory>"))


def check_box(box, source: str, dim: int | None = None) -> np.ndarray:
    box = np.asarray(box, dtype=np.float64)
    if box.ndim != 1 or box.shape[0] not in (2, 3):
        raise InputError(source, f"box must be the edge lengths, shape (2,) or (3,); got shape {box.shape}")
    if dim is not None and box.shape[0] != dim:
        raise InputError(source, f"box has {box.shape[0]} edges but positions are {dim}-dimensional")
    if not np.all(np.isfinite(box)) or np.any(box <= 0):
        raise InputError(source, f"box edges must be finite and positive; got {box.tolist()}")
    return box


def check_species(species, n: int, source: str) -> np.ndarray:
    species = np.asarray(species)
    if species.shape != (n,):
        raise InputError(source, f"species must have shape ({n},); got {species.shape}")
    if species.size and not np.issubdtype(species.dtype, np.integer):
        if not np.all(np.asarray(species, dtype=np.float64) == np.round(species)):
            raise InputError(source, f"species must be integers; got dtype {species.dtype}")
    species = species.astype(np.int64)
    if species.size and species.min() < 0:
        raise InputError(source, "species ids must be 0-based non-negative integers")
    return species


def check_positions(x, shape_tail: tuple, name: str, source: str) -> np.ndarray:
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise InputError(source, f"{name} must be a float array; got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    if x.ndim != len(shape_tail) or any(s is not None and a != s for a, s in zip(x.shape, shape_tail)):
        want = "(" + ",".join("?" if s is None else str(s) for s in shape_tail) + ")"
        raise InputError(source, f"{name} must have shape {want}; got {x.shape}")
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise InputError(source, f"{name} contains {bad} NaN/inf values")
    return x


def check_wrapped(x: np.ndarray, box: np.ndarray, name: str, source: str) -> np.ndarray:
    """Fold coordinates that should already lie in [0, box) and reject corrupt ones."""
    lo, hi = x.min(axis=tuple(range(x.ndim - 1))), x.max(axis=tuple(range(x.ndim - 1)))
    if np.any(lo < -WRAP_TOLERANCE * box) or np.any(hi >= (1 + WRAP_TOLERANCE) * box):
        raise InputError(
            source,
            f"{name} lie far outside the box {box.tolist()} (they span {lo.tolist()} to {hi.tolist()}) "
            "although they should be wrapped: wrong box, or unwrapped coordinates?",
        )
    from glassgen.system.pbc import fold

    return fold(x, box)[0]


def check_times(times, n: int | None, source: str, strictly_positive: bool = False) -> np.ndarray:
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or (n is not None and times.shape[0] != n):
        raise InputError(source, f"times must have shape ({n if n is not None else 'F'},); got {times.shape}")
    if not np.all(np.isfinite(times)):
        raise InputError(source, "times contain NaN/inf")
    if times.size > 1 and np.any(np.diff(times) <= 0):
        raise InputError(source, "times must be strictly increasing")
    if strictly_positive and times.size and times[0] <= 0:
        raise InputError(source, f"ensemble times are lags after the initial configuration and must be > 0; got {times[0]}")
    return times


@dataclass
class Trajectory:
    """Frames of one MD (or generated) trajectory; see the module table."""

    species: np.ndarray
    box: np.ndarray
    times: np.ndarray
    positions: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        src = _source(self.meta)
        x = np.asarray(self.positions)
        if x.ndim != 3:
            raise InputError(src, f"trajectory positions must have shape (F,N,D); got {x.shape}")
        self.box = check_box(self.box, src, dim=x.shape[2])
        self.positions = check_positions(x, (None, None, x.shape[2]), "positions", src)
        f, n, _ = self.positions.shape
        self.species = check_species(self.species, n, src)
        self.times = check_times(self.times, f, src)

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_particles(self) -> int:
        return self.positions.shape[1]

    @property
    def dim(self) -> int:
        return self.positions.shape[2]

    def frame(self, k: int) -> "Snapshot":
        return Snapshot(self.species, self.box, self.positions[k], dict(self.meta, time=float(self.times[k])))

    def index_at(self, time: float) -> int:
        """Index of the frame at ``time`` (LJ units, to 1e-6 absolute); InputError when there is none, so a
        lookup past a short trajectory's end is not silently its last frame."""
        k = int(np.argmin(np.abs(self.times - time)))
        if abs(self.times[k] - time) > 1e-6:
            raise InputError(_source(self.meta), f"no frame at t = {time:g} (frames from {self.times[0]:g} to "
                                                 f"{self.times[-1]:g})")
        return k


@dataclass
class Ensemble:
    """An iso-configurational ensemble: one initial configuration, R runs; see the module table."""

    species: np.ndarray
    box: np.ndarray
    initial: np.ndarray
    times: np.ndarray
    positions: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        src = _source(self.meta)
        x0 = np.asarray(self.initial)
        if x0.ndim != 2:
            raise InputError(src, f"initial positions must have shape (N,D); got {x0.shape}")
        n, d = x0.shape
        self.box = check_box(self.box, src, dim=d)
        self.initial = check_wrapped(check_positions(x0, (n, d), "initial positions", src), self.box, "initial positions", src)
        x = np.asarray(self.positions)
        if x.ndim != 4 or x.shape[2:] != (n, d):
            raise InputError(src, f"ensemble positions must have shape (R,F,{n},{d}) to match the initial configuration; got {x.shape}")
        self.positions = check_positions(x, (None, None, n, d), "positions", src)
        self.species = check_species(self.species, n, src)
        self.times = check_times(self.times, self.positions.shape[1], src, strictly_positive=True)

    @property
    def n_runs(self) -> int:
        return self.positions.shape[0]

    @property
    def n_particles(self) -> int:
        return self.initial.shape[0]

    @property
    def dim(self) -> int:
        return self.initial.shape[1]

    def displacements(self) -> np.ndarray:
        """(R,F,N,D) true displacements since the initial configuration."""
        return self.positions - self.initial

    def snapshot(self) -> "Snapshot":
        return Snapshot(self.species, self.box, self.initial, dict(self.meta))


@dataclass
class Snapshot:
    """One configuration: the input a model conditions on. ``positions`` (N,D) may be wrapped or not."""

    species: np.ndarray
    box: np.ndarray
    positions: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        src = _source(self.meta)
        x = np.asarray(self.positions)
        if x.ndim != 2:
            raise InputError(src, f"snapshot positions must have shape (N,D); got {x.shape}")
        self.box = check_box(self.box, src, dim=x.shape[1])
        self.positions = check_positions(x, (None, x.shape[1]), "positions", src)
        self.species = check_species(self.species, x.shape[0], src)

    @property
    def n_particles(self) -> int:
        return self.positions.shape[0]
