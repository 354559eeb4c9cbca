"""How true MD moves from the states a chain visits (experiments/rollout-proof/record.md, "On-chain branches").

For every branch file (``glassgen branch``): E_pot/N of the chain state x_k and of MD lag later, the MD branch's
MSD per species over the lag, and the chain's own step into x_k; against the same quantities along equilibrium
MD trajectories (pairs lag apart, origins every lag from --skip on). Rows are bands of the chain step k.

    python experiments/rollout-proof/scripts/branch_stats.py runs/branches-T0.5-it1 --md runs/proof-T0.5-train --lag 50 --control 2

--control C: the same branch protocol from C equilibrium MD frames per trajectory (t0 = --skip, --skip + 4 lag, ...),
each first given the chain's correction (minimise, then --relax-time of Langevin at T): does the protocol itself,
not the chain's states, make MD fast?
--models CK [CK ...]: one draw of lag (heun x 8, --guidance) per model from every --stride-th chain state (its chain
history and window) and from C equilibrium MD frames per trajectory (MD's history): does the model move a chain
state differently from an equilibrium one, as MD does?
"""
import argparse
import glob
from collections import defaultdict

import numpy as np

from glassgen import read_trajectory
from glassgen.system.ka import mean_energy
from glassgen.stats.dynamics import msd_samples as msd


ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("branches")
ap.add_argument("--md", required=True, help="folder of equilibrium MD trajectories (traj_*.h5)")
ap.add_argument("--lag", type=float, required=True)
ap.add_argument("--skip", type=float, default=200.0, help="first MD origin time")
ap.add_argument("--control", type=int, default=0, help="control branches per MD trajectory")
ap.add_argument("--T", type=float, default=0.5)
ap.add_argument("--relax-time", type=float, default=0.5)
ap.add_argument("--models", nargs="*", default=[])
ap.add_argument("--stride", type=int, default=13)
ap.add_argument("--guidance", type=float, default=1.5)
ap.add_argument("--bands", type=int, nargs="+", default=[3, 10, 19, 29], help="edges of chain-step bands")
a = ap.parse_args()

branches = [read_trajectory(f) for f in sorted(glob.glob(f"{a.branches}/*.h5"))]
mds = [read_trajectory(f) for f in sorted(glob.glob(f"{a.md}/traj_*.h5"))]
rows = defaultdict(list)
for b in branches:
    x_prev, x_k, x_md = b.positions[-3], b.positions[-2], b.positions[-1]
    A = b.species == 0
    band = int(np.searchsorted(a.bands, int(b.meta["chain_step"]), side="right")) - 1
    rows[band].append([mean_energy(x_k, b.species, b.box), mean_energy(x_md, b.species, b.box),
                       msd(x_md - x_k, A), msd(x_md - x_k, ~A), msd(x_k - x_prev, A), msd(x_k - x_prev, ~A)])
md = []
for t in mds:
    A = t.species == 0
    for t0 in np.arange(a.skip, t.times[-1] - a.lag + 1e-9, a.lag):
        i, j = np.searchsorted(t.times, [t0 - 1e-6, t0 + a.lag - 1e-6])
        if abs(t.times[j] - t.times[i] - a.lag) > 1e-6:
            continue
        d = t.positions[j] - t.positions[i]
        md.append([mean_energy(t.positions[i], t.species, t.box), msd(d, A), msd(d, ~A)])
md = np.array(md)
print(f"equilibrium MD ({len(md)} pairs): E_pot/N {md[:, 0].mean():.4f} ± {md[:, 0].std(ddof=1) / np.sqrt(len(md)):.4f}, "
      f"MSD_A({a.lag:g}) {md[:, 1].mean():.4f}, MSD_B {md[:, 2].mean():.4f}")
print("| chain steps | branches | E_pot/N of x_k − MD | E_pot/N after MD − MD | MSD_A of the MD branch / MD | "
      "MSD_B / MD | MSD_A of the chain's step / MD | MSD_B / MD |")
