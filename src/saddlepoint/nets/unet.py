"""pix2pix players (Isola et al. 2017): a U-Net generator and a PatchGAN critic conditioned on the input.

U-Net: an encoder of 4×4 stride-2 convolutions (batch norm except the first, LeakyReLU 0.2) down to the
base resolution b (image_size = b·2^n, as for the DCGAN players), a 3×3 bottleneck, and a decoder of 4×4
stride-2 transposed convolutions (batch norm, ReLU; dropout 0.5 in the innermost up to three, the
generator's only noise) whose every stage also sees the encoder's feature map of the same size (skip
connections), ending in tanh.  Widths double from ``base_channels`` and stop at 8× (64 → 512 in the paper).
The dropout is ordinary ``nn.Dropout``: on in training, off in eval mode, so sampling is deterministic
(the paper keeps it on at test time as the generator's noise).

PatchGAN: 4×4 convolutions, stride 2 then a stride-1 layer, batch norm except the first, LeakyReLU 0.2,
and a 1-channel output map: one raw score per overlapping patch (70×70 at 256 px with three stride-2
layers; proportionally smaller patches at 28-64 px), returned flattened so every game reads it as a
batch of scores.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .common import resolution_plan
from .dcgan import dcgan_init
from .registry import PlayerSpec, register_players

__all__ = ["UNetGenerator", "PatchCritic"]


class UNetGenerator(nn.Module):
    """source image (B, in_channels, S, S) in [−1, 1] → image (B, out_channels, S, S) in [−1, 1]."""

    def __init__(self, in_channels: int = 1, out_channels: int = 1, image_size: int = 256, base_channels: int = 64,
                 dropout: float = 0.5):
        super().__init__()
        _, steps = resolution_plan(image_size)
        widths = [min(base_channels * 2**i, 8 * base_channels) for i in range(steps)]
        self.down = nn.ModuleList()
        c = in_channels
        for i, w in enumerate(widths):
            norm = [nn.BatchNorm2d(w)] if i > 0 else []
            self.down.append(nn.Sequential(nn.Conv2d(c, w, 4, 2, 1, bias=False), *norm, nn.LeakyReLU(0.2, True)))
            c = w
        self.bottleneck = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True))
        self.up = nn.ModuleList()
        for i in reversed(range(steps)):  # innermost first; input = previous stage ++ skip of the same size
            c_in = c + widths[i]
            c_out = widths[i - 1] if i > 0 else base_channels
            drop = [nn.Dropout(dropout)] if (steps - 1 - i) < 3 and i > 0 and dropout > 0 else []
            self.up.append(nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                                         *drop, nn.ReLU(True)))
            c = c_out
        self.out = nn.Sequential(nn.Conv2d(c, out_channels, 3, 1, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, source: Tensor) -> Tensor:
        skips = []
        h = source
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        h = self.bottleneck(h)
        for layer in self.up:
            h = layer(torch.cat([h, skips.pop()], dim=1))
        return self.out(h)


class PatchCritic(nn.Module):
    """image (B, channels, S, S) → raw scores (B·P,) of P overlapping patches; higher = more real.
    ``norm``: batch norm (pix2pix), instance norm (CycleGAN, which trains on tiny batches) or none (each
    sample scored alone, as a per-sample gradient penalty needs)."""

    def __init__(self, channels: int, base_channels: int = 64, stride2_layers: int = 3,
                 norm: Literal["batch", "instance", "none"] = "batch"):
        super().__init__()
        make_norm = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d, "none": None}[norm]

        def block(c_in: int, c_out: int, stride: int, normed: bool) -> list[nn.Module]:
            # Biases only in a critic without norms (with one, the input layer has none either, as it always had).
            return [nn.Conv2d(c_in, c_out, 4, stride, 1, bias=make_norm is None),
                    *([make_norm(c_out)] if normed and make_norm is not None else []), nn.LeakyReLU(0.2, True)]

        layers: list[nn.Module] = []
        c, w = channels, base_channels
        for i in range(stride2_layers):
            layers += block(c, w, 2, normed=i > 0)  # none at the input (DCGAN's rule)
            c, w = w, min(2 * w, 8 * base_channels)
        layers += [*block(c, w, 1, normed=True), nn.Conv2d(w, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()


@register_players("unet", critic_batch_norm=True)
def unet_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    """pix2pix: a U-Net from the source to the target image and a PatchGAN critic of (source, image) pairs."""
    from .conditional import PairCritic

    steps = resolution_plan(cfg.image_size)[1]
    return (UNetGenerator(spec.source_channels, spec.channels, cfg.image_size, cfg.base_channels),
            PairCritic(PatchCritic(spec.source_channels + spec.channels, cfg.base_channels, stride2_layers=min(3, steps),
                                   norm="batch" if cfg.critic_batch_norm else "none")))
