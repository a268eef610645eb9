"""Helpers shared by the players."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["with_spectral_norm", "resolution_plan", "pack_samples"]

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)


def with_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every linear, convolution and embedding weight
    of ``module``, in place: each weight is divided by a power-iteration estimate of its largest
    singular value, which bounds the critic's Lipschitz constant by the product over layers."""
    for m in list(module.modules()):
        if isinstance(m, _WEIGHTED):
            spectral_norm(m)
    return module


def resolution_plan(image_size: int) -> tuple[int, int]:
    """(base resolution b, number of ×2 steps n) with image_size = b·2^n, 4 ≤ b ≤ 7."""
    n, b = 0, image_size
    while b > 7 and b % 2 == 0:
        b //= 2
        n += 1
    if not 4 <= b <= 7 or n < 1:
        raise ValueError(f"image_size={image_size} is not b·2^n with b in 4..7 and n ≥ 1 (use 28, 32, 64, 128, ...)")
    return b, n


def pack_samples(x: Tensor, pack: int) -> Tensor:
    """PacGAN packing (Lin et al. 2018): (B·pack, C, ...) → (B, pack·C, ...), consecutive samples
    stacked along the feature / channel axis, so a critic built for ``pack·C`` inputs judges them jointly."""
    if pack == 1:
        return x
    if x.shape[0] % pack:
        raise ValueError(f"a packed critic needs a batch divisible by pack={pack}, got {x.shape[0]}")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])
