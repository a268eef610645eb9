"""Memorization check: are generated samples closer to the training set than new data would be?

For each generated sample, the distance to its nearest training example; for each held-out test
example, the same distance.  A generator that copies its training data has sample distances far below
the test distances (ratio of medians ≪ 1) and many samples below the test set's 1st percentile.
Distances are Euclidean, on pixels or on backbone features (pass either)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["nearest_distances", "memorization"]


def nearest_distances(queries: Tensor, reference: Tensor, batch: int = 1024) -> Tensor:
    """(N,) distance of each query to its nearest reference row."""
    ref = reference.flatten(1).float()
    return torch.cat([torch.cdist(q.flatten(1).float(), ref).min(dim=1).values for q in queries.split(batch)])


def memorization(samples: Tensor, train: Tensor, test: Tensor) -> dict[str, float]:
    """``median_ratio`` = median sample→train distance / median test→train distance (≈ 1 when the
    generator does not copy), and ``copies`` = fraction of samples nearer to a training example than
    99 % of test examples are."""
    d_samples = nearest_distances(samples, train)
    d_test = nearest_distances(test, train)
    threshold = torch.quantile(d_test, 0.01)
    return {
        "median_sample_to_train": float(d_samples.median()),
        "median_test_to_train": float(d_test.median()),
        "median_ratio": float(d_samples.median() / d_test.median()),
        "copies": float((d_samples < threshold).float().mean()),
    }
