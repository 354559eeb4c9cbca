"""Batched chains: the trajectories of a rollout advance together (one network call per ODE step), and give
what one at a time gives: the same draw per (step, trajectory) seed to float32 precision, the same statistics,
the same second-order chains; a batched run resumes bit for bit."""
import csv

import numpy as np
import pytest
import torch

from glassgen.chain.rollout import RolloutConfig, rollout, step_seed
from glassgen.core.errors import InputError
from glassgen.encoder.botan import BOTAN, BOTANConfig
from glassgen.flow.context import LocalEncoder
from glassgen.flow.model import FlowModel
from glassgen.flow.paths import PriorScale
from glassgen.flow.velocity import VelocityConfig
from glassgen.io.h5md import read_trajectory
from glassgen.sampling.batch import draw_batch
from glassgen.sampling.sample import draw, step_function
from glassgen.sampling.solvers import SolverConfig
from glassgen.system.data import Snapshot
from glassgen.system.pbc import cell_order
from test_rollout import lattice_snapshot, stored

PAIR_SIGMA = [[1.0, 0.8], [0.8, 0.88]]


def tiny_model(history=False, memory=0, encoder="local", width=0.03, seed=0):
    """An untrained model whose velocity is far from zero (random weights), with displaced geometry."""
    torch.manual_seed(seed)
    enc = LocalEncoder(width=8, cutoff=1.2) if encoder == "local" else BOTAN(BOTANConfig(width=8, steps=1, cutoff=1.2))
    vel = VelocityConfig(embed_dim=8, hidden=8, n_layers=2, cutoff=1.2, geometry=4, pair_sigma=PAIR_SIGMA,
                         history=history or bool(memory), memory=memory)
    model = FlowModel(enc, vel, PriorScale([1.0, 10.0], [[width, width], [width, width]]), "flow",
                      mobility=encoder == "botan")
    with torch.no_grad():  # a velocity of the size of the prior noise: the draws are far from the noise itself
        model.velocity.head[2].weight.mul_(20.0)
    return model.eval()


def starts(m, seed=0):
    """m lattices jittered more and more: different configurations of one system."""
    snap = lattice_snapshot(6)
    rng = np.random.default_rng(seed)
    return [Snapshot(snap.species, snap.box, snap.positions + rng.normal(0, 0.02 * (j + 1), snap.positions.shape))
            for j in range(m)]


@torch.no_grad()
def spread_mobility(model, snaps):
    """Give the untrained propensity head (nearly constant, negative) a mean of 2 and a spread of 1 over the
    particles of ``snaps``, so each configuration's mobility prior is far from uniform and its own."""
    g = model.graph_batch(snaps[0].species, np.stack([s.positions for s in snaps]), snaps[0].box)
    h, _ = model.encoder.encode({k: v.float() if v.is_floating_point() else v for k, v in g.items()})
    last = model.encoder.decoders[0][-1]
    a = model.encoder.decode_nodes(h) - last.bias
    last.weight.mul_(1 / a.std())
    last.bias.fill_(float(2 - a.mean() / a.std()))


