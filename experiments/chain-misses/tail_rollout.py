"""``glassgen`` with the flow prior's noise replaced by a two-point scale mixture (tail_prior.py's): the noise of a
random share p of the particles is multiplied by k, in every draw of a rollout (batched or not), on top of the
noise scale. For chains only. In a batched draw (several trajectories) the mixture's own numbers come from one
generator seeded with TAIL_SEED, so a resumed run is not bit-identical to an uninterrupted one; a single draw
takes them from its own generator (tail_prior.py's mixture_prior).

    TAIL=P:K [TAIL_SEED=0] python experiments/chain-misses/tail_rollout.py rollout CKPT ...   (glassgen's arguments)
"""
import os
import sys
import types

import torch

from glassgen.cli.app import main
from glassgen.flow import paths
from glassgen.sampling import batch, sample
from tail_prior import mixture_prior  # this folder's script: the single draw's mixture, from the draw's generator


def patch(p: float, k: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)

    def remove_com(x, mass=None):  # batch.py's prior draw ends in remove_com(scale * z); nothing else there calls it
        u = torch.rand(x.shape[:-1] + (1,), generator=gen).to(x)
        return paths.remove_com(x * torch.where(u < p, k, 1.0), mass)

    batch.paths = types.SimpleNamespace(**{**vars(paths), "remove_com": remove_com})
    sample.paths = types.SimpleNamespace(**{**vars(paths), "draw_prior": mixture_prior(p, k)})


if __name__ == "__main__":
    p, k = (float(v) for v in os.environ["TAIL"].split(":"))
    patch(p, k, int(os.environ.get("TAIL_SEED", "0")))
    sys.argv[0] = "glassgen"
    sys.exit(main())
