"""Unpaired image domains for CycleGAN: images of domain A and of domain B, no correspondence.

Layouts (``data=`` a folder): the CycleGAN authors' ``trainA/``, ``trainB/`` (and ``testA/``, ``testB/``
held out), each a folder of images (flat or in class sub-folders).  Built in, offline:
``digits2mnist`` — domain A the 8×8 handwritten digits scikit-learn ships (1,797, 16 grey levels),
enlarged to 20×20 and framed like MNIST (4-px margin); domain B MNIST.  A fixed 1,500 of the
scikit-learn digits train, the other 297 are held out; MNIST's training and test splits likewise.

A training batch holds both domains as interleaved pairs ``[b₀, a₀, b₁, a₁, …]`` (see
``penalties.swap_pairs``); the generator's input is the same batch with each pair swapped.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .images import DataError, ImageTensorDataset, load_folder, load_mnist


def swap_pairs(x: Tensor) -> Tensor:
    """[x₀, x₁, x₂, x₃, …] → [x₁, x₀, x₃, x₂, …]: each domain's images into the other domain's places."""
    return x.reshape(-1, 2, *x.shape[1:]).flip(1).reshape(x.shape)

__all__ = ["UNPAIRED_DATASETS", "UnpairedSampler", "load_domains", "sklearn_digits", "swap_pairs"]

UNPAIRED_DATASETS = {"digits2mnist": "scikit-learn's 8×8 digits (A) ↔ MNIST (B), unpaired, built offline"}


def sklearn_digits(train: bool = True) -> ImageTensorDataset:
    """scikit-learn's digits as 28×28 uint8 images framed like MNIST (bright strokes on black), with labels."""
    from sklearn.datasets import load_digits
    from torch.nn import functional as F

    d = load_digits()
    x = torch.from_numpy(d.images).float()[:, None] / 16.0  # (1797, 1, 8, 8) in [0, 1]
    y = torch.from_numpy(d.target).long()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    keep = order[:1500] if train else order[1500:]
    big = F.interpolate(x[keep], size=(20, 20), mode="bilinear", align_corners=False)
    framed = F.pad(big, (4, 4, 4, 4))
    return ImageTensorDataset((framed.clamp(0, 1) * 255).round().to(torch.uint8), y[keep],
                              "sklearn-digits" if train else "sklearn-digits-test")


def load_domains(name: str, image_size: int, train: bool = True) -> tuple[ImageTensorDataset, ImageTensorDataset] | None:
    """(domain A, domain B) for training, or held out (None where a folder has no testA/testB)."""
    if name == "digits2mnist":
        return sklearn_digits(train), load_mnist(train=train)
    root = Path(name).expanduser()
    split = "train" if train else "test"
    if not (root / "trainA").is_dir() or not (root / "trainB").is_dir():
        raise DataError(f"{root} is not an unpaired dataset: give digits2mnist or a folder with trainA/ and trainB/ "
                        "(and testA/, testB/ for held-out images)")
    if not ((root / f"{split}A").is_dir() and (root / f"{split}B").is_dir()):
        return None
    return load_folder(root / f"{split}A", image_size), load_folder(root / f"{split}B", image_size)


def held_out_domains(name: str, image_size: int) -> tuple[tuple[ImageTensorDataset, ImageTensorDataset], str]:
    """The domains to evaluate on and what they are: the held-out images, else (said so) the training ones."""
    held = load_domains(name, image_size, train=False)
    if held is not None:
        return held, "held-out images (testA, testB)"
    return load_domains(name, image_size, train=True), "training images (no testA/testB)"


def _fit(images: Tensor, image_size: int, channels: int) -> Tensor:
    from torchvision.transforms.functional import InterpolationMode, resize

    if images.shape[-1] != image_size or images.shape[-2] != image_size:
        images = resize(images, [image_size, image_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
    if images.shape[1] != channels:  # a grey domain beside a colour one: grey as RGB
        images = images.expand(-1, channels, -1, -1)
    return images.contiguous()


class UnpairedSampler:
    """Minibatches of interleaved (B, A) pairs drawn independently from each domain, in [−1, 1]; the
    training sizes of the two domains may differ (each is sampled with replacement)."""

    kind = "unpaired"

    def __init__(self, name: str, image_size: int, domains: tuple[ImageTensorDataset, ImageTensorDataset] | None = None):
        self.name, self.image_size = name, image_size
        a, b = domains if domains is not None else load_domains(name, image_size)
        channels = max(a.images.shape[1], b.images.shape[1])
        self.a = ImageTensorDataset(_fit(a.images, image_size, channels), a.labels, a.name)
        self.b = ImageTensorDataset(_fit(b.images, image_size, channels), b.labels, b.name)
        self.channels = self.source_channels = channels
        self.n_classes = 0

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(real [b₀, a₀, …] (n, C, S, S), the generator's input [a₀, b₀, …]); ``n`` even."""
        if n % 2:
            raise ValueError(f"an unpaired batch holds pairs; batch size {n} is odd")
        ia = torch.randint(len(self.a), (n // 2,), generator=generator)
        ib = torch.randint(len(self.b), (n // 2,), generator=generator)
        real = torch.stack([self.b.to_float(ib), self.a.to_float(ia)], dim=1).reshape(n, *self.a.images.shape[1:])
        return real, swap_pairs(real)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.sample_labelled(n + n % 2, generator)[0][:n]
