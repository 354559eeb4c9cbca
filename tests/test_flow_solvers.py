"""Samplers integrate fields with known solutions to their expected order; argument errors."""
import math

import pytest
import torch

from glassgen.core.errors import InputError
from glassgen.flow import paths
from glassgen.sampling import solvers

X0 = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)


def exp_field(t, x):  # dx/dt = a x  ->  x0 exp(a t)
    return 1.3 * x


def gauss_field(t, x):  # dx/dt = 2 t x (time-dependent)  ->  x0 exp(t^2)
    return 2 * t * x


CASES = [(exp_field, X0 * math.exp(1.3)), (gauss_field, X0 * math.exp(1.0))]


@pytest.mark.parametrize("method", list(solvers.FIXED))
@pytest.mark.parametrize("field,exact", CASES)
def test_fixed_step_order(method, field, exact):
    _, per_step, order = solvers.FIXED[method]
    errs = []
    for n in (8, 16, 32):
        x, nfe = solvers.odeint(field, X0, method, ode_steps=n)
        assert nfe == n * per_step
        errs.append((x - exact).abs().max().item())
    for e_coarse, e_fine in zip(errs, errs[1:]):
        p = math.log2(e_coarse / e_fine)
        assert abs(p - order) < 0.3, (method, errs)


@pytest.mark.parametrize("method,tol", [("dopri5", 1e-6), ("bosh3", 1e-4)])
def test_adaptive_to_tolerance(method, tol):
    x, nfe = solvers.odeint(gauss_field, X0, method, ode_steps=1, rtol=1e-9, atol=1e-9)
    assert (x - X0 * math.e).abs().max() < tol
    loose, nfe_loose = solvers.odeint(gauss_field, X0, method, ode_steps=1, rtol=1e-3, atol=1e-3)
    assert nfe_loose < nfe  # tolerance controls the work


def test_time_grid_non_uniform_matches_solution():
    grid = torch.tensor([0.0, 0.1, 0.3, 0.6, 1.0], dtype=torch.float64) ** 0.5
    x, nfe = solvers.odeint(gauss_field, X0, "rk4", time_grid=torch.linspace(0, 1, 41, dtype=torch.float64) ** 0.7)
    assert (x - X0 * math.e).abs().max() < 1e-5
    x, nfe = solvers.odeint(gauss_field, X0, "euler", time_grid=grid)
    assert nfe == 4


@pytest.mark.parametrize(
    "kw",
    [{}, {"ode_steps": 4, "time_grid": [0, 1]}, {"ode_steps": 0}, {"ode_steps": 2.5}, {"time_grid": [0, 0.5, 0.5, 1]},
     {"time_grid": [1.0]}, {"time_grid": [0, float("nan"), 1]}],
)
def test_argument_errors(kw):
    with pytest.raises(InputError):
        solvers.odeint(exp_field, X0, "euler", **kw)


def test_unknown_method():
    with pytest.raises(InputError, match="unknown method"):
        solvers.odeint(exp_field, X0, "leapfrog", ode_steps=2)


def _gaussian_velocity(kind, mu, c):
    """Exact marginal velocity of the path from N(0,1) to N(mu, c^2)."""
    def v(t, x):
        a, s, da, ds = paths.schedule(kind, t)
        var = a * a * c * c + s * s
        return da * mu + (x - a * mu) * (a * da * c * c + s * ds) / var
    return v


@pytest.mark.parametrize("kind", paths.KINDS)
def test_ode_and_sde_reach_target_gaussian(kind):
    mu, c = 0.7, 0.4
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(20000, dtype=torch.float64, generator=g)
    v = _gaussian_velocity(kind, mu, c)
    x, _ = solvers.odeint(v, x0, "rk4", ode_steps=20)
    assert abs(x.mean() - mu) < 0.02 and abs(x.std() - c) < 0.01
    xs, nfe = solvers.euler_maruyama(
        v, x0, lambda t, x, u: paths.score_term(kind, t, x, u),
        lambda shape: torch.randn(shape, dtype=torch.float64, generator=g),
        ode_steps=400, gamma=1.0, sigma_fn=lambda t: paths.schedule(kind, t)[1])
    assert nfe == 400
    assert abs(xs.mean() - mu) < 0.02 and abs(xs.std() - c) < 0.02
    # the samples are not the ODE map of x0: the SDE really injects noise
    assert (xs - x).abs().mean() > 0.05


def test_sde_rejects_negative_gamma():
    with pytest.raises(InputError):
        solvers.euler_maruyama(exp_field, X0, None, None, ode_steps=2, gamma=-1)
