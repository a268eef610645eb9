"""The players of a variational autoencoder: an encoder q(z | x) = N(μ(x), diag σ²(x)) and a decoder whose
output parametrizes p(x | z) (Kingma & Welling 2014).  Fully connected with tanh units, as the IWAE paper's
one-stochastic-layer MNIST model (784-200-200-50, Burda et al. 2016) by default, or softplus / ReLU units (the CSGM
paper's 784-500-500-20 softplus VAE, Bora et al. 2017); with ``classes``, each also reads the one-hot label (the
conditional VAE)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["GaussianEncoder", "Decoder"]


ACTIVATIONS = {"tanh": nn.Tanh, "softplus": nn.Softplus, "relu": nn.ReLU}


def _mlp(widths: list[int], activation: str = "tanh") -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def _with_label(h: Tensor, y: Tensor | None, classes: int) -> Tensor:
    """``h`` (B, d) with the one-hot label appended (the conditional VAE, Sohn et al. 2015); ``h`` if unconditional."""
    if not classes:
        if y is not None:
            raise ValueError("this network is unconditional; it takes no labels")
        return h
    if y is None:
        raise ValueError("this conditional network needs the labels y")
    return torch.cat([h, F.one_hot(y.long(), classes).to(h.dtype)], dim=1)


class GaussianEncoder(nn.Module):
    """x (B, *shape) [and its label y (B,)] → (μ, log σ²), each (B, latent)."""

    def __init__(self, in_shape: tuple[int, ...], hidden: tuple[int, ...], latent: int, classes: int = 0,
                 activation: str = "tanh"):
        super().__init__()
        d = math.prod(in_shape) + classes
        self.classes = classes
        self.body = _mlp([d, *hidden], activation)
        self.head = nn.Linear(hidden[-1] if hidden else d, 2 * latent)

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        mu, logvar = self.head(self.body(_with_label(x.flatten(1), y, self.classes))).chunk(2, dim=1)
        return mu, logvar


class Decoder(nn.Module):
    """z (B, latent) → the parameters of p(x | z): ``logits`` of independent Bernoulli pixels, or the mean of a
    Gaussian with one learned scale (``log_scale``).  ``forward`` gives the mean of p(x | z) in data units
    (images: pixels in [−1, 1]; 2-D points: the decoded mean, without the observation noise), so the decoder
    samples and is averaged like any generator."""

    def __init__(self, latent: int, hidden: tuple[int, ...], out_shape: tuple[int, ...], bernoulli: bool,
                 classes: int = 0, activation: str = "tanh"):
        super().__init__()
        self.z_dim, self.out_shape, self.bernoulli, self.classes = latent, tuple(out_shape), bernoulli, classes
        self.body = _mlp([latent + classes, *hidden], activation)
        self.head = nn.Linear(hidden[-1] if hidden else latent, math.prod(self.out_shape))
        self.log_scale = nn.Parameter(torch.zeros(())) if not bernoulli else None

    def params(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, *out_shape): Bernoulli logits, or the Gaussian's mean (a conditional decoder: given labels y)."""
        return self.head(self.body(_with_label(z, y, self.classes))).view(z.shape[0], *self.out_shape)

    def forward(self, z: Tensor, y: Tensor | None = None, raw: bool = False) -> Tensor:
        """The mean of p(x | z[, y]) in data units; ``raw``: the parameters (:meth:`params`) instead."""
        p = self.params(z, y)
        if raw:
            return p
        return 2 * torch.sigmoid(p) - 1 if self.bernoulli else p
