"""Toy data follow PacGAN's protocol; the mode-coverage metric scores known samples correctly."""

import math

import pytest
import torch

from saddlepoint.data import TOY_DATASETS, get_toy
from saddlepoint.metrics import mode_coverage


def test_ring_and_grid_follow_the_protocol():
    ring = get_toy("ring8")
    assert ring.std == 0.01 and len(ring.means) == 8
    assert all(abs(math.hypot(*m) - 1.0) < 1e-12 for m in ring.means)
    grid = get_toy("grid25")
    assert grid.std == 0.05 and len(grid.means) == 25
    assert sorted({m[0] for m in grid.means}) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_from_the_data_score_as_perfect(name):
    data = get_toy(name)
    x = data.sample(2500, torch.Generator().manual_seed(0))
    m = mode_coverage(x, data.means_tensor, data.std)
    assert m["modes"] == len(data.means)
    # P(‖ε‖ < 3σ) for a 2-D isotropic Gaussian is 1 − exp(−9/2) ≈ 0.989.
    assert m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert m["reverse_kl"] < 0.02


def test_collapsed_and_scattered_samples():
    data = get_toy("grid25")
    collapsed = torch.tensor([[2.0, -2.0]]).repeat(100, 1)
    m = mode_coverage(collapsed, data.means_tensor, data.std)
    assert m == {"modes": 1, "high_quality": 1.0, "reverse_kl": pytest.approx(math.log(25))}
    between = torch.tensor([[1.0, 1.0], [3.0, -1.0]])
    m = mode_coverage(between, data.means_tensor, data.std)
    assert m["modes"] == 0 and m["high_quality"] == 0.0 and math.isinf(m["reverse_kl"])
    # Half the points on one mode and half on another: log 25 − log 2.
    two = torch.tensor([[0.0, 0.0], [4.0, 4.0]]).repeat(50, 1)
    assert mode_coverage(two, data.means_tensor, data.std)["reverse_kl"] == pytest.approx(math.log(25) - math.log(2))


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_every_toy_dataset_samples_reproducibly(name):
    data = get_toy(name)
    a = data.sample(512, torch.Generator().manual_seed(3))
    b = data.sample(512, torch.Generator().manual_seed(3))
    assert a.shape == (512, 2) and torch.isfinite(a).all() and torch.equal(a, b)
    lo, hi = data.limits
    assert ((a > lo) & (a < hi)).float().mean() > 0.99


def test_checkerboard_fills_only_dark_squares():
    x = get_toy("checkerboard").sample(4000, torch.Generator().manual_seed(0))
    cells = torch.floor(x).long() + 2
    assert ((cells[:, 0] + cells[:, 1]) % 2 == 0).all()
    assert len({tuple(c) for c in cells.tolist()}) == 8
