"""Write the shared BOTAN iso-configurational data as glassgen H5MD ensembles for ``glassgen evaluate``.

    python benchmarks/botan_h5.py [--data ../shared/data/botan_ka3d_T0.44] [--out /work/runs]

Creates, one file per configuration (configNN.h5, t = 4120 LJ τ, the GlassBench time of tc07):

- ``botan_h5/``     all 32 runs;
- ``botan_halfA/``, ``botan_halfB/``  runs 0–15 and 16–31 (an MD-vs-MD self-test);
- ``botan_gauss/``  the data README's straw man: each particle's displacement drawn from an
  isotropic Gaussian scaled to its true MD propensity (E|Δr| = 2σ√(2/π)), 32 runs, seed 0.

Data: Shiba et al., J. Chem. Phys. 158, 084503 (2023), Apache-2.0 (see the data README).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glassgen.system.data import Ensemble  # noqa: E402
from glassgen.io.h5md import write_ensemble  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"
BOX = (4096 / 1.2) ** (1 / 3)
TIME = 4120.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=Path("/work/runs"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = sorted(args.data.glob("isoconfig_*_tc07.npz"))
    if not files:
        sys.exit(f"error: {args.data}: no isoconfig_*_tc07.npz files")
    rng = np.random.default_rng(args.seed)
    for sub in ("botan_h5", "botan_halfA", "botan_halfB", "botan_gauss"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    for f in files:
        d = np.load(f)
        name = f"config{int(f.stem.split('_')[2]):02d}.h5"
        meta = {"T": 0.44, "density": 1.2, "origin": f.name, "time_note": "tc07; t = 4120 per GlassBench"}
        x0, x = d["initial_positions"], d["positions"][:, None]  # (32, 1, N, 3)
        kw = dict(species=d["types"], box=[BOX] * 3, initial=x0, times=[TIME])
        write_ensemble(args.out / "botan_h5" / name, Ensemble(positions=x, meta=meta, **kw))
        write_ensemble(args.out / "botan_halfA" / name, Ensemble(positions=x[:16], meta=meta, **kw))
        write_ensemble(args.out / "botan_halfB" / name, Ensemble(positions=x[16:], meta=meta, **kw))
        sig = np.linalg.norm(x - x0, axis=-1).mean(0) / (2 * np.sqrt(2 / np.pi))  # (1, N)
        fake = x0 + rng.normal(size=x.shape) * sig[..., None]
        write_ensemble(args.out / "botan_gauss" / name, Ensemble(positions=fake, meta=dict(meta, fake="gaussian-with-true-propensity"), **kw))
        print(f"{f.name} -> {name}")


if __name__ == "__main__":
    main()
