"""Pictures every sampling family draws the same way: which labels (codes) a sample grid shows, and the rows of a
translation run (source | output | target).  The commands in :mod:`saddlepoint.sampling` and the trainer's
pictures both use them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..data.superres import upsample_bicubic
from ..data.unpaired import swap_pairs
from ..runs import RunError

if TYPE_CHECKING:
    from .base import Family

__all__ = ["conditions_for_picture", "translation_grid", "row_conditions", "refuse_translation", "require_translation",
           "read_inputs"]


def refuse_translation(exp: "Family") -> None:
    if exp.condition is not None and exp.condition.from_real:
        raise RunError(f"this run translates images (conditional={exp.condition.name}): it needs a source image, not "
                       "noise; use `saddlepoint translate RUN` (held-out pairs) or `saddlepoint translate RUN -i IMAGES`")


def require_translation(exp: "Family") -> None:
    if exp.condition is None or not exp.condition.from_real:
        raise RunError("translate needs a translation run (conditional=pix2pix, srgan or cyclegan); use "
                       "`saddlepoint sample RUN`")


def _check_label(exp: "Family", label: int) -> None:
    cond = exp.condition
    if getattr(cond, "critic_mode", None) == "text":
        raise RunError("this run is told sentences, not labels: use --text \"a thick seven leaning right\"")
    if cond is None or not cond.needs_labels:
        kind = "unconditional" if cond is None else f"conditional={cond.name} (codes, not labels)"
        raise RunError(f"--label needs a class-conditional run (conditional=cgan or acgan, or a VAE with cvae=true); this run is {kind}"
                       + ("; use --sweep to walk its codes" if cond is not None else ""))
    if not 0 <= label < cond.n_classes:
        raise RunError(f"label {label} is outside the classes this run was trained on (0..{cond.n_classes - 1})")


def row_conditions(exp: "Family", rows: int) -> Tensor:
    """Row r: class r mod K (InfoGAN: category r mod K, continuous codes 0)."""
    cond = exp.condition
    if cond.needs_labels:
        return torch.arange(rows) % cond.n_classes
    return cond.code(torch.arange(rows) % max(cond.categorical, 1), torch.zeros(rows, cond.continuous))


def conditions_for_picture(exp: "Family", n: int, label: int | None = None) -> tuple[Tensor | None, int, int]:
    """(conditions, number of samples, samples per row) for a sample picture of a run.

    Unconditional: no conditions, ``n`` samples in rows of √n.  ``label`` given: n samples of that class.
    Class- or code-conditional without a label: one row per class (or category), ⌈n / K⌉ samples each."""
    cond = exp.condition
    refuse_translation(exp)
    if label is not None:
        _check_label(exp, label)
        return torch.full((n,), label, dtype=torch.long), n, max(1, int(round(n**0.5)))
    if cond is None:
        return None, n, max(1, int(round(n**0.5)))
    k = cond.n_classes if cond.needs_labels else max(cond.categorical, 1)
    per_row = -(-n // k)
    return row_conditions(exp, k).repeat_interleave(per_row, 0), k * per_row, per_row


@torch.no_grad()
def translation_grid(exp: "Family", sources: Tensor, targets: Tensor | None = None) -> Tensor:
    """One row per source image: source | G(source) [| target], as a picture tensor in [0, 1].  CycleGAN
    (sources: interleaved [a₀, b₀, …]): source | translated | translated back."""
    from ..grids import make_grid

    require_translation(exp)
    if sources.shape[1] != exp.source_channels:
        raise RunError(f"the source images have {sources.shape[1]} channels and this run translates images with "
                       f"{exp.source_channels}; convert them (grey = 1 channel, RGB = 3)")
    out = exp.generate(sources.shape[0], cond=sources)
    if exp.condition.unpaired and targets is None:  # unpaired: the third column is the way back
        targets = swap_pairs(exp.generate(out.shape[0], cond=swap_pairs(out)))
    if sources.shape[-1] != out.shape[-1]:  # super-resolution: show the source enlarged by bicubic interpolation
        sources = upsample_bicubic(sources, out.shape[-1] // sources.shape[-1])
    columns = [sources, out] + ([targets] if targets is not None else [])
    width = max(c.shape[1] for c in columns)
    columns = [c.expand(-1, width, -1, -1) if c.shape[1] == 1 else c for c in columns]  # grey beside colour
    rows = torch.stack(columns, dim=1).flatten(0, 1)  # (n·k, C, H, W): source, output[, target] per row
    return make_grid(rows, nrow=len(columns), value_range=(-1, 1))


def read_inputs(path: Path, size: int, channels: int) -> Tensor:
    """The images under ``path`` (a file or a folder) as sources in [−1, 1], square, ``size`` px, in the run's
    channel count; unreadable files are skipped with one warning."""
    from ..data.images import decode_image, square_tensors, warn_skipped

    if not path.exists():
        raise RunError(f"-i {path} does not exist; give an image file or a folder of images")
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
    decoded = [(f, decode_image(f)) for f in files]
    warn_skipped([f.name for f, im in decoded if im is None], len(files), path)
    images = [im for _, im in decoded if im is not None]
    if not images:
        raise RunError(f"-i {path}: no readable images there")
    return square_tensors(images, size, "L" if channels == 1 else "RGB").float().div(127.5).sub(1.0)
