"""Which stage of the torch `refine` costs it rows against the LAMMPS quench at T = 0.5: the T = 0.5 chain
(flow-proof-T0.5-mem, heun x 8, history chain, guidance 1.5, 28 steps of lag 50, 16 chains from MD_DIR's starts)
with every draw relaxed by STAGE1 then STAGE2 of the two relaxations, mixed:
  STAGE1: cg (LAMMPS minimize, 200 iterations) or fire (torch FIRE, at most 200 steps, to 1 eps/sigma)
  STAGE2: langevin (LAMMPS nvt, 0.5 LJ) or brownian (torch overdamped Langevin, 0.5 LJ)
cg + langevin is the quench, fire + brownian is refine.

    python experiments/lammps-free-chain/chain_two_stage.py MD_DIR SEED STAGE1 STAGE2 OUT.h5
    glassgen evaluate OUT_DIR MD_DIR --long-time -o OUT_DIR/eval
"""
import glob
import sys

from glassgen.chain.rollout import RolloutConfig, rollout
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.sampling.sample import _as_model, load_snapshot, step_function
from glassgen.sampling.solvers import SolverConfig

T, LAG, STEPS, TIME = 0.5, 50.0, 28, 0.5
STAGES = {"cg": dict(kind="minimize"), "fire": dict(kind="refine", time=0.0),
          "langevin": dict(kind="nvt", time=TIME, temperature=T),
          "brownian": dict(kind="refine", max_iterations=0, time=TIME, temperature=T)}


class TwoStage:
    """Relaxer-like: the first relaxer's result goes to the second, one configuration at a time."""

    batched = False

    def __init__(self, first: RelaxConfig, second: RelaxConfig, species, box):
        self.cfg = second
        self.stages = [Relaxer(first, species, box), Relaxer(second, species, box)]
        self.report = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for r in self.stages:
            r.close()

    def wants(self, overlap: bool) -> bool:
        return True

    def relax(self, positions, seed):
        for r in self.stages:
            positions = r.relax(positions, seed)
        return positions


def main():
    md, seed, s1, s2, out = sys.argv[1:6]
    snaps = [load_snapshot(p) for p in sorted(glob.glob(f"{md}/traj_0*.h5"))]
    model = _as_model("flow-proof-T0.5-mem")
    sp, box = snaps[0].species, snaps[0].box
    step = step_function(model, sp, box, SolverConfig("heun", 8), history_guidance=1.5)
    first, second = (RelaxConfig(when="always", **STAGES[s]) for s in (s1, s2))
    cfg = RolloutConfig(steps=STEPS, lag=LAG, n_trajectories=len(snaps), seed=int(seed), max_resample=0,
                        history="chain")
    with TwoStage(first, second, sp, box) as relax:
        rollout(step, snaps, cfg, out, resume=True, progress=True, meta={"T": T, "density": 1.2, "stages": f"{s1}+{s2}"},
                relax=relax)


if __name__ == "__main__":
    main()
