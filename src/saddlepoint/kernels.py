"""Kernels for the maximum mean discrepancy, as data: each maps squared distances to kernel values.

    gaussian   Σ_σ exp(−d² / 2σ²)                     a mixture of widths (GMMN, Li et al. 2015)
    median     exp(−d² / 2σ²), σ = the median distance   the median heuristic (Gretton et al. 2012): the width
                                                        comes from the data, none is given
    rq         Σ_σ (1 + d² / 2ασ²)^(−α)                rational quadratic (Bińkowski et al. 2018); α → ∞ is the
                                                        Gaussian, smaller α has heavier tails
    imq        Σ_σ (1 + d² / σ²)^(−½)                  inverse multiquadric: heavy tails keep gradients alive
                                                        far from the data (Tolstikhin et al. 2018 use C / (C + d²))

Every one is characteristic, so MMD² is zero exactly when the two distributions are equal, and every one has
k(x, x) = (number of widths), so the biased and unbiased estimates differ by the diagonal only.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ["KERNELS", "kernel_values", "median_width"]


def median_width(d2: Tensor) -> Tensor:
    """The median heuristic's width: the median of the distances between distinct points of the pooled sample
    (the middle two averaged, as numpy does; no gradient)."""
    i, j = torch.triu_indices(d2.shape[0], d2.shape[1], offset=1, device=d2.device)
    return d2.detach()[i, j].clamp_min(0).sqrt().quantile(0.5).clamp_min(1e-12)


def _gaussian(d2: Tensor, widths: tuple[float, ...], alpha: float) -> Tensor:
    return sum(torch.exp(-d2 / (2 * s**2)) for s in widths)


def _median(d2: Tensor, widths: tuple[float, ...], alpha: float) -> Tensor:
    s = median_width(d2)
    return torch.exp(-d2 / (2 * s**2))


def _rq(d2: Tensor, widths: tuple[float, ...], alpha: float) -> Tensor:
    return sum((1 + d2 / (2 * alpha * s**2)).pow(-alpha) for s in widths)


def _imq(d2: Tensor, widths: tuple[float, ...], alpha: float) -> Tensor:
    return sum((1 + d2 / s**2).rsqrt() for s in widths)


KERNELS: dict[str, Callable[[Tensor, tuple[float, ...], float], Tensor]] = {
    "gaussian": _gaussian, "median": _median, "rq": _rq, "imq": _imq}


def kernel_values(d2: Tensor, kernel: str = "gaussian", widths: tuple[float, ...] = (1.0,),
                  alpha: float = 1.0) -> Tensor:
    """The kernel ``kernel`` at squared distances ``d2`` (any shape; ``median`` needs the square matrix of a
    pooled sample, whose median it takes)."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
    return KERNELS[kernel](d2, tuple(widths), alpha)
