"""The learned corrector (``--relax learned``): random-width denoising examples, its checkpoint marker and
domain, refusals in one line, and that its batched correction is each configuration's own."""
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from glassgen import Trajectory, read_trajectory, write_trajectory
from glassgen.cli.app import app
from glassgen.core.errors import InputError
from glassgen.flow.examples import denoise_examples
from glassgen.flow.recipe import load_recipe
from glassgen.flow.train import fit_flow
from glassgen.md.relax import RelaxConfig
from glassgen.sampling.corrector import Corrector, check_state_point, relaxer

L = 4.0


def _trajectory(path, temperature=0.6, edge=4):
    """Frames of a simple cubic lattice at density 1 (a lattice walk), with metadata T."""
    rng = np.random.default_rng(6)
    g = np.stack(np.meshgrid(*[np.arange(edge)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    n = edge ** 3
    species = (np.arange(n) % 5 == 0).astype(int)
    x = g + np.concatenate([np.zeros((1, n, 3)), np.cumsum(0.05 * rng.normal(size=(11, n, 3)), 0)])
    write_trajectory(path, Trajectory(species, np.full(3, float(edge)), np.arange(12.0), x, {"T": temperature}))
    return x


def _fit_corrector(tmp_path, name="corr", temperature=0.6, widths="uniform"):
    _trajectory(tmp_path / f"{name}.h5", temperature)
    r = {"task": "flow", "out": name, "data": {"train": [f"{name}.h5"], "val": [f"{name}.h5"], "denoise": [0.2, 0.2],
                                               "denoise_widths": widths, "denoise_every": 2.0},
         "encoder": {"kind": "local", "width": 8, "cutoff": 1.2}, "model": {"hidden": 8, "n_layers": 1, "cutoff": 1.2},
         "train": {"steps": 2, "batch_size": 2, "checkpoint_every": 2, "eval_every": 2, "val_samples": 1}}
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(r))
    fit_flow(tmp_path / f"{name}.yaml", progress=False)
    return tmp_path / name / "best.safetensors"


def test_uniform_widths_vary_below_the_level_and_keep_the_level_as_lag(tmp_path):
    """denoise_widths uniform: every example's lag is the level σ, its own noise width lies in [0, σ] and the
    widths spread over that range; initial + disp is the frame exactly; fixed widths are unchanged by the option."""
    x = _trajectory(tmp_path / "t.h5")
    traj = read_trajectory(tmp_path / "t.h5")
    ex = denoise_examples(traj, [0.3] * 20, "t.h5", every=4.0, seed=1, widths="uniform")
    widths = np.array([e["disp"].std() for e in ex])
    assert all(e["lags"].tolist() == [0.3] for e in ex)
    assert np.all(widths < 0.3 * 1.15) and widths.min() < 0.1 and widths.max() > 0.2
    frames = np.repeat([0, 4, 8], 20)
    assert all(np.allclose(e["initial"] + e["disp"][0, 0], x[f], atol=1e-12) for e, f in zip(ex, frames))
    fixed = denoise_examples(traj, [0.3] * 20, "t.h5", every=4.0, seed=1)
    assert np.allclose([e["disp"].std() for e in fixed], 0.3, rtol=0.15)
    r = {"task": "flow", "out": "run", "data": {"train": ["t.h5"], "denoise": [0.2], "denoise_widths": "gaussian"}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(r))
    with pytest.raises(InputError, match="denoise_widths must be one of fixed, uniform"):
        load_recipe(tmp_path / "bad.yaml")


def _plain_model():
    from glassgen.flow.context import LocalEncoder
    from glassgen.flow.model import FlowModel
    from glassgen.flow.paths import PriorScale
    from glassgen.flow.velocity import VelocityConfig

    return FlowModel(LocalEncoder(n_species=2, width=8, cutoff=1.2), VelocityConfig(embed_dim=8, hidden=8, n_layers=1,
                     cutoff=1.2), PriorScale([1.0, 10.0], [[0.01, 0.01], [0.03, 0.03]]))


def test_a_corrector_checkpoint_says_what_it_is_and_others_are_refused(tmp_path):
    """A random-width denoiser's checkpoint carries its levels (info.denoise) and lag domain [σ, σ]; a flow model
    that is no denoiser and the relax settings without a corrector are refused in one line, as is a corrector
    trained at another temperature than the chain's model."""
    from glassgen.flow.model import save_model
    from glassgen.sampling.sample import _as_model

    path = _fit_corrector(tmp_path)
    meta = _as_model(str(path)).checkpoint
    assert meta["info"]["denoise"] == {"levels": [0.2, 0.2], "widths": "uniform"}
    assert meta["domain"]["lag"] == [0.2, 0.2] and meta["domain"]["temperature"] == [0.6]
    species, box = (np.arange(64) % 5 == 0).astype(int), np.full(3, L)
    save_model(_plain_model(), tmp_path / "plain.safetensors", {"step": 0})
    with pytest.raises(InputError, match="is not a learned corrector"):
        Corrector(RelaxConfig(kind="learned", corrector=str(tmp_path / "plain.safetensors")), species, box)
    with pytest.raises(InputError, match="needs --corrector"):
        RelaxConfig(kind="learned")
    with pytest.raises(InputError, match="learned only"):
        RelaxConfig(kind="quench", temperature=0.6, corrector=str(path))
    other = {"domain": {**meta["domain"], "temperature": [0.5]}}
    with pytest.raises(InputError, match=r"another state point: temperature 0.6 \(the model's 0.5\)"):
        check_state_point(meta, other, "corr")
    check_state_point(meta, {"domain": dict(meta["domain"])}, "corr")  # the same state point passes


def test_batched_correction_is_each_configurations_own_and_moves_by_the_draw(tmp_path):
    """relax_batch of B configurations equals B single corrections with the same seeds (to 1e-5), depends
    on the seed, keeps the input's unwrapped images and, with passes 2, applies a second draw on the first."""
    path = _fit_corrector(tmp_path)
    x = _trajectory(tmp_path / "s.h5")[[2, 5, 9]] + np.array([L, 0.0, -2 * L])  # unwrapped, images off zero
    species = (np.arange(64) % 5 == 0).astype(int)
    with relaxer(RelaxConfig(kind="learned", corrector=str(path)), species, np.full(3, L)) as c:
        both = c.relax_batch(x, [3, 4, 5])
        one = np.stack([c.relax(xj, s) for xj, s in zip(x, [3, 4, 5])])
        again = c.relax_batch(x, [7, 4, 5])
    assert np.allclose(both, one, atol=1e-5)
    assert not np.allclose(again[0], both[0]) and np.allclose(again[1:], both[1:], atol=1e-5)
    assert np.abs(both - x).max() < 1.0  # a small move, not a jump by a box image
    c2 = Corrector(RelaxConfig(kind="learned", corrector=str(path), passes=2), species, np.full(3, L))
    twice = c2.relax_batch(x, [3, 4, 5])
    assert not np.allclose(twice, both) and np.isfinite(twice).all()


def test_a_fixed_level_corrector_walks_down_its_levels_as_ddim(tmp_path):
    """Fixed widths 0.2 > 0.1: one pass is x1 = x + (1 − 0.1/0.2) Δ_0.2(x), then x1 + Δ_0.1(x1), each draw at its
    level's lag with the pass's seeds; a validated start lag of 0.1 skips the first level."""
    from glassgen.core.checkpoint import read_checkpoint, write_checkpoint
    from glassgen.sampling.sample import step_function
    from glassgen.system.pbc import fold

    path = _fit_corrector(tmp_path, "lv", widths="fixed")
    species, box = (np.arange(64) % 5 == 0).astype(int), np.full(3, L)
    x = _trajectory(tmp_path / "s.h5")[[3, 6]]
    c = Corrector(RelaxConfig(kind="learned", corrector=str(path)), species, box)
    assert c.levels == [0.2]  # the recipe's levels are [0.2, 0.2]: one distinct width
    state, meta = read_checkpoint(path)
    meta["info"]["denoise"]["levels"] = [0.1, 0.2]
    write_checkpoint(tmp_path / "two.safetensors", state, meta["kind"], meta["config"], domain=meta["domain"],
                     info=meta["info"], card=meta["card"])
    c = Corrector(RelaxConfig(kind="learned", corrector=str(tmp_path / "two.safetensors")), species, box)
    assert c.levels == [0.2, 0.1]
    got = c.relax_batch(x, [11, 12])
    step = step_function(c.model, species, box)
    seeds = lambda k: [int(np.random.SeedSequence([s, 0, k]).generate_state(1)[0]) for s in (11, 12)]
    x1 = x + 0.5 * step(fold(x, box)[0], 0.2, seeds(0))
    np.testing.assert_allclose(got, x1 + step(fold(x1, box)[0], 0.1, seeds(1)), atol=1e-10)
    write_checkpoint(tmp_path / "low.safetensors", state, meta["kind"], meta["config"], domain=meta["domain"],
                     info=meta["info"], card=meta["card"], defaults={"sample": {"lag": 0.1}})
    assert Corrector(RelaxConfig(kind="learned", corrector=str(tmp_path / "low.safetensors")), species,
                     box).levels == [0.1]


def test_rollout_refuses_learned_without_a_corrector_in_one_line(tmp_path):
    """The CLI: --relax learned without --corrector, and --corrector with another --relax, are one-line errors."""
    _trajectory(tmp_path / "s.h5")
    corr = _fit_corrector(tmp_path)
    run = CliRunner().invoke
    base = ["rollout", str(corr), "--init", str(tmp_path / "s.h5"), "--steps", "1", "--lag", "0.2",
            "-o", str(tmp_path / "o.h5")]
    r = run(app, base + ["--relax", "learned"])
    assert isinstance(r.exception, InputError) and "needs --corrector" in str(r.exception)
    assert "\n" not in str(r.exception)
    r = run(app, base + ["--relax", "project", "--corrector", str(corr)])
    assert isinstance(r.exception, InputError) and "learned only" in str(r.exception)
    assert not (tmp_path / "o.h5").exists()


def test_a_chain_with_the_learned_corrector_logs_every_correction_and_repeats_itself(tmp_path):
    """rollout(relax=learned, when always): every step is corrected (log column relaxed), the corrector's kind and
    checkpoint are in the output's metadata, and the same seed repeats the chain bit for bit."""
    import csv

    import glassgen
    from glassgen.io.h5md import read_meta

    corr = _fit_corrector(tmp_path)
    _trajectory(tmp_path / "s.h5", edge=6)  # the monitors need edges > 5
    start = read_trajectory(tmp_path / "s.h5").frame(0)
    model = _plain_model()
    relax = RelaxConfig(kind="learned", when="always", corrector=str(corr))
    cfg = glassgen.RolloutConfig(steps=3, lag=2.0, n_trajectories=2)
    solver = glassgen.SolverConfig(ode_steps=2)
    whole = glassgen.rollout(model, start, cfg, tmp_path / "a.h5", solver, relax=relax, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "a.log.csv")))
    steps = [r for r in rows if r["step"] != "0"]  # the start's rows are monitors only
    assert len(steps) == 6 and all(r["relaxed"] == "1" for r in steps)
    meta = read_meta(whole[0])
    assert meta["relax_kind"] == "learned" and meta["relax_corrector"] == str(corr)
    again = glassgen.rollout(model, start, cfg, tmp_path / "b.h5", solver, relax=relax, progress=False)
    for a, b in zip(whole, again):  # the corrections are seeded per (step, trajectory): a rerun repeats them
        assert np.array_equal(glassgen.read(a).positions, glassgen.read(b).positions)
