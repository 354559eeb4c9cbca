"""Copy a shipped chain checkpoint's validated rollout/sample defaults onto a candidate, so both chain alike.

    python experiments/botan-chain-T0.6/with_defaults.py CANDIDATE.safetensors SHIPPED_NAME -o OUT.safetensors

Weights, config, domain, card and info of CANDIDATE are copied unchanged; only ``defaults`` comes from SHIPPED.
"""
import argparse

from glassgen.core.checkpoint import read_checkpoint, read_metadata, resolve, write_checkpoint


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("candidate")
    ap.add_argument("shipped")
    ap.add_argument("-o", required=True)
    a = ap.parse_args()
    state, meta = read_checkpoint(a.candidate)
    defaults = read_metadata(resolve(a.shipped))["defaults"]
    write_checkpoint(a.o, state, meta["kind"], meta["config"], domain=meta["domain"], defaults=defaults,
                     card=meta["card"], info=meta["info"])
    print(f"wrote {a.o} with the defaults of {a.shipped}: {defaults}")


if __name__ == "__main__":
    main()