print("|---|---|---|---|---|---|---|---|")
for band in sorted(rows) + [None]:
    r = np.array([x for v in rows.values() for x in v]) if band is None else np.array(rows[band])
    name = "all" if band is None else f"{a.bands[band]}–{a.bands[band + 1] - 1}"
    print(f"| {name} | {len(r)} | {r[:, 0].mean() - md[:, 0].mean():+.4f} | {r[:, 1].mean() - md[:, 0].mean():+.4f} | "
          f"{r[:, 2].mean() / md[:, 1].mean():.2f} | {r[:, 3].mean() / md[:, 2].mean():.2f} | "
          f"{r[:, 4].mean() / md[:, 1].mean():.2f} | {r[:, 5].mean() / md[:, 2].mean():.2f} |")

if a.control:
    from glassgen.md.relax import RelaxConfig, Relaxer

    t = mds[0]
    quench = Relaxer(RelaxConfig(kind="quench", when="always", temperature=a.T, time=a.relax_time), t.species, t.box)
    branch = Relaxer(RelaxConfig(kind="nvt", when="always", temperature=a.T, time=a.lag, damp=2.0, max_displacement=1.0),
                     t.species, t.box)
    c = []
    for n, t in enumerate(mds):
        A = t.species == 0
        for m in range(a.control):
            i = int(np.searchsorted(t.times, a.skip + 4 * m * a.lag - 1e-6))
            x0 = quench.relax(t.positions[i], 1000 * n + m)
            x1 = branch.relax(x0, 1000 * n + m + 500)
            c.append([mean_energy(x0, t.species, t.box), mean_energy(x1, t.species, t.box), msd(x1 - x0, A), msd(x1 - x0, ~A)])
    c = np.array(c)
    print(f"| control: MD frames + the chain's correction | {len(c)} | {c[:, 0].mean() - md[:, 0].mean():+.4f} | "
          f"{c[:, 1].mean() - md[:, 0].mean():+.4f} | {c[:, 2].mean() / md[:, 1].mean():.2f} | "
          f"{c[:, 3].mean() / md[:, 2].mean():.2f} | | |")

if a.models:
    from glassgen.flow.model import load_model
    from glassgen.sampling.sample import step_function
    from glassgen.system.pbc import fold

    chain = branches[::a.stride]
    eq = []
    for t in mds:
        for m in range(max(a.control, 1)):
            t0 = a.skip + 4 * m * a.lag
            at = [int(np.searchsorted(t.times, v - 1e-6)) for v in (t0 - 3 * a.lag, t0 - a.lag, t0)]
            eq.append((t, t.positions[at[2]], t.positions[at[2]] - t.positions[at[1]], t.positions[at[2]] - t.positions[at[0]]))
    print(f"| model | MSD_A / MD from {len(chain)} chain states | MSD_B / MD | MSD_A / MD from {len(eq)} MD frames | MSD_B / MD |")
    print("|---|---|---|---|---|")
    for ck in a.models:
        # one system throughout (branch_stats reads one state point), so one step function per model
        fn = step_function(load_model(ck), mds[0].species, mds[0].box, history_guidance=a.guidance)
        r = []
        for items in ([(b, b.positions[-2], b.positions[-2] - b.positions[-3], b.positions[-2] - b.positions[0])
                       for b in chain], eq):
            d = np.array([[msd(dd, t.species == 0), msd(dd, t.species == 1)]
                          for n, (t, x, pv, w) in enumerate(items)
                          for dd in [fn(fold(x, t.box)[0][None], a.lag, [n], pv[None], w[None])[0]]])
            r += [d[:, 0].mean() / md[:, 1].mean(), d[:, 1].mean() / md[:, 2].mean()]
        print(f"| {ck} | " + " | ".join(f"{v:.2f}" for v in r) + " |")
