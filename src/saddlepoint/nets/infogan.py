"""The InfoGAN paper's MNIST players (Chen et al. 2016, appendix C.1, Table 1), with ``w = base_channels``
(the paper: 64) and ``S = image_size`` a multiple of 4 (28 for MNIST):

* generator: z → FC 16w, BN, ReLU → FC 2w·(S/4)², BN, ReLU → 4×4 transposed convolution to w channels at
  stride 2, BN, ReLU → 4×4 transposed convolution to the image channels at stride 2, tanh;
* discriminator: 4×4 convolution of w channels at stride 2, LeakyReLU(0.2) → 4×4 convolution of 2w at
  stride 2, BN, LeakyReLU → FC 16w, BN, LeakyReLU (the features the Q head shares) → a linear score.

Unlike the DCGAN players, both have a fully connected layer of 1024 units (at w = 64) between the image and
the code: on MNIST this decided whether the categorical code found the digit classes (after 5000 steps,
seed 0: code match 90.1 % against 50.2 % with DCGAN players; BENCHMARKS.md).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from .common import pack_samples
from .dcgan import dcgan_init
from .registry import PlayerSpec, register_players

__all__ = ["InfoGANGenerator", "InfoGANDiscriminator"]


def _check_size(image_size: int) -> int:
    if image_size % 4:
        raise ValueError(f"the InfoGAN players upsample twice by 2: image_size must be a multiple of 4, not {image_size}")
    return image_size // 4


class InfoGANGenerator(nn.Module):
    """z (B, z_dim) → image (B, channels, image_size, image_size) in [−1, 1]."""

    def __init__(self, z_dim: int, channels: int = 1, image_size: int = 28, base_channels: int = 64):
        super().__init__()
        self.z_dim, w, self.base = z_dim, base_channels, _check_size(image_size)
        self.project = nn.Sequential(nn.Linear(z_dim, 16 * w, bias=False), nn.BatchNorm1d(16 * w), nn.ReLU(True),
                                     nn.Linear(16 * w, 2 * w * self.base ** 2, bias=False),
                                     nn.BatchNorm1d(2 * w * self.base ** 2), nn.ReLU(True))
        self.up = nn.Sequential(nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
                                nn.ConvTranspose2d(w, channels, 4, 2, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z.flatten(1))
        return self.up(h.view(h.shape[0], -1, self.base, self.base))


class InfoGANDiscriminator(nn.Module):
    """image (B, channels, image_size, image_size) → raw score (B,); ``features`` / ``score`` split it at the
    16w-unit layer (InfoGAN's Q and AC-GAN's class head read it).  ``pack`` > 1: PacGAN packing.
    ``batch_norm=False``: no batch norm in the hidden layers (biases instead)."""

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 64, pack: int = 1,
                 batch_norm: bool = True):
        super().__init__()
        w, base = base_channels, _check_size(image_size)
        self.pack, self.feature_dim = pack, 16 * w
        bn = (lambda norm: [norm]) if batch_norm else (lambda norm: [])  # noqa: E731
        self.body = nn.Sequential(nn.Conv2d(channels * pack, w, 4, 2, 1), nn.LeakyReLU(0.2, True),  # no BN at the input
                                  nn.Conv2d(w, 2 * w, 4, 2, 1, bias=not batch_norm), *bn(nn.BatchNorm2d(2 * w)),
                                  nn.LeakyReLU(0.2, True), nn.Flatten(),
                                  nn.Linear(2 * w * base ** 2, 16 * w, bias=not batch_norm), *bn(nn.BatchNorm1d(16 * w)),
                                  nn.LeakyReLU(0.2, True))
        self.out = nn.Linear(16 * w, 1)
        dcgan_init(self)

    def features(self, x: Tensor) -> Tensor:
        return self.body(pack_samples(x, self.pack))

    def score(self, h: Tensor) -> Tensor:
        return F.linear(h, self.out.weight.to(h.dtype), self.out.bias.to(h.dtype)).squeeze(-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x))


@register_players("infogan", critic_batch_norm=True, feature_batch_norm=True)
def infogan_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    return (InfoGANGenerator(spec.z_in, spec.channels, cfg.image_size, cfg.base_channels),
            InfoGANDiscriminator(spec.d_in, cfg.image_size, cfg.base_channels, cfg.pack, cfg.critic_batch_norm))
