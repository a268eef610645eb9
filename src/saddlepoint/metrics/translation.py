"""Pixel metrics for translation outputs against their held-out targets: mean absolute error (L1), PSNR
and SSIM (Wang et al. 2004; torchmetrics' implementation, Gaussian window 11, σ 1.5), all on pixels
scaled to [0, 1]."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["pixel_metrics"]


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
