"""A learned corrector: a second flow that carries a generated configuration back to equilibrium (``--relax learned``).

The propagator's draws hold pairs far closer than the Kob–Andersen repulsion allows (docs/rollout.md,
"Relaxation"). The corrector is LiFlow's Corrector (Nam et al., 2024) in glassgen's terms: a flow model fit on
single equilibrium MD frames displaced by Gaussian noise of a random width w ∈ [0, σ_max] (``data.denoise`` with
``data.denoise_widths: uniform``; docs/generative.md, "Equilibrium denoiser"). Its "lag" input is always σ_max, so
it is not told how far the input lies from equilibrium: it reads that from the graph of the displaced positions,
which is built from them, and draws the way back. One *pass* is one such draw, added to every particle; ``passes``
> 1 applies it again to its own output.

A corrector fit on **fixed** widths w_1 > w_2 > ... (``data.denoise`` levels, lag input = width) knows the width
it removes. A pass then walks the configuration down the levels from the checkpoint's validated ``lag`` (the
width a draw's error is taken to have) as in DDIM for variance-exploding diffusion (Song et al., 2021): with
x̂0 = x + Δ_w(x) the draw at width w, x ← x̂0 + (w'/w)(x − x̂0) for the next width w', and x̂0 itself after the
last. The draw's sampler settings (``method``, ``ode_steps``, ``noise_scale``) are the corrector checkpoint's
validated ``sample`` settings: ``noise_scale`` 0 with one Euler step is its conditional mean, the x̂0 DDIM needs.

:class:`Corrector` has the interface the chain uses for :class:`glassgen.md.relax.Relaxer` (``wants``,
``relax``, ``relax_batch``, ``batched``, ``columns``, a context manager), and :func:`relaxer` builds whichever a
:class:`glassgen.md.relax.RelaxConfig` asks for. No LAMMPS: the corrector is one more network call per ODE step,
batched over the trajectories of a chain step like the propagator.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from glassgen.core.errors import InputError
from glassgen.md.relax import Relaxer, RelaxConfig
from glassgen.sampling.domain import DENSITY_TOL, TEMPERATURE_TOL, check_domain, join_values
from glassgen.sampling.sample import _as_model, step_function
from glassgen.sampling.solvers import SolverConfig
from glassgen.system.pbc import fold


def relaxer(cfg: RelaxConfig, species, box, propagator=None, device: str | None = None, starts=(), **domain):
    """The relaxer of ``cfg``: a :class:`Corrector` for ``learned``, else :class:`glassgen.md.relax.Relaxer`.

    ``starts`` (snapshots) are checked against the corrector's own domain as well (``domain``: the
    ``temperature`` and ``force`` of :func:`glassgen.sampling.domain.check_domain`).
    """
    if cfg.kind == "learned":
        c = Corrector(cfg, species, box, propagator, device)
        if starts:
            check_domain(c.model, list(starts), c.levels, **domain)
        return c
    return Relaxer(cfg, species, box)


def corrector_levels(model, source: str) -> tuple[str, list]:
    """``(widths, levels)`` of a corrector checkpoint: ``("uniform", [σ_max])`` or ``("fixed", levels high to low)``.

    A checkpoint that is not a denoiser is refused in one line.
    """
    meta = getattr(model, "checkpoint", None) or {}
    den = meta.get("info", {}).get("denoise")
    if not den or den.get("widths") not in ("uniform", "fixed"):
        raise InputError(source, "is not a learned corrector (a flow fit with data.denoise; "
                                 "docs/rollout.md, \"learned\")")
    levels = sorted({float(v) for v in den["levels"]}, reverse=True)
    return den["widths"], levels[:1] if den["widths"] == "uniform" else levels


def check_state_point(corrector: dict, propagator: dict | None, source: str) -> None:
    """Refuse a corrector trained at another state point (temperature, density, species) than the propagator."""
    if not propagator or "domain" not in propagator:
        return
    a, b = corrector["domain"], propagator["domain"]
    diffs = []
    if a["temperature"] != "unknown" and b["temperature"] != "unknown" and any(
            min(abs(t - u) for u in a["temperature"]) > TEMPERATURE_TOL for t in b["temperature"]):
        diffs.append(f"temperature {join_values(a['temperature'])} (the model's {join_values(b['temperature'])})")
    if a["density"] != "unknown" and b["density"] != "unknown" and abs(a["density"] / b["density"] - 1) > DENSITY_TOL:
        diffs.append(f"density {a['density']:g} (the model's {b['density']:g})")
    if a["species"] != "unknown" and b["species"] != "unknown" and sorted(a["species"]) != sorted(b["species"]):
        diffs.append(f"species {a['species']} (the model's {b['species']})")
    if diffs:
        raise InputError(source, f"corrector trained at another state point: {'; '.join(diffs)}")


class Corrector:
    """Corrects configurations with a learned corrector, ``cfg.passes`` draws each (module docstring).

    Args:
        cfg: a :class:`glassgen.md.relax.RelaxConfig` of kind ``learned`` (``corrector``: checkpoint path or
            shipped name; ``passes``; ``when``).
        species: (N,) ids; box: (3,) edges.
        propagator: the chain's model (or its checkpoint metadata), whose state point the corrector must share.
        device: torch device of the corrector's draws.

    Shapes:
        :meth:`relax_batch`: (B,N,3) unwrapped positions and B seeds -> (B,N,3) unwrapped positions.
    """

    def __init__(self, cfg: RelaxConfig, species, box, propagator=None, device: str | None = None):
        self.cfg, self.species, self.box = cfg, np.asarray(species), np.asarray(box, dtype=np.float64)
        source = str(cfg.corrector)
        self.model = _as_model(cfg.corrector)
        widths, levels = corrector_levels(self.model, source)
        meta = propagator if isinstance(propagator, dict) else getattr(propagator, "checkpoint", None)
        check_state_point(self.model.checkpoint, meta, Path(source).name)
        own = self.model.checkpoint.get("defaults", {}).get("sample", {})  # the corrector's validated draw
        start = float(own.get("lag", levels[0]))
        self.levels = [w for w in levels if w <= start * (1 + 1e-9)] or levels[-1:]  # the walk down, from start
        solver = SolverConfig(**{k: v for k, v in own.items() if k in ("method", "ode_steps")})
        self.step = step_function(self.model, self.species, self.box, solver, device=device,
                                  noise_scale=own.get("noise_scale"))
        self.calls, self.report, self.columns = 0, {}, []
        self.batched = True  # a step's configurations are corrected in one network call per ODE step

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        pass  # nothing held outside Python

    def wants(self, overlap: bool) -> bool:
        """Whether a step with (``overlap=True``) or without a kept overlap is corrected."""
        return self.cfg.when == "always" or bool(overlap)

    def relax(self, positions, seed: int | None = None) -> np.ndarray:
        """Correct one (N,3) unwrapped configuration; the result of :meth:`relax_batch` for it alone."""
        return self.relax_batch(np.asarray(positions, dtype=np.float64)[None],
                                [self.cfg.seed if seed is None else int(seed)])[0]

    def relax_batch(self, positions, seeds) -> np.ndarray:
        """Correct B configurations together; configuration j's draws depend on ``seeds[j]`` alone."""
        x = np.array(positions, dtype=np.float64)
        if x.ndim != 3 or x.shape[1:] != (len(self.species), 3) or len(seeds) != len(x) or not np.all(np.isfinite(x)):
            raise InputError("relax", f"the corrector takes finite (B, {len(self.species)}, 3) positions and B seeds; "
                                      f"got {x.shape} and {len(seeds)}")
        for p in range(self.cfg.passes):
            for k, w in enumerate(self.levels):
                pass_seeds = [int(np.random.SeedSequence([int(s), p, k]).generate_state(1)[0]) for s in seeds]
                delta = self.step(fold(x, self.box)[0], w, pass_seeds)  # x̂0 − x: the way back from width w
                nxt = self.levels[k + 1] if k + 1 < len(self.levels) else 0.0
                x = x + (1.0 - nxt / w) * delta  # x̂0 + (w'/w)(x − x̂0): DDIM's step from width w to w'

        self.calls += len(x)
        self.columns = [{} for _ in seeds]  # no log columns of its own: the monitors judge the result
        return x
