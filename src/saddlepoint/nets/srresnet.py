"""Super-resolution players of SRGAN (Ledig et al. 2017, figure 4), 4× upscaling.

Generator (SRResNet): 9×9 convolution + PReLU; ``blocks`` residual blocks (3×3 conv, BN, PReLU, 3×3
conv, BN, plus the block's input); 3×3 conv + BN plus the first layer's output (a long skip); two
sub-pixel upsampling stages (3×3 conv to 4× the channels, pixel shuffle ×2, PReLU); a 9×9 convolution to
the image channels.  Output in [−1, 1] (tanh), the range of every image in saddlepoint.

Critic: 3×3 convolutions alternating stride 1 and 2 with widths w, w, 2w, 2w, 4w, 4w, 8w, 8w (batch norm
except the first, LeakyReLU 0.2), then a dense layer of 16w units, LeakyReLU and a raw score (no sigmoid).
The paper's w is 64 and its generator has 16 blocks of 64 channels.

``residual=True`` (not in the paper) adds the bicubic enlargement of the input to the generator's output,
so the network learns only the detail bicubic interpolation misses (global residual learning, as in
VDSR, Kim et al. 2016): on a CPU budget of minutes it starts at bicubic quality instead of at grey.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from .registry import PlayerSpec, register_players

__all__ = ["SRResNet", "SRCritic"]


class _Residual(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.PReLU(width),
                                  nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """low-resolution image (B, C, s, s) in [−1, 1] → (B, C, 4s, 4s) in [−1, 1]."""

    def __init__(self, channels: int = 3, width: int = 64, blocks: int = 16, upscale: int = 4, residual: bool = False):
        super().__init__()
        if upscale not in (2, 4, 8):
            raise ValueError(f"upscale must be 2, 4 or 8, not {upscale}")
        self.upscale, self.residual = upscale, residual
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.blocks = nn.Sequential(*[_Residual(width) for _ in range(blocks)],
                                    nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width))
        up: list[nn.Module] = []
        for _ in range(upscale.bit_length() - 1):  # ×2 per stage
            up += [nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(width)]
        self.up = nn.Sequential(*up)
        self.tail = nn.Sequential(nn.Conv2d(width, channels, 9, 1, 4), nn.Tanh())
        if residual:  # start from bicubic: the detail branch begins near zero
            nn.init.zeros_(self.tail[0].weight)
            nn.init.zeros_(self.tail[0].bias)

    def forward(self, low: Tensor) -> Tensor:
        h = self.head(low)
        out = self.tail(self.up(h + self.blocks(h)))
        if not self.residual:
            return out
        base = F.interpolate(low, scale_factor=self.upscale, mode="bicubic", align_corners=False)
        return (base + out).clamp(-1, 1)


class SRCritic(nn.Module):
    """high-resolution image (B, C, S, S), S a multiple of 16 → raw score (B,); higher = more real.
    ``batch_norm=False`` leaves out the batch norm after every convolution but the first."""

    def __init__(self, channels: int = 3, width: int = 64, image_size: int = 96, batch_norm: bool = True):
        super().__init__()
        if image_size % 16:
            raise ValueError(f"the SRGAN critic halves the image four times; image_size={image_size} is not a multiple of 16")
        layers: list[nn.Module] = []
        c = channels
        for i, (mult, stride) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]):
            w = width * mult
            norm = [nn.BatchNorm2d(w)] if i and batch_norm else []  # none after the first convolution
            layers += [nn.Conv2d(c, w, 3, stride, 1), *norm, nn.LeakyReLU(0.2, True)]
            c = w
        self.features = nn.Sequential(*layers)
        side = image_size // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * side * side, 16 * width), nn.LeakyReLU(0.2, True),
                                  nn.Linear(16 * width, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).squeeze(-1)


@register_players("srresnet", critic_batch_norm=True)
def srresnet_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    return (SRResNet(spec.channels, cfg.base_channels, cfg.res_blocks, residual=cfg.sr_residual),
            SRCritic(spec.channels, cfg.base_channels, cfg.image_size, cfg.critic_batch_norm))
