"""How far does one draw move a configuration between basins? From MD frames at t0 = k·lag, one draw given MD's
own previous step; the inherent structures (refine's L-BFGS to 0.01 ε/σ) of the frame, of frame + draw, and of
MD's next frame. Per species: ⟨|IS(x0 + d) − IS(x0)|²⟩ against MD's ⟨|IS(x1) − IS(x0)|²⟩, the raw draw's ⟨d²⟩
against MD's, and the share of particles whose basin position moves beyond R.

    python experiments/chain-misses/draw_basin.py CHECKPOINT MD_DIR R K1 K2 ... [--noise-scale C]
"""
import argparse

import numpy as np
import torch

from glassgen.md.refine import refine
from true_history import draw, frame, setup  # this folder's script: one draw, a frame at time t, the set-up


def main():
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt"), ap.add_argument("md_dir"), ap.add_argument("r_cut", type=float)
    ap.add_argument("origins", type=int, nargs="+"), ap.add_argument("--noise-scale")
    a = ap.parse_args()
    ro, lag, scale, model, solver, md = setup(a.ckpt, a.md_dir, a.noise_scale)
    sp, box = md[0].species, md[0].box
    x0s, draws, x1s = [], [], []
    for k in a.origins:
        for j, tr in enumerate(md):
            x0 = frame(tr, k * lag)
            d = draw(model, solver, ro, scale, tr, x0, lag, x0 - frame(tr, (k - 1) * lag), 7 + j)
            x0s.append(x0), draws.append(d), x1s.append(frame(tr, (k + 1) * lag))
    x0s, draws, x1s = np.stack(x0s), np.stack(draws), np.stack(x1s)
    m = len(x0s)
    inh, _ = refine(np.concatenate([x0s, x0s + draws, x1s]), sp, box, [0] * (3 * m), min_steps=5000, fmax=0.01)
    inh = np.asarray(inh)
    is0, is_draw, is_md = inh[:m], inh[m:2 * m], inh[2 * m:]
    print(f"{a.ckpt}: lag {lag:g}, noise scale {scale}, {m} draws")
    print("| species | raw draw ⟨d²⟩ | MD ⟨d²⟩ | draw: basin ⟨Δ²⟩ | MD: basin ⟨Δ²⟩ | draw: basin beyond R | MD: basin beyond R |"
          "\n|---|---|---|---|---|---|---|")
    for s, name in ((0, "A"), (1, "B")):
        mask = sp == s
        sq = {key: (v[:, mask] ** 2).sum(-1) for key, v in
              (("d", draws), ("m", x1s - x0s), ("bd", is_draw - is0), ("bm", is_md - is0))}
        r2 = a.r_cut ** 2
        print(f"| {name} | {sq['d'].mean():.4f} | {sq['m'].mean():.4f} | {sq['bd'].mean():.4f} | "
              f"{sq['bm'].mean():.4f} | {(sq['bd'] > r2).mean():.3f} | {(sq['bm'] > r2).mean():.3f} |")


if __name__ == "__main__":
    main()
