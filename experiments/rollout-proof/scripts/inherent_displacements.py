"""Mean squared displacement between inherent structures, one model draw of lag 5 against MD (experiments/rollout-proof/record.md,
"Species B and chemical order"): from the first frame of reference trajectories 0-5 at T = 0.6, CG minimisation of
x(0), of MD's x(5) and of x(0) + one draw; also the fraction of particles whose IS moved more than 0.3 σ.
Arguments scale the prior noise of the draw (1.0 = the model as trained).

    OMP_NUM_THREADS=1 python experiments/rollout-proof/scripts/inherent_displacements.py 1.0
"""
import sys, numpy as np
from glassgen import read_trajectory
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.flow import paths
from glassgen.sampling import sample as S
from glassgen.flow.model import load_model
from glassgen.system.data import Snapshot
from glassgen.system.pbc import fold
m = load_model("runs/flow-proof-T0.6-hist/best.safetensors")
orig = paths.draw_prior
res = {}
add = lambda k, v: res.setdefault(k, []).append(v)
for f in range(6):
    t = read_trajectory(f"runs/proof-T0.6-test/traj_{f:03d}.h5")
    i = list(np.round(t.times, 6)).index(5.0)
    x0 = fold(t.positions[0], t.box)[0]; x5 = x0 + t.positions[i] - t.positions[0]; sp = t.species
    ms = lambda d: np.array([np.mean(np.sum(d[sp == s] ** 2, -1)) for s in (0, 1)])
    hop = lambda d: np.array([np.mean(np.sum(d[sp == s] ** 2, -1) > 0.3**2) for s in (0, 1)])
    with Relaxer(RelaxConfig(kind="minimize", when="always"), sp, t.box) as r:
        is0 = r.relax(x0); is5 = r.relax(x5)
        add("MD IS-IS msd", ms(is5 - is0)); add("MD IS-IS frac>0.3", hop(is5 - is0))
        for gam in map(float, sys.argv[1:]):
            S.paths.draw_prior = lambda sc, shape, gen, g=gam: orig(sc, shape, gen) * g
            d, _ = S.sample(m, Snapshot(sp, t.box, x0), 5.0, 1, method="heun", ode_steps=8, seed=f)
            is1 = r.relax(x0 + d[0])
            add(f"g{gam} IS-IS msd", ms(is1 - is0)); add(f"g{gam} IS-IS frac>0.3", hop(is1 - is0))
for k, v in res.items():
    a = np.mean(v, 0); print(f"{k:22s} A {a[0]:.4f} B {a[1]:.4f} B/A {a[1]/a[0]:.2f}", flush=True)
