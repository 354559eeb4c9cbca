"""What a rollout does with what it finds at its output before it runs: refuse or replace an earlier run
(``--overwrite``), or continue one (``--resume``) only with the arguments it was started with, except a
larger ``--steps``, which extends it, finished or not. The rules are in docs/rollout.md ("Reproducibility
and resume").
"""
from __future__ import annotations

from pathlib import Path

from glassgen.chain.log import SIDE_FILES, outputs
from glassgen.core.atomic import check_writable, remove_stale
from glassgen.core.errors import InputError
from glassgen.io.h5md import read_meta, reopen_trajectory, stored_meta

# stored keys that are no argument of the run: its length (compared apart: it may grow) and its verdict
NOT_ARGUMENTS = {"rollout_steps", "blown_up", "blown_up_reason"}
# stored only since a later version (the resume check of every argument; batching): a file written before lacks them
LATER = {"max_resample", "overlap_energy", "batch_trajectories"}
# the option that sets each stored argument, so that a refusal says what to change on the command line
FLAGS = {"checkpoint": "CHECKPOINT", "init": "--init", "lag": "--lag", "draw_lag": "--relax-counts, --relax-time",
         "rollout_seed": "--seed", "n_trajectories": "--trajectories", "method": "--method", "ode_steps": "--ode-steps",
         "max_resample": "--max-resample", "overlap_energy": "--overlap-energy", "history_from": "--history",
         "history_guidance": "--history-guidance", "noise_scale": "--noise-scale", "relax_kind": "--relax",
         "relax_when": "--relax-when", "relax_time": "--relax-time", "relax_max_iterations": "--relax-iterations",
         "relax_temperature": "--relax-temperature", "batch_trajectories": "--batch-trajectories"}


def claim_output(out: Path, paths: list[Path], meta: dict, resume: bool, overwrite: bool) -> bool:
    """Make ``out`` ready for the run with ``meta`` that writes ``paths``; False when it finished before
    with these arguments and this length (nothing to do).

    Without ``resume`` an earlier run's files are refused, or deleted with ``overwrite`` (all of them: a
    new run that writes fewer trajectories or no history file must not leave the old ones beside its own).
    With ``resume`` the stored arguments must equal ``meta``'s; a finished run that a larger
    ``rollout_steps`` extends is reopened.
    """
    if resume and overwrite:
        raise InputError(str(out), "--resume continues this output and --overwrite replaces it; give one of them")
    old = outputs(out)
    check_writable(out, overwrite=overwrite or resume, also=old, resumable=True)
    trajectories = [p for p in old if p.name not in {out.stem + s for s in SIDE_FILES}]
    if not resume or not trajectories:
        remove_stale(old)  # with nothing to resume, side files alone are leftovers
        return True
    stored = read_meta(trajectories[0])
    check_arguments(trajectories[0], stored, meta)
    partial = [p.with_name(p.name + ".partial") for p in paths]
    finished = all(p.exists() for p in paths) and not any(q.exists() for q in partial)
    longer = meta["rollout_steps"] > stored.get("rollout_steps", 0)
    if finished and not longer:
        return False
    if stored.get("blown_up"):
        raise InputError(str(trajectories[0]), f"blew up ({stored.get('blown_up_reason')}); extending it would go on "
                         "from broken configurations: write a new output")
    for p, q in zip(paths, partial):
        if p.exists() and not q.exists():
            reopen_trajectory(p)
    return True


def check_arguments(path, stored: dict, meta: dict) -> None:
    """Refuse a resume whose ``meta`` differs from the ``stored`` one, naming every difference (one line)."""
    new = stored_meta(meta)
    diffs = []
    for k in sorted((stored.keys() | new.keys()) - NOT_ARGUMENTS):
        if k in LATER and k not in stored:
            continue
        if stored.get(k, _UNSET) != new.get(k, _UNSET):
            diffs.append(f"{k} was {_show(stored, k)}, now {_show(new, k)}" + (f" ({FLAGS[k]})" if k in FLAGS else ""))
    was, now = stored.get("rollout_steps", 0), new["rollout_steps"]
    if now < was:
        diffs.append(f"rollout_steps was {was}, now {now} (--steps: a resume may extend a rollout, not shorten it)")
    if diffs:
        raise InputError(str(path), "cannot resume with other arguments: " + "; ".join(diffs))


_UNSET = object()


def _show(d: dict, k: str) -> str:
    return repr(d[k]) if k in d else "not set"
