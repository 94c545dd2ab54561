"""The leaderboard plot: per dataset, nDCG@10 against p50 query latency (log scale) and against FLOPS."""

from __future__ import annotations

from pathlib import Path

from lsr.atomic import atomic_file
from lsr.eval.leaderboard import Leaderboard


def plot(board: Leaderboard, path: Path) -> None:
    """Write a PNG with one column per dataset that ran: latency panel on top, FLOPS panel below (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(c.dataset for c in board.cells if c.ran))
    systems = list(dict.fromkeys(c.system for c in board.cells))
    colours = {name: plt.get_cmap("tab20")(i % 20) for i, name in enumerate(systems)}  # one colour per system in every panel
    fig, axes = plt.subplots(2, max(1, len(datasets)), figsize=(6.5 * max(1, len(datasets)), 9), squeeze=False)
    for column, dataset in enumerate(datasets):
        cells = [c for c in board.cells if c.dataset == dataset and c.ran]
        for row, (key, title) in enumerate((("p50_ms_k10", "p50 latency, ms (k=10, 1 thread, log scale)"), ("flops", "FLOPS (sparse side)"))):
            ax = axes[row][column]
            points = [(c.efficiency.get(key), c.scores["nDCG@10"], c.system) for c in cells if c.efficiency.get(key)]
            for x, y, name in points:
                ax.scatter(x, y, s=30, color=colours[name])
                ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
            if row == 0 and points:
                ax.set_xscale("log")
            ax.set_xlabel(title)
            ax.set_ylabel("nDCG@10")
            ax.set_title(f"{dataset}: nDCG@10 vs {'latency' if row == 0 else 'FLOPS'}")
            ax.grid(True, alpha=0.3)
            ax.margins(x=0.25, y=0.08)  # room for the labels
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
