"""Differentiable augmentation of everything the critic reads (DiffAugment; Zhao, Liu, Lin, Zhu & Han 2020).

With few training images a critic learns them by heart: its scores on real images run away from its scores on
anything else, and the generator is told little.  Augmenting only the real images would teach the generator to
draw the augmentations; DiffAugment instead passes *every* image the critic reads — real and generated, in the
critic's step and in the generator's — through the same random transformations, which are differentiable, so the
generator's gradient flows back through them.  The game is unchanged in what it asks of G; the critic is kept
from memorizing.

Three policies, each drawn afresh per image:

* ``translation`` — shift by up to 1/8 of the side in each direction, uncovered pixels zero (mid-grey in [−1, 1]);
* ``cutout`` — a square of half the side, at a random place, set to zero;
* ``color`` — brightness + U(−½, ½), saturation × U(0, 2) about the pixel's channel mean, contrast × U(½, 3⁄2)
  about the image's mean.

The random numbers come from a ``torch.Generator`` of the run's own (checkpointed: resume stays exact).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

__all__ = ["POLICIES", "translation", "cutout", "color", "parse_policy", "Augmented"]


def _uniform(x: Tensor, g: torch.Generator, shape: tuple[int, ...]) -> Tensor:
    return torch.rand(shape, generator=g).to(device=x.device, dtype=x.dtype)


def color(x: Tensor, g: torch.Generator) -> Tensor:
    """Brightness, saturation and contrast, each by a random amount per image."""
    b = x.shape[0]
    x = x + (_uniform(x, g, (b, 1, 1, 1)) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x, g, (b, 1, 1, 1)) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, g, (b, 1, 1, 1)) + 0.5) + mean


def translation(x: Tensor, g: torch.Generator, ratio: float = 0.125) -> Tensor:
    """Each image shifted by up to ``ratio`` of its side (whole pixels, each axis on its own); zeros come in."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), generator=g).to(x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=g).to(x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # where each output pixel comes from
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    moved = x.permute(0, 2, 3, 1)[batch, rows.clamp(0, h - 1).expand(b, h, w), cols.clamp(0, w - 1).expand(b, h, w)]
    return moved.permute(0, 3, 1, 2) * inside.to(x.dtype)


def cutout(x: Tensor, g: torch.Generator, ratio: float = 0.5) -> Tensor:
    """A square of ``ratio`` of the side per image, centred anywhere (clipped at the border), set to zero."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), generator=g).to(x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), generator=g).to(x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, Callable[[Tensor, torch.Generator], Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout}


def parse_policy(text: str) -> list[str]:
    """``"translation,cutout"`` → the policies in the order they are applied (color, translation, cutout, as in the
    paper, whatever order they are written in); ValueError naming an unknown one."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(unknown[0])
    return [p for p in POLICIES if p in names]


class Augmented(nn.Module):
    """A critic that reads its images through ``policy``'s augmentations; any other argument (a label) passes as it
    is.  It holds no weights of its own: ``critic`` keeps its parameter names."""

    def __init__(self, critic: nn.Module, policy: list[str], generator: torch.Generator):
        super().__init__()
        self.critic, self.policy, self.generator = critic, list(policy), generator

    def forward(self, x: Tensor, *args, **kwargs):
        for name in self.policy:
            x = POLICIES[name](x, self.generator)
        return self.critic(x, *args, **kwargs)
