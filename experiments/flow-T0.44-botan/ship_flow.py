"""Write checkpoints/flow-T0.44-botan.safetensors from the last stage, recipes/flow-T0.44-botan.yaml.

    python experiments/flow-T0.44-botan/ship_flow.py ../runs/flow-T0.44-botan/best.safetensors --metrics FILE.json

The tensors and config are copied unchanged. Domain: the shared data's state point (the npz files carry no
temperature, so the training run recorded it as unknown). Defaults: the sampler the figures were measured with.
Card: data and weight provenance with their licences, the command, the run's hardware and wall time, and the
figures of --metrics (a JSON list of {"name", "value", "command"}), measured on configurations 9-10.
"""
import argparse
import json
from pathlib import Path

from glassgen.core.checkpoint import read_checkpoint, write_checkpoint
from glassgen.encoder.reference_weights import ATTRIBUTION

ROOT = Path(__file__).resolve().parents[2]
# The shipped generator is the last of four staged runs, each starting from the one before (train.init).
STAGES = ["glassgen fit recipes/flow-T0.44-botan-base.yaml -o ../runs/flow-T0.44-botan-base  (1500 steps, lr 2e-3)",
          "glassgen fit recipes/flow-T0.44-botan-cool.yaml -o ../runs/flow-T0.44-botan-cool  (1000 steps, lr 5e-4)",
          "glassgen fit recipes/flow-T0.44-botan-sharp.yaml -o ../runs/flow-T0.44-botan-sharp  (1000 steps, lr 5e-4, "
          "model.mobility_power 2)",
          "glassgen fit recipes/flow-T0.44-botan.yaml -o ../runs/flow-T0.44-botan  (1000 steps, lr 5e-4, "
          "model.energy_prior)"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("best")
    ap.add_argument("--metrics", required=True)
    ap.add_argument("-o", default=str(ROOT / "checkpoints" / "flow-T0.44-botan.safetensors"))
    a = ap.parse_args()
    state, meta = read_checkpoint(a.best)
    card = dict(meta["card"])
    card["data"] = {"files": "shared KA data, isoconfig_N4096T0.44_{1..7}_tc07.npz (train), _8_ (selection)",
                    "source": "Shiba et al., J. Chem. Phys. 158, 084503 (2023), BOTAN authors' MD",
                    "licence": "Apache-2.0"}
    card["encoder"] = ("checkpoints/botan-T0.44.safetensors, frozen (heads trained on the BOTAN authors' published "
                       "trunk, which it keeps unchanged). " + ATTRIBUTION)
    card["metrics"] = json.loads(Path(a.metrics).read_text())
    card["training"] = dict(card.get("training", {}), stages=STAGES)
    card["licence"] = "Apache-2.0 (contains weights derived from the BOTAN authors' Apache-2.0 weights; keep this notice)"
    domain = {"species": [0, 1], "fractions": [0.8, 0.2], "density": 1.2, "temperature": [0.44],
              "n_particles": [4096, 4096], "lag": [4120.0, 4120.0]}
    defaults = {"sample": {"lag": 4120.0, "method": "heun", "ode_steps": 8}}
    write_checkpoint(a.o, state, meta["kind"], meta["config"], domain=domain, defaults=defaults, card=card,
                     info=meta["info"])
    print(f"wrote {a.o}")


if __name__ == "__main__":
    main()
