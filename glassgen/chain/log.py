"""What a rollout keeps beside its trajectories: the CSV log of monitors, redraws and relaxations
(``OUT.log.csv``) and, for ``history="draw"`` chains, each chain's last draw (``OUT.history.npz``).
Both are read back by ``--resume``; the layouts are in docs/rollout.md ("Reproducibility and resume").
The log also decides whether the chain blew up (:func:`blow_up`).
"""
from __future__ import annotations

import csv
import glob
import os
from pathlib import Path

import numpy as np

from glassgen.core.atomic import atomic_path
from glassgen.core.errors import InputError
from glassgen.stats.monitors import NAMES as MONITORS, compare


class RolloutLog:
    """CSV log of monitors and resampling; rows past the resume point are dropped."""

    FIELDS = ["step", "trajectory", "time", "resampled", "accepted_overlap", *MONITORS, "relaxed", "relax_rms",
              "e_pot_before_relax", "relax_min_steps", "relax_max_force", "relax_converged"]

    def __init__(self, path: Path, resume_step: int | None):
        rows = []
        if resume_step is not None and path.exists():
            with open(path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        # The kept rows replace the old log in one rename: a crash here cannot lose them.
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.FIELDS)
            w.writeheader()
            w.writerows(rows)
        self.f = open(path, "a", newline="")
        self.w = csv.DictWriter(self.f, fieldnames=self.FIELDS)

    def write(self, row: dict) -> None:
        self.w.writerow({k: row.get(k, "") for k in self.FIELDS})

    def flush(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()


def save_history(path: Path, step: int, previous: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, step=step, previous=previous)


def load_history(path: Path, m: int):
    """(step, previous (M,N,D)) of a ``history="draw"`` rollout, for resume."""
    try:
        with np.load(path) as z:
            step, prev = int(z["step"]), np.asarray(z["previous"], dtype=np.float64)
    except (OSError, KeyError, ValueError) as e:
        raise InputError(str(path), f"cannot resume a rollout with history 'draw' without its last draws ({e})") from None
    if prev.ndim != 3 or len(prev) != m:
        raise InputError(str(path), f"holds draws of shape {prev.shape}, not of {m} trajectories")
    return step, prev


def summarise_log(path, reference: dict | None = None) -> dict:
    """Counts from a rollout log: steps, redraws, overlaps kept, relaxations, energy range, and under
    ``"monitors"`` the structure monitors against ``reference`` (:func:`glassgen.stats.monitors.compare`)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise InputError(str(path), "empty rollout log")
    e = np.array([float(r["e_pot"]) for r in rows])
    return {
        "rows": len(rows),
        "resampled": int(sum(int(r["resampled"] or 0) for r in rows)),
        "overlaps_kept": int(sum(int(r["accepted_overlap"] or 0) for r in rows)),
        "relaxed": int(sum(int(r.get("relaxed") or 0) for r in rows)),
        "relax_unconverged": int(sum(r.get("relax_converged") == "0" for r in rows)),
        "e_pot_first": float(e[0]),
        "e_pot_last": float(e[-1]),
        "e_pot_min": float(e.min()),
        "e_pot_max": float(e.max()),
        "monitors": compare(rows, reference),
    }


SIDE_FILES = (".log.csv", ".history.npz", ".monitors.json")  # OUT.log.csv, ...; monitors.json is the CLI's report


def outputs(out) -> list[Path]:
    """The files of a rollout onto ``out`` that exist: its trajectories however many there were
    (``OUT.h5`` or ``OUT_000.h5``, ...; finished or ``.partial``) and its side files."""
    out = Path(out)
    pattern = f"{glob.escape(out.stem)}_[0-9][0-9][0-9]{glob.escape(out.suffix or '.h5')}"
    many = sorted([*out.parent.glob(pattern), *out.parent.glob(pattern + ".partial")])
    files = [out, out.with_name(out.name + ".partial"), *many, *(out.with_name(out.stem + s) for s in SIDE_FILES)]
    return [p for p in files if p.is_file()]


def blow_up(path) -> str | None:
    """Why a rollout's log says it blew up, or None: E_pot/N above 0 ε_AA (or NaN) in the last quarter of the steps.

    The liquids a rollout is made for have E_pot/N < 0 (every particle sits in its neighbours' attractive
    wells); a positive value means overlapping cores. Only the last quarter is judged, so that the
    transient of an unrelaxed start is allowed.
    """
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("e_pot") not in (None, "")]
    steps = np.array([int(r["step"]) for r in rows], dtype=np.int64)
    if not rows or steps.max() == 0:
        return None
    e = np.array([float(r["e_pot"]) for r in rows])
    bad = np.flatnonzero((steps >= steps.max() - steps.max() // 4) & ~(e <= 0))
    if not bad.size:
        return None
    i, k = bad[0], bad[np.argmax(np.where(np.isnan(e[bad]), np.inf, e[bad]))]
    return (f"step {steps[i]} trajectory {rows[i]['trajectory']}: e_pot = {e[i]:.4g} ε_AA per particle, above 0 in "
            f"the last quarter of the steps (overlapping cores; largest {e[k]:.4g} at step {steps[k]})")
