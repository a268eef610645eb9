"""Helpers shared by the players."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["with_spectral_norm"]

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)


def with_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every linear, convolution and embedding weight
    of ``module``, in place: each weight is divided by a power-iteration estimate of its largest
    singular value, which bounds the critic's Lipschitz constant by the product over layers."""
    for m in list(module.modules()):
        if isinstance(m, _WEIGHTED):
            spectral_norm(m)
    return module
