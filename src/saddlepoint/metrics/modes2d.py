"""Mode coverage on 2-D Gaussian mixtures, with the protocol of PacGAN (Lin et al. 2018, §5.1) and
VEEGAN (Srivastava et al. 2017): on 2500 generated points,

* a point is *high quality* if its distance to the nearest mode mean is below 3 standard deviations;
* a mode is *captured* if at least one high-quality point has it as its nearest mode;
* *reverse KL* = KL(histogram of high-quality points over the modes ‖ uniform) = log K − entropy.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["mode_coverage", "PROTOCOL_SAMPLES"]

PROTOCOL_SAMPLES = 2500


def mode_coverage(samples: Tensor, means: Tensor, std: float, threshold_stds: float = 3.0) -> dict[str, float]:
    """``samples`` (N, 2) and ``means`` (K, 2) in data units → ``modes`` (count captured),
    ``high_quality`` (fraction of samples), ``reverse_kl`` (nats; 0 = uniform over all K modes).

    If no sample is high quality the histogram is undefined; ``reverse_kl`` is then reported as
    +inf (every mode missed)."""
    samples = samples.detach().to(torch.float64).cpu()
    means = means.to(torch.float64).cpu()
    d = torch.cdist(samples, means)  # (N, K)
    dist, nearest = d.min(dim=1)
    hq = dist < threshold_stds * std
    counts = torch.bincount(nearest[hq], minlength=means.shape[0]).to(torch.float64)
    k = means.shape[0]
    n_hq = counts.sum().item()
    if n_hq == 0:
        rkl = math.inf
    else:
        p = counts / n_hq
        rkl = float((torch.xlogy(p, p)).sum().item() + math.log(k))
    return {
        "modes": int((counts > 0).sum().item()),
        "high_quality": float(hq.to(torch.float64).mean().item()),
        "reverse_kl": rkl,
    }
