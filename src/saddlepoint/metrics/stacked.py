"""Stacked-MNIST mode coverage (VEEGAN / PacGAN protocol; ../shared/REFERENCES.md §2): a classifier reads
the digit in each of the three channels of every generated image; the 1000 digit triples are the
modes.  Reported: the number of triples that occur at least once and KL(histogram ‖ uniform over 1000).
The protocol uses 26,000 samples."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["read_triples", "stacked_mode_coverage", "PROTOCOL_SAMPLES"]

PROTOCOL_SAMPLES = 26_000


@torch.no_grad()
def read_triples(images: Tensor, classifier: nn.Module, batch: int = 1000) -> Tensor:
    """(N, 3, 28, 28) in [−1, 1] → (N,) mode index 100·d0 + 10·d1 + d2."""
    classifier.eval()
    out = []
    for x in images.split(batch):
        digits = classifier(x.reshape(-1, 1, *x.shape[2:])).argmax(1).view(-1, 3)
        out.append(digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    return torch.cat(out)


def stacked_mode_coverage(modes: Tensor) -> dict[str, float]:
    """Mode indices (N,) in 0..999 → ``modes`` (distinct triples seen) and ``kl`` to the uniform."""
    counts = torch.bincount(modes.long(), minlength=1000).to(torch.float64)
    p = counts / counts.sum()
    kl = float(torch.xlogy(p, p).sum() + math.log(1000))
    return {"modes": int((counts > 0).sum()), "kl": kl}
