"""Train a flow model whose loss weighs the cage escapes more than their share: each particle's velocity error
is multiplied by w_i = 1 + beta when its data displacement is beyond k·sqrt(D)·s_i (s_i its prior scale, so the
threshold follows the lag and species), 1 otherwise; the pair term's error by (w_i + w_j) / 2. The weighted
loss's minimiser is the velocity of the data tilted by w (per particle), so a draw holds about (1 + beta) times
the data's escapes where the plain loss learns them: a test of whether the network can place escapes on the
right particles when asked for more of them. glassgen is patched from outside (paths.flow_loss); the tilt is
written to OUT/tilt.json beside the fit.

    python experiments/chain-misses/tilted_fit.py RECIPE --beta 2 --k 1.7 [--max-minutes M] [--resume]
"""
import argparse
import json
from pathlib import Path

from glassgen.flow import paths, train
from glassgen.flow.recipe import load_recipe


def tilted_loss(beta: float, k: float):
    """paths.flow_loss with the escape weights (the same draws in the same order as the plain loss)."""
    def flow_loss(kind, velocity_fn, x1, scale, generator=None, mass=None, pairs=None, pair_weight=0.0):
        b, n, d = x1.shape
        x1 = paths.remove_com(x1, mass)
        x0 = paths.draw_prior(scale, x1.shape, generator, mass)
        t, tn = paths.sample_time(b, n, generator, x1.device, x1.dtype)
        a, s, da, ds = paths.schedule(kind, tn)
        err = velocity_fn(t, a * x1 + s * x0) - (da * x1 + ds * x0)
        w = 1.0 + beta * (x1.norm(dim=-1, keepdim=True) > k * d ** 0.5 * scale).to(x1.dtype)   # (B,N,1)
        loss = (w * (err / scale).pow(2)).mean()
        if pairs is not None and pair_weight > 0:
            i, j = pairs
            rel = (err[:, j] - err[:, i]) / (scale[:, i].pow(2) + scale[:, j].pow(2)).sqrt()
            loss = loss + pair_weight * (0.5 * (w[:, i] + w[:, j]) * rel.pow(2)).mean()
        return loss
    return flow_loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("recipe"), ap.add_argument("--beta", type=float, required=True)
    ap.add_argument("--k", type=float, required=True), ap.add_argument("--max-minutes", type=float)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    out = Path(load_recipe(a.recipe).out)
    out.mkdir(parents=True, exist_ok=True)
    tilt = {"beta": a.beta, "k": a.k}
    if a.resume and json.loads((out / "tilt.json").read_text()) != tilt:
        raise SystemExit(f"{out / 'tilt.json'}: the run was started with another tilt")
    (out / "tilt.json").write_text(json.dumps(tilt) + "\n")
    paths.flow_loss = tilted_loss(a.beta, a.k)     # train.step_loss reads it through the module
    print(train.fit(a.recipe, resume=a.resume, max_minutes=a.max_minutes))


if __name__ == "__main__":
    main()
