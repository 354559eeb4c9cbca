"""Does a model pull an escaped particle back? One raw draw (no relaxation) from MD frames at origins t0 = k·lag,
given MD's own previous step as the history, against MD's next step from the same frames. Per species: the one-step
MSD, the share beyond R, and the step correlation c₁ = ⟨d_prev·d_next⟩ / ⟨d_prev²⟩ (the memory step_corr.py
measures in a chain), over all particles and over those whose previous step went beyond R (an escape). With
--relax KIND, also the step after that relaxation (Relaxer, --relax-time, --relax-iterations, T = 0.6 unless
--relax-temperature), as a chain would take it. With --relax-input the relaxation is applied instead to the frame
the model reads (a chain's input is always a relaxed configuration): the draw starts from relax(x0), its history is
relax(x0) - x(t0 - lag), and the draw's c₁ is taken against that history; the MD rows stay MD's own steps.

    python experiments/chain-misses/pullback.py CHECKPOINT MD_DIR R K1 K2 ... [--noise-scale C] [--lag L]
        [--relax KIND [--relax-time T] [--relax-iterations I] [--relax-input]]
"""
import argparse

import numpy as np

from glassgen.md.relax import RelaxConfig, Relaxer
from true_history import draw, frame, setup  # this folder's script: one draw, a frame at time t, the set-up


def table_row(name, prev, nxt, mask, r_cut):
    p, n = prev[:, mask], nxt[:, mask]
    far = np.linalg.norm(p, axis=-1) > r_cut
    dot, p2 = (p * n).sum(-1), (p * p).sum(-1)
    return (f"| {name} | {(n * n).sum(-1).mean():.4f} | {(np.linalg.norm(n, axis=-1) > r_cut).mean():.3f} | "
            f"{dot.mean() / p2.mean():+.3f} | {dot[far].mean() / p2[far].mean():+.3f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt"), ap.add_argument("md_dir"), ap.add_argument("r_cut", type=float)
    ap.add_argument("origins", type=int, nargs="+", help="origin indices k (t0 = k·lag, k >= 1)")
    ap.add_argument("--noise-scale"), ap.add_argument("--lag", type=float), ap.add_argument("--relax")
    ap.add_argument("--relax-time", type=float, default=2.0), ap.add_argument("--relax-iterations", type=int, default=200)
    ap.add_argument("--relax-temperature", type=float, default=0.6), ap.add_argument("--relax-input", action="store_true")
    a = ap.parse_args()
    ro, lag, scale, model, solver, md = setup(a.ckpt, a.md_dir, a.noise_scale)
    lag = a.lag or lag
    sp = md[0].species
    starts, prev, md_prev, draws, nxt = [], [], [], [], []
    relax = a.relax and Relaxer(RelaxConfig(kind=a.relax, when="always", temperature=a.relax_temperature,
                                            time=a.relax_time, max_iterations=a.relax_iterations), sp, md[0].box)
    if a.relax_input and not relax:
        ap.error("--relax-input needs --relax KIND")
    for k in a.origins:
        for j, tr in enumerate(md):
            x_md, before = frame(tr, k * lag), frame(tr, (k - 1) * lag)
            x0 = relax.relax(x_md, seed=1000 * k + j) if a.relax_input else x_md
            d = draw(model, solver, ro, scale, tr, x0, lag, x0 - before, 7 + j)
            starts.append(x0), prev.append(x0 - before), draws.append(d)
            md_prev.append(x_md - before), nxt.append(frame(tr, (k + 1) * lag) - x_md)
    if a.relax_input:
        relax.close()
    prev, md_prev, draws, nxt = np.stack(prev), np.stack(md_prev), np.stack(draws), np.stack(nxt)
    relaxed = None
    if relax and not a.relax_input:
        with relax:
            relaxed = np.stack([relax.relax(x0 + d, seed=i) - x0 for i, (x0, d) in enumerate(zip(starts, draws))])
    print(f"{a.ckpt}, lag {lag:g}, noise scale {scale}, {len(prev)} draws"
          + (f", from frames relaxed by {a.relax} ({a.relax_time:g} LJ)" if a.relax_input else ""))
    print("| next step | ⟨d²⟩ | share beyond R | c₁ | c₁ after an escape |\n|---|---|---|---|---|")
    for s, name in ((0, "A"), (1, "B")):
        print(table_row(f"MD, {name}", md_prev, nxt, sp == s, a.r_cut))
        print(table_row(f"raw draw, {name}", prev, draws, sp == s, a.r_cut))
        if relaxed is not None:
            print(table_row(f"after {a.relax} ({a.relax_time:g} LJ), {name}", prev, relaxed, sp == s, a.r_cut))


if __name__ == "__main__":
    main()
