"""Progressive growing (Karras et al. 2018): players that start at the smallest resolution and grow a block at a
time, each new block faded in as α goes from 0 to 1, with the paper's equalized learning rate, pixel-wise feature
normalization in the generator and the minibatch standard-deviation feature in the critic.

Both players keep full-size interfaces: the generator draws at its current resolution and enlarges the picture
(nearest neighbour) to the image size; the critic averages its input down to the current resolution (which undoes
that enlargement exactly) and reads it there.  Where they are in the schedule is a buffer of each player
(``grow_step``, the generator step), set by the training code before each step, saved in checkpoints (so a run
resumes in the middle of a fade) and copied into the EMA generator with the other buffers.  :class:`Growth` maps a
step to (level, α) by the images shown: ``stable`` images at the smallest resolution, then for every larger one
``fade`` images of fading in and ``stable`` images at full strength."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .common import resolution_plan
from .registry import PlayerSpec, register_players

__all__ = ["Growth", "ProGenerator", "ProCritic", "set_growth_step", "growth_of", "at_current_resolution"]


@dataclass(frozen=True)
class Growth:
    levels: int  # resolutions above the smallest
    fade: int  # images over which a new block fades in
    stable: int  # images at each resolution at full strength
    batch: int  # images per generator step

    def at(self, step: int) -> tuple[int, float]:
        """(level, α) after ``step`` generator steps: level 0 is the smallest resolution; α < 1 while fading in."""
        shown = step * self.batch
        if shown < self.stable:
            return 0, 1.0
        shown -= self.stable
        period = self.fade + self.stable
        level = min(self.levels, 1 + shown // period)
        if level == self.levels and shown >= self.levels * period:
            return level, 1.0
        within = shown - (level - 1) * period
        return level, min(1.0, within / self.fade) if self.fade else 1.0


class EqualizedConv2d(nn.Conv2d):
    """A convolution whose weights are drawn from N(0, 1) and scaled by He's constant √(2 / fan-in) at every call
    (the equalized learning rate: Adam then moves every layer at the same pace)."""

    def __init__(self, c_in: int, c_out: int, k: int, gain: float = math.sqrt(2)):
        super().__init__(c_in, c_out, k, padding=k // 2)
        nn.init.normal_(self.weight)
        nn.init.zeros_(self.bias)
        self.scale = gain / math.sqrt(c_in * k * k)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Linear):
    def __init__(self, d_in: int, d_out: int, gain: float = math.sqrt(2)):
        super().__init__(d_in, d_out)
        nn.init.normal_(self.weight)
        nn.init.zeros_(self.bias)
        self.scale = gain / math.sqrt(d_in)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Each pixel's feature vector scaled to unit mean square (the generator's only normalization)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: Tensor, group: int = 4) -> Tensor:
    """One more feature map: the standard deviation of each feature over a group of samples, averaged over
    features and pixels, the same for the group — the critic sees how varied a batch is."""
    b, c, h, w = x.shape
    g = min(group, b)
    while b % g:
        g -= 1
    y = x.view(g, -1, c, h, w)
    y = (y - y.mean(0)).pow(2).mean(0).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/g,)
    y = y.repeat(g).view(b, 1, 1, 1).expand(b, 1, h, w)
    return torch.cat([x, y], dim=1)


class _Growing(nn.Module):
    def __init__(self, growth: Growth):
        super().__init__()
        self.growth = growth
        self.register_buffer("grow_step", torch.zeros((), dtype=torch.long))

    def phase(self) -> tuple[int, float]:
        return self.growth.at(int(self.grow_step))

    def shrink(self, x: Tensor, level: int | None = None) -> Tensor:
        """A full-size picture averaged down to the current resolution (or ``level``'s), which undoes the
        generator's enlargement exactly; a picture already that small is returned as it is."""
        side = self.base * 2 ** (self.phase()[0] if level is None else level)
        return F.avg_pool2d(x, x.shape[-1] // side) if x.shape[-1] != side else x


def widths(width: int, levels: int, floor: int = 8) -> list[int]:
    """Channels at each resolution, smallest first: ``width`` at the smallest, halved at every doubling of the
    side (the paper's rule, fmap_base / 2^stage under a cap), never below ``floor``.  The pixels quadruple as the
    channels halve, so every resolution costs about the same per image instead of 4× the one before."""
    return [max(floor, width >> level) for level in range(levels + 1)]


class ProGenerator(_Growing):
    """z → picture drawn at the current resolution, enlarged to ``image_size``."""

    def __init__(self, z_dim: int, channels: int, image_size: int, width: int, growth: Growth):
        super().__init__(growth)
        self.base, steps = resolution_plan(image_size)
        self.image_size = image_size
        w = self.widths = widths(width, steps)
        self.first = EqualizedLinear(z_dim, w[0] * self.base * self.base, gain=math.sqrt(2) / 4)
        self.first_conv = EqualizedConv2d(w[0], w[0], 3)
        self.blocks = nn.ModuleList([nn.ModuleList([EqualizedConv2d(w[i], w[i + 1], 3),
                                                    EqualizedConv2d(w[i + 1], w[i + 1], 3)]) for i in range(steps)])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(w[i], channels, 1, gain=1.0) for i in range(steps + 1)])

    def forward(self, z: Tensor) -> Tensor:
        level, alpha = self.phase()
        act = lambda t: pixel_norm(F.leaky_relu(t, 0.2))
        h = act(self.first(pixel_norm(z)).view(z.shape[0], self.widths[0], self.base, self.base))
        h = act(self.first_conv(h))
        prev = h
        for i in range(level):
            prev = h
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = act(self.blocks[i][1](act(self.blocks[i][0](h))))
        x = self.to_rgb[level](h)
        if alpha < 1 and level > 0:  # fading in: the previous resolution's picture, enlarged, blended away
            x = alpha * x + (1 - alpha) * F.interpolate(self.to_rgb[level - 1](prev), scale_factor=2, mode="nearest")
        return F.interpolate(x, size=self.image_size, mode="nearest") if x.shape[-1] != self.image_size else x

    def show(self, real: Tensor) -> Tensor:
        """Real images as the critic should see them now: at the current resolution (blended with the previous
        one while fading in), enlarged back to full size like the generator's pictures."""
        level, alpha = self.phase()
        n = len(self.blocks)
        if level == n and alpha >= 1:
            return real
        small = self.shrink(real, level)
        if alpha < 1 and level > 0:
            small = alpha * small + (1 - alpha) * F.interpolate(F.avg_pool2d(small, 2), scale_factor=2, mode="nearest")
        return F.interpolate(small, size=self.image_size, mode="nearest") if small.shape[-1] != self.image_size else small


