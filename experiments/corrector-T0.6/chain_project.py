"""The run.sh chains with the hard-core projection (`project`, 3 ε) after the learned corrector, through the
library (the command line has one --relax): 8 chains of 10 steps of lag 5 of flow-proof-T0.6-sig from the
validation MD's starts, its validated sampler and history settings, seed 0.

    python experiments/corrector-T0.6/chain_project.py RUNS CORRECTOR PASSES OUT.h5
    glassgen evaluate OUT_DIR RUNS/validation-T0.6 --long-time -o OUT_DIR/eval
"""
import glob
import sys

import numpy as np

from glassgen.chain.rollout import RolloutConfig, rollout
from glassgen.md.relax import RelaxConfig
from glassgen.sampling.corrector import Corrector
from glassgen.sampling.sample import _as_model, load_snapshot, step_function
from glassgen.sampling.solvers import SolverConfig
from glassgen.system.overlaps import project_overlaps


class CorrectThenProject(Corrector):
    def relax_batch(self, positions, seeds):
        y = super().relax_batch(positions, seeds)
        return np.stack([project_overlaps(yi, self.species, self.box, 3.0)[0] for yi in y])


def main():
    runs, corr, passes, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    snaps = [load_snapshot(p) for p in sorted(glob.glob(f"{runs}/validation-T0.6/traj_0*.h5"))]
    model = _as_model("flow-proof-T0.6-sig")
    sp, box = snaps[0].species, snaps[0].box
    step = step_function(model, sp, box, SolverConfig("heun", 8))
    rc = RelaxConfig(kind="learned", when="always", corrector=corr, passes=passes)
    cfg = RolloutConfig(steps=10, lag=5.0, n_trajectories=len(snaps), seed=0, max_resample=0, overlap_energy=20.0,
                        history="draw")
    with CorrectThenProject(rc, sp, box, model) as relax:
        rollout(step, snaps, cfg, out, progress=False, meta={"T": 0.6, "density": 1.2, **rc.meta()}, relax=relax)


if __name__ == "__main__":
    main()
