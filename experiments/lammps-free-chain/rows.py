"""One block per chain directory: rows passed / failed in the three long-time tables, the all-origin rows that
decide most choices, the chain's median E_pot/N over its second half, and the relaxation's log columns (RMS move,
minimiser convergence) from rollout.log.csv. Every figure of the README's tables comes from here.

    python experiments/lammps-free-chain/rows.py RUNS/lammps-free-chain/NAME ...
"""
import csv
import json
import sys

import numpy as np

KEY_ROWS = ("tau_alpha rel.", "MSD_A(t=50) rel.", "MSD_B(t=50) rel.", "F_s,A(t=5)", "E_pot/N drift (last - first quarter)")


def log_columns(path: str) -> list[str]:
    """Median E_pot/N from the chain's middle step on, and the relaxation's columns where the log has them."""
    rows = list(csv.DictReader(open(path)))
    last = max(int(r["step"]) for r in rows)
    out = [f"E_pot/N, steps {last // 2}-{last} (median): {np.median([float(r['e_pot']) for r in rows if int(r['step']) >= last // 2]):.3f}"]
    relaxed = [r for r in rows if r.get("relax_rms")]
    if relaxed:
        out.append(f"relaxation RMS move (median): {np.median([float(r['relax_rms']) for r in relaxed]):.3f}")
    fire = [r for r in relaxed if r.get("relax_converged")]
    if fire:  # the minimiser's column: relax_fire_steps before the L-BFGS change (dee2304), relax_min_steps after
        steps = [int(r.get("relax_min_steps") or r["relax_fire_steps"]) for r in fire]
        out.append(f"minimiser converged: {np.mean([int(r['relax_converged']) for r in fire]):.0%}, steps median "
                   f"{np.median(steps):.0f} max {max(steps)}, largest force left (median) "
                   f"{np.median([float(r['relax_max_force']) for r in fire]):.2f}")
    return out


for d in sys.argv[1:]:
    j = json.load(open(f"{d}/eval/longtime.json"))
    tables = "; ".join(f"{k} {v['passed']}/{v['failed']}" for k, v in j["tables"].items())
    print(f"{d}: {j['passed']} / {j['failed']} ({tables})")
    rows = {r["statistic"]: r for r in j["rows"]}  # the all-origin table
    for name in KEY_ROWS:
        if name in rows:
            r = rows[name]
            print(f"    {name}: {r['generated']:.4g} vs MD {r['md']:.4g} {'PASS' if r['pass'] else 'FAIL'}")
    for line in log_columns(f"{d}/rollout.log.csv"):
        print("    " + line)
