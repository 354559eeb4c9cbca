"""How MD's own mobility depends on the start's energy: for every origin t0 = k·LAG of every trajectory, the start's
E_pot/N and MSD_A over the next LAG; the slope of ln MSD_A against E_pot/N (least squares) and its correlation.

    python experiments/chain-misses/md_energy_mobility.py MD_DIR LAG
"""
import glob
import sys

import numpy as np

from glassgen.io.h5md import read_trajectory
from glassgen.system.ka import mean_energy


def origins(tr, lag):
    for t0 in np.arange(0.0, tr.times[-1] - lag + 1e-9, lag):
        a, b = tr.index_at(t0), tr.index_at(t0 + lag)
        yield tr.positions[a], tr.positions[b] - tr.positions[a]


def main():
    md_dir, lag = sys.argv[1], float(sys.argv[2])
    energy, msd = [], []
    for p in sorted(glob.glob(md_dir + "/traj_0*.h5")):
        tr = read_trajectory(p)
        a = tr.species == 0
        for x, d in origins(tr, lag):
            energy.append(mean_energy(x, tr.species, tr.box))
            msd.append((d[a] ** 2).sum(-1).mean())
    energy, log_msd = np.array(energy), np.log(msd)
    slope = np.polyfit(energy - energy.mean(), log_msd, 1)[0]
    print(f"{len(energy)} origins: E_pot/N {energy.mean():.4f} ± {energy.std():.4f}; MSD_A({lag:g}) "
          f"{np.mean(msd):.4f}; d ln MSD_A / d(E_pot/N) = {slope:.2f} per ε (r = {np.corrcoef(energy, log_msd)[0, 1]:.2f})")


if __name__ == "__main__":
    main()
