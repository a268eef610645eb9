"""CycleGAN players (Zhu et al. 2017, appendix 7.2): two ResNet generators and two PatchGAN critics, held
as one generator and one critic over a batch of interleaved pairs (see ``penalties.swap_pairs``).

Generator (each direction): c7s1-w, d2w, d4w (3×3 stride-2 convolutions; ``down`` of them, 2 in the paper),
``blocks`` residual blocks of 2^down·w channels, u2w, uw (3×3 stride-½ transposed convolutions), c7s1-C with
tanh; instance norm and ReLU throughout, reflection padding at the 7×7 ends.  The paper's w is 64 with 6 blocks at 128 px, 9 at 256.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .common import resolution_plan
from .registry import PlayerSpec, register_players
from .unet import PatchCritic

__all__ = ["ResNetTranslator", "CyclePair", "TwinCritic"]


class _Residual(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), nn.InstanceNorm2d(width), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), nn.InstanceNorm2d(width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetTranslator(nn.Module):
    """image (B, C_in, S, S) → image (B, C_out, S, S) in [−1, 1]; S a multiple of 2^``down``.

    ``down`` stride-2 convolutions (the paper: 2, d2w and d4w, at 128 and 256 px) set how much of the image
    one output pixel sees: at 28 px two of them leave a 7×7 map whose blocks can redraw a whole digit, one
    (a 14×14 map) keeps its shape (BENCHMARKS.md, CycleGAN)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 64, blocks: int = 6, down: int = 2):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), nn.InstanceNorm2d(width),
                                   nn.ReLU(True)]
        w = width
        for _ in range(down):  # d2w, d4w, …
            layers += [nn.Conv2d(w, 2 * w, 3, 2, 1), nn.InstanceNorm2d(2 * w), nn.ReLU(True)]
            w *= 2
        layers += [_Residual(w) for _ in range(blocks)]
        for _ in range(down):  # …, u2w, uw
            layers += [nn.ConvTranspose2d(w, w // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(w // 2), nn.ReLU(True)]
            w //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CyclePair(nn.Module):
    """G: A → B and F: B → A over interleaved pairs: [a₀, b₀, a₁, b₁, …] → [G(a₀), F(b₀), G(a₁), F(b₁), …]."""

    def __init__(self, a_to_b: nn.Module, b_to_a: nn.Module):
        super().__init__()
        self.a_to_b, self.b_to_a = a_to_b, b_to_a

    def forward(self, pairs: Tensor) -> Tensor:
        out = torch.stack([self.a_to_b(pairs[0::2]), self.b_to_a(pairs[1::2])], dim=1)  # (n, 2, C, H, W)
        return out.reshape(pairs.shape[0], *out.shape[2:])


class TwinCritic(nn.Module):
    """D_B and D_A over interleaved pairs [b-slot, a-slot, …]: the even samples are judged as domain-B images,
    the odd ones as domain-A images; the patch scores come back in the same order, flattened."""

    def __init__(self, critic_b: nn.Module, critic_a: nn.Module):
        super().__init__()
        self.critic_b, self.critic_a = critic_b, critic_a

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0] // 2
        sb, sa = self.critic_b(x[0::2]).reshape(n, -1), self.critic_a(x[1::2]).reshape(n, -1)
        return torch.stack([sb, sa], dim=1).flatten()


@register_players("cyclegan")
def cyclegan_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    """Two translators (A → B, B → A) and two instance-normed PatchGAN critics, one per domain."""
    steps = resolution_plan(cfg.image_size)[1]

    def translator():
        return ResNetTranslator(spec.channels, spec.channels, cfg.base_channels, cfg.res_blocks, cfg.translator_downsampling)

    def critic():
        return PatchCritic(spec.channels, cfg.base_channels, min(3, steps), norm="instance")

    return CyclePair(translator(), translator()), TwinCritic(critic(), critic())
