"""One line per chain directory: rows passed / failed in all three long-time tables, then the rows that decide most
choices (tau_alpha, MSD at t = 50, F_s,A at one lag, energy drift) from the all-origin table.

    python experiments/lammps-free-chain/rows.py RUNS/lammps-free-chain/NAME ...
"""
import json
import sys

KEY_ROWS = ("tau_alpha rel.", "MSD_A(t=50) rel.", "MSD_B(t=50) rel.", "F_s,A(t=5)", "E_pot/N drift (last - first quarter)")


def all_origin_rows(markdown: str) -> dict:
    """statistic -> (generated, MD, verdict) from the first table of glassgen evaluate's longtime.md."""
    first = markdown.split("### ")[1]
    rows = {}
    for line in first.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 7 and cells[1] not in ("statistic", "---"):
            rows[cells[1]] = (cells[2], cells[3], cells[7])
    return rows


for d in sys.argv[1:]:
    j = json.load(open(f"{d}/eval/longtime.json"))
    tables = "; ".join(f"{k} {v['passed']}/{v['failed']}" for k, v in j["tables"].items())
    print(f"{d}: {j['passed']} / {j['failed']} ({tables})")
    rows = all_origin_rows(open(f"{d}/eval/longtime.md").read())
    for name in KEY_ROWS:
        if name in rows:
            print(f"    {name}: {rows[name][0]} vs MD {rows[name][1]} {rows[name][2]}")
