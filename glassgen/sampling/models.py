"""``load_model(NAME|PATH)``: any glassgen checkpoint, rebuilt by the builder of its kind.

The one dispatch on a checkpoint's ``kind`` (:mod:`glassgen.core.checkpoint`): a plain dict from kind to the
``build(config, source)`` that its own layer keeps. A shipped name resolves through
:func:`glassgen.core.checkpoint.resolve`.
"""
from __future__ import annotations

from glassgen.core.checkpoint import load_weights, read_checkpoint, resolve
from glassgen.core.errors import InputError
from glassgen.encoder.checkpoint import build as build_botan
from glassgen.flow.model import build as build_flow

BUILDERS = {"botan": build_botan, "flow": build_flow}


def load_model(model, device="cpu"):
    """The model of a checkpoint file or shipped name, in eval mode, with the file's metadata (config,
    domain, validated defaults, card, info and ``path``) as ``model.checkpoint``.

    >>> import glassgen
    >>> model = glassgen.load_model("flow-proof-T0.6-sig")
    >>> model.checkpoint["domain"]["temperature"], model.checkpoint["defaults"]["rollout"]["relax"]
    ([0.6], 'quench')
    """
    path = resolve(model)
    state, meta = read_checkpoint(path)
    build = BUILDERS.get(meta["kind"])
    if build is None:
        raise InputError(str(path), f"model kind {meta['kind']!r} is unknown to this glassgen "
                                    f"(known: {', '.join(sorted(BUILDERS))})")
    net = build(meta["config"], f"{path} (written by glassgen {meta['glassgen_version']})")
    load_weights(net, state, meta, path)
    net.checkpoint = dict(meta, path=str(path))
    return net.to(device).eval()
