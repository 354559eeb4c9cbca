"""The MD protocol: prepare equilibrated states, then produce trajectories and ensembles.

Chain of starting states (``checkpoints/state_CCC.npz``): state 0 comes from
minimise → melt → quench → NVT equilibration (with an energy-drift check); state
c+1 is state c advanced by ``spacing`` of NVT. Trajectory c and ensemble c start
from state c. Every finished unit of work is a file written atomically, so
``resume=True`` redoes nothing that finished:

=================================  ==================================================
``checkpoints/state_CCC.npz``      x (wrapped), image, v of starting state c
``checkpoints/traj_CCC.npz``       state after the last trajectory frame written
``checkpoints/ens_CCC/run_RRR.npz`` positions (F,N,3) of one finished run
``traj_CCC.h5`` / ``ens_CCC.h5``   finished outputs (H5MD, :mod:`glassgen.io.h5md`)
=================================  ==================================================
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import yaml

from glassgen.core.version import __version__

from glassgen.system import ka
from glassgen.core.atomic import atomic_path
from glassgen.system.data import Ensemble
from glassgen.core.errors import InputError
from glassgen.io.h5md import TrajectoryWriter, write_ensemble
from glassgen.system.pbc import fold
from glassgen.md.lammps_engine import Engine, thermostat_commands, velocity_command
from glassgen.md.recipe import Recipe, recipe_from_dict

POTENTIAL = "Kob-Andersen 80:20 LJ, truncated at 2.5 sigma_ab and shifted to zero there (LAMMPS lj/cut, pair_modify shift yes)"
RESUMABLE_CHANGES = {("trajectories", "count"), ("ensembles", "configurations")}


def derived_seed(seed: int, *keys: int) -> int:
    """A LAMMPS seed (1 .. 9e8) for one purpose, reproducible from the recipe seed."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0] % 900_000_000) + 1


WRITE_TEST = ".write-test-"  # prefix of the file check_output writes and removes to test the folder


