"""Does BOTAN's mean prediction follow a configuration's overall mobility? Per shared configuration: the mean
propensity the shipped generator's encoder predicts for the A particles, beside MD's MSD_A over its 32 runs; then
log MSD_A fitted against log mean prediction on the training configurations 1-7 only.

    OMP_NUM_THREADS=2 python experiments/flow-T0.44-botan/config_mobility.py CKPT > config-mobility.log
"""
import sys

import numpy as np
import torch

from glassgen.flow.model import load_model
from glassgen.sampling.sample import load_snapshot

DATA = "../shared/data/botan_ka3d_T0.44/isoconfig_N4096T0.44_{}_tc07.npz"


def main(ckpt):
    m = load_model(ckpt)
    p_mean, msd = [], []
    for c in range(1, 11):
        s, z = load_snapshot(DATA.format(c)), np.load(DATA.format(c))
        g = m.graph(s.species, s.positions, s.box)
        with torch.no_grad():
            h, _ = m.encoder.encode({k: v.float() if v.is_floating_point() else v for k, v in g.items()})
            p = m.encoder.decode_nodes(h).reshape(-1).double().numpy()
        a = s.species == 0
        md = z["positions"] - z["initial_positions"][None]
        p_mean.append(p[a].mean())
        msd.append(np.mean(np.sum(md[:, a] ** 2, -1)))
        print(c, f"pred mean A {p_mean[-1]:.4f}  MD MSD_A {msd[-1]:.4f}  "
                 f"MD mean |dr_A| {np.mean(np.linalg.norm(md[:, a], axis=-1)):.4f}", flush=True)
    lp, lm = np.log(p_mean), np.log(msd)
    b, a = np.polyfit(lp[:7], lm[:7], 1)
    print(f"fit on 1-7: log MSD_A = {a:.2f} + {b:.1f} log p, r = {np.corrcoef(lp[:7], lm[:7])[0, 1]:.3f}; "
          + ", ".join(f"config {c}: fit {np.exp(a + b * lp[c - 1]):.3f}" for c in (8, 9, 10)))


if __name__ == "__main__":
    main(sys.argv[1])