@pytest.mark.parametrize("method", ["heun", "euler_maruyama"])
@pytest.mark.parametrize("kind", ["plain", "memory", "botan"])
def test_one_batched_step_agrees_with_one_configuration_at_a_time(kind, method):
    """Draw j of a batch = the draw of configuration j alone with seed j, whatever its place in the batch."""
    model = tiny_model(memory=2 if kind == "memory" else 0, encoder="botan" if kind == "botan" else "local")
    snaps = starts(4)
    if kind == "botan":
        spread_mobility(model, snaps)
    x = np.stack([s.positions for s in snaps])
    sp, box, seeds = snaps[0].species, snaps[0].box, [11, 12, 13, 14]
    rng = np.random.default_rng(1)
    prev = rng.normal(0, 0.05, x.shape) if kind == "memory" else None
    win = rng.normal(0, 0.1, x.shape) if kind == "memory" else None
    solver = SolverConfig(method, 3)
    batched = draw_batch(model, sp, box, x, 2.0, solver, seeds, prev, win)
    alone = np.stack([draw(model, Snapshot(sp, box, x[j]), 2.0, 1, solver, seeds[j],
                           None if prev is None else prev[j], None if win is None else win[j], 1.0, None, None)[0][0]
                      for j in range(4)])
    noise_only = draw_batch(model, sp, box, x, 2.0, SolverConfig(method, time_grid=[0.0, 1e-9]), seeds, prev, win)
    assert np.abs(batched - noise_only).max() > 10 * 1e-5  # the network moved the draws: the check has teeth
    np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-5)
    order = [2, 0, 3, 1]  # the same configurations and seeds in another order: each row the same
    shuffled = draw_batch(model, sp, box, x[order], 2.0, solver, [seeds[j] for j in order],
                          None if prev is None else prev[order], None if win is None else win[order])
    np.testing.assert_allclose(shuffled, batched[order], rtol=0, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 0.0, atol=1e-5)  # centre of mass removed per configuration
    other = draw_batch(model, sp, box, x, 2.0, solver, [11, 12, 99, 14], prev, win)
    assert np.abs(other[2] - batched[2]).max() > 1e-3
    np.testing.assert_allclose(np.delete(other, 2, 0), np.delete(batched, 2, 0), rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", ["heun", "euler_maruyama"])
@pytest.mark.parametrize("kind", ["plain", "memory", "botan"])
def test_cell_order_gives_the_same_draws(kind, method, monkeypatch):
    """Large systems are renumbered cell by cell for the network: the same draw per (configuration, seed), in the
    caller's order, to float32 rounding (the noise is drawn before reordering); history and per-species noise
    scales follow their particles."""
    import glassgen.sampling.batch as batch

    model = tiny_model(memory=2 if kind == "memory" else 0, encoder="botan" if kind == "botan" else "local")
    snaps = starts(3)
    if kind == "botan":
        spread_mobility(model, snaps)
    x = np.stack([s.positions for s in snaps])
    rng = np.random.default_rng(2)
    x = x[:, rng.permutation(x.shape[1])]  # a random numbering, as an MD configuration has after diffusion
    sp, box, seeds = snaps[0].species, snaps[0].box, [5, 6, 7]
    prev = rng.normal(0, 0.05, x.shape) if kind == "memory" else None
    win = rng.normal(0, 0.1, x.shape) if kind == "memory" else None
    args = (model, sp, box, x, 2.0, SolverConfig(method, 3), seeds, prev, win, 1.0, [1.1, 0.9])
    plain = draw_batch(*args)
    calls = []
    monkeypatch.setattr(batch, "ORDER_MIN", 0)
    monkeypatch.setattr(batch, "cell_order", lambda *a: calls.append(1) or cell_order(*a))
    ordered = draw_batch(*args)
    assert len(calls) == 3 and np.abs(plain).max() > 1e-2
    np.testing.assert_allclose(ordered, plain, rtol=0, atol=1e-5)


def test_adaptive_solvers_integrate_each_configuration_alone():
    model, snaps = tiny_model(), starts(3)
    x = np.stack([s.positions for s in snaps])
    solver = SolverConfig("dopri5")
    batched = draw_batch(model, snaps[0].species, snaps[0].box, x, 2.0, solver, [1, 2, 3])
    alone = [draw(model, s, 2.0, 1, solver, seed, None, None, 1.0, None, None)[0][0] for s, seed in zip(snaps, [1, 2, 3])]
    np.testing.assert_array_equal(batched, np.stack(alone))


def positions(paths):
    return np.stack([read_trajectory(p).positions for p in paths], axis=1)  # (K+1, M, N, D)


@pytest.mark.parametrize("history", ["chain", "draw"])
def test_second_order_chains_batched_equal_one_at_a_time(tmp_path, history):
    """A second-order model reads each chain's own last step: all chains together or one at a time, the same chain."""
    model, snaps = tiny_model(history=True), starts(3)
    fn = step_function(model, snaps[0].species, snaps[0].box, SolverConfig("heun", 2))
    cfg = dict(steps=4, lag=2.0, n_trajectories=3, seed=5, overlap_energy=np.inf, history=history)
    seen = []

    def spy(positions, lag, seeds, previous=None):
        seen.append((len(positions), previous is None))
        return fn(positions, lag, seeds, previous)

    spy.history, spy.memory = True, 0
    together = positions(rollout(spy, snaps, RolloutConfig(**cfg), tmp_path / "all.h5", progress=False))
    assert seen == [(3, True)] + [(3, False)] * 3  # one call per step; no history on the first
    alone = positions(rollout(fn, snaps, RolloutConfig(**cfg, batch_trajectories=1), tmp_path / "one.h5", progress=False))
    assert np.abs(together[-1] - together[0]).max() > 0.05
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-5)
    assert read_trajectory(tmp_path / "all_000.h5").meta["batch_trajectories"] == 3
    assert read_trajectory(tmp_path / "one_000.h5").meta["batch_trajectories"] == 1


