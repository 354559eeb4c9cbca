"""Batched L-BFGS (glassgen.md.minimise) on energies with known minima."""
from __future__ import annotations

import torch

from glassgen.md.minimise import lbfgs


def quadratic(centre, stiffness):
    """E = ½ Σ k (x − c)² per configuration: an ill-conditioned bowl (k from 1 to 100) whose minimum is c."""
    def evaluate(x, step=0, active=None):
        d = x - centre
        return 0.5 * (stiffness * d * d).sum(dim=(1, 2)), -stiffness * d
    return evaluate


def bowl(b=3, n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand((b, n, 3), generator=g, dtype=torch.float64)
    stiffness = 10 ** (2 * torch.rand((b, n, 3), generator=g, dtype=torch.float64))
    x0 = centre + torch.randn((b, n, 3), generator=g, dtype=torch.float64)
    return x0, quadratic(centre, stiffness), centre, stiffness


def test_lbfgs_finds_the_minimum_of_an_ill_conditioned_quadratic_per_configuration():
    x0, evaluate, centre, _ = bowl()
    x, f, taken, calls = lbfgs(x0, *evaluate(x0), evaluate, 500, 1e-8, max_step=10.0)
    assert f.norm(dim=-1).amax() < 1e-8
    torch.testing.assert_close(x, centre, rtol=0, atol=1e-8)  # |F| = k |x − c| with k ≥ 1
    assert (taken > 5).all() and (taken < 400).all()  # steepest descent: ~κ ln(1/tol) ≈ 2000 at κ = 100
    assert calls < 1.5 * taken.max()  # about one evaluation per iteration


def test_batched_lbfgs_equals_each_configuration_alone():
    x0, evaluate, centre, stiffness = bowl(b=4, seed=1)
    together = lbfgs(x0, *evaluate(x0), evaluate, 40, 1e-6, max_step=0.3)
    for j in range(4):
        one = quadratic(centre[j:j + 1], stiffness[j:j + 1])
        alone = lbfgs(x0[j:j + 1], *one(x0[j:j + 1]), one, 40, 1e-6, max_step=0.3)
        torch.testing.assert_close(alone[0][0], together[0][j], rtol=0, atol=1e-12)
        assert int(alone[2][0]) == int(together[2][j])


def test_steps_are_capped_and_accepted_energies_never_rise():
    x0, inner, _, _ = bowl(b=2, seed=2)
    x0 = x0 + 5.0  # far away: uncapped, the first curvature-scaled steps would jump several σ
    trials = []

    def evaluate(x, step=0, active=None):
        trials.append(x.clone())
        return inner(x)

    e0, f0 = inner(x0)
    x, f, taken, calls = lbfgs(x0, e0, f0, evaluate, 300, 1e-6, max_step=0.1)
    assert f.norm(dim=-1).amax() < 1e-6
    prev, energy = x0, inner(x0)[0]
    for t in trials:  # every trial is within the cap of the last accepted point
        moved = (t - prev).norm(dim=-1).amax(dim=1)
        assert (moved <= 0.1 + 1e-12).all()
        e_t = inner(t)[0]
        better = e_t < energy
        prev = torch.where(better[:, None, None], t, prev)
        energy = torch.where(better, e_t, energy)
    assert (inner(x)[0] <= e0).all()


def test_a_configuration_already_below_fmax_does_not_move_and_a_budget_is_kept():
    x0, inner, centre, _ = bowl(b=2, seed=3)

    def evaluate(x, step=0, active=None):  # NaN where the minimiser says it does not look
        e, f = inner(x)
        off = torch.zeros(2, dtype=torch.bool) if active is None else ~active
        return e.masked_fill(off, float("nan")), f.masked_fill(off[:, None, None], float("nan"))

    start = torch.stack([centre[0], x0[1]])
    x, f, taken, _ = lbfgs(start, *inner(start), evaluate, 7, 1e-6, max_step=1.0)
    assert int(taken[0]) == 0 and torch.equal(x[0], centre[0])
    assert int(taken[1]) == 7 and f[1].norm(dim=-1).amax() > 1e-6
