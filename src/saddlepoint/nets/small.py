"""The small players of the Unrolled-GAN stacked-MNIST experiment (Metz et al. 2017, appendix; the
"weak discriminator" setting that PacGAN's Table 3 quotes, ../shared/REFERENCES.md §2).

Generator: linear to 4×4×64, then 3×3 stride-2 transposed convolutions to 7×7×32, 14×14×16, 28×28×8
(batch norm and ReLU after each), then a 3×3 convolution to the image channels with tanh.
Critic: three 3×3 stride-2 convolutions of ``width``, 2·width, 4·width channels (28→14→7→4) with
LeakyReLU(0.3) and batch norm after the second and third (none at the input, DCGAN's rule), then a
linear score.  ``width`` 2 is the paper's "D = ¼ G", 4 is "D = ½ G".  ``batch_norm=False`` leaves the
critic's batch norm out (see ``critic_batch_norm`` in the config).
Only 28×28 images.
"""

from __future__ import annotations

from torch import Tensor, nn

from .common import pack_samples
from .registry import PlayerSpec, register_players

__all__ = ["SmallGenerator", "SmallCritic"]


class SmallGenerator(nn.Module):
    def __init__(self, z_dim: int = 256, channels: int = 3):
        super().__init__()
        self.z_dim = z_dim
        self.project = nn.Sequential(nn.Linear(z_dim, 4 * 4 * 64), nn.BatchNorm1d(4 * 4 * 64), nn.ReLU())
        layers: list[nn.Module] = []
        for c_in, c_out, extra in ((64, 32, 0), (32, 16, 1), (16, 8, 1)):  # 4 → 7 → 14 → 28
            layers += [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=extra), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.Conv2d(8, channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.project(z).view(-1, 64, 4, 4))


class SmallCritic(nn.Module):
    def __init__(self, channels: int = 3, width: int = 2, pack: int = 1, batch_norm: bool = True):
        super().__init__()
        self.pack = pack
        layers: list[nn.Module] = []
        c_in = channels * pack
        for i, c_out in enumerate((width, 2 * width, 4 * width)):  # 28 → 14 → 7 → 4
            # No batch norm on the first layer (DCGAN's rule): with separate real and fake batches it would
            # normalize a collapsed generator's identical images to the same activations as real ones.
            norm = [nn.BatchNorm2d(c_out)] if i > 0 and batch_norm else []
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), *norm, nn.LeakyReLU(0.3)]
            c_in = c_out
        self.net = nn.Sequential(*layers)
        self.feature_dim = 4 * 4 * 4 * width
        self.linear = nn.Linear(self.feature_dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x))

    def features(self, x: Tensor) -> Tensor:
        return self.net(pack_samples(x, self.pack)).flatten(1)  # (B, 4·4·4·width)

    def score(self, h: Tensor) -> Tensor:
        return self.linear(h).squeeze(-1)


@register_players("small", critic_batch_norm=True, feature_batch_norm=True)
def small_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    return SmallGenerator(spec.z_in, spec.channels), SmallCritic(spec.d_in, cfg.base_channels, cfg.pack, cfg.critic_batch_norm)
