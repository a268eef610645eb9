"""The Parzen-window log-likelihood of held-out images under a generator's samples (Breuleux et al. 2011; the
number the GMMN paper and its contemporaries reported on MNIST).

A Gaussian of width σ is put on each of N samples s_i (pixels in [0, 1]); a held-out image x then has

    log p(x) = logsumexp_i(−‖x − s_i‖² / 2σ²) − log N − (D/2) log(2πσ²).

σ is chosen on a validation split (MNIST's last 10,000 training digits) from a grid (0.10 … 0.29 in steps of
0.01, the GMMN authors' grid) and the test set's mean log p(x) is reported with its standard error over test
images.  The distances do not depend on σ, so each block of held-out images is compared with the samples once and
every σ of the grid is scored from the same distances.

Why it is a poor metric (Theis, van den Oord & Bethge 2016): in 784 dimensions a Parzen window needs far more
samples than 10,000 to approach the density, so the estimate sits hundreds of nats away from the true
log-likelihood; it rewards samples that sit near test images (a model that copies the training set scores
well), it barely sees sample quality, and a model with a true likelihood can rank anywhere under it.  It is
here so that the published rows can be stood beside, not as a measure to optimize.  scikit-learn's
``KernelDensity`` computes the same quantity, but its trees do not prune in 784 dimensions and it rescores the
distances for each σ of the grid; the closed form below is a matrix product per block.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["SIGMAS", "parzen_log_likelihoods", "parzen_window"]

SIGMAS = tuple(round(0.10 + 0.01 * i, 2) for i in range(20))  # 0.10 … 0.29


def parzen_log_likelihoods(samples: Tensor, data: Tensor, sigmas: tuple[float, ...] = SIGMAS,
                           block: int = 1000) -> Tensor:
    """(len(sigmas), M) log p(x) of each of the M rows of ``data`` under the Parzen window of the N ``samples``
    (both (·, D), any real scale: MNIST pixels in [0, 1] for the published numbers) at each width."""
    s = samples.flatten(1).float()
    x = data.flatten(1).float()
    n, d = s.shape
    if x.shape[1] != d:
        raise ValueError(f"samples have {d} values each and the data {x.shape[1]}: compare images of one size")
    s_sq = (s * s).sum(1)
    out = []
    for xb in x.split(block):
        # (B, N) squared distances by one matrix product; the scores in float64 (σ = 0.1 scales them by 50)
        d2 = ((xb * xb).sum(1, keepdim=True) + s_sq - 2 * xb @ s.t()).clamp_min_(0).double()
        out.append(torch.stack([torch.logsumexp(d2 / (-2 * sigma ** 2), dim=1)
                                - math.log(n) - d / 2 * math.log(2 * math.pi * sigma ** 2) for sigma in sigmas]))
    return torch.cat(out, dim=1)


def parzen_window(samples: Tensor, validation: Tensor, test: Tensor, sigmas: tuple[float, ...] = SIGMAS) -> dict:
    """The width that maximizes the validation images' mean log-likelihood, and the test images' mean at that width
    with its standard error (nats per image)."""
    val = parzen_log_likelihoods(samples, validation, sigmas).mean(dim=1)
    best = int(val.argmax())
    ll = parzen_log_likelihoods(samples, test, (sigmas[best],))[0]
    return {"parzen_ll": float(ll.mean()), "parzen_se": float(ll.std() / math.sqrt(len(ll))),
            "parzen_sigma": sigmas[best], "parzen_validation_ll": float(val[best]),
            "parzen_at_grid_edge": best in (0, len(sigmas) - 1)}
