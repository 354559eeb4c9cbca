"""The BOTAN authors' published weights (h3-Open-BDEC/pyg_botan state_dicts) read into glassgen's BOTAN.

The reference code and glassgen orient edges the same way: edge (src, dst) = (row, col),
the edge encoder reads r_dst - r_src, the edge MLP reads [h_src, h_dst, e, e⁰] and
messages are summed at dst. The layers are therefore the same matrices under other
names; only the names change (:data:`KEY_MAP`). Reference layout: one shared
EdgeUpdate/NodeUpdate pair and one decoder shared by node and edge outputs.
"""
from __future__ import annotations

from pathlib import Path

import torch

from glassgen.encoder.botan import BOTAN, BOTANConfig
from glassgen.core.errors import InputError

#: reference key -> glassgen key (``.weight``/``.bias`` appended to both)
KEY_MAP = {
    "node_encoder.fc1": "node_encoder.0",
    "node_encoder.fc2": "node_encoder.2",
    "edge_encoder.fc1": "edge_encoder.0",
    "edge_encoder.fc2": "edge_encoder.2",
    "network.edge_model.mlp.fc1": "edge_updates.0.mlp.0",
    "network.edge_model.mlp.fc2": "edge_updates.0.mlp.2",
    "network.node_model.mlp.fc1": "node_updates.0.mlp.0",
    "network.node_model.mlp.fc2": "node_updates.0.mlp.2",
    "decoder.fc1": "decoders.0.0",
    "decoder.fc2": "decoders.0.2",
    "decoder.fc3": "decoders.0.4",
}

#: what a checkpoint built from these weights says about its origin
ATTRIBUTION = (
    "Initial weights: BOTAN authors' edge-pretrained model (h3-Open-BDEC/pyg_botan, initial_model/), "
    "H. Shiba, M. Hanai, T. Suzumura, T. Shimokawabe, J. Chem. Phys. 158, 084503 (2023); Apache License 2.0."
)


def read_reference_state(path) -> dict[str, torch.Tensor]:
    """A pyg_botan state_dict, read safely (``weights_only=True``). Not a tensor dict -> InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "weight file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and weights_only refusals have many types
        raise InputError(str(path), f"not a plain PyTorch state_dict ({type(e).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(str(path), "not a plain state_dict of tensors")
    return state


def reference_to_glassgen(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Rename a reference state_dict to glassgen's BOTAN keys. Missing or extra keys -> InputError."""
    expected = {f"{k}.{p}" for k in KEY_MAP for p in ("weight", "bias")}
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        what = f"missing key {missing[0]!r}" if missing else f"unexpected key {extra[0]!r}"
        raise InputError(source, f"not a pyg_botan BOTAN state_dict: {what}")
    out = {}
    for ref, ours in KEY_MAP.items():
        for p in ("weight", "bias"):
            out[f"{ours}.{p}"] = state[f"{ref}.{p}"].detach().float()
    return out


def load_reference_weights(path) -> BOTAN:
    """glassgen's BOTAN (reference architecture) holding the published weights of ``path``.

    The architecture is read off the shapes (width from the node encoder, dimension from the
    edge encoder); 7 steps and cutoff 2.0 are the reference's and are not stored in the file.
    """
    state = reference_to_glassgen(read_reference_state(path), str(path))
    width, dim = state["node_encoder.0.weight"].shape[0], state["edge_encoder.0.weight"].shape[1]
    model = BOTAN(BOTANConfig(width=width, dim=dim))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise InputError(str(path), f"weight shapes do not fit BOTAN: {str(e).splitlines()[-1].strip()}") from None
    return model.eval()
