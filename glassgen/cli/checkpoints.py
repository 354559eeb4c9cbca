"""``glassgen upgrade-checkpoint``, ``glassgen import-botan`` and the checkpoint half of ``glassgen info`` (registered in glassgen.cli.app)."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from glassgen.core.errors import InputError


def describe(path) -> None:
    """``glassgen info CKPT|NAME``: kind, format, domain, validated settings, training info, the card's keys."""
    from glassgen.core.checkpoint import read_metadata, resolve

    real = resolve(path)
    meta = read_metadata(real)
    typer.echo(f"{real}: {meta['kind']} checkpoint, format version {meta['format_version']} "
               f"(glassgen {meta['glassgen_version']})")
    for key in ("domain", "defaults", "info"):
        shown = {k: v for k, v in meta[key].items() if k != "data_monitors"}
        typer.echo(f"  {key}: {json.dumps(shown, sort_keys=True)}")
    typer.echo(f"  card: {', '.join(sorted(meta['card'])) or 'empty'}")


def upgrade_checkpoint(
    old: Path = typer.Argument(..., help="A checkpoint of format version 1 (glassgen-flow, or a BOTAN glassgen-checkpoint 1)."),
    new: Path = typer.Argument(..., help="Output: the same weights in the current format (OLD itself converts in place)."),
    domain: str = typer.Option(None, "--domain", help='What the model was trained on, JSON, e.g. \'{"temperature": [0.6], "lag": [2.11, 10]}\'; fields left out stay "unknown" (docs/checkpoints.md).'),
):
    """Convert a checkpoint of format version 1 to the current format (weights unchanged)."""
    from glassgen.core.checkpoint import upgrade_v1

    try:
        fields = json.loads(domain) if domain else None
    except ValueError:
        raise InputError("--domain", f"not valid JSON: {domain!r}") from None
    meta = upgrade_v1(old, new, domain=fields)
    unknown = [k for k, v in meta["domain"].items() if v == "unknown"]
    typer.echo(f"wrote {new}: {meta['kind']} checkpoint, format version {meta['format_version']}"
               + (f"; domain unknown: {', '.join(unknown)}" if unknown else ""))


def import_botan(
    weights: Path = typer.Argument(..., help="A BOTAN authors' state_dict (pyg_botan, e.g. initial_model/model1.pth)."),
    out: Path = typer.Option(..., "-o", "--output", help="Output glassgen checkpoint (.safetensors)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
):
    """Read the BOTAN authors' published weights into a glassgen BOTAN checkpoint (docs/botan.md)."""
    from glassgen.core.atomic import check_writable
    from glassgen.core.checkpoint import unknown_domain
    from glassgen.encoder.checkpoint import save_model
    from glassgen.encoder.reference_weights import ATTRIBUTION, load_reference_weights

    check_writable(out, overwrite)
    model = load_reference_weights(weights)
    card = {"initial_weights": ATTRIBUTION, "source_file": str(weights),
            "licence": "Apache-2.0 (the authors' licence; keep this notice with the weights and anything derived)",
            "training": "none in glassgen: the authors' edge pre-training (their README does not state its state point)"}
    save_model(out, model, info={"imported_from": Path(weights).name}, domain=unknown_domain(), card=card)
    typer.echo(f"wrote {out}: BOTAN (width {model.config.width}, {model.config.steps} steps, cutoff "
               f"{model.config.cutoff:g}) from {weights}; domain unknown")
