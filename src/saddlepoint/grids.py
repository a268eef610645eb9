"""Image grids and PNG files, the way torchvision's ``make_grid`` and ``save_image`` lay them out.

Written here because importing torchvision costs a short run about 1.5 s on a 2-core machine (it imports
``torch._dynamo``, BENCHMARKS.md "The fixed cost of a short run"), for a picture that takes a few tensor copies and
Pillow.  The layout is torchvision's: ``nrow`` images to a row, ``padding`` pixels of ``pad_value`` around each,
one-channel images repeated into three; ``value_range`` maps that range onto [0, 1] (clamped), as
``normalize=True, value_range=...`` does there.  tests/test_grids.py checks both against torchvision.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

__all__ = ["make_grid", "save_png", "save_grid"]


def make_grid(images: Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 0.0,
              value_range: tuple[float, float] | None = None) -> Tensor:
    """Images (N, C, H, W) or one (C, H, W), C in {1, 3}, tiled into one (3, H', W') picture."""
    x = images.detach()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"make_grid takes images shaped (N, 1 or 3, H, W), not {tuple(images.shape)}")
    if value_range is not None:
        lo, hi = value_range
        x = x.clamp(lo, hi).sub(lo).div(max(hi - lo, 1e-5))
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    n, c, h, w = x.shape
    if n == 1:
        return x[0].clone()
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = x.new_full((c, padding + rows * (h + padding), padding + cols * (w + padding)), pad_value)
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, top:top + h, left:left + w] = x[i]
    return grid


def save_png(picture: Tensor, path: str | Path) -> None:
    """A (C, H, W) picture in [0, 1] (C in {1, 3}) written as an 8-bit PNG (values rounded to the nearest level)."""
    from PIL import Image

    pixels = picture.detach().float().mul(255).add_(0.5).clamp_(0, 255).to("cpu", torch.uint8)
    array = pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).numpy()
    Image.fromarray(array).save(str(path))


def save_grid(images: Tensor, path: str | Path, nrow: int = 8) -> None:
    """Images in [−1, 1] as one PNG grid: ``make_grid`` with ``value_range=(-1, 1)``, then ``save_png``."""
    save_png(make_grid(images, nrow=nrow, value_range=(-1, 1)), path)
