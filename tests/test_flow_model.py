"""Flow model properties: per-graph time, COM projection, invariances, symmetries, checkpoints, sampler errors."""
import copy
import json
import warnings
import math

import numpy as np
import pytest
import torch

from glassgen import Snapshot
from glassgen.core.errors import InputError
from glassgen.flow import paths
from glassgen.flow.context import LocalEncoder, box_symmetries, build_graph, rotate_graph
from glassgen.flow.mobility import EnergySize
from glassgen.flow.model import FlowModel, load_model, save_model
from glassgen.sampling.sample import sample
from glassgen.sampling.solvers import SolverConfig
from glassgen.flow.symmetry import group_averaged, model_velocity, symmetry_error
from glassgen.flow.velocity import VelocityConfig, displaced_rbf
from glassgen.system.pbc import minimum_image

L = 4.0


def snapshot(seed=0):
    rng = np.random.default_rng(seed)
    g = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    x = (g + 0.1 * rng.normal(size=g.shape)) % L
    return Snapshot((np.arange(64) % 5 == 0).astype(int), np.full(3, L), x)


KA_SIGMA = [[1.0, 0.8], [0.8, 0.88]]
GEOMETRIES = [0, 6, "ka"]  # off, physical r', r' / sigma_ab


def model(kind="flow", factored=True, seed=0, geometry=0, history=False, memory=0):
    """A small untrained model; ``geometry="ka"``: 6 Gaussians of r' / sigma_ab with the KA table."""
    torch.manual_seed(seed)
    prior = paths.PriorScale([1.0, 100.0], [[0.05, 0.06], [0.4, 0.5]])
    sigma = KA_SIGMA if geometry == "ka" else None
    cfg = VelocityConfig(embed_dim=16, hidden=16, n_layers=2, factored=factored, geometry=6 if sigma else geometry,
                         history=history, memory=memory, pair_sigma=sigma)
    return FlowModel(LocalEncoder(width=16, cutoff=1.5), cfg, prior, kind)


def velocity(m, snap, lag=10.0):
    emb = m.embed(m.graph(snap.species, snap.positions, snap.box))
    return m.velocity_fn(emb, torch.tensor([lag]))[0]


@pytest.mark.parametrize("kind", paths.KINDS)
def test_flow_time_is_per_graph_and_broadcast(kind):
    t, tn = paths.sample_time(5, 7, torch.Generator().manual_seed(0))
    assert tn.shape == (5, 7, 1) and torch.equal(tn[:, :, 0], t[:, None].expand(5, 7))
    # With x1 = 0 the path is x_t = σ(t_b) x0 and the target velocity σ'(t_b) x0, so a field
    # that uses the graph's own time t_b reproduces the target exactly; any mixing of
    # times between graphs or nodes would leave a loss.
    seen = []

    def v(tb, xt):
        seen.append(tb)
        _, s, _, ds = paths.schedule(kind, tb[:, None, None])
        return ds / s * xt

    scale = torch.full((6, 9, 1), 0.3)
    loss = paths.flow_loss(kind, v, torch.zeros(6, 9, 3), scale, torch.Generator().manual_seed(1))
    assert seen[0].shape == (6,) and len(set(seen[0].tolist())) == 6
    assert loss.item() < 1e-10
    wrong = paths.flow_loss(kind, lambda tb, xt: v(tb.flip(0), xt), torch.zeros(6, 9, 3), scale,
                            torch.Generator().manual_seed(1))
    assert wrong.item() > 1e-3


def test_remove_com_mass_weighted_and_prior_has_zero_com():
    x = torch.randn(3, 10, 3, dtype=torch.float64)
    mass = torch.rand(10, dtype=torch.float64) + 0.5
    y = paths.remove_com(x, mass)
    assert (mass[:, None] * y).sum(1).abs().max() < 1e-12
    assert torch.allclose(y - x, (y - x)[:, :1].expand_as(x))  # a uniform shift per graph
    noise = paths.draw_prior(torch.full((4, 50, 1), 0.2), (4, 50, 3), torch.Generator().manual_seed(0))
    assert noise.mean(1).abs().max() < 1e-6


