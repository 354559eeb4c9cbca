"""Where does a chain lose the pull-back between its steps? Two chain steps from MD frames at t0 = k·lag, the first
given MD's own previous step, the second given the first's relaxed step (what `--history chain` feeds back), each
drawn and then relaxed as the chain does. Per species: the sizes of the draws d and relaxation moves r, and the step
correlations between them, against MD's two steps from the same frames (c = ⟨a·b⟩ / ⟨a²⟩, a the earlier one).

    python experiments/chain-misses/two_step.py CHECKPOINT MD_DIR K1 K2 ... [--noise-scale C] [--relax-time T]

The checkpoint's rollout defaults give the lag, sampler, history guidance, noise scale and relaxation (kind,
temperature, iterations); --noise-scale and --relax-time override them. One start per MD trajectory and origin.
"""
import argparse

import numpy as np

from glassgen.md.relax import RelaxConfig, Relaxer
from true_history import draw, frame, setup  # this folder's script: one draw, a frame at time t, the set-up


def corr(a, b, mask):
    return float((a[:, mask] * b[:, mask]).sum(-1).mean() / (a[:, mask] ** 2).sum(-1).mean())


def size(a, mask):
    return float((a[:, mask] ** 2).sum(-1).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt"), ap.add_argument("md_dir")
    ap.add_argument("origins", type=int, nargs="+", help="origin indices k (t0 = k·lag, k >= 1)")
    ap.add_argument("--noise-scale"), ap.add_argument("--relax-time", type=float)
    a = ap.parse_args()
    ro, lag, scale, model, solver, md = setup(a.ckpt, a.md_dir, a.noise_scale)
    sp, box = md[0].species, md[0].box
    rt = a.relax_time if a.relax_time is not None else float(ro["relax_time"])
    relax = Relaxer(RelaxConfig(kind=ro["relax"], when="always", temperature=float(ro["relax_temperature"]), time=rt,
                                max_iterations=int(ro["relax_iterations"])), sp, box)
    rec = {k: [] for k in ("h0", "d1", "r1", "d2", "r2", "m1", "m2")}

    with relax:
        for k in a.origins:
            for j, tr in enumerate(md):
                x0 = frame(tr, k * lag)
                h0 = x0 - frame(tr, (k - 1) * lag)
                d1 = draw(model, solver, ro, scale, tr, x0, lag, h0, 7 + j)
                x1 = relax.relax(x0 + d1, seed=j)
                d2 = draw(model, solver, ro, scale, tr, x1, lag, x1 - x0, 107 + j)
                x2 = relax.relax(x1 + d2, seed=100 + j)
                m1, m2 = frame(tr, (k + 1) * lag) - x0, frame(tr, (k + 2) * lag) - frame(tr, (k + 1) * lag)
                for key, v in zip(rec, (h0, d1, x1 - x0 - d1, d2, x2 - x1 - d2, m1, m2)):
                    rec[key].append(v)
    r = {k: np.stack(v) for k, v in rec.items()}
    s1, s2 = r["d1"] + r["r1"], r["d2"] + r["r2"]
    print(f"{a.ckpt}: lag {lag:g}, noise scale {scale}, {ro['relax']} ({rt:g} LJ), {len(r['d1'])} starts")
    print("| species | ⟨d1²⟩ | ⟨r1²⟩ | c(d1, r1) | ⟨s1²⟩ = ⟨(d1+r1)²⟩ | c(h0, s1) | c(s1, d2) | c(s1, r2) | c(s1, s2) "
          "| MD: ⟨m1²⟩ | c(h0, m1) | c(m1, m2) |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s, name in ((0, "A"), (1, "B")):
        m = sp == s
        print(f"| {name} | {size(r['d1'], m):.4f} | {size(r['r1'], m):.4f} | {corr(r['d1'], r['r1'], m):+.3f} | "
              f"{size(s1, m):.4f} | {corr(r['h0'], s1, m):+.3f} | {corr(s1, r['d2'], m):+.3f} | "
              f"{corr(s1, r['r2'], m):+.3f} | {corr(s1, s2, m):+.3f} | {size(r['m1'], m):.4f} | "
              f"{corr(r['h0'], r['m1'], m):+.3f} | {corr(r['m1'], r['m2'], m):+.3f} |")


if __name__ == "__main__":
    main()
