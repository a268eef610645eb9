"""CycleGAN players (Zhu et al. 2017, appendix 7.2): two ResNet generators and two PatchGAN critics, held
as one generator and one critic over a batch of interleaved pairs (see ``penalties.swap_pairs``).

Generator (each direction): c7s1-w, d2w, d4w (3×3 stride-2 convolutions), ``blocks`` residual blocks of
4w channels, u2w, uw (3×3 stride-½ transposed convolutions), c7s1-C with tanh; instance norm and ReLU
throughout, reflection padding at the 7×7 ends.  The paper's w is 64 with 6 blocks at 128 px, 9 at 256.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ResNetTranslator", "CyclePair", "TwinCritic"]


class _Residual(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), nn.InstanceNorm2d(width), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), nn.InstanceNorm2d(width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetTranslator(nn.Module):
    """image (B, C_in, S, S) → image (B, C_out, S, S) in [−1, 1]; S a multiple of 4."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 64, blocks: int = 6):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7), nn.InstanceNorm2d(width),
                                   nn.ReLU(True)]
        for m in (1, 2):  # d2w, d4w
            layers += [nn.Conv2d(width * m, width * 2 * m, 3, 2, 1), nn.InstanceNorm2d(width * 2 * m), nn.ReLU(True)]
        layers += [_Residual(4 * width) for _ in range(blocks)]
        for m in (4, 2):  # u2w, uw
            layers += [nn.ConvTranspose2d(width * m, width * m // 2, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(width * m // 2), nn.ReLU(True)]
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
