"""Pictures of a 2-D game: samples over the data, the critic's landscape with the generator's
gradient field, and the training curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

__all__ = ["plot_samples", "plot_critic", "plot_curves", "plot_runs"]


def plot_samples(real: Tensor, fake: Tensor, limits: tuple[float, float], title: str, means: Tensor | None = None,
                 threshold: float | None = None):
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter(real[:, 0], real[:, 1], s=2, c="0.6", alpha=0.5, label="data", rasterized=True)
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:red", alpha=0.6, label="generated", rasterized=True)
    if means is not None and threshold is not None:
        for m in means:
            ax.add_patch(plt.Circle((float(m[0]), float(m[1])), threshold, fill=False, lw=0.5, color="tab:blue"))
    ax.set_xlim(*limits)
    ax.set_ylim(*limits)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", markerscale=4, fontsize=8)
    fig.tight_layout()
    return fig


def plot_critic(field: Callable[[Tensor, bool], tuple[Tensor, Tensor | None]], fake: Tensor,
                limits: tuple[float, float], title: str, resolution: int = 200, arrows: int = 21):
    """Heat map of the critic's raw score over the plane and, as arrows, the direction the generator's
    loss pushes a sample at each point: −∇_x g_loss(D(x)) (the force on G's outputs).  ``field(points, force)``
    gives the score at each point and, when ``force`` is true, that force (a family's ``critic_field``)."""
    lo, hi = limits
    xs = torch.linspace(lo, hi, resolution)
    gx, gy = torch.meshgrid(xs, xs, indexing="xy")
    score, _ = field(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1), False)
    score = score.reshape(resolution, resolution).float().numpy()
    qs = torch.linspace(lo, hi, arrows)
    qx, qy = torch.meshgrid(qs, qs, indexing="xy")
    _, force = field(torch.stack([qx.reshape(-1), qy.reshape(-1)], dim=1), True)
    force = force.numpy()
    norm = np.linalg.norm(force, axis=1, keepdims=True)
    force = force / (norm.max() + 1e-12)

    fig, ax = plt.subplots(figsize=(6.2, 5.5))
    im = ax.imshow(score, origin="lower", extent=(lo, hi, lo, hi), cmap="RdBu_r", aspect="equal")
    fig.colorbar(im, ax=ax, label="critic score (higher = more real)")
    ax.quiver(qx.numpy().ravel(), qy.numpy().ravel(), force[:, 0], force[:, 1], color="k", alpha=0.7,
              angles="xy", scale_units="xy", scale=1.0 / ((hi - lo) / arrows * 0.9), width=0.003)
    ax.scatter(fake[:, 0], fake[:, 1], s=1, c="yellow", alpha=0.5, rasterized=True)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_curves(rows: list[dict[str, Any]], title: str):
    """Losses, critic scores and (where logged) mode coverage, KL, what the MNIST classifier reads and a
    translation run's held-out PSNR and pixel error against the step."""
    def series(key):
        pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        return (np.array([p[0] for p in pts]), np.array([p[1] for p in pts])) if pts else (None, None)

    panels = [("losses", ["loss/D", "loss/G"]), ("critic scores", ["score/D(x)", "score/D(G(z))"]),
              ("mode coverage", ["eval/modes"]), ("high quality", ["eval/high_quality"]),
              ("KL", ["eval/kl", "eval/kl_channels", "eval/kl_dependence", "eval/reverse_kl"]),
              ("read by the MNIST classifier", ["eval/accuracy", "eval/code_match"]),
              ("PSNR (dB), held out", ["eval/psnr", "eval/bicubic/psnr"]),
              ("pixel error, held out", ["eval/l1", "eval/cycle"]),
              ("progressive growing: side (px)", ["growth/side"]), ("fade-in α", ["growth/alpha"])]
    panels = [(t, [k for k in keys if series(k)[0] is not None]) for t, keys in panels]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 3.4), squeeze=False)
    for ax, (t, keys) in zip(axes[0], panels):
        for k in keys:
            x, y = series(k)
            ax.plot(x, y, label=k, lw=1)
        ax.set_title(t, fontsize=10)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