def dies_at(fn, seed):
    """``fn``, interrupted (KeyboardInterrupt) by the call that draws with ``seed``."""
    def dying(positions, lag, seeds, previous=None):
        if seed in seeds:
            raise KeyboardInterrupt
        return fn(positions, lag, seeds, previous)

    dying.history, dying.memory = fn.history, fn.memory
    return dying


def test_batched_run_is_bit_identical_to_its_own_resume(tmp_path):
    """Chunks of 3 of 5 chains (two calls a step), redraws and a second-order model: interrupted in the second
    chunk of step 3 and resumed, the files are those of the run that was not interrupted, bit for bit."""
    model, snaps = tiny_model(history=True, width=0.08), starts(5)
    fn = step_function(model, snaps[0].species, snaps[0].box, SolverConfig("heun", 2))
    cfg = RolloutConfig(steps=4, lag=2.0, n_trajectories=5, seed=2, batch_trajectories=3, overlap_energy=1.0,
                        max_resample=2, history="draw")
    ref = rollout(fn, snaps, cfg, tmp_path / "ref.h5", progress=False)
    with open(tmp_path / "ref.log.csv") as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["resampled"]) for r in rows) > 0  # some steps were redrawn
    with pytest.raises(KeyboardInterrupt):
        rollout(dies_at(fn, step_seed(2, 3, 3)), snaps, cfg, tmp_path / "run.h5", progress=False)  # in step 3
    assert len(stored(tmp_path / "run_000.h5.partial")["position"]) == 3  # steps 0, 1, 2
    with pytest.raises(InputError, match="batch_trajectories was 3, now 5 .--batch-trajectories."):
        rollout(fn, snaps, RolloutConfig(**{**vars(cfg), "batch_trajectories": None}), tmp_path / "run.h5",
                resume=True, progress=False)
    got = rollout(fn, snaps, cfg, tmp_path / "run.h5", resume=True, progress=False)
    for r, g in zip(ref, got):
        for k, v in stored(r).items():
            np.testing.assert_array_equal(v, stored(g)[k])
    assert (tmp_path / "ref.log.csv").read_text() == (tmp_path / "run.log.csv").read_text()


