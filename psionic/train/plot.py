"""The loss curve of a run (training loss by step, evaluation loss where measured) as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def plot_losses(path: Path, train: Sequence[tuple[int, float]], evals: Sequence[tuple[int, float]],
                title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot([s for s, _ in train], [v for _, v in train], label="train loss", lw=1)
    if evals:
        ax.plot([s for s, _ in evals], [v for _, v in evals], "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per target token")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
