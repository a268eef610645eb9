"""Multi-layer perceptrons for low-dimensional (toy) data."""

from __future__ import annotations

from torch import Tensor, nn

from .common import pack_samples
from .registry import PlayerSpec, register_players

__all__ = ["MLPGenerator", "MLPCritic"]


class MLPGenerator(nn.Module):
    """z (B, z_dim) → x (B, out_dim): ``layers`` hidden layers of ``hidden`` units, ReLU, optional
    batch norm after each hidden linear layer (as in PacGAN's 2-D experiments), linear output."""

    def __init__(self, z_dim: int, out_dim: int, hidden: int = 256, layers: int = 3, batch_norm: bool = False):
        super().__init__()
        self.z_dim = z_dim
        blocks: list[nn.Module] = []
        width = z_dim
        for _ in range(layers):
            blocks.append(nn.Linear(width, hidden))
            if batch_norm:
                blocks.append(nn.BatchNorm1d(hidden))
            blocks.append(nn.ReLU())
            width = hidden
        blocks.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*blocks)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    """x (B, in_dim) → raw score (B,): ``layers`` hidden layers of ``hidden`` units with LeakyReLU(0.2),
    or maxout units of ``maxout`` pieces (Goodfellow et al. 2013; PacGAN's 2-D critic) when maxout > 1.

    ``pack`` > 1 makes it a PacGAN critic (Lin et al. 2018): it scores ``pack`` samples jointly, so the
    input is (B·pack, in_dim) and the output is (B,), one score per pack of consecutive samples."""

    def __init__(self, in_dim: int, hidden: int = 256, layers: int = 3, maxout: int = 1, pack: int = 1):
        super().__init__()
        self.pack = pack
        self.maxout = maxout
        blocks: list[nn.Module] = []
        width = in_dim * pack
        for _ in range(layers):
            blocks.append(nn.Linear(width, hidden * maxout))
            blocks.append(_Maxout(maxout) if maxout > 1 else nn.LeakyReLU(0.2))
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(pack_samples(x, self.pack)).squeeze(-1)


class _Maxout(nn.Module):
    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (-1, self.pieces)).amax(-1)


@register_players("mlp")
def mlp_players(cfg, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    return (MLPGenerator(spec.z_in, spec.channels, cfg.g_hidden, cfg.g_layers, cfg.g_batch_norm),
            MLPCritic(spec.d_in, cfg.d_hidden, cfg.d_layers, cfg.d_maxout, cfg.pack))
