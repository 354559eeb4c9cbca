"""Write checkpoints/corrector-T0.6.safetensors from a run of recipes/corrector-T0.6.yaml.

    python experiments/corrector-T0.6/ship_corrector.py ../runs/corrector-T0.6/best.safetensors \
        --method euler --ode-steps 1 --noise-scale 0 --metrics FILE.json

The tensors, config, domain and info (info.denoise marks it a corrector) are copied unchanged. Defaults: the
corrector's draw as chosen on the validation MD (experiments/corrector-T0.6/README.md); its lag is σ_max.
Card: the data, the command and the figures of --metrics (a JSON list of {"name", "value", "command"}).
"""
import argparse
import json
from pathlib import Path

from glassgen.core.checkpoint import read_checkpoint, write_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("best")
    ap.add_argument("--method", required=True)
    ap.add_argument("--ode-steps", type=int, required=True)
    ap.add_argument("--noise-scale", type=float, required=True)
    ap.add_argument("--metrics", required=True)
    ap.add_argument("-o", default=str(ROOT / "checkpoints" / "corrector-T0.6.safetensors"))
    a = ap.parse_args()
    state, meta = read_checkpoint(a.best)
    card = dict(meta["card"])
    card["data"] = {"files": "glassgen simulate recipes/proof-T0.6-train.yaml (seed 601): trajectories 0-10 train, "
                             "11 selection", "source": "glassgen's own LAMMPS MD", "licence": "as glassgen"}
    card["training"] = dict(card.get("training", {}), command="glassgen fit recipes/corrector-T0.6.yaml")
    card["metrics"] = json.loads(Path(a.metrics).read_text())
    sigma = float(max(meta["info"]["denoise"]["levels"]))
    defaults = {"sample": {"lag": sigma, "method": a.method, "ode_steps": a.ode_steps, "noise_scale": a.noise_scale}}
    write_checkpoint(a.o, state, meta["kind"], meta["config"], domain=meta["domain"], defaults=defaults, card=card,
                     info=meta["info"])
    print(f"wrote {a.o}")


if __name__ == "__main__":
    main()
