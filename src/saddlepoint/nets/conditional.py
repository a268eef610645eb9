"""Conditional players: wrappers that give a plain generator a label or code, and a plain critic a
label input (cGAN) or an auxiliary head (AC-GAN's classifier, InfoGAN's Q).

The wrapped image critics expose ``features(x) -> (B, F)`` and ``score(h) -> (B,)`` with
``forward(x) == score(features(x))``, so a head or a projection reads the same features the score does.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["ConditionalGenerator", "LabelCritic", "AuxiliaryCritic", "PairCritic"]


class ConditionalGenerator(nn.Module):
    """G(z, c) = base([z, c]): c is an integer label (B,) (one-hot encoded here) or a float code (B, d).
    ``base`` must take ``z_dim + cond_dim`` inputs."""

    def __init__(self, base: nn.Module, n_classes: int = 0):
        super().__init__()
        self.base, self.n_classes = base, n_classes

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        if not c.is_floating_point():
            c = F.one_hot(c, self.n_classes)
        return self.base(torch.cat([z, c.to(z.dtype)], dim=1))


class LabelCritic(nn.Module):
    """cGAN critic D(x, y) → raw score (B,).

    ``concat``: the label enters as K one-hot planes beside the image channels (``base`` takes
    channels + K inputs).  ``projection`` (Miyato & Koyama 2018, eq. 3): D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩
    with a learned class embedding e and ``base``'s features φ and score ψ."""

    def __init__(self, base: nn.Module, n_classes: int, mode: Literal["concat", "projection", "text"] = "concat",
                 cond_dim: int = 0):
        super().__init__()
        self.base, self.n_classes, self.mode = base, n_classes, mode
        if mode == "projection":
            self.embed = nn.Embedding(n_classes, base.feature_dim)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        elif mode == "text":  # a sentence vector (B, cond_dim), projected like a class embedding
            self.embed = nn.Linear(cond_dim, base.feature_dim, bias=False)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if self.mode == "concat":
            planes = F.one_hot(y, self.n_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            return self.base(torch.cat([x, planes], dim=1))
        h = self.base.features(x)  # (B, F)
        return self.base.score(h) + (self.embed(y).to(h.dtype) * h).sum(1)


class AuxiliaryCritic(nn.Module):
    """D(x) → (raw score (B,), auxiliary outputs (B, n_out)) from one pass through ``base``'s features:
    AC-GAN's class logits (a linear head) or InfoGAN's Q (a hidden layer with batch norm, as in Chen et al. 2016)."""

    def __init__(self, base: nn.Module, n_out: int, hidden: int = 0):
        super().__init__()
        self.base = base
        feature_dim = base.feature_dim
        self.head = (nn.Sequential(nn.Linear(feature_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2),
                                   nn.Linear(hidden, n_out))
                     if hidden else nn.Linear(feature_dim, n_out))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.base.features(x)
        return self.base.score(h), self.head(h)


class PairCritic(nn.Module):
    """pix2pix's conditional critic D(x, a) = base([a, x]): the source image a beside the image x it judges
    (``base`` takes a's channels + x's channels), so it can tell whether x fits a, not only whether x is real."""

    def __init__(self, base: nn.Module):
        super().__init__()
        self.base = base

    def forward(self, x: Tensor, source: Tensor) -> Tensor:
        return self.base(torch.cat([source, x], dim=1))  # (B, Cs + C, H, W); cat promotes mixed precision
