"""The BOTAN authors' published weights in glassgen's BOTAN: same outputs as the published equations."""
from pathlib import Path

import numpy as np
import pytest
import torch

from glassgen.encoder.botan import make_graph
from glassgen.encoder.reference_weights import load_reference_weights
from glassgen.core.errors import InputError

WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "models" / "pyg_botan_initial"
needs_weights = pytest.mark.skipif(not (WEIGHTS / "model1.pth").is_file(), reason="published BOTAN weights absent")


def _mlp(sd, prefix, x, layers=2):
    """Linear -> ReLU for each of fc1..fc{layers}; fc3 of the decoder is a plain Linear."""
    for k in range(1, layers + 1):
        x = torch.relu(x @ sd[f"{prefix}.fc{k}.weight"].T + sd[f"{prefix}.fc{k}.bias"])
    return x


def reference_forward(sd, species, src, dst, vec, steps=7):
    """BOTAN from the paper's equations, written densely from the authors' state_dict keys.

    h⁰ = MLP(s), e⁰ = MLP(r_dst - r_src); then ``steps`` times e ← MLP_E([h_src, h_dst, e, e⁰]),
    h ← MLP_N([h, h⁰, Σ_{edges into the node} e]); outputs fc3(MLP_dec(·)) for nodes and edges.
    """
    h0 = _mlp(sd, "node_encoder", species.float()[:, None])
    e0 = _mlp(sd, "edge_encoder", vec)
    h, e = h0, e0
    for _ in range(steps):
        e = _mlp(sd, "network.edge_model.mlp", torch.cat([h[src], h[dst], e, e0], dim=1))
        agg = torch.zeros_like(h).index_add_(0, dst, e)
        h = _mlp(sd, "network.node_model.mlp", torch.cat([h, h0, agg], dim=1))

    def dec(x):
        return (_mlp(sd, "decoder", x) @ sd["decoder.fc3.weight"].T + sd["decoder.fc3.bias"]).squeeze(-1)

    return dec(h), dec(e)


@needs_weights
@pytest.mark.parametrize("name", ["model1.pth", "model5.pth"])
def test_published_weights_match_reference_equations(name):
    rng = np.random.default_rng(3)
    box = np.full(3, 4.2)
    pos = rng.uniform(0, box, size=(60, 3))
    species = (rng.random(60) < 0.2).astype(np.int64)
    g = make_graph(pos, species, box, cutoff=2.0)
    sd = torch.load(WEIGHTS / name, weights_only=True, map_location="cpu")
    src, dst = g["edge_index"]
    # the reference orientation: the edge vector is r_dst - r_src, minimum image
    d = pos[dst.numpy()] - pos[src.numpy()]
    d -= box * np.round(d / box)
    assert np.allclose(g["edge_vec"].numpy(), d, atol=1e-5)
    ref_node, ref_edge = reference_forward(sd, g["species"], src, dst, g["edge_vec"])
    model = load_reference_weights(WEIGHTS / name)
    with torch.no_grad():
        node, edge = model(g)
    assert torch.max(torch.abs(node - ref_node)) <= 1e-5
    assert torch.max(torch.abs(edge - ref_edge)) <= 1e-5
    assert ref_edge.std() > 0  # the comparison sees real, non-constant outputs


def test_not_a_state_dict_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="bad.pth"):
        load_reference_weights(bad)
    torch.save({"node_encoder.fc1.weight": torch.zeros(64, 1)}, tmp_path / "short.pth")
    with pytest.raises(InputError, match="missing key"):
        load_reference_weights(tmp_path / "short.pth")


@needs_weights
def test_wrong_shape_is_one_line_error(tmp_path):
    sd = torch.load(WEIGHTS / "model1.pth", weights_only=True, map_location="cpu")
    sd["network.edge_model.mlp.fc2.weight"] = torch.zeros(64, 63)
    torch.save(sd, tmp_path / "shape.pth")
    with pytest.raises(InputError, match="shape.pth"):
        load_reference_weights(tmp_path / "shape.pth")


@needs_weights
def test_import_botan_cli_writes_a_checkpoint_with_attribution(tmp_path):
    import subprocess
    import sys

    from glassgen.core.checkpoint import read_metadata
    from glassgen.encoder.checkpoint import load_model

    out = tmp_path / "botan.safetensors"
    res = subprocess.run([sys.executable, "-m", "glassgen", "import-botan", str(WEIGHTS / "model2.pth"), "-o", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    meta = read_metadata(out)
    assert meta["kind"] == "botan" and "Shiba" in meta["card"]["initial_weights"] and "Apache" in meta["card"]["licence"]
    assert all(v == "unknown" for v in meta["domain"].values())
    ref, ours = load_reference_weights(WEIGHTS / "model2.pth").state_dict(), load_model(out)[0].state_dict()
    assert ref.keys() == ours.keys() and all(torch.equal(ref[k], ours[k]) for k in ref)
    again = subprocess.run([sys.executable, "-m", "glassgen", "import-botan", str(WEIGHTS / "model2.pth"), "-o", str(out)],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "--overwrite" in again.stderr and again.stderr.count("\n") == 1
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"junk")
    res = subprocess.run([sys.executable, "-m", "glassgen", "import-botan", str(bad), "-o", str(tmp_path / "x.safetensors")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.startswith(f"error: {bad}") and res.stderr.count("\n") == 1
