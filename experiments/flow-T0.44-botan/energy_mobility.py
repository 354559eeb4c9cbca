"""Does a configuration's potential energy predict its mobility? (issue #27; shared KA data, T = 0.44, N = 4096)

For configurations 1-8: the snapshot's potential energy per particle (glassgen's KA potential) and its inherent-structure
energy (LAMMPS conjugate-gradient minimisation), against MD's MSD_A at the lag (mean over the 32 runs). Fits
log MSD_A = a + b e on the training configurations 1-7 and predicts configuration 8 (selection). 9-10 are not read.

    OMP_NUM_THREADS=1 python experiments/flow-T0.44-botan/energy_mobility.py > experiments/flow-T0.44-botan/energy-mobility.log
"""
import tempfile
from pathlib import Path

import numpy as np

from glassgen.md.lammps_engine import load_lammps, pair_commands
from glassgen.system.ka import mean_energy

DATA = Path(__file__).resolve().parents[3] / "shared/data/botan_ka3d_T0.44"
L = 15.05658


def inherent_energy(x, types, folder):
    path = Path(folder) / "c.data"
    with open(path, "w") as f:
        f.write(f"snapshot\n\n{len(x)} atoms\n2 atom types\n" + "".join(f"0 {L} {a}lo {a}hi\n" for a in "xyz"))
        f.write("\nMasses\n\n1 1\n2 1\n\nAtoms # atomic\n\n")
        f.writelines(f"{i + 1} {t + 1} {p[0]} {p[1]} {p[2]}\n" for i, (p, t) in enumerate(zip(x, types)))
    lmp = load_lammps()(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    lmp.commands_list(["units lj", "atom_style atomic", "boundary p p p", f"read_data {path}", *pair_commands(),
                       "neighbor 0.3 bin", "thermo_modify norm yes", "minimize 0 1e-10 20000 200000"])
    return lmp.get_thermo("pe")


rows = []
with tempfile.TemporaryDirectory() as tmp:
    for c in range(1, 9):
        z = np.load(DATA / f"isoconfig_N4096T0.44_{c}_tc07.npz")
        x, t = z["initial_positions"] % L, z["types"]
        msd = ((z["positions"][:, t == 0] - z["initial_positions"][None, t == 0]) ** 2).sum(-1).mean()
        rows.append((c, mean_energy(x, t, np.full(3, L)), inherent_energy(x, t, tmp), msd))
        print("config %d  E_pot/N %.5f  E_IS/N %.5f  MD MSD_A %.4f" % rows[-1], flush=True)
r = np.array(rows)
for name, col in (("E_pot/N", 1), ("E_IS/N", 2)):
    b, a = np.polyfit(r[:7, col], np.log(r[:7, 3]), 1)
    cc = np.corrcoef(r[:7, col], np.log(r[:7, 3]))[0, 1]
    print(f"{name}: fit on 1-7 log MSD_A = {a:.2f} + {b:.2f} e, r = {cc:.3f}; configuration 8: fit "
          f"{np.exp(a + b * r[7, col]):.3f}, MD {r[7, 3]:.3f}")