def check_output(recipe: Recipe, out: Path, resume: bool) -> None:
    """Fail before any MD if ``out`` cannot hold this run (unwritable, foreign content, other recipe)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "output path exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f"{WRITE_TEST}{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise InputError(str(out), f"output folder is not writable: {e.strerror}") from None
    saved = out / "recipe.yaml"
    if not saved.exists():
        # Under MPI every rank checks at once: another rank's write test is no content.
        if any(not p.name.startswith(WRITE_TEST) for p in out.iterdir()):
            raise InputError(str(out), "output folder is not empty and holds no glassgen simulation; choose a new folder")
        return
    if not resume:
        raise InputError(str(out), "output folder holds a previous simulation: add --resume to continue it, or choose a new folder")
    old = recipe_from_dict(yaml.safe_load(saved.read_text()), str(saved)).to_dict()
    new = recipe.to_dict()
    for section, values in new.items():
        for key, v in (values.items() if isinstance(values, dict) else [(None, values)]):
            ov = old[section][key] if key else old[section]
            if ov != v and (section, key) not in RESUMABLE_CHANGES and section not in ("name", "description"):
                name = f"{section}.{key}" if key else section
                raise InputError(str(saved), f"cannot resume: recipe key '{name}' changed ({ov!r} -> {v!r}); use a new output folder")


def _save_npz(path: Path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


class Simulation:
    """Runs one recipe into one output folder. Use :func:`simulate`.

    Args:
        recipe: a validated :class:`Recipe`.
        out: output folder.
        engine: a fresh :class:`Engine` (one per MPI rank).
        hook: optional ``hook(kind, index)`` called after each finished unit
            (``"state"``, ``"frame"``, ``"trajectory"``, ``"run"``, ``"ensemble"``); tests use it to interrupt.
    """

    def __init__(self, recipe: Recipe, out: Path, engine: Engine, hook=None):
        self.r, self.out, self.e, self.hook = recipe, Path(out), engine, hook
        self.ck = self.out / "checkpoints"
        sy = recipe.system
        self.box = np.full(3, sy.edge())
        self.report: dict = {}
        self.meta = {
            "units": "lj", "engine": "LAMMPS", "lammps_version": engine.version(), "glassgen_version": __version__,
            "potential": POTENTIAL, "epsilon": ka.EPSILON.tolist(), "sigma": ka.SIGMA.tolist(),
            "cutoff": ka.CUTOFF.tolist(), "mass": ka.MASS, "T": recipe.temperature, "density": sy.n / sy.edge() ** 3,
            "N": sy.n, "N_A": sy.n_a(), "N_B": sy.n - sy.n_a(), "dt": recipe.dt, "seed": recipe.seed,
            "recipe": recipe.name, "recipe_yaml": yaml.safe_dump(recipe.to_dict(), sort_keys=False),
            "start": recipe.start, "thermostat_damp": recipe.thermostat_damp,
            "tau_alpha_estimate": recipe.equilibration.tau_alpha, "mpi_ranks": engine.size, "omp_threads": engine.threads,
        }

    def _write(self) -> bool:
        return self.e.is_root

    def _done(self, kind: str, index: int) -> None:
        if self.hook is not None:
            self.hook(kind, index)

    # --- states ----------------------------------------------------------------------------
    def _state_path(self, c: int) -> Path:
        return self.ck / f"state_{c:03d}.npz"

    def load_state(self, c: int) -> None:
        with np.load(self._state_path(c)) as z:
            self.e.set_state(z["x"], z["image"], z["v"])

    def _save_state(self, c: int, **extra) -> None:
        st = self.e.state()
        if self._write():
            _save_npz(self._state_path(c), **st, **extra)

    def _nvt(self, t_start, t_stop) -> None:
        self.e.command(*thermostat_commands("nvt", t_start, t_stop, self.r.thermostat_damp))

    def prepare(self) -> None:
        """State 0: minimise, melt, quench, equilibrate until the energy stops drifting."""
        r, e = self.r, self.e
        e.minimize()
        e.command(velocity_command(r.melt.temperature, derived_seed(r.seed, 1)))
        self._nvt(r.melt.temperature, r.melt.temperature)
        e.run(r.steps(r.melt.time))
        self._nvt(r.melt.temperature, r.temperature)
        e.run(r.steps(r.quench.time))
        self._nvt(r.temperature, r.temperature)
        eq = r.equilibration
        period = r.steps(eq.multiple * eq.tau_alpha)
        for ext in range(eq.max_extensions + 1):
            pe = self._sample_pe(period, eq.samples)
            drift = drift_check(pe)
            if not drift["drifting"]:
                break
        drift.update(extensions=ext, equilibration_time=(ext + 1) * period * r.dt)
        if drift["drifting"]:
            warnings.warn(f"{r.source}: potential energy still drifts after {ext + 1} equilibration periods "
                          f"({drift['first_half']:.4f} -> {drift['second_half']:.4f} ± {drift['error']:.4f}); "
                          "raise equilibration.multiple or check tau_alpha", RuntimeWarning, stacklevel=2)
        self.report = drift
        self._save_state(0, report=json.dumps(drift))

    def _sample_pe(self, steps: int, samples: int) -> np.ndarray:
        chunk = max(1, steps // samples)
        pe = []
        for k in range(samples):
            self.e.run(chunk if k < samples - 1 else steps - chunk * (samples - 1))
            pe.append(self.e.thermo()["pe"])
        return np.array(pe)

    def ensure_state(self, c: int) -> None:
        """Load state c into the engine, computing (and saving) it from state c-1 if needed."""
        if self._state_path(c).exists():
            return self.load_state(c)
        if c == 0:
            self.prepare()
        else:
            self.ensure_state(c - 1)
            self._nvt(self.r.temperature, self.r.temperature)
            self.e.run(self.r.steps(self.r.spacing()))
            self._save_state(c)
        self._done("state", c)

    def state_meta(self, c: int) -> dict:
        if not self.report and self._state_path(0).exists():
            with np.load(self._state_path(0)) as z:
                self.report = json.loads(str(z["report"]))
        m = dict(self.meta, configuration=c)
        m.update({f"equilibration_{k}": v for k, v in self.report.items()})
        m["equilibration_thermostat"] = f"Nose-Hoover NVT, Tdamp = {self.r.thermostat_damp}"
        m["state_spacing"] = self.r.spacing()
        return m

    # --- production --------------------------------------------------------------------------
    def trajectory(self, c: int, species: np.ndarray) -> Path:
        r, e = self.r, self.e
        path, ckpt = self.out / f"traj_{c:03d}.h5", self.ck / f"traj_{c:03d}.npz"
        steps = r.trajectory_frame_steps()
        kind = r.trajectories.ensemble
        have_ckpt = ckpt.exists() and Path(str(path) + ".partial").exists()
        if not have_ckpt:
            self.ensure_state(c)
        meta = dict(self.state_meta(c), ensemble=kind.upper(),
                    thermostat="none (NVE, velocity Verlet)" if kind == "nve" else
                    f"Nose-Hoover NVT, Tdamp = {r.thermostat_damp}",
                    frames="linear every block + log-spaced inside each block", block=r.trajectories.block,
                    log_frames=r.trajectories.log_frames)
        writer = TrajectoryWriter(path, species, self.box, meta, resume=have_ckpt) if self._write() else None
        if have_ckpt:
            with np.load(ckpt) as z:
                k = int(z["frame"])
                e.set_state(z["x"], z["image"], z["v"])
                if writer is not None and writer.n_frames == k:  # stopped between checkpoint and append
                    writer.append(steps[k] * r.dt, z["x"] + z["image"] * self.box)
                elif writer is not None and writer.n_frames != k + 1:
                    raise InputError(str(path), f"cannot resume: {writer.n_frames} frames on disk but checkpoint at frame {k}")
        else:
            k = 0
            x0 = e.positions()  # a gather: every MPI rank must call it, not only the writer
            if writer is not None:
                writer.append(0.0, x0)
        e.command(*thermostat_commands(kind, r.temperature, r.temperature, r.thermostat_damp))
        for k in range(k + 1, len(steps)):
            e.run(int(steps[k] - steps[k - 1]))
            st = e.state()
            if writer is not None:
                _save_npz(ckpt, frame=k, **st)
                writer.append(steps[k] * r.dt, st["x"] + st["image"] * self.box)
            self._done("frame", k)
        if writer is not None:
            writer.close()
            ckpt.unlink(missing_ok=True)
        self._done("trajectory", c)
        return path

    def ensemble(self, c: int, species: np.ndarray) -> Path:
        r, e = self.r, self.e
        path, rundir = self.out / f"ens_{c:03d}.h5", self.ck / f"ens_{c:03d}"
        lags = r.ensemble_lag_steps()
        self.ensure_state(c)
        initial = fold(e.state()["x"], self.box)[0]
        zeros = np.zeros_like(initial, dtype=np.int32)
        seeds = [derived_seed(r.seed, 3, c, k) for k in range(r.ensembles.runs)]
        if self._write():
            rundir.mkdir(parents=True, exist_ok=True)
        e.command(*thermostat_commands("nve"))
        for k, seed in enumerate(seeds):
            run_file = rundir / f"run_{k:03d}.npz"
            if run_file.exists():
                continue
            e.set_state(initial, zeros)
            e.command(velocity_command(r.temperature, seed))
            frames, prev = [], 0
            for s in lags:
                e.run(int(s - prev))
                prev = s
                frames.append(e.positions())
            if self._write():
                _save_npz(run_file, positions=np.array(frames), seed=seed)
            self._done("run", k)
        if self._write():
            runs = []
            for k in range(len(seeds)):
                with np.load(rundir / f"run_{k:03d}.npz") as z:
                    runs.append(z["positions"])
            meta = dict(self.state_meta(c), ensemble="NVE", thermostat="none (NVE, velocity Verlet)",
                        runs=len(seeds), velocity_seeds=seeds,
                        velocities="Maxwell-Boltzmann at T, zero total momentum (velocity create mom yes rot no dist gaussian)")
            write_ensemble(path, Ensemble(species, self.box, initial, lags * r.dt, np.array(runs), meta))
            shutil.rmtree(rundir)
        self._done("ensemble", c)
        return path


def drift_check(pe: np.ndarray, n_blocks: int = 5) -> dict:
    """Has the potential energy stopped drifting? Compare the means of the two halves of the samples.

    The error of each half's mean comes from ``n_blocks`` block averages (the samples are
    time-correlated); drifting means the halves differ by more than 3 combined errors.

    Shapes:
        pe: (S,) potential energy per particle, in time order.
    """
    halves = np.array_split(np.asarray(pe, float), 2)
    means = [h.mean() for h in halves]
    errs = [np.array([b.mean() for b in np.array_split(h, n_blocks)]).std(ddof=1) / np.sqrt(n_blocks) for h in halves]
    err = float(np.hypot(*errs))
    diff = float(means[1] - means[0])
    return {"first_half": float(means[0]), "second_half": float(means[1]), "error": err,
            "drifting": bool(abs(diff) > 3 * err), "pe_mean": float(np.mean(pe)), "pe_std": float(np.std(pe))}