class ProCritic(_Growing):
    """picture (full size) → raw score, read at the current resolution."""

    def __init__(self, channels: int, image_size: int, width: int, growth: Growth, pack: int = 1):
        super().__init__(growth)
        self.base, steps = resolution_plan(image_size)
        self.pack = pack
        w = self.widths = widths(width, steps)
        self.from_rgb = nn.ModuleList([EqualizedConv2d(channels * pack, w[i], 1) for i in range(steps + 1)])
        self.blocks = nn.ModuleList([nn.ModuleList([EqualizedConv2d(w[i + 1], w[i + 1], 3),
                                                    EqualizedConv2d(w[i + 1], w[i], 3)])
                                     for i in range(steps)])  # blocks[i] reads level i + 1, hands level i on
        self.last_conv = EqualizedConv2d(w[0] + 1, w[0], 3)
        self.dense = EqualizedLinear(w[0] * self.base * self.base, w[0])
        self.out = EqualizedLinear(w[0], 1, gain=1.0)
        self.feature_dim = w[0]

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x))

    def features(self, x: Tensor) -> Tensor:
        """Features of full-size pictures, or of pictures already at the current resolution (as the gradient
        penalty hands them: see :func:`at_current_resolution`)."""
        from .common import pack_samples

        level, alpha = self.phase()
        x = self.shrink(pack_samples(x, self.pack), level)
        act = lambda t: F.leaky_relu(t, 0.2)
        h = act(self.from_rgb[level](x))
        for i in range(level, 0, -1):
            block = self.blocks[i - 1]
            h = F.avg_pool2d(act(block[1](act(block[0](h)))), 2)
            if i == level and alpha < 1:  # fading in: the smaller path from the averaged picture, blended away
                h = alpha * h + (1 - alpha) * act(self.from_rgb[level - 1](F.avg_pool2d(x, 2)))
        h = act(self.last_conv(minibatch_stddev(h)))
        return act(self.dense(h.flatten(1)))

    def score(self, h: Tensor) -> Tensor:
        return self.out(h).squeeze(-1)


def at_current_resolution(fn, critic: ProCritic):
    """A critic penalty on input gradients (WGAN-GP, R1) measured where the growing critic reads: at the current
    resolution, as in the paper, whose players are that small.  Measured on the full-size pictures instead, a
    gradient is spread over the 4^(n − level) copies of each pixel and its norm shrinks by 2^(n − level): at 7 px
    of 28 the penalty would ask the critic for 4× the slope the paper asks, and the critic spends the first
    phase fighting its penalty instead of telling digits from the generator's blobs."""

    def penalty(critic_fn, real: Tensor, fake: Tensor) -> Tensor:
        return fn(critic_fn, critic.shrink(real), critic.shrink(fake))

    return penalty


def set_growth_step(module: nn.Module, step: int) -> None:
    """Tell every growing player inside ``module`` the generator step it is at."""
    for m in module.modules():
        if isinstance(m, _Growing):
            m.grow_step.fill_(step)


def growth_of(module: nn.Module) -> _Growing | None:
    return next((m for m in module.modules() if isinstance(m, _Growing)), None)


@register_players("progan")
def progan_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    steps = resolution_plan(cfg.image_size)[1]
    growth = Growth(steps, cfg.progan_fade_images, cfg.progan_stable_images, cfg.batch_size)
    return (ProGenerator(spec.z_in, spec.channels, cfg.image_size, 4 * cfg.base_channels, growth),
            ProCritic(spec.d_in, cfg.image_size, 2 * cfg.base_channels, growth, pack=cfg.pack))
