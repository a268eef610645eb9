"""ResNet players of the WGAN-GP / SNGAN CIFAR-10 kind (Gulrajani et al. 2017, appendix F;
Miyato et al. 2018, appendix B.4).

Generator: z → linear to (C, b, b) → n up-sampling residual blocks (BN, ReLU, nearest ×2, 3×3 conv,
BN, ReLU, 3×3 conv; 1×1 conv shortcut) → BN, ReLU, 3×3 conv, tanh.
Critic: an "optimized" first block that downsamples, further down-sampling blocks, then blocks at
constant resolution, ReLU, global sum pooling and a linear score.
With ``attention`` (a side in pixels) both take a self-attention block (SAGAN) after their block of that size.  No batch norm in the critic, so
it pairs with any penalty and with spectral normalization (``nets.with_spectral_norm``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .attention import SelfAttention
from .common import pack_samples, resolution_plan
from .registry import PlayerSpec, register_players

__all__ = ["ResNetGenerator", "ResNetCritic", "attention_sides"]


class _UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class _DownBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False):
        super().__init__()
        self.first, self.down = first, down
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (c_in != c_out or down) else None

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)  # the first block sees the image itself
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.shortcut is not None:
            # The first block pools before its shortcut conv, the others after (Miyato et al. B.4).
            s = self.shortcut(F.avg_pool2d(s, 2)) if (self.first and self.down) else self.shortcut(s)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    """z (B, z_dim) → image (B, channels, image_size, image_size) in [−1, 1]."""

    def __init__(self, z_dim: int = 128, channels: int = 3, image_size: int = 32, width: int = 256,
                 attention: int = 0):
        super().__init__()
        self.base, steps = resolution_plan(image_size)
        self.z_dim, self.width = z_dim, width
        self.linear = nn.Linear(z_dim, width * self.base * self.base)
        self.blocks = nn.Sequential(*[_UpBlock(width, width) for _ in range(steps)])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())
        # Self-attention after the block whose output is ``attention`` pixels a side (0: none).
        self.attention_after = attention_sides(image_size).index(attention) if attention else -1
        if attention:
            self.attention = SelfAttention(width)

    def forward(self, z: Tensor) -> Tensor:
        h = self.linear(z).view(z.shape[0], self.width, self.base, self.base)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        return self.out(h)


class ResNetCritic(nn.Module):
    """image → raw score (B,).  ``down`` down-sampling blocks, then two at constant resolution."""

    def __init__(self, channels: int = 3, width: int = 128, down: int = 2, pack: int = 1, image_size: int = 0,
                 attention: int = 0):
        super().__init__()
        self.pack = pack  # PacGAN: ``pack`` images stacked along channels, one score per pack
        blocks = [_DownBlock(channels * pack, width, down=True, first=True)]
        blocks += [_DownBlock(width, width, down=True) for _ in range(down - 1)]
        blocks += [_DownBlock(width, width, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(width, 1)
        self.feature_dim = width
        # Self-attention after the first block whose output is ``attention`` pixels a side, where one is.
        sides = [image_size // 2 ** min(i + 1, down) for i in range(len(blocks))]
        self.attention_after = sides.index(attention) if attention and attention in sides else -1
        if self.attention_after >= 0:
            self.attention = SelfAttention(width)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x))

    def features(self, x: Tensor) -> Tensor:
        """ReLU and global sum pooling of the last block: (B, width)."""
        h = pack_samples(x, self.pack)
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        return torch.sum(F.relu(h), dim=(2, 3))

    def score(self, h: Tensor) -> Tensor:
        return self.linear(h).squeeze(-1)


@register_players("resnet")
def resnet_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    steps = resolution_plan(cfg.image_size)[1]
    return (ResNetGenerator(spec.z_in, spec.channels, cfg.image_size, 4 * cfg.base_channels, cfg.attention),
            ResNetCritic(spec.d_in, 2 * cfg.base_channels, down=min(steps, 2), pack=cfg.pack, image_size=cfg.image_size,
                         attention=cfg.attention))


def attention_sides(image_size: int) -> list[int]:
    """The feature-map sides at which the ResNet generator can take self-attention (its blocks' outputs)."""
    base, steps = resolution_plan(image_size)
    return [base * 2 ** (i + 1) for i in range(steps)]
