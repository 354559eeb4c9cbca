"""``glassgen bench``: training and sampling speed on this machine (the library is glassgen.sampling.bench)."""
from __future__ import annotations

from pathlib import Path

import typer


def bench(
    device: str = typer.Option("cpu", "--device", help="torch device: cpu, cuda, cuda:1 (ROCm builds use cuda too)."),
    json_out: Path = typer.Option(None, "--json", help="Also write the result as JSON (machine, versions, dtype, times, profiles)."),
    quick: bool = typer.Option(False, "--quick", help="N = 250, 1 warm-up + 2 timed calls: checks that it runs; the figures mean nothing."),
    repeats: int = typer.Option(None, "--repeats", help="Timed calls per benchmark (default 5; --quick 2)."),
    model: str = typer.Option(None, "--model", help="Flow model to time (file or shipped name; default flow-T0.44-botan if shipped, else flow-proof-T0.6-sig)."),
    threads: int = typer.Option(None, "--threads", min=1, help="torch CPU threads (default: torch's choice, recorded in the JSON)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file (without it, it is refused)."),
):
    """Steps/s of a BOTAN and a flow training step and draws/s of sampling at N = 4096, with profiles (docs/performance.md)."""
    import json

    from glassgen.core.atomic import atomic_path, check_writable
    from glassgen.sampling.bench import run, summary_lines

    if json_out is not None:
        check_writable(json_out, overwrite)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    res = run(device, quick=quick, repeats=repeats, model=model, progress=lambda line: typer.echo(line, err=True))
    for line in summary_lines(res):
        typer.echo(line)
    if json_out is not None:
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(res, indent=1) + "\n")
        typer.echo(f"wrote {json_out}")
