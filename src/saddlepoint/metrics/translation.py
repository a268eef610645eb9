"""Pixel metrics for translation outputs against their held-out targets: mean absolute error (L1), PSNR
and SSIM (Wang et al. 2004; torchmetrics' implementation, Gaussian window 11, σ 1.5), all on pixels
scaled to [0, 1]."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["pixel_metrics", "superres_metrics"]


@torch.no_grad()
def pixel_metrics(output: Tensor, target: Tensor) -> dict[str, float]:
    """``output``, ``target``: (N, C, H, W) in [−1, 1] → ``l1``, ``psnr`` (dB, mean over images) and ``ssim``."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    if output.shape != target.shape:
        raise ValueError(f"outputs {tuple(output.shape)} and targets {tuple(target.shape)} differ in shape")
    a, b = (output.float().clamp(-1, 1) + 1) / 2, (target.float() + 1) / 2
    psnr = peak_signal_noise_ratio(a, b, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(a, b, data_range=1.0)
    return {"l1": float((a - b).abs().mean()), "psnr": float(psnr.mean()), "ssim": float(ssim)}


@torch.no_grad()
def superres_metrics(upscale, photos: list[Tensor], scale: int = 4, border: int = 4) -> dict[str, float]:
    """Super-resolution of whole photographs: each (3, H, W) uint8 photo is cropped to a multiple of
    ``scale``, downsampled (bicubic, antialiased), restored by ``upscale`` (LR (1, C, h, w) → (1, C, H, W))
    and by bicubic interpolation; L1, PSNR and SSIM against the original, ``border`` pixels trimmed on each
    side (edge pixels lack context), averaged over the photos.  Keys: the model's, and ``bicubic/...``."""
    from ..data.superres import downsample, upsample_bicubic

    sums: dict[str, float] = {}
    for photo in photos:
        h, w = (photo.shape[-2] // scale) * scale, (photo.shape[-1] // scale) * scale
        high = photo[None, :, :h, :w].float().div(127.5).sub(1.0)
        low = downsample(high, scale)
        trim = (slice(None), slice(None), slice(border, h - border), slice(border, w - border))
        for prefix, out in (("", upscale(low)), ("bicubic/", upsample_bicubic(low, scale))):
            for k, v in pixel_metrics(out[trim], high[trim]).items():
                sums[prefix + k] = sums.get(prefix + k, 0.0) + v / len(photos)
    return sums
