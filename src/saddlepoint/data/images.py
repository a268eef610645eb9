"""Image datasets under one data home, decoded once into memory.

The data home is ``$SADDLEPOINT_DATA`` (default ``~/.cache/saddlepoint``); each named dataset has its
folder there: MNIST is ``<home>/mnist`` in torchvision's layout (``MNIST/raw/*-ubyte``), downloaded by
torchvision when it is missing and the machine is online.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["data_home", "DataError", "ImageTensorDataset", "load_mnist", "StackedMNIST"]


class DataError(RuntimeError):
    """A dataset that cannot be found or read; the message says what to do."""


def data_home() -> Path:
    """``$SADDLEPOINT_DATA``, or ``~/.cache/saddlepoint`` when it is unset."""
    return Path(os.environ.get("SADDLEPOINT_DATA") or Path.home() / ".cache" / "saddlepoint").expanduser()


@dataclass
class ImageTensorDataset:
    """Decoded images, (N, C, H, W) uint8, with optional integer labels (N,)."""

    images: Tensor
    labels: Tensor | None
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    def to_float(self, idx: Tensor) -> Tensor:
        """Images ``idx`` scaled to [−1, 1], the range of a tanh generator."""
        return self.images[idx].float().div_(127.5).sub_(1.0)


def load_mnist(train: bool = True, download: bool = True) -> ImageTensorDataset:
    """MNIST from ``<data home>/mnist`` (torchvision's reader; it downloads there if allowed and missing)."""
    from torchvision.datasets import MNIST

    root = data_home() / "mnist"
    try:
        ds = MNIST(str(root), train=train, download=False)
    except RuntimeError:
        if not download:
            raise DataError(f"MNIST is not under {root} (expected {root}/MNIST/raw/*-ubyte); set SADDLEPOINT_DATA "
                            "to the folder that holds mnist/, or allow the download") from None
        try:
            ds = MNIST(str(root), train=train, download=True)
        except Exception as e:  # offline: URLError, socket errors, ...
            raise DataError(f"MNIST is not under {root} and could not be downloaded ({type(e).__name__}); set "
                            "SADDLEPOINT_DATA to the folder that holds mnist/MNIST/raw") from None
    return ImageTensorDataset(ds.data.unsqueeze(1).contiguous(), ds.targets.clone(), "mnist" if train else "mnist-test")


class StackedMNIST:
    """Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): three MNIST digits drawn independently and
    stacked as the three channels, 1000 modes (one per digit triple)."""

    def __init__(self, mnist: ImageTensorDataset):
        if mnist.labels is None:
            raise ValueError("stacked MNIST needs labelled MNIST")
        self.mnist = mnist

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(images (n, 3, 28, 28) in [−1, 1], mode labels (n,) in 0..999 = 100·d0 + 10·d1 + d2)."""
        idx = torch.randint(len(self.mnist), (n, 3), generator=generator)
        images = self.mnist.to_float(idx.flatten()).view(n, 3, *self.mnist.images.shape[2:])
        digits = self.mnist.labels[idx]  # (n, 3)
        return images, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
