"""The generator of a generative moment-matching network (Li, Swersky & Zemel 2015): a fully connected ReLU
network from the noise to the data, with no critic beside it."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["MomentMatchingGenerator", "CodeAutoencoder", "GMMNWithAutoencoder"]


class MomentMatchingGenerator(nn.Module):
    """z (B, z_dim) → x (B, *out_shape): hidden ReLU layers of the given widths (the paper's MNIST network:
    10 → 64 → 256 → 256 → 1024 → 784).  Images (``bounded``): the paper's sigmoid output, mapped from [0, 1] onto
    the pixels' [−1, 1] (2·sigmoid − 1); codes of an autoencoder (``unit``): the sigmoid itself, in [0, 1] as the
    codes are; 2-D points: a linear output."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...], hidden: tuple[int, ...], bounded: bool,
                 unit: bool = False):
        super().__init__()
        self.z_dim, self.out_shape, self.bounded, self.unit = z_dim, tuple(out_shape), bounded, unit
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, math.prod(self.out_shape)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        x = self.net(z)
        if self.unit:
            x = torch.sigmoid(x)
        elif self.bounded:
            x = 2 * torch.sigmoid(x) - 1
        return x.view(z.shape[0], *self.out_shape)


class CodeAutoencoder(nn.Module):
    """GMMN+AE's autoencoder (Li et al. 2015): pixels in [0, 1] → sigmoid hidden layers → a sigmoid code in
    [0, 1]^code, and back through the mirrored layers to pixel logits.  Dropout on the input of each encoder layer
    (the authors' MNIST setting: 0.2 on the pixels, 0.5 on the 1024 hidden units) keeps the codes spread out."""

    def __init__(self, image_shape: tuple[int, ...], hidden: tuple[int, ...], code: int,
                 dropout: tuple[float, ...]):
        super().__init__()
        self.image_shape, self.code = tuple(image_shape), code
        widths = [math.prod(self.image_shape), *hidden, code]
        enc: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            enc += [nn.Dropout(dropout[i]), nn.Linear(a, b), nn.Sigmoid()]
        dec: list[nn.Module] = []
        back = widths[::-1]
        for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
            dec += [nn.Linear(a, b)] + ([nn.Sigmoid()] if i < len(back) - 2 else [])
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def encode(self, pixels: Tensor) -> Tensor:
        """(B, C, H, W) pixels in [0, 1] → (B, code) codes in [0, 1]."""
        return self.encoder(pixels.flatten(1))

    def decode_logits(self, codes: Tensor) -> Tensor:
        """(B, code) → (B, C·H·W) Bernoulli logits of the pixels."""
        return self.decoder(codes)

    def forward(self, pixels: Tensor) -> Tensor:
        """The reconstruction's logits, (B, C·H·W): what the autoencoder's cross-entropy reads."""
        return self.decode_logits(self.encode(pixels))


class GMMNWithAutoencoder(nn.Module):
    """GMMN+AE's sampler: a moment-matching network that draws codes, then the autoencoder's decoder; images in
    [−1, 1] like every generator of the toolkit."""

    def __init__(self, gmmn: MomentMatchingGenerator, autoencoder: CodeAutoencoder):
        super().__init__()
        self.gmmn, self.autoencoder = gmmn, autoencoder
        self.z_dim = gmmn.z_dim

    def forward(self, z: Tensor) -> Tensor:
        pixels = torch.sigmoid(self.autoencoder.decode_logits(self.gmmn(z)))
        return (2 * pixels - 1).view(z.shape[0], *self.autoencoder.image_shape)
