"""The T = 0.6 chain with the learned corrector followed by torch `refine` after every draw (no LAMMPS), through
the library: the command line takes one --relax. flow-proof-T0.6-sig with its validated sampler (heun x 8) and
history (draw), 16 chains of STEPS steps of lag 5 from the starts of the reference MD MD_DIR, rollout seed SEED.

    python experiments/lammps-free-chain/chain_learned_refine.py MD_DIR STEPS SEED CORRECTOR PASSES \
        FIRE_STEPS BROWNIAN_TIME OUT.h5
    glassgen evaluate OUT_DIR MD_DIR --long-time -o OUT_DIR/eval
"""
import glob
import sys

from glassgen.chain.rollout import RolloutConfig, rollout
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.sampling.corrector import Corrector
from glassgen.sampling.sample import _as_model, load_snapshot, step_function
from glassgen.sampling.solvers import SolverConfig


class CorrectThenRefine(Corrector):
    """The corrector's passes, then FIRE and Brownian dynamics on the KA potential (glassgen.md.refine)."""

    def __init__(self, cfg, refine: RelaxConfig, species, box, propagator):
        super().__init__(cfg, species, box, propagator)
        self.refiner = Relaxer(refine, species, box)

    def relax_batch(self, positions, seeds):
        y = super().relax_batch(positions, seeds)
        out = self.refiner.relax_batch(y, seeds)
        self.columns = self.refiner.columns
        return out


def main():
    md, steps, seed, corr, passes, fire, bd, out = sys.argv[1:9]
    snaps = [load_snapshot(p) for p in sorted(glob.glob(f"{md}/traj_0*.h5"))]
    model = _as_model("flow-proof-T0.6-sig")
    sp, box = snaps[0].species, snaps[0].box
    step = step_function(model, sp, box, SolverConfig("heun", 8))
    learned = RelaxConfig(kind="learned", when="always", corrector=corr, passes=int(passes))
    refine = RelaxConfig(kind="refine", when="always", max_iterations=int(fire), time=float(bd), temperature=0.6)
    cfg = RolloutConfig(steps=int(steps), lag=5.0, n_trajectories=len(snaps), seed=int(seed), max_resample=0,
                        overlap_energy=20.0, history="draw")
    meta = {"T": 0.6, "density": 1.2, **learned.meta(), "refine": str(refine.meta())}
    with CorrectThenRefine(learned, refine, sp, box, model) as relax:
        rollout(step, snaps, cfg, out, resume=True, progress=True, meta=meta, relax=relax)


if __name__ == "__main__":
    main()
