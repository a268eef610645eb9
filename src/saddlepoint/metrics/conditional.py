"""Metrics for conditional generators: does the sample show the class it was asked for?

* ``accuracy`` (class-conditional runs): the fraction of samples generated for class y that a fixed
  classifier reads as y — for MNIST, saddlepoint's shipped classifier (the protocol of AC-GAN's
  "discriminability" evaluation, Odena et al. 2017 §4.1, with our own classifier in place of Inception).
* ``class_fid``: FID per class, between the samples generated for class y and the reference images of
  class y, on the same feature backbone as the unconditional FID.
* ``code_match`` (InfoGAN): a categorical code carries no class name, so the classifier's reading of
  the samples is matched to the categories by the assignment that maximizes agreement (Hungarian
  algorithm on the category × class count matrix); the accuracy of that best matching is reported,
  as in InfoGAN's "5 % error" claim (Chen et al. 2016 §7.1).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .features import feature_statistics, frechet_distance

__all__ = ["class_accuracy", "per_class_fid", "best_matching_accuracy"]


def class_accuracy(predicted: Tensor, asked: Tensor) -> dict[str, float]:
    """Overall and per-class fraction of samples whose predicted class is the class asked for."""
    out = {"accuracy": float((predicted == asked).float().mean())}
    for k in asked.unique().tolist():
        mask = asked == k
        out[f"accuracy/{k}"] = float((predicted[mask] == k).float().mean())
    return out


def per_class_fid(fake_feats: Tensor, fake_labels: Tensor, real_feats: Tensor, real_labels: Tensor) -> dict[str, float]:
    """FID between the features of each class's samples and of that class's reference images, and their mean."""
    out: dict[str, float] = {}
    for k in fake_labels.unique().tolist():
        f, r = fake_feats[fake_labels == k], real_feats[real_labels == k]
        if len(f) < 2 or len(r) < 2:
            continue
        out[f"class_fid/{k}"] = frechet_distance(*feature_statistics(r), *feature_statistics(f))
    out["class_fid"] = float(np.mean(list(out.values())))
    return out


def best_matching_accuracy(categories: Tensor, predicted: Tensor, n_categories: int, n_classes: int) -> dict:
    """Accuracy of the category → class assignment that agrees with ``predicted`` most often (each class
    used at most once), with the assignment itself."""
    from scipy.optimize import linear_sum_assignment

    counts = torch.zeros(n_categories, n_classes, dtype=torch.long)
    counts.index_put_((categories.long(), predicted.long()), torch.ones_like(categories, dtype=torch.long),
                      accumulate=True)
    rows, cols = linear_sum_assignment(counts.numpy(), maximize=True)
    matched = int(counts.numpy()[rows, cols].sum())
    return {"code_match": matched / len(categories),
            "code_assignment": {int(r): int(c) for r, c in zip(rows, cols)}}
