"""Issue #7's criteria, one row each, from `glassgen evaluate --long-time` outputs (longtime.json).

    python experiments/rollout-proof/scripts/proof_verdict.py LABEL=EVAL_DIR [LABEL=EVAL_DIR ...]

Per criterion and run: the worst row of that kind (largest |difference| − tolerance), its tolerance, the MD
half-vs-half noise floor at that row, and the verdict with the margin: "pass (−x)" is x inside the tolerance,
"MISS by x" is x beyond it. Prints a markdown table (experiments/rollout-proof/record.md, "Verdict").
"""
import json
import sys
from pathlib import Path

CRITERIA = [  # (label, row-name prefix); longtime.py names relative rows "... rel."
    ("F_s,A(q = 7.25, t), every t ≥ lag", "F_s,A(t="),
    ("MSD_A(t)", "MSD_A(t="),
    ("MSD_B(t)", "MSD_B(t="),
    ("τ_α", "tau_alpha"),
    ("χ₄ peak height", "chi4 peak height"),
    ("χ₄ peak time (ratio)", "chi4 peak time ratio"),
    ("E_pot/N drift", "E_pot/N drift"),
]


def _excess(row) -> float:
    """How far beyond its tolerance a row is (negative: inside), in the row's own units."""
    if row["statistic"].startswith("chi4 peak time ratio"):  # a ratio: the factor beyond tolerance, in log
        ratio = max(row["difference"], 1.0 / row["difference"])
        return ratio - row["tolerance"]
    return abs(row["difference"]) - row["tolerance"]


def _cell(row) -> str:
    relative = row["statistic"].endswith("rel.")
    fmt = (lambda v: f"{100 * v:+.1f} %") if relative else (lambda v: f"{v:+.4g}")
    t = row["statistic"].split("t=")[1].split(")")[0] if "t=" in row["statistic"] else None
    where = f" at t = {t}" if t else ""
    if row["statistic"].startswith("chi4 peak time ratio"):
        diff, tol, floor = f"× {row['difference']:.3f}", f"× {row['tolerance']:g}", f"× {row['floor']:.2f}"
    else:
        tol = f"{100 * row['tolerance']:.0f} %" if relative else f"{row['tolerance']:.3g}"
        diff, floor = fmt(row["difference"]), (f"{100 * row['floor']:.1f} %" if relative else f"{row['floor']:.2g}")
    ex = _excess(row)
    size = f"{100 * abs(ex):.1f} points" if relative else f"{abs(ex):.2g}"
    verdict = f"pass, {size} inside" if row["pass"] else f"**MISS by {size}**"
    return f"{diff}{where}; tol. {tol}, floor {floor}: {verdict}"


def main(args):
    runs = []
    for a in args:
        label, _, path = a.rpartition("=")  # a label may hold "=" (T=0.5), a path does not
        f = Path(path) / "longtime.json"
        if not f.is_file():
            sys.exit(f"proof_verdict.py: {f} does not exist (run glassgen evaluate --long-time -o {path})")
        data = json.loads(f.read_text())
        runs.append((label, data))
    print("| criterion | " + " | ".join(label for label, _ in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for name, prefix in CRITERIA:
        cells = []
        for _, data in runs:
            rows = [r for r in data["rows"] if r["statistic"].startswith(prefix)]
            cells.append(_cell(max(rows, key=_excess)) if rows else "–")
        print(f"| {name} | " + " | ".join(cells) + " |")
    # longtime.json files from before the from-start and per-step tables count the all-origin table alone
    tables = [d.get("tables", {"all_origins": {"passed": d["passed"], "failed": d["failed"]}}) for _, d in runs]
    for key, label in (("all_origins", "rows passed"), ("from_start", "from the start snapshot: rows passed"),
                       ("stationarity", "per chain step: rows passed")):
        if any(key in t for t in tables):
            cells = [f"{t[key]['passed']} of {t[key]['passed'] + t[key]['failed']}" if key in t else "–" for t in tables]
            print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
