"""Toy 2-D distributions: the mode-collapse mixtures of PacGAN and a few familiar shapes.

Each distribution is sampled afresh for every batch from a ``torch.Generator`` (an infinite data
stream, reproducible from the seed).  ``scale`` is the factor that brings the data to roughly unit
size: networks see ``x / scale`` and generated points are multiplied back by ``scale`` before any
metric or plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["ToyDistribution", "GaussianMixture2D", "PointCloud", "ring", "grid", "TOY_DATASETS", "get_toy", "is_2d",
           "is_points_file", "read_points"]


class ToyDistribution:
    """A 2-D distribution that can be sampled: ``sample(n, generator) -> (n, 2)`` in data units."""

    name: str
    scale: float
    description: str

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    @property
    def limits(self) -> tuple[float, float]:
        """A square plotting window (lo, hi) that holds the distribution."""
        return (-1.5 * self.scale, 1.5 * self.scale)


@dataclass(frozen=True)
class GaussianMixture2D(ToyDistribution):
    """An equal-weight mixture of isotropic Gaussians with ``means`` (K, 2) and a common ``std``."""

    name: str
    means: tuple[tuple[float, float], ...]
    std: float
    scale: float
    description: str

    @property
    def means_tensor(self) -> Tensor:
        return torch.tensor(self.means, dtype=torch.float32)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        means = self.means_tensor
        k = torch.randint(len(means), (n,), generator=generator)
        return means[k] + self.std * torch.randn(n, 2, generator=generator)

    @property
    def limits(self) -> tuple[float, float]:
        r = float(np.abs(np.asarray(self.means)).max())
        return (-(r + 0.25 * self.scale), r + 0.25 * self.scale)


def ring(k: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture2D:
    """K Gaussians at (r cos 2πk/K, r sin 2πk/K); PacGAN's ring: K=8, r=1, std 0.01."""
    means = tuple((radius * math.cos(2 * math.pi * i / k), radius * math.sin(2 * math.pi * i / k)) for i in range(k))
    return GaussianMixture2D(f"ring{k}", means, std, scale=radius,
                             description=f"{k} Gaussians on a circle of radius {radius:g}, std {std:g}")


def grid(n: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2D:
    """n×n Gaussians on a centred square lattice; PacGAN's grid: 25 modes at {−4,−2,0,2,4}², std 0.05."""
    coords = [spacing * (i - (n - 1) / 2) for i in range(n)]
    means = tuple((x, y) for x in coords for y in coords)
    return GaussianMixture2D(f"grid{n * n}", means, std, scale=max(coords),
                             description=f"{n * n} Gaussians on a {n}×{n} lattice of spacing {spacing:g}, std {std:g}")


@dataclass(frozen=True)
class _Shape(ToyDistribution):
    name: str
    draw: Callable[[int, torch.Generator | None], Tensor]
    scale: float
    description: str

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.draw(n, generator)


def _moons(n: int, g: torch.Generator | None) -> Tensor:
    # Two interleaving half circles (the shape of sklearn.datasets.make_moons), noise std 0.05.
    upper = torch.rand(n, generator=g) < 0.5
    t = math.pi * torch.rand(n, generator=g)
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x - 0.5, y - 0.25], dim=1)
    return pts + 0.05 * torch.randn(n, 2, generator=g)


def _spiral(n: int, g: torch.Generator | None) -> Tensor:
    # An Archimedean spiral r ∝ θ over two turns, noise std 0.05.
    t = torch.sqrt(torch.rand(n, generator=g)) * 4 * math.pi
    r = t / (4 * math.pi)
    pts = torch.stack([r * torch.cos(t), r * torch.sin(t)], dim=1)
    return pts + 0.03 * torch.randn(n, 2, generator=g)


def _checkerboard(n: int, g: torch.Generator | None) -> Tensor:
    # Uniform on the dark squares of a 4×4 board over [−2, 2]²: cells (col, row) with col + row even.
    x = 4 * torch.rand(n, generator=g) - 2
    col = torch.floor(x).long() + 2  # 0..3
    row = 2 * torch.randint(0, 2, (n,), generator=g) + col % 2
    y = row.float() - 2 + torch.rand(n, generator=g)
    return torch.stack([x, y], dim=1)


def _lines(n: int, g: torch.Generator | None) -> Tensor:
    # Two parallel vertical segments x = ±0.5, y uniform in [−1, 1]: no density in the plane (the WGAN argument).
    x = torch.where(torch.rand(n, generator=g) < 0.5, -0.5, 0.5)
    return torch.stack([x, 2 * torch.rand(n, generator=g) - 1], dim=1)


TOY_DATASETS: dict[str, Callable[[], ToyDistribution]] = {
    "ring8": ring,
    "grid25": grid,
    "moons": lambda: _Shape("moons", _moons, 1.25, "two interleaving half circles"),
    "spiral": lambda: _Shape("spiral", _spiral, 1.0, "a two-turn spiral"),
    "checkerboard": lambda: _Shape("checkerboard", _checkerboard, 2.0, "uniform on the black squares of a 4×4 board"),
    "lines": lambda: _Shape("lines", _lines, 1.0, "two parallel segments x = ±0.5, y in [−1, 1]"),
}


@dataclass(frozen=True)
class PointCloud(ToyDistribution):
    """Points of your own (a CSV file of x,y rows; the live lab writes one from points drawn on its page), drawn
    with replacement and blurred by a Gaussian of ``jitter`` × their scale: a density the players can match."""

    name: str
    points: Tensor
    scale: float
    description: str
    jitter: float = 0.02

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        i = torch.randint(len(self.points), (n,), generator=generator)
        return self.points[i] + self.jitter * self.scale * torch.randn(n, 2, generator=generator)


def is_points_file(data: str) -> bool:
    return data.lower().endswith(".csv")


def is_2d(data: str) -> bool:
    """Whether ``data`` names 2-D points: a built-in distribution or a CSV file of points."""
    return data in TOY_DATASETS or is_points_file(data)


def read_points(path: str) -> Tensor:
    """The (n, 2) points of a CSV file of x,y rows (a header line is allowed); ValueError with one line if not."""
    from pathlib import Path

    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"data={path}: no such file; give a CSV file of x,y rows")
    try:
        pts = np.loadtxt(p, delimiter=",", ndmin=2, skiprows=0 if _numeric(p) else 1)
    except ValueError as e:
        raise ValueError(f"data={path} is not a CSV of x,y numbers ({e}); one point per line") from None
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or not np.isfinite(pts).all():
        raise ValueError(f"data={path} must hold at least two rows of two finite numbers (x,y); it holds "
                         f"{pts.shape[0]} rows of {pts.shape[1] if pts.ndim == 2 else 0}")
    return torch.tensor(pts, dtype=torch.float32)


def _numeric(path) -> bool:
    first = path.open().readline().split(",")[0].strip()
    try:
        float(first)
        return True
    except ValueError:
        return False


def get_toy(name: str) -> ToyDistribution:
    if is_points_file(name):
        pts = read_points(name)
        scale = float(pts.abs().max()) or 1.0
        return PointCloud("points", pts, scale, f"{len(pts)} points from {name}")
    try:
        return TOY_DATASETS[name]()
    except KeyError:
        raise KeyError(f"unknown toy dataset {name!r}; choose one of {', '.join(TOY_DATASETS)}") from None
