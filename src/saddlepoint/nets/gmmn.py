"""The generator of a generative moment-matching network (Li, Swersky & Zemel 2015): a fully connected ReLU
network from the noise to the data, with no critic beside it."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["MomentMatchingGenerator"]


class MomentMatchingGenerator(nn.Module):
    """z (B, z_dim) → x (B, *out_shape): hidden ReLU layers of the given widths (the paper's MNIST network:
    10 → 64 → 256 → 256 → 1024 → 784).  Images (``bounded``): the paper's sigmoid output, mapped from [0, 1] onto
    the pixels' [−1, 1] (2·sigmoid − 1); 2-D points: a linear output."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...], hidden: tuple[int, ...], bounded: bool):
        super().__init__()
        self.z_dim, self.out_shape, self.bounded = z_dim, tuple(out_shape), bounded
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, math.prod(self.out_shape)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        x = self.net(z)
        if self.bounded:
            x = 2 * torch.sigmoid(x) - 1
        return x.view(z.shape[0], *self.out_shape)