FIRST = ("fid", "kid", "is", "precision", "recall", "nll", "parzen_ll", "modes", "high_quality", "reverse_kl", "kl",
         "mmd2", "mmd2_pixels", "accuracy", "class_fid", "code_match", "psnr", "ssim", "l1", "cycle",
         "memorization/median_ratio")  # the numbers a reader looks for first, in this order


def plot_evaluations(results: list[dict[str, Any]], title: str, most: int = 8):
    """Each number that ``saddlepoint evaluate`` reported for several checkpoints against their step, one panel a
    number (at most ``most``), with its standard error or deviation (``NAME_se``, ``NAME_std``; ``parzen_se`` for
    ``parzen_ll``) as a band; None where no number changes from one checkpoint to the next."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def band_of(k):
        names = (f"{k}_se", f"{k}_std", k.rsplit("_", 1)[0] + "_se")
        return next((b for b in names if b != k and all(number(r.get(b)) for r in results)), None)

    steps = np.array([r["step"] for r in results])
    changing = [k for k in results[0] if k != "step" and all(number(r.get(k)) for r in results)
                and len({r[k] for r in results}) > 1]
    bands = {k: band_of(k) for k in changing}
    keys = sorted((k for k in changing if k not in set(bands.values())),  # stable: the rest keep their order
                  key=lambda k: FIRST.index(k) if k in FIRST else len(FIRST))[:most]
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.2), squeeze=False, sharex=True)
    for ax, k in zip(axes[0], keys):
        y = np.array([r[k] for r in results], dtype=float)
        ax.plot(steps, y, "o-", lw=1, ms=3)
        band = bands[k]
        if band:
            e = np.array([r[band] for r in results], dtype=float)
            ax.fill_between(steps, y - e, y + e, alpha=0.25, lw=0)
        ax.set_title(k + (f" ± {band.rsplit('_', 1)[1]}" if band else ""), fontsize=9)
        ax.set_xlabel("step")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_runs(logs: dict[str, list[dict[str, Any]]], title: str, most: int = 12, columns: int = 4):
    """Several runs side by side: a panel for each number that two or more of them logged (the losses first, then
    the critic's scores, the evaluations and the rest; at most ``most``), a line per run, against the step; None where
    they share no number."""
    def numbers(rows):
        return {k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    counts: dict[str, int] = {}
    for rows in logs.values():
        for k in numbers(rows) - {"step", "time"}:
            if not k.startswith(("event/", "alarm/")):
                counts[k] = counts.get(k, 0) + 1
    rank = ("loss/", "score/", "eval/")
    keys = sorted((k for k, n in counts.items() if n >= 2),
                  key=lambda k: (next((i for i, h in enumerate(rank) if k.startswith(h)), len(rank)), k))[:most]
    if not keys:
        return None
    cols = min(columns, len(keys))
    rows_n = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.6 * cols, 2.9 * rows_n), squeeze=False, sharex=True)
    for ax, k in zip(axes.ravel(), keys):
        for i, (name, rows) in enumerate(logs.items()):
            pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), (int, float))]
            if pts:
                x, y = zip(*pts)
                ax.plot(x, y, "o-" if len(pts) < 30 else "-", lw=1, ms=3, color=f"C{i % 10}", label=name)
        ax.set_title(k, fontsize=9)
    for ax in axes.ravel()[len(keys):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    named = {}  # one legend entry per run, from whichever panel drew it (a run may lack the first panel's number)
    for ax in axes.ravel():
        for h, label in zip(*ax.get_legend_handles_labels()):
            named.setdefault(label, h)
    order = [n for n in logs if n in named]
    fig.legend([named[n] for n in order], order, loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.88 if cols > 1 else 0.75, 1))
    return fig


def save(fig, path: Path) -> None:
    fig.savefig(path, dpi=110)
    plt.close(fig)
