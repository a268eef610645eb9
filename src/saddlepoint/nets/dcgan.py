"""DCGAN players (Radford, Metz & Chintala 2016), following the paper's architecture rules:

* no pooling: the generator upsamples with transposed convolutions, the discriminator downsamples
  with strided convolutions;
* batch norm in both players, except at the generator's output and the discriminator's input;
* ReLU in the generator with tanh at its output; LeakyReLU(0.2) in the discriminator;
* weights initialized from N(0, 0.02) (batch-norm scales from N(1, 0.02)).

Any ``image_size`` of the form b·2^n with b in {4, 5, 6, 7} works: 28 = 7·2², 32 = 4·2³, 64 = 4·2⁴.
Channel widths double at each downsampling step from ``base_channels`` (64 in the paper).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from .common import pack_samples, resolution_plan
from .registry import PlayerSpec, register_players

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "dcgan_init"]


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialization: conv weights N(0, 0.02); batch-norm scale N(1, 0.02), shift 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (B, z_dim) → image (B, channels, image_size, image_size) in [−1, 1]."""

    def __init__(self, z_dim: int = 100, channels: int = 1, image_size: int = 64, base_channels: int = 64):
        super().__init__()
        base, steps = resolution_plan(image_size)
        self.z_dim = z_dim
        width = base_channels * 2 ** (steps - 1)
        # Project z to a (width, base, base) map: a transposed convolution over a 1×1 input.
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, width, base, 1, 0, bias=False), nn.BatchNorm2d(width),
                                   nn.ReLU(True)]
        for _ in range(steps - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]  # no batch norm at the output
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """image (B, channels, image_size, image_size) → raw score (B,); higher = more real (no sigmoid).

    ``pack`` > 1 makes it a PacDCGAN critic (Lin et al. 2018): ``pack`` consecutive images enter stacked
    along the channel axis, one score per pack.  ``batch_norm=False`` drops the hidden layers' batch norm
    (their convolutions then get biases), for penalties that need per-sample gradients and for critics too
    small to see real and fake batches normalized apart.  ``outputs`` > 1: a feature vector (B, outputs) in
    place of the score (MMD-GAN's learned feature map)."""

    def __init__(self, channels: int = 1, image_size: int = 64, base_channels: int = 64, pack: int = 1,
                 batch_norm: bool = True, outputs: int = 1):
        super().__init__()
        base, steps = resolution_plan(image_size)
        self.pack = pack
        width = base_channels
        layers: list[nn.Module] = [nn.Conv2d(channels * pack, width, 4, 2, 1, bias=False),  # no batch norm at the input
                                   nn.LeakyReLU(0.2, True)]
        for _ in range(steps - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not batch_norm),
                       *([nn.BatchNorm2d(width * 2)] if batch_norm else []), nn.LeakyReLU(0.2, True)]
            width *= 2
        layers += [nn.Conv2d(width, outputs, base, 1, 0, bias=False)]  # (B, outputs, 1, 1)
        self.net = nn.Sequential(*layers)
        self.outputs = outputs
        self.feature_dim = width * base * base
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(pack_samples(x, self.pack))
        return out.flatten() if self.outputs == 1 else out.flatten(1)

    def features(self, x: Tensor) -> Tensor:
        """The last feature map, flattened: (B, feature_dim) (for heads and projections)."""
        return self.net[:-1](pack_samples(x, self.pack)).flatten(1)

    def score(self, h: Tensor) -> Tensor:
        """The final convolution covers the whole base×base map, so on features it is a linear map."""
        return F.linear(h, self.net[-1].weight.flatten(1).to(h.dtype)).squeeze(-1)


@register_players("dcgan", critic_batch_norm=True)
def dcgan_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    return (DCGANGenerator(spec.z_in, spec.channels, cfg.image_size, cfg.base_channels),
            DCGANDiscriminator(spec.d_in, cfg.image_size, cfg.base_channels, cfg.pack, cfg.critic_batch_norm))
