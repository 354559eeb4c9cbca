"""ODE/SDE solvers for flow sampling. They see only ``velocity(t, x) -> dx/dt``.

Fixed-step methods are plain loops (one dict, :data:`FIXED`); every other name is
handed to :func:`torchdiffeq.odeint` (``dopri5``, ``bosh3``, ``adaptive_heun``,
``dopri8``, ``fehlberg2``, ``explicit_adams``, ...). Euler–Maruyama integrates the
SDE with the same marginals as the ODE (:func:`euler_maruyama`). All return
``(x_end, nfe)``, nfe being the number of velocity evaluations.

Time grid: exactly one of ``ode_steps`` (uniform grid of that many steps on
[t0, t1]) or ``time_grid`` (increasing 1-D sequence; integration runs from its
first to its last point) must be given. For adaptive methods the grid only fixes
the interval; the step size is chosen from ``rtol``/``atol``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from glassgen.core.errors import InputError
from glassgen.sampling.defaults import METHOD, ODE_STEPS


def make_grid(ode_steps=None, time_grid=None, t0: float = 0.0, t1: float = 1.0, dtype=torch.float64,
              device=None) -> torch.Tensor:
    """The time grid from exactly one of ``ode_steps`` / ``time_grid`` (InputError otherwise), on ``device``.

    Checked on the host, before any tensor exists, so validating it never waits for a device.

    Shapes: returns (K+1,) increasing times.
    """
    if (ode_steps is None) == (time_grid is None):
        raise InputError("sampler", "give exactly one of ode_steps and time_grid")
    if ode_steps is not None:
        if isinstance(ode_steps, bool) or int(ode_steps) != ode_steps or ode_steps < 1:
            raise InputError("sampler", f"ode_steps must be a positive integer; got {ode_steps!r}")
        return torch.linspace(t0, t1, int(ode_steps) + 1, dtype=dtype, device=device)
    g = np.asarray(time_grid.tolist() if torch.is_tensor(time_grid) else time_grid, dtype=np.float64).reshape(-1)
    if g.size < 2 or not np.all(np.isfinite(g)) or np.any(np.diff(g) <= 0):
        raise InputError("sampler", "time_grid must be a strictly increasing sequence of at least 2 finite times")
    return torch.tensor(g, dtype=dtype, device=device)


def euler_step(f, t, h, x):
    return x + h * f(t, x)


def midpoint_step(f, t, h, x):
    return x + h * f(t + h / 2, x + (h / 2) * f(t, x))


def heun_step(f, t, h, x):
    k1 = f(t, x)
    k2 = f(t + h, x + h * k1)
    return x + (h / 2) * (k1 + k2)


def rk4_step(f, t, h, x):
    k1 = f(t, x)
    k2 = f(t + h / 2, x + (h / 2) * k1)
    k3 = f(t + h / 2, x + (h / 2) * k2)
    k4 = f(t + h, x + h * k3)
    return x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


# name -> (one step, velocity evaluations per step, order)
FIXED = {
    "euler": (euler_step, 1, 1),
    "midpoint": (midpoint_step, 2, 2),
    "heun": (heun_step, 2, 2),
    "rk4": (rk4_step, 4, 4),
}
ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
TORCHDIFFEQ = ADAPTIVE + ("explicit_adams", "implicit_adams", "fixed_adams", "scipy_solver")
METHODS = tuple(FIXED) + TORCHDIFFEQ + ("euler_maruyama",)


@dataclass
class SolverConfig:
    """How a flow is integrated from noise to data (the conditioning inputs are separate).

    Args:
        method: a key of :data:`FIXED` (``euler``, ``heun``, ``midpoint``, ``rk4``), ``euler_maruyama``
            (stochastic), or a torchdiffeq method (``dopri5``, ...).
        ode_steps: uniform flow-time steps on [0, 1]; default :data:`ODE_STEPS` unless ``time_grid`` is given.
        time_grid: increasing flow times instead of ``ode_steps`` (exactly one of the two).
        gamma: noise level of ``euler_maruyama``.
        rtol, atol: tolerances of adaptive methods.
        batch_size: samples integrated together (default all); memory grows with it.

    >>> import glassgen
    >>> glassgen.SolverConfig().ode_steps, glassgen.SolverConfig(time_grid=[0, 0.5, 0.8, 1]).ode_steps
    (8, None)
    """

    method: str = METHOD
    ode_steps: int | None = None
    time_grid: list | None = None
    gamma: float = 1.0
    rtol: float = 1e-4
    atol: float = 1e-4
    batch_size: int | None = None

    def __post_init__(self):
        if self.ode_steps is None and self.time_grid is None:
            self.ode_steps = ODE_STEPS
        if self.time_grid is not None:
            self.time_grid = [float(t) for t in self.time_grid]
        make_grid(self.ode_steps, self.time_grid)  # exactly one, well formed
        if self.method not in METHODS:
            raise InputError("sampler", f"unknown method {self.method!r}; choose one of {METHODS}")
        if self.batch_size is not None and (int(self.batch_size) != self.batch_size or self.batch_size < 1):
            raise InputError("sampler", f"batch_size must be a positive integer; got {self.batch_size!r}")

    def meta(self) -> dict:
        """The settings as output metadata (``time_grid`` as text; None entries left out)."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        if self.time_grid is not None:
            out["time_grid"] = ",".join(f"{t:g}" for t in self.time_grid)
        return out


