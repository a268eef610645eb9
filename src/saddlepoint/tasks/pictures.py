"""The tasks' pictures: rows of images, one row per method (original, a baseline, ours), each row named."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

__all__ = ["save_rows"]


def save_rows(rows: list[tuple[str, Tensor]], path: str | Path, title: str = "") -> Path:
    """One row of images per (label, images (N, C, H, W) in [0, 1]) pair, the label on the left: a .png or .pdf."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..grids import make_grid

    n = max(len(x) for _, x in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(max(4.0, 0.62 * n + 2.6), 0.72 * len(rows) + (0.4 if title else 0.1)),
                             squeeze=False)
    for ax, (label, x) in zip(axes[:, 0], rows):
        grid = make_grid(x.clamp(0, 1).float(), nrow=n, padding=1, pad_value=1.0)  # (C, H', W')
        ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

