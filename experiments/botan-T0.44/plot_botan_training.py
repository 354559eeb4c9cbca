"""Plot a propensity training log (log.csv of `glassgen fit`) against training steps.

    python experiments/botan-T0.44/plot_botan_training.py runs/botan-propensity-T0.44/log.csv experiments/botan-T0.44/figures/botan_training.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(log_path, png_path, pretrain_steps=None):
    with open(log_path, newline="") as f:
        rows = list(csv.DictReader(f))
    col = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    step = col["step"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(step, col["val_node"], "C0-", label="node, val (conf. 8)")
    ax1.plot(step, col["test_node"], "C0--", label="node, test (conf. 9–10)")
    ax1.plot(step, col["val_edge"], "C1-", label="edge, val (conf. 8)")
    ax1.plot(step, col["test_edge"], "C1--", label="edge, test (conf. 9–10)")
    pre = step[col["p_node"] == 0].max() if np.any(col["p_node"] == 0) else None
    for ax in (ax1, ax2):
        if pre is not None:
            ax.axvline(pre, color="0.6", lw=0.8, ls=":")
        ax.set_xlabel("training step (one configuration each)")
    ax1.set_ylabel("Pearson correlation")
    ax1.set_title("node: A particles; edge: AA pairs r₀ < 1.35", fontsize=9)
    ax1.legend(fontsize=8)
    ax2.semilogy(step, col["train_loss"], "k-")
    ax2.set_ylabel("training loss (p·MSE_node + (1−p)·MSE_edge)")
    ax2.set_title(f"{col['elapsed_s'][-1] / 60:.0f} min wall time", fontsize=9)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)


if __name__ == "__main__":
    main(*sys.argv[1:3])