def test_redraws_of_a_step_go_together_with_their_own_seeds(tmp_path):
    """Attempt a of chain j is seeded by (step, j, a), in one call with the other chains that need it."""
    snap = lattice_snapshot(6)
    calls = []

    def fn(positions, lag, seeds):
        calls.append(list(seeds))
        out = np.zeros(positions.shape)
        for i, s in enumerate(seeds):  # chains 1 and 3 overlap at their first two attempts
            if s in {step_seed(0, 1, j, a) for j in (1, 3) for a in (0, 1)}:
                out[i, 0] = positions[i, 1] - positions[i, 0] + 0.05  # particle 0 onto particle 1
        return out

    rollout(fn, snap, RolloutConfig(steps=1, lag=1.0, n_trajectories=4, max_resample=3), tmp_path / "r.h5",
            progress=False)
    assert calls == [[step_seed(0, 1, j) for j in range(4)], [step_seed(0, 1, j, 1) for j in (1, 3)],
                     [step_seed(0, 1, j, 2) for j in (1, 3)]]
    with open(tmp_path / "r.log.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["step"] == "1"]
    assert [int(r["resampled"]) for r in rows] == [0, 2, 0, 2] and not any(int(r["accepted_overlap"]) for r in rows)


def test_chain_statistics_batched_and_one_at_a_time_agree_within_noise(tmp_path):
    """Mean MSD per step over 16 short chains, all together (seed 0) and one at a time (seed 1): independent
    draws of one process, equal within their standard errors."""
    model, snaps = tiny_model(width=0.05), starts(1)
    fn = step_function(model, snaps[0].species, snaps[0].box, SolverConfig("heun", 2))
    msd = {}
    for name, seed, b in (("all", 0, None), ("one", 1, 1)):
        x = positions(rollout(fn, snaps[0], RolloutConfig(steps=2, lag=2.0, n_trajectories=16, seed=seed,
                                                          overlap_energy=np.inf, batch_trajectories=b),
                              tmp_path / f"{name}.h5", progress=False))
        per_chain = ((x[1:] - x[0]) ** 2).sum(-1).mean(-1)  # (K, M)
        msd[name] = (per_chain.mean(1), per_chain.std(1, ddof=1) / np.sqrt(per_chain.shape[1]))
    (a, sa), (b, sb) = msd["all"], msd["one"]
    assert np.all(np.diff(a) > 0) and a[0] > 1e-3  # the chains move, more with every step
    assert np.all(np.abs(a - b) < 4 * np.hypot(sa, sb)), (a, b, sa, sb)
    assert np.all(np.abs(a - b) > 0)  # independent draws: not the same numbers


def test_bad_batch_size_is_refused():
    for bad in (0, -2, 1.5, True):
        with pytest.raises(InputError, match="--batch-trajectories"):
            RolloutConfig(steps=1, lag=1.0, batch_trajectories=bad)


def test_refine_relaxes_a_chunk_together_and_as_one_at_a_time(tmp_path):
    """--relax refine: one relax_batch call per chunk, the chains as relaxed one at a time (to rounding)."""
    pytest.importorskip("glassgen.md.refine")
    from glassgen.md.relax import RelaxConfig, Relaxer

    model, snaps = tiny_model(width=0.05), starts(4)
    fn = step_function(model, snaps[0].species, snaps[0].box, SolverConfig("heun", 2))
    relax_cfg = RelaxConfig(kind="refine", when="always", time=0.05, temperature=0.6, max_iterations=20)
    out, sizes = {}, []
    for name, b in (("all", 3), ("one", 1)):
        with Relaxer(relax_cfg, snaps[0].species, snaps[0].box) as relaxer:
            batch = relaxer.relax_batch
            relaxer.relax_batch = lambda x, seeds: (sizes.append(len(x)), batch(x, seeds))[1]
            out[name] = positions(rollout(fn, snaps, RolloutConfig(steps=2, lag=2.0, n_trajectories=4, seed=3,
                                                                   overlap_energy=np.inf, batch_trajectories=b),
                                          tmp_path / f"{name}.h5", relax=relaxer, progress=False))
    assert sizes == [3, 1, 3, 1] + [1] * 8
    np.testing.assert_allclose(out["all"], out["one"], rtol=0, atol=1e-6)
    with open(tmp_path / "all.log.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["step"] != "0"]
    assert len(rows) == 8 and all(r["relaxed"] == "1" and int(r["relax_min_steps"]) > 0 for r in rows)