def test_velocity_and_samples_have_zero_com():
    m, snap = model(), snapshot()
    v = velocity(m, snap)
    out = v(torch.tensor(0.3), 0.1 * torch.randn(2, 64, 3))
    assert out.mean(1).abs().max() < 1e-6 and out.abs().max() > 1e-3
    d, _ = sample(m, snap, 10.0, 3, solver=SolverConfig(ode_steps=2), seed=0)
    assert np.abs(d.mean(1)).max() < 1e-6


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_permutation_equivariance_and_translation_invariance(geometry):
    m, snap = model(geometry=geometry), snapshot()
    x = 0.1 * torch.randn(2, 64, 3)
    x = x - x.mean(1, keepdim=True)
    ref = velocity(m, snap)(torch.tensor(0.4), x)
    perm = np.random.default_rng(1).permutation(64)
    p_snap = Snapshot(snap.species[perm], snap.box, snap.positions[perm])
    out = velocity(m, p_snap)(torch.tensor(0.4), x[:, perm])
    torch.testing.assert_close(out, ref[:, perm], atol=1e-5, rtol=1e-4)
    t_snap = Snapshot(snap.species, snap.box, (snap.positions + np.array([1.3, -7.9, 2.2])) % L)
    torch.testing.assert_close(velocity(m, t_snap)(torch.tensor(0.4), x), ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_factored_edge_layers_equal_concatenated(geometry):
    a, snap = model(factored=True, geometry=geometry), snapshot()
    b = model(factored=False, geometry=geometry)
    b.load_state_dict(a.state_dict())
    x = 0.1 * torch.randn(2, 64, 3)
    torch.testing.assert_close(velocity(a, snap)(torch.tensor(0.7), x), velocity(b, snap)(torch.tensor(0.7), x),
                               atol=1e-5, rtol=1e-4)


def _one_pass_rbf(vec, x, ei, monkeypatch):
    import glassgen.flow.velocity as vel

    chunk = vel.EDGE_CHUNK
    monkeypatch.setattr(vel, "EDGE_CHUNK", 1 << 40)
    out = displaced_rbf(vec, x, ei, 6, 1.5)
    monkeypatch.setattr(vel, "EDGE_CHUNK", chunk)
    return out


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_edge_slices_at_inference_equal_one_pass(geometry, monkeypatch):
    """Large graphs run their factored layers a slice of edges at a time without autograd: the same field (to
    float rounding) as one pass, with slices that split a particle's incoming edges; training keeps one pass."""
    import glassgen.flow.velocity as vel

    m, snap = model(geometry=geometry), snapshot()
    x = 0.1 * torch.randn(2, 64, 3)
    calls = []
    sliced_mean = vel.VelocityLayer._sliced_mean
    monkeypatch.setattr(vel.VelocityLayer, "_sliced_mean", lambda *a: calls.append(1) or sliced_mean(*a))
    with torch.no_grad():
        whole = velocity(m, snap)(torch.tensor(0.7), x)
        assert not calls
        monkeypatch.setattr(vel, "EDGE_CHUNK", 37)  # hundreds of edges in uneven slices
        sliced = velocity(m, snap)(torch.tensor(0.7), x)
    assert len(calls) == 2  # both layers sliced
    torch.testing.assert_close(sliced, whole, atol=1e-6, rtol=1e-5)
    g = torch.Generator().manual_seed(1)
    ei, vec, xd = torch.randint(0, 64, (2, 500), generator=g), torch.randn(500, 3, generator=g), torch.randn(2, 64, 3, generator=g)
    with torch.no_grad():  # the displaced-distance features are elementwise: slices give the very same values
        assert torch.equal(displaced_rbf(vec, xd, ei, 6, 1.5), _one_pass_rbf(vec, xd, ei, monkeypatch))
    velocity(m, snap)(torch.tensor(0.7), x).sum().backward()  # with autograd: one pass
    assert len(calls) == 2


def test_rotated_graph_equals_graph_of_rotated_configuration():
    snap = snapshot()
    g = build_graph(snap.species, snap.positions, snap.box, 1.5)
    group = box_symmetries(snap.box)
    assert len(group) == 48 and len({tuple(r.flatten().tolist()) for r in group}) == 48
    for r in group:
        assert torch.allclose(r @ r.T, torch.eye(3, dtype=r.dtype))
        rg = rotate_graph(g, r)
        fresh = build_graph(snap.species, snap.positions @ r.numpy().T, snap.box, 1.5)
        assert torch.equal(fresh["edge_index"], rg["edge_index"])
        torch.testing.assert_close(fresh["edge_vec"], rg["edge_vec"])
        x, s = rg["positions"], rg["shifts"].double()
        torch.testing.assert_close(x[rg["edge_index"][1]] - x[rg["edge_index"][0]] + s * L, rg["edge_vec"])


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_symmetry_error_detects_violation_and_group_average_is_exact(geometry):
    m, snap = model(geometry=geometry), snapshot()
    g = m.graph(snap.species, snap.positions, snap.box)
    make = model_velocity(m, 10.0)
    raw = symmetry_error(make, g, snap.box)
    assert raw > 1e-2  # an untrained, unaugmented network is not equivariant
    group = box_symmetries(snap.box)[:8]  # the 8 sign flips: a subgroup, enough to test exactness cheaply
    assert symmetry_error(group_averaged(make, group), g, snap.box, group=group) < 1e-5


def test_displaced_distance_equals_brute_force_minimum_image():
    """r'_ij read by the geometry features is the pair distance of the displaced configuration."""
    snap = snapshot(3)
    g = build_graph(snap.species, snap.positions, snap.box, 1.5)
    x = 0.2 * torch.randn(2, 64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    k = 41
    rbf = displaced_rbf(g["edge_vec"], x, g["edge_index"], k, 1.5)
    src, dst = g["edge_index"].numpy()
    for b in range(2):
        moved = snap.positions + x[b].numpy()
        ref = np.linalg.norm(minimum_image(moved[dst] - moved[src], snap.box), axis=-1)
        mu = np.linspace(0.5, 1.5, k)
        expect = np.exp(-(((ref[:, None] - mu) / (1.0 / (k - 1))) ** 2))
        np.testing.assert_allclose(rbf[b].numpy(), expect, atol=1e-9)
    with pytest.raises(ValueError, match="edge vectors"):
        model(geometry=4).velocity.prepare(torch.zeros(64, 16), torch.zeros(3, 16), torch.zeros(2, 3, dtype=torch.long))


def test_pair_sigma_geometry_reads_reduced_displaced_distance():
    """With pair_sigma the Gaussians read r'_ij / sigma(s_i, s_j), the argument of the KA pair potential."""
    snap = snapshot(4)
    m = model(geometry="ka")
    emb = m.embed(m.graph(snap.species, snap.positions, snap.box))
    prep = m.velocity.prepare(emb["h"], emb["e"], emb["edge_index"], emb["vec"], emb["species"])
    src, dst = emb["edge_index"].numpy()
    table = np.array(KA_SIGMA)
    sig = table[snap.species[src], snap.species[dst]]
    assert set(np.unique(sig)) == {1.0, 0.8, 0.88}  # every pair type is present in the test snapshot
    np.testing.assert_allclose(prep["sigma"][:, 0].numpy(), sig, rtol=1e-7)
    x = 0.2 * torch.randn(1, 64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    rbf = displaced_rbf(emb["vec"].double(), x, emb["edge_index"], 6, 1.5, torch.as_tensor(sig)[:, None])
    moved = snap.positions + x[0].numpy()
    ref = np.linalg.norm(minimum_image(moved[dst] - moved[src], snap.box), axis=-1) / sig
    expect = np.exp(-(((ref[:, None] - np.linspace(0.5, 1.5, 6)) / 0.2) ** 2))
    np.testing.assert_allclose(rbf[0].numpy(), expect, atol=1e-6)  # edge vectors are float32 in the model
    with pytest.raises(ValueError, match="species"):
        m.velocity.prepare(emb["h"], emb["e"], emb["edge_index"], emb["vec"])
    for bad in ([[1.0, 0.8], [0.7, 0.88]], [[1.0, -0.8], [-0.8, 0.88]], [1.0, 0.8], [[1.0, 0.8]]):
        with pytest.raises(ValueError, match="symmetric"):
            VelocityConfig(geometry=6, pair_sigma=bad)
    with pytest.raises(ValueError, match="geometry > 0"):
        VelocityConfig(pair_sigma=KA_SIGMA)


def test_prior_scale_estimate_and_lag_interpolation():
    rng = np.random.default_rng(0)
    species = np.array([0] * 300 + [1] * 100)
    disp = rng.normal(size=(20, 400, 3)) * np.where(species == 0, 0.2, 0.5)[None, :, None]
    p = paths.PriorScale.from_displacements([(5.0, species, disp), (500.0, species, 10 * disp)])
    s = p(torch.tensor([0, 1]), torch.tensor([5.0, 50.0, 500.0, 1e5, 1e-3]))[..., 0]
    np.testing.assert_allclose(s[0].numpy(), [0.2, 0.5], rtol=0.03)
    np.testing.assert_allclose(s[1].numpy(), np.sqrt(10) * s[0].numpy(), rtol=1e-5)  # power law in between
    np.testing.assert_allclose(s[3].numpy(), s[2].numpy(), rtol=1e-6)  # held beyond the data
    np.testing.assert_allclose(s[4].numpy(), s[0].numpy(), rtol=1e-6)
    with pytest.raises(InputError):
        paths.PriorScale([1.0, 1.0], [[1.0], [1.0]])


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_checkpoint_roundtrip(tmp_path, geometry):
    m, snap = model("diffusion", geometry=geometry), snapshot()
    save_model(m, tmp_path / "m.safetensors")
    m2 = load_model(tmp_path / "m.safetensors")
    assert m2.kind == "diffusion" and m2.config() == m.config()
    a, _ = sample(m, snap, 10.0, 2, solver=SolverConfig("midpoint", 3), seed=5)
    b, _ = sample(m2, snap, 10.0, 2, solver=SolverConfig("midpoint", 3), seed=5)
    np.testing.assert_array_equal(a, b)
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError):
        load_model(tmp_path / "bad.safetensors")


def _rewrite(src, dst, meta=None, drop=(), reshape=()):
    """Copy a checkpoint with its metadata patched, some tensors dropped or one of them truncated."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as f:
        md = dict(f.metadata())
        state = {k: f.get_tensor(k) for k in f.keys() if k not in drop}
    for k in reshape:
        state[k] = state[k][..., :-1].contiguous()
    md.update(meta or {})
    save_file(state, str(dst), metadata={k: v for k, v in md.items() if v is not None})


def test_checkpoint_from_another_version_or_with_foreign_weights_gets_one_line_errors(tmp_path):
    m = model()
    save_model(m, tmp_path / "m.safetensors")
    good = tmp_path / "m.safetensors"
    key = next(k for k, v in m.state_dict().items() if k.startswith("velocity.") and v.ndim == 2)
    cfg = json.loads(load_meta(good)["config"])
    cfg["velocity"]["from_the_future"] = 1
    cases = {
        "v3": (dict(meta={"format_version": "3"}), "format version 3"),
        "cfg": (dict(meta={"config": json.dumps(cfg)}), "does not build here"),
        "drop": (dict(drop=(key,)), "missing"),
        "shape": (dict(reshape=(key,)), "do not fit"),
    }
    for name, (kw, msg) in cases.items():
        _rewrite(good, tmp_path / f"{name}.safetensors", **kw)
        with pytest.raises(InputError, match=msg) as e:
            load_model(tmp_path / f"{name}.safetensors")
        assert f"{name}.safetensors" in str(e.value) and "\n" not in str(e.value)
    # a flow file of format version 1 (format "glassgen-flow", with or without format_version) is refused with
    # the command that converts it; converted, it loads the same model
    from glassgen.core.checkpoint import upgrade_v1

    old = {"format": "glassgen-flow", "format_version": None, "kind": None, "domain": None, "defaults": None,
           "card": None, "info": None, "step": "7"}
    _rewrite(good, tmp_path / "old.safetensors", meta=old)
    with pytest.raises(InputError, match="format version 1.*glassgen upgrade-checkpoint"):
        load_model(tmp_path / "old.safetensors")
    meta = upgrade_v1(tmp_path / "old.safetensors", tmp_path / "new.safetensors")
    assert meta["info"]["step"] == 7 and meta["domain"]["temperature"] == "unknown"
    assert load_model(tmp_path / "new.safetensors").config() == m.config()


def test_checkpoint_with_a_removed_setting_loads_when_it_is_off_and_is_refused_with_the_commit_when_on(tmp_path):
    """memory_prior and pair_channels left glassgen (ruled-out experiments); checkpoints written before still store
    them, off in the shipped ones: those load as before, one that uses them names the commit that can load it."""
    from glassgen.flow.recipe import REMOVED_AT

    m = model(geometry="ka")
    save_model(m, tmp_path / "m.safetensors")
    cfg = json.loads(load_meta(tmp_path / "m.safetensors")["config"])
    cfg["velocity"].update(memory_prior=None, pair_channels=False)
    _rewrite(tmp_path / "m.safetensors", tmp_path / "off.safetensors", meta={"config": json.dumps(cfg)})
    assert load_model(tmp_path / "off.safetensors").config() == m.config()
    for key, on in (("memory_prior", [0.1, 0.2]), ("pair_channels", True)):
        cfg["velocity"].update({"memory_prior": None, "pair_channels": False, key: on})
        _rewrite(tmp_path / "m.safetensors", tmp_path / "on.safetensors", meta={"config": json.dumps(cfg)})
        with pytest.raises(InputError, match=f"on.safetensors.*velocity.{key}.*commit {REMOVED_AT}"):
            load_model(tmp_path / "on.safetensors")


def load_meta(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


@pytest.mark.parametrize("kw", [dict(ode_steps=2, time_grid=[0, 1]), dict(ode_steps=-1), dict(method="nope"),
                                dict(time_grid=[0.5, 0.2]), dict(batch_size=0)])
def test_solver_config_errors(kw):
    with pytest.raises(InputError):
        SolverConfig(**kw)


def test_solver_config_has_one_default_grid():
    from glassgen.sampling.defaults import ODE_STEPS

    assert SolverConfig().ode_steps == ODE_STEPS and SolverConfig().time_grid is None
    grid = SolverConfig(time_grid=[0, 0.5, 1])
    assert grid.ode_steps is None and grid.meta()["time_grid"] == "0,0.5,1"


@pytest.mark.parametrize("kw", [dict(lag=-1.0), dict(n_samples=0)])
def test_sampler_argument_errors(kw):
    args = dict(lag=10.0, n_samples=2)
    args.update(kw)
    with pytest.raises(InputError):
        sample(model(), snapshot(), **args)


@pytest.mark.parametrize("method", ["euler", "rk4", "dopri5", "euler_maruyama"])
def test_sample_methods_shapes_and_nfe(method):
    d, nfe = sample(model("diffusion"), snapshot(), 10.0, 3, solver=SolverConfig(method, 2, batch_size=2), seed=0)
    assert d.shape == (3, 64, 3) and np.all(np.isfinite(d))
    assert nfe == {"euler": 2, "rk4": 8, "euler_maruyama": 2}.get(method, nfe) and nfe >= 2


def test_rollout_step_function_is_seeded_per_draw():
    from glassgen.sampling.sample import step_function

    snap = snapshot()
    fn = step_function(model(), snap.species, snap.box, solver=SolverConfig("euler", 2))
    x = np.stack([snap.positions, snapshot(1).positions])
    a, b = fn(x, 10.0, [3, 4]), fn(x[::-1], 10.0, [4, 3])
    assert a.shape == (2, 64, 3)
    np.testing.assert_array_equal(a, b[::-1])
    assert not np.allclose(fn(x, 10.0, [5, 4])[0], a[0])


def test_pair_term_sees_relative_errors_only():
    """Oracle + a common shift: pair term 0; oracle + independent noise: pair term > 0; weight 0 = plain loss."""
    torch.manual_seed(0)
    b, n = 4, 30
    x1 = paths.remove_com(torch.randn(b, n, 3, dtype=torch.float64))
    scale = torch.full((b, n, 1), 0.7, dtype=torch.float64)
    pairs = torch.stack([torch.arange(n - 1), torch.arange(1, n)])

    def field(extra):
        def v(t, xt):  # linear path: u = (x1 - x_t) / (1 - t)
            return (x1 - xt) / (1 - t.reshape(-1, 1, 1)) + extra
        return v

    def loss(extra, w, seed=1):
        return paths.flow_loss("flow", field(extra), x1, scale, torch.Generator().manual_seed(seed), pairs=pairs, pair_weight=w).item()

    assert loss(0.0, 1.0) == pytest.approx(0.0, abs=1e-18)
    shift = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    assert loss(shift, 1.0) == pytest.approx(loss(shift, 0.0), rel=1e-12) and loss(shift, 0.0) > 0
    noise = 0.2 * torch.randn(b, n, 3, dtype=torch.float64)
    assert loss(noise, 1.0) - loss(noise, 0.0) == pytest.approx(
        ((noise[:, 1:] - noise[:, :-1]) / math.sqrt(2 * 0.49)).pow(2).mean().item(), rel=1e-9)


def test_relative_mobility_has_unit_rms_per_species_keeps_order_and_floors():
    from glassgen.flow.model import relative_mobility

    species = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    pred = torch.tensor([1.0, 2.0, 3.0, -5.0, 10.0, 20.0, 30.0])
    m = relative_mobility(pred, species)[:, 0].double()
    for a in (0, 1):
        assert abs(m[species == a].pow(2).mean().sqrt().item() - 1.0) < 1e-6
    assert m[0] < m[1] < m[2] and m[4] < m[5] < m[6]
    # the negative prediction is floored at 0.1 x its species' mean (0.25), not passed through
    np.testing.assert_allclose(m[3] / m[0], 0.025, rtol=1e-5)
    np.testing.assert_allclose((m[4:] / m[4]).numpy(), [1, 2, 3], rtol=1e-6)  # ratios kept above the floor


def test_mobility_power_raises_the_contrast_and_keeps_unit_rms():
    """m_i ∝ p_i^γ: the ratios of the factors are those of the propensities to the power γ, <m²> = 1 per
    species whatever γ, and γ = 1 is the plain relative mobility."""
    from glassgen.flow.model import relative_mobility

    species = torch.tensor([0, 0, 0, 1, 1])
    pred = torch.tensor([1.0, 2.0, 4.0, 3.0, 6.0])
    torch.testing.assert_close(relative_mobility(pred, species, power=1.0), relative_mobility(pred, species))
    for gamma in (0.5, 1.5, 2.0):
        m = relative_mobility(pred, species, power=gamma)[:, 0].double()
        for a in (0, 1):
            assert abs(m[species == a].pow(2).mean().sqrt().item() - 1.0) < 1e-6
        np.testing.assert_allclose([m[2] / m[0], m[4] / m[3]], [4.0 ** gamma, 2.0 ** gamma], rtol=1e-5)


def test_mobility_power_is_kept_by_the_checkpoint_and_used_by_the_prior(tmp_path):
    from glassgen.flow.model import relative_mobility

    m2, snap = mobility_model(), snapshot()
    m2.mobility_power = 2.0
    g = m2.graph(snap.species, snap.positions, snap.box)
    h, _ = m2.encoder.encode({k: v.float() if v.is_floating_point() else v for k, v in g.items()})
    want = m2.prior(g["species"], torch.tensor([10.0]))[0] * relative_mobility(m2.encoder.decode_nodes(h),
                                                                              g["species"], power=2.0)
    np.testing.assert_allclose(m2.prior_scale(m2.embed(g), 10.0)[0].numpy(), want.detach().numpy(), rtol=1e-5)
    save_model(m2, tmp_path / "m.safetensors")
    assert load_model(tmp_path / "m.safetensors").mobility_power == 2.0
    with pytest.raises(InputError, match="mobility_power"):
        FlowModel(m2.encoder, m2.velocity.cfg, m2.prior, "flow", mobility=True, mobility_power=-1.0)


def mobility_model(seed=0):
    from glassgen.encoder.botan import BOTAN, BOTANConfig

    torch.manual_seed(seed)
    prior = paths.PriorScale([1.0, 100.0], [[0.05, 0.06], [0.4, 0.5]])
    return FlowModel(BOTAN(BOTANConfig(width=8, steps=2, cutoff=1.5)), VelocityConfig(embed_dim=8, hidden=8, n_layers=1),
                     prior, "flow", encoder_frozen=True, mobility=True)


def test_mobility_prior_scales_each_particle_by_the_encoder_prediction(tmp_path):
    from glassgen.flow.model import relative_mobility

    m, snap = mobility_model(), snapshot()
    g = m.graph(snap.species, snap.positions, snap.box)
    emb = m.embed(g)
    _, scale = m.velocity_fn(emb, torch.tensor([10.0]))
    torch.testing.assert_close(m.prior_scale(emb, 10.0), scale)  # the one home of the per-particle scale
    h, _ = m.encoder.encode({k: v.float() if v.is_floating_point() else v for k, v in g.items()})
    want = m.prior(g["species"], torch.tensor([10.0]))[0] * relative_mobility(m.encoder.decode_nodes(h), g["species"])
    np.testing.assert_allclose(scale[0].numpy(), want.detach().numpy(), rtol=1e-5)
    assert scale[0].std() > 0.01 * scale[0].mean()  # really per particle, not per species
    save_model(m, tmp_path / "m.safetensors")
    m2 = load_model(tmp_path / "m.safetensors")
    assert m2.mobility and m2.config() == m.config()
    a, _ = sample(m, snap, 10.0, 2, solver=SolverConfig("heun", 2), seed=3)
    b, _ = sample(m2, snap, 10.0, 2, solver=SolverConfig("heun", 2), seed=3)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="mobility"):
        FlowModel(LocalEncoder(width=16, cutoff=1.5), VelocityConfig(embed_dim=16, hidden=16, n_layers=1),
                  m.prior, "flow", mobility=True)


def test_history_model_reads_the_previous_step_only_when_it_is_known(tmp_path):
    """Second-order model: a known history changes the velocity; an unknown one (flag 0) is ignored
    whatever its values; checkpoints keep it; a first-order model refuses a history."""
    m, snap = model(history=True, seed=2), snapshot()
    with torch.no_grad():  # untrained history weights are random, but make the effect unmistakable
        m.velocity.node_in.lin_p.weight.mul_(10.0)
    emb = m.embed(m.graph(snap.species, snap.positions, snap.box))
    x = 0.05 * torch.randn(2, 64, 3, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.3, 0.7])
    prev = 0.1 * torch.randn(2, 64, 3, generator=torch.Generator().manual_seed(1))
    none = m.velocity_fn(emb, torch.tensor([10.0]))[0](t, x)
    hidden = m.velocity_fn(emb, torch.tensor([10.0]), prev, torch.tensor([False, False]))[0](t, x)
    known = m.velocity_fn(emb, torch.tensor([10.0]), prev, torch.tensor([True, False]))[0](t, x)
    torch.testing.assert_close(hidden, none)
    torch.testing.assert_close(known[1], none[1])  # flags are per sample
    assert (known[0] - none[0]).abs().max() > 1e-3
    save_model(m, tmp_path / "h.safetensors")
    m2 = load_model(tmp_path / "h.safetensors")
    assert m2.history and m2.config() == m.config()
    p = prev[0].double().numpy()
    a, _ = sample(m, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), seed=4, previous=p)
    b, _ = sample(m2, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), seed=4, previous=np.stack([p, p]))
    np.testing.assert_allclose(a, b, atol=1e-12)  # one history for all samples == the same history per sample
    assert np.abs(a - sample(m2, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), seed=4)[0]).max() > 1e-6
    with pytest.raises(InputError, match="previous displacement"):
        sample(m, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), previous=np.zeros((5, 3)))
    with pytest.raises(InputError, match="without history"):
        sample(model(), snap, 10.0, 2, solver=SolverConfig(ode_steps=2), previous=p)


def test_memory_window_is_read_only_when_known_and_round_trips(tmp_path):
    """Memory model: a known window changes the velocity, an unknown one (flag 0) is ignored; it enters in
    units of s √W; one window for all samples == the same window per sample; bad windows are refused."""
    m, snap = model(history=True, memory=3, seed=5), snapshot()
    assert m.memory == 3 and m.velocity.node_in.lin_p.in_features == 8
    with torch.no_grad():
        m.velocity.node_in.lin_p.weight.mul_(10.0)
    emb = m.embed(m.graph(snap.species, snap.positions, snap.box))
    x = 0.05 * torch.randn(2, 64, 3, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.3, 0.7])
    prev, win = (0.1 * torch.randn(2, 64, 3, generator=torch.Generator().manual_seed(s)) for s in (1, 2))
    lag = torch.tensor([10.0])
    hist_only = m.velocity_fn(emb, lag, prev)[0](t, x)
    hidden = m.velocity_fn(emb, lag, prev, None, win, torch.tensor([False, False]))[0](t, x)
    known = m.velocity_fn(emb, lag, prev, None, win, torch.tensor([True, False]))[0](t, x)
    torch.testing.assert_close(hidden, hist_only)
    torch.testing.assert_close(known[1], hist_only[1])
    assert (known[0] - hist_only[0]).abs().max() > 1e-3
    scale = m.prior_scale(emb, lag)
    p = m.history_input(scale, prev, None, win)
    torch.testing.assert_close(p[..., 4:7], (win / (scale * 3 ** 0.5)).float())
    torch.testing.assert_close(p[..., 7], torch.ones(2, 64))
    save_model(m, tmp_path / "w.safetensors")
    m2 = load_model(tmp_path / "w.safetensors")
    assert m2.memory == 3 and m2.config() == m.config()
    pp, ww = prev[0].double().numpy(), win[0].double().numpy()
    a, _ = sample(m, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), seed=4, previous=pp, window=ww)
    b, _ = sample(m2, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), seed=4, previous=pp, window=np.stack([ww, ww]))
    np.testing.assert_allclose(a, b, atol=1e-12)
    assert np.abs(a - sample(m2, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), seed=4, previous=pp)[0]).max() > 1e-6
    with pytest.raises(InputError, match="window displacement must be"):
        sample(m, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), previous=pp, window=np.zeros((5, 3)))
    with pytest.raises(InputError, match="memory model"):
        sample(m, snap, 10.0, 2, solver=SolverConfig(ode_steps=2), window=ww)  # a window without the last step is no chain state
    with pytest.raises(InputError, match="memory model"):
        sample(model(history=True), snap, 10.0, 2, solver=SolverConfig(ode_steps=2), previous=pp, window=ww)
    for bad in ({"memory": 1, "history": True}, {"memory": 3, "history": False}):
        with pytest.raises(ValueError, match="memory"):
            VelocityConfig(embed_dim=16, hidden=16, **bad)


def test_unit_pair_sigma_is_the_physical_geometry_and_ka_table_changes_the_field():
    snap = snapshot()
    phys, ka = model(geometry=6), model(geometry="ka")
    ones = FlowModel(LocalEncoder(width=16, cutoff=1.5),
                     VelocityConfig(embed_dim=16, hidden=16, n_layers=2, geometry=6, pair_sigma=[[1.0, 1.0], [1.0, 1.0]]),
                     phys.prior, "flow")
    ka.load_state_dict(phys.state_dict())
    ones.load_state_dict(phys.state_dict())
    x = 0.1 * torch.randn(2, 64, 3)
    ref = velocity(phys, snap)(torch.tensor(0.5), x)
    torch.testing.assert_close(velocity(ones, snap)(torch.tensor(0.5), x), ref)
    assert (velocity(ka, snap)(torch.tensor(0.5), x) - ref).abs().max() > 1e-4


def test_history_guidance_interpolates_between_no_history_and_history():
    """w = 1: the model as trained; w = 0: the draw without history; one Euler step is affine in w."""
    m, snap = model(history=True, seed=2), snapshot()
    with torch.no_grad():
        m.velocity.node_in.lin_p.weight.mul_(10.0)
    p = 0.1 * np.random.default_rng(1).normal(size=(64, 3))

    def draw(w, previous=p, steps=1):
        return sample(m, snap, 10.0, 2, solver=SolverConfig("euler", steps), seed=4, previous=previous,
                      history_guidance=w)

    d1, n1 = draw(1.0)
    np.testing.assert_array_equal(d1, sample(m, snap, 10.0, 2, solver=SolverConfig("euler", 1), seed=4, previous=p)[0])
    d0, n0 = draw(0.0)
    np.testing.assert_allclose(d0, draw(1.0, previous=None)[0], atol=1e-6)
    d2, _ = draw(2.0)
    np.testing.assert_allclose(d2, 2 * d1 - d0, atol=1e-6)
    assert np.abs(d1 - d0).max() > 1e-3 and (n1, n0) == (1, 2)  # guidance costs a second evaluation
    np.testing.assert_array_equal(draw(3.0, previous=None)[0], draw(1.0, previous=None)[0])  # no history: no-op
    with pytest.raises(InputError, match="history guidance"):
        sample(model(), snap, 10.0, 2, solver=SolverConfig(ode_steps=2), history_guidance=1.5)


def energy_model(seed=0, fit=((0.2, 8.0), (-0.1, 4.0)), energy=(-3.0, -3.5, -2.5)):
    """The small model with an energy prior of a given fit (no BOTAN needed: the energy is the snapshot's)."""
    m = model(seed=seed)
    return FlowModel(m.encoder, m.velocity.cfg, m.prior, "flow", energy_size=EnergySize(fit, energy))


def test_energy_size_is_the_fitted_law_per_species_and_holds_outside_the_training_range():
    size = EnergySize([[0.2, 8.0], [-0.1, 4.0]], [-3.0, -3.5, -2.5])
    species = torch.tensor([0, 1, 0])
    e = torch.tensor([-3.0, -3.25, -2.5, -2.0, -9.0], dtype=torch.float64)
    f = size(e, species)[..., 0].double()
    assert f.shape == (5, 3)
    de = torch.tensor([0.0, -0.25, 0.5, 0.5, -0.5], dtype=torch.float64)  # e − ē, clamped to [e_min, e_max]
    torch.testing.assert_close(f[:, 0], torch.exp(0.5 * (0.2 + 8.0 * de)), rtol=1e-6, atol=0)
    torch.testing.assert_close(f[:, 1], torch.exp(0.5 * (-0.1 + 4.0 * de)), rtol=1e-6, atol=0)
    torch.testing.assert_close(f[:, 2], f[:, 0])


def test_energy_size_fit_recovers_a_planted_law():
    """Displacements whose mean square follows log(MSD/(D s²)) = b0 + b1 (e − ē) per species give back b0, b1."""
    prior = paths.PriorScale([10.0], [[0.3, 0.2]])
    species, rng = np.arange(400) % 5 == 0, np.random.default_rng(1)
    species = species.astype(int)
    law = np.array([[0.1, 6.0], [-0.2, 3.0]])
    energies = np.array([-7.05, -7.02, -7.0, -6.98])
    items = []
    for e in energies:
        z = rng.normal(size=(16, 400, 3))
        z /= np.sqrt((z ** 2).sum(-1).mean(0))[None, :, None] / np.sqrt(3)  # unit mean square per particle
        f = np.exp(0.5 * (law[species, 0] + law[species, 1] * (e - energies.mean())))
        items.append((10.0, species, e, z * (np.array([0.3, 0.2])[species] * f)[None, :, None]))
    size = EnergySize.from_data(items, prior)
    np.testing.assert_allclose(size.fit.numpy(), law, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(size.energy.numpy(), [energies.mean(), energies.min(), energies.max()])
    with pytest.raises(InputError, match="two different potential energies"):
        EnergySize.from_data(items[:1] * 2, prior)


def test_energy_prior_scales_the_prior_by_the_snapshot_energy_and_round_trips(tmp_path):
    from glassgen.flow.model import build, init_weights
    from glassgen.system.ka import mean_energy

    rng = np.random.default_rng(2)  # a box above twice the Kob–Andersen cutoff (the energy needs it)
    g6 = np.stack(np.meshgrid(*[np.arange(6)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    snap = Snapshot((np.arange(216) % 5 == 0).astype(int), np.full(3, 6.0), (g6 + 0.1 * rng.normal(size=g6.shape)) % 6.0)
    e = mean_energy(snap.positions, snap.species, snap.box)
    m = energy_model(energy=(e + 0.01, e - 0.02, e + 0.02))
    g = m.graph(snap.species, snap.positions, snap.box)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inside the training range: no warning
        emb = m.embed(g)
    assert emb["energy"].item() == pytest.approx(e, rel=1e-12)
    want = m.prior(g["species"], torch.tensor([10.0]))[0] * m.energy_size(torch.tensor([e]), g["species"])[0]
    torch.testing.assert_close(m.prior_scale(emb, 10.0)[0], want)
    torch.testing.assert_close(m.velocity_fn(emb, torch.tensor([10.0]))[1], m.prior_scale(emb, 10.0))
    save_model(m, tmp_path / "m.safetensors")
    m2 = load_model(tmp_path / "m.safetensors")
    assert m2.config()["energy_prior"] and m2.config() == m.config()
    torch.testing.assert_close(m2.energy_size.fit, m.energy_size.fit)
    a, _ = sample(m, snap, 10.0, 2, solver=SolverConfig("heun", 2), seed=3)
    b, _ = sample(m2, snap, 10.0, 2, solver=SolverConfig("heun", 2), seed=3)
    np.testing.assert_array_equal(a, b)
    far = energy_model(energy=(e + 1.0, e + 0.99, e + 1.01))  # trained on much hotter configurations
    with pytest.warns(UserWarning, match="far outside this model's training range"):
        far.embed(g)
    old = {k: v for k, v in model().config().items() if k != "energy_prior"}  # written before the energy prior
    assert build(old).energy_size is None
    # a run with an energy prior may start from a checkpoint without one; it keeps its own fit
    save_model(model(seed=5), tmp_path / "plain.safetensors")
    m3 = energy_model(seed=1, fit=((0.0, 1.0), (0.0, 1.0)))
    init_weights(m3, tmp_path / "plain.safetensors")
    torch.testing.assert_close(m3.velocity.state_dict(), model(seed=5).velocity.state_dict())
    torch.testing.assert_close(m3.energy_size.fit, torch.tensor([[0.0, 1.0], [0.0, 1.0]], dtype=torch.float64))
