"""The players of a variational autoencoder: an encoder q(z | x) = N(μ(x), diag σ²(x)) and a decoder whose
output parametrizes p(x | z) (Kingma & Welling 2014).  Fully connected with tanh units, as the IWAE paper's
one-stochastic-layer MNIST model (784-200-200-50, Burda et al. 2016)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["GaussianEncoder", "Decoder"]


def _mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers)


class GaussianEncoder(nn.Module):
    """x (B, *shape) → (μ, log σ²), each (B, latent)."""

    def __init__(self, in_shape: tuple[int, ...], hidden: tuple[int, ...], latent: int):
        super().__init__()
        d = math.prod(in_shape)
        self.body = _mlp([d, *hidden])
        self.head = nn.Linear(hidden[-1] if hidden else d, 2 * latent)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.head(self.body(x.flatten(1))).chunk(2, dim=1)
        return mu, logvar


class Decoder(nn.Module):
    """z (B, latent) → the parameters of p(x | z): ``logits`` of independent Bernoulli pixels, or the mean of a
    Gaussian with one learned scale (``log_scale``).  ``forward`` gives the mean of p(x | z) in data units
    (images: pixels in [−1, 1]; 2-D points: the decoded mean, without the observation noise), so the decoder
    samples and is averaged like any generator."""

    def __init__(self, latent: int, hidden: tuple[int, ...], out_shape: tuple[int, ...], bernoulli: bool):
        super().__init__()
        self.z_dim, self.out_shape, self.bernoulli = latent, tuple(out_shape), bernoulli
        self.body = _mlp([latent, *hidden])
        self.head = nn.Linear(hidden[-1] if hidden else latent, math.prod(self.out_shape))
        self.log_scale = nn.Parameter(torch.zeros(())) if not bernoulli else None

    def params(self, z: Tensor) -> Tensor:
        """(B, *out_shape): Bernoulli logits, or the Gaussian's mean."""
        return self.head(self.body(z)).view(z.shape[0], *self.out_shape)

    def forward(self, z: Tensor, raw: bool = False) -> Tensor:
        """The mean of p(x | z) in data units; ``raw``: the parameters (:meth:`params`) instead."""
        p = self.params(z)
        if raw:
            return p
        return 2 * torch.sigmoid(p) - 1 if self.bernoulli else p