class _Counted:
    """Wrap a velocity field and count its evaluations (the NFE)."""

    def __init__(self, f):
        self.f, self.n = f, 0

    def __call__(self, t, x):
        self.n += 1
        return self.f(t, x)


def odeint(velocity, x0: torch.Tensor, method: str = "euler", ode_steps=None, time_grid=None,
           rtol: float = 1e-5, atol: float = 1e-5):
    """Integrate ``dx/dt = velocity(t, x)`` from the first to the last grid time.

    Args:
        velocity: callable ``(t 0-d tensor, x) -> dx/dt`` with x's shape.
        x0: initial state, any shape.
        method: a key of :data:`FIXED` or a torchdiffeq method name.
        ode_steps / time_grid: exactly one (see the module docstring).
        rtol, atol: tolerances of adaptive methods.

    Returns:
        ``(x_end, nfe)``.

    The fixed-step loop never waits for the device (no ``.item()``, no host copies; tests/test_device.py
    counts them): steps are queued as fast as Python issues them.
    """
    grid = make_grid(ode_steps, time_grid, device=x0.device)
    f = _Counted(velocity)
    if method in FIXED:
        step = FIXED[method][0]
        x = x0
        for k in range(len(grid) - 1):
            t = grid[k].to(x0.dtype)
            x = step(f, t, (grid[k + 1] - grid[k]).to(x0.dtype), x)
        return x, f.n
    if method not in TORCHDIFFEQ:
        raise InputError("sampler", f"unknown method {method!r}; choose one of {METHODS}")
    import torchdiffeq

    if method in ADAPTIVE:
        grid = grid[[0, -1]]
    out = torchdiffeq.odeint(lambda t, x: f(t.to(x0.dtype), x), x0, grid.to(x0.dtype), method=method, rtol=rtol, atol=atol)
    return out[-1], f.n


def euler_maruyama(velocity, x0: torch.Tensor, score_term, noise, ode_steps=None, time_grid=None, gamma: float = 1.0,
                   sigma_fn=None):
    """Euler–Maruyama on the SDE ``dx = [v + γ σ_t Σ∇log p_t] dt + sqrt(2 γ σ_t) Σ^{1/2} dW``.

    With diffusion coefficient g_t² = 2γσ_t the drift correction (g²/2)·Σ∇log p_t
    keeps the marginals p_t of the ODE (Song et al. 2021) for any γ ≥ 0 (γ = 0 is
    the Euler ODE sampler), and it vanishes where σ_t does (t = 1), so the score's
    singularity there is never evaluated.

    Args:
        velocity: ``(t, x) -> v``.
        x0: state at the first grid time.
        score_term: ``(t, x, v) -> σ_t Σ∇log p_t(x)`` (finite on [0, 1]).
        noise: ``(shape) -> ξ`` with covariance Σ (the prior's; centre of mass removed).
        gamma: noise level γ ≥ 0.
        sigma_fn: ``t -> σ_t`` of the path.

    Returns:
        ``(x_end, nfe)``; the last step adds no noise.
    """
    if gamma < 0 or not math.isfinite(gamma):
        raise InputError("sampler", f"sde noise level gamma must be >= 0; got {gamma}")
    grid = make_grid(ode_steps, time_grid, device=x0.device)
    f = _Counted(velocity)
    x = x0
    for k in range(len(grid) - 1):
        t = grid[k].to(x0.dtype)
        h = (grid[k + 1] - grid[k]).to(x0.dtype)
        v = f(t, x)
        drift = v + gamma * score_term(t, x, v)
        x = x + h * drift
        if k < len(grid) - 2:
            x = x + torch.sqrt(2 * gamma * sigma_fn(t) * h) * noise(x.shape)
    return x, f.n
