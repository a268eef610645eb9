"""Feature-space metrics against independent computations."""

import numpy as np
import pytest
import torch
from scipy import linalg

from saddlepoint.metrics.features import feature_statistics, frechet_distance, kernel_distance, precision_recall


def _scipy_fd(mu1, s1, mu2, s2):
    covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_scipy_sqrtm_formula():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2000, 32, generator=g, dtype=torch.float64)
    b = torch.randn(2000, 32, generator=g, dtype=torch.float64) @ (0.3 * torch.randn(32, 32, generator=g,
                                                                                       dtype=torch.float64)) + 0.5
    (m1, s1), (m2, s2) = feature_statistics(a), feature_statistics(b)
    ours = frechet_distance(m1, s1, m2, s2)
    assert ours == pytest.approx(_scipy_fd(m1, s1, m2, s2), abs=1e-6, rel=1e-9)
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    # Diagonal covariances: FD = ‖Δμ‖² + Σ (σ1 − σ2)².
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(5.0 + (1 + 0 + 4))


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(1500, 16, generator=g), torch.randn(1500, 16, generator=g)
    same, _ = kernel_distance(a, b, subsets=20, subset_size=500)
    shifted, _ = kernel_distance(a, b + 0.5, subsets=20, subset_size=500)
    assert abs(same) < 0.02 and shifted > 0.1


def test_precision_and_recall_see_missing_modes_and_bad_samples():
    g = torch.Generator().manual_seed(2)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    real = centres[torch.arange(1000) % 2] + 0.3 * torch.randn(1000, 2, generator=g)
    half = centres[0] + 0.3 * torch.randn(1000, 2, generator=g)  # one mode only: precise, half recall
    pr = precision_recall(real, half)
    assert pr["precision"] > 0.95 and 0.4 < pr["recall"] < 0.6
    off = torch.tensor([5.0, 5.0]) + 0.3 * torch.randn(1000, 2, generator=g)  # nowhere near the data
    assert precision_recall(real, off)["precision"] < 0.01
