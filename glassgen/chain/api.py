"""``glassgen.rollout``: chain a flow model's draws into H5MD trajectories (the library's entry; the CLI's too).

The chain itself is :func:`glassgen.chain.rollout.rollout`, which takes any step function; this function
loads the model, checks the starts against its domain (:func:`glassgen.sampling.domain.check_domain`), builds
the step function from the solver settings and, when asked, the relaxation with the true potential.
"""
from __future__ import annotations

from pathlib import Path

from glassgen.chain.rollout import RolloutConfig, rollout as run_chain
from glassgen.sampling.domain import check_domain
from glassgen.sampling.sample import _as_model, step_function
from glassgen.sampling.solvers import SolverConfig
from glassgen.system.data import Snapshot

INIT_META = ("T", "temperature", "density", "potential")  # kept from the start file: what the chain is of


def rollout(model, init, cfg: RolloutConfig, out, solver: SolverConfig | None = None, *, relax=None,
            history_guidance: float = 1.0, noise_scale=None, device: str = "cpu", resume: bool = False,
            progress: bool = True, meta: dict | None = None, force: bool = False,
            temperature: float | None = None, overwrite: bool = False) -> list[Path]:
    """Roll ``model`` out from ``init`` for ``cfg.steps`` draws of ``cfg.lag``; returns the trajectory files.

    Args:
        model: a flow model, a checkpoint path or a shipped name.
        init: one :class:`glassgen.Snapshot` (every trajectory starts there) or one per trajectory.
        cfg: :class:`glassgen.RolloutConfig` (steps, lag, trajectories, seed, redraws, history).
        out: output H5MD path (``OUT_000.h5``, ... for several trajectories; ``OUT.log.csv`` beside it).
        solver: :class:`glassgen.SolverConfig` of every draw (default ``SolverConfig()``).
        relax: a :class:`glassgen.md.relax.RelaxConfig` (LAMMPS kinds need LAMMPS; ``learned`` draws a
            corrector, :mod:`glassgen.sampling.corrector`) or None.
        history_guidance, noise_scale, device: as in :func:`glassgen.sample`.
        resume: continue an interrupted rollout of the same settings.
        overwrite: replace an earlier rollout at ``out`` and its side files (else it is refused).
        meta: extra metadata for the output files (it wins over the settings' own entries).
        force, temperature: the domain check of the starts (as in :func:`glassgen.sample`); a forced
            rollout records ``forced`` and ``out_of_domain`` in its metadata.

    Long: the runnable example below (a test executes it); the body is 23 lines.

    Example (a tiny untrained model; ``"flow-proof-T0.6-sig"`` with an MD start works the same)::

        >>> import tempfile, numpy as np, glassgen
        >>> from glassgen.flow.model import FlowModel
        >>> from glassgen.flow.context import LocalEncoder
        >>> from glassgen.flow.paths import PriorScale
        >>> from glassgen.flow.velocity import VelocityConfig
        >>> model = FlowModel(LocalEncoder(n_species=2, width=8, cutoff=1.2),
        ...                   VelocityConfig(embed_dim=8, hidden=8, n_layers=1, cutoff=1.2),
        ...                   PriorScale([1.0, 10.0], [[0.01, 0.01], [0.03, 0.03]]))
        >>> grid = np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
        >>> start = glassgen.Snapshot(np.arange(216) % 2, np.full(3, 6.0), grid)   # the monitors need edges > 5
        >>> out = tempfile.mkdtemp() + "/chain.h5"
        >>> paths = glassgen.rollout(model, start, glassgen.RolloutConfig(steps=3, lag=2.0), out,
        ...                          solver=glassgen.SolverConfig(ode_steps=2), progress=False)
        >>> glassgen.read(paths[0]).times.tolist()
        [0.0, 2.0, 4.0, 6.0]
    """
    model = _as_model(model)
    snaps = [init] if isinstance(init, Snapshot) else list(init)
    record = check_domain(model, snaps, cfg.draw_lag, temperature=temperature, force=force)
    solver = solver or SolverConfig()
    step = step_function(model, snaps[0].species, snaps[0].box, solver, history_guidance=history_guidance,
                         noise_scale=noise_scale, device=device)
    info = {k: v for k, v in snaps[0].meta.items() if k in INIT_META}
    if temperature is not None and "T" not in info and "temperature" not in info:
        info["T"] = float(temperature)
    ckpt = getattr(model, "checkpoint", None) or {}
    noise = "1" if noise_scale is None else ",".join(f"{c:g}" for c in ([noise_scale] if isinstance(
        noise_scale, (int, float)) else noise_scale))
    meta = {**info, **({"checkpoint": ckpt["path"]} if "path" in ckpt else {}), **solver.meta(),
            "history": bool(step.history), "memory": int(step.memory), "history_guidance": history_guidance,
            "noise_scale": noise, **(meta or {}), **record}
    start = snaps if len(snaps) > 1 else snaps[0]
    if relax is None:
        return run_chain(step, start, cfg, out, resume=resume, progress=progress, meta=meta, overwrite=overwrite)
    from glassgen.sampling.corrector import relaxer as make_relaxer

    with make_relaxer(relax, snaps[0].species, snaps[0].box, model, device, snaps, temperature=temperature,
                      force=force) as relaxer:
        return run_chain(step, start, cfg, out, resume=resume, progress=progress, meta=meta, relax=relaxer,
                         overwrite=overwrite)
