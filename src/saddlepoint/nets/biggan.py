"""BigGAN's generator at small scale (Brock et al. 2019): the ResNet generator with class-conditional batch norm
fed by a shared class embedding, and the noise split across the blocks (hierarchical z).

z is cut into one chunk for the first linear layer and one chunk per up-sampling block.  In each block, every batch
norm's gain and bias are linear functions of [shared embedding of the class, the block's z chunk] (the gain as
1 + …, so a new layer starts as plain batch norm), one embedding table shared by all blocks.  The critic is the
ResNet critic; with ``conditional=cgan label_critic=projection`` it reads the class by projection, as BigGAN's does.
Unconditional (no classes), the gains and biases follow the z chunks alone."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .attention import SelfAttention
from .common import resolution_plan
from .registry import PlayerSpec, register_players
from .resnet import ResNetCritic, attention_sides

__all__ = ["BigGANGenerator", "ConditionalBatchNorm"]


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine part; gain 1 + W_γ c and bias W_β c from a condition vector c."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        g = 1 + self.gain(c).to(x.dtype)
        b = self.bias(c).to(x.dtype)
        return self.bn(x) * g[:, :, None, None] + b[:, :, None, None]


class _CondUpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm(c_in, cond_dim), ConditionalBatchNorm(c_out, cond_dim)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class BigGANGenerator(nn.Module):
    """G(z, y) → image in [−1, 1]; ``y``: integer labels (B,), or None for an unconditional generator."""

    reads_labels = True  # the training code gives it the labels themselves, not a one-hot code beside z

    def __init__(self, z_dim: int, channels: int, image_size: int, width: int, n_classes: int = 0,
                 embed_dim: int = 32, attention: int = 0):
        super().__init__()
        self.base, steps = resolution_plan(image_size)
        if z_dim < steps + 1:
            raise ValueError(f"z_dim={z_dim} cannot be split into {steps + 1} chunks (one per block and one more)")
        self.chunks = [z_dim // (steps + 1)] * (steps + 1)
        self.chunks[0] += z_dim - sum(self.chunks)  # the first linear layer takes the remainder
        self.z_dim, self.width, self.n_classes = z_dim, width, n_classes
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None  # shared by every block
        cond_dim = (embed_dim if n_classes else 0) + self.chunks[1]
        self.linear = nn.Linear(self.chunks[0], width * self.base * self.base)
        self.blocks = nn.ModuleList([_CondUpBlock(width, width, cond_dim) for _ in range(steps)])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())
        self.attention_after = attention_sides(image_size).index(attention) if attention else -1
        if attention:
            self.attention = SelfAttention(width)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if (y is None) != (self.embed is None):
            raise ValueError("a class-conditional BigGAN generator takes labels; an unconditional one takes none")
        parts = torch.split(z, self.chunks, dim=1)
        e = self.embed(y).to(z.dtype) if y is not None else None
        h = self.linear(parts[0]).view(z.shape[0], self.width, self.base, self.base)
        for i, block in enumerate(self.blocks):
            c = parts[i + 1] if e is None else torch.cat([e, parts[i + 1]], dim=1)
            h = block(h, c)
            if i == self.attention_after:
                h = self.attention(h)
        return self.out(h)


@register_players("biggan")
def biggan_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    steps = resolution_plan(cfg.image_size)[1]
    G = BigGANGenerator(cfg.z_dim, spec.channels, cfg.image_size, 4 * cfg.base_channels, spec.classes,
                        attention=cfg.attention)
    D = ResNetCritic(spec.d_in, 2 * cfg.base_channels, down=min(steps, 2), pack=cfg.pack, image_size=cfg.image_size,
                     attention=cfg.attention)
    return G, D
