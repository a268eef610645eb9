"""What the tasks share: a run's generator as a differentiable map from codes to images, the held-out images a task
works on, and the user's own images read without resizing (a task measures pixels, so they must be the run's)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..runs import RunError

__all__ = ["LatentGenerator", "held_out_images", "read_exact_images"]


class LatentGenerator:
    """A trained run's generator in eval mode, frozen, as ``z`` (B, d) [, labels (B,)] → images (B, C, H, W) in
    [0, 1], differentiable in z.  It is the run's sampling generator (its EMA copy when trained with one; a mixture of
    snapshots is not one map from z, so its latest member's source, the EMA generator or G, is used instead).

    ``task`` names the command in the one-line refusals: runs that translate images, 2-D runs and, unless
    ``conditional`` is allowed, class-conditional runs cannot serve."""

    def __init__(self, exp, task: str, conditional: bool = False):
        cond = exp.condition
        if not hasattr(exp, "G"):
            raise RunError(f"{task} searches a generator's latent space and this run has no generator")
        if cond is not None and getattr(cond, "from_real", False):
            raise RunError(f"{task} searches the latent space of a generator of noise; this run translates images "
                           f"(conditional={cond.name}) and has none")
        if not exp.images:
            raise RunError(f"{task} works on images and this run's data ({exp.cfg.data}) is 2-D points")
        if cond is not None and not conditional:
            raise RunError(f"{task} needs an unconditional generator; this run's generator is told "
                           f"{'a class label' if getattr(cond, 'needs_labels', False) else 'codes'} "
                           f"(conditional={getattr(cond, 'name', 'cvae')})")
        if conditional and (cond is None or not getattr(cond, "needs_labels", False)):
            raise RunError(f"{task} needs a class-conditional generator (conditional=acgan or cgan); this run is "
                           + ("unconditional" if cond is None else f"conditional={cond.name}"))
        self.exp = exp
        G = exp.sampler if exp.sampler is not exp.mixture else (exp.G_ema if exp.G_ema is not None else exp.G)
        self.net: nn.Module = G.eval().requires_grad_(False)
        self.device = exp.device
        self.z_dim: int = exp.cfg.z_dim
        self.shape = (exp.channels, exp.cfg.image_size, exp.cfg.image_size)
        self.what = ("the EMA " if G is exp.G_ema else "the ") + ("decoder" if hasattr(exp, "encode") else "generator")

    def __call__(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        x = self.net(z) if labels is None else self.net(z, labels)
        return (x.float() + 1) / 2  # [−1, 1] → [0, 1]

    def prior(self, k: int, generator: torch.Generator) -> Tensor:
        """k codes from the run's prior."""
        return self.exp.noise(k, generator)


def held_out_images(exp, n: int) -> tuple[Tensor, Tensor | None, str]:
    """(the first ``n`` held-out images in [0, 1], their labels where the data has some, what they are): the test
    split where the data has one (MNIST, CIFAR-10), else the run's training images (said so)."""
    from ..metrics.images import reference_set

    sampler, what = reference_set(exp)
    ds = sampler.dataset
    idx = torch.arange(min(n, len(ds)))
    labels = ds.labels[idx] if ds.labels is not None else None
    return (ds.to_float(idx) + 1) / 2, labels, f"the first {len(idx)} images of {what}"


def read_exact_images(path: str | Path, size: int, channels: int) -> tuple[Tensor, list[str]]:
    """The images under ``path`` (a file or a folder) in [0, 1], (N, C, size, size), and their file names.  Each must
    already be ``size`` × ``size`` pixels with the run's channels (grey: 1, colour: 3): a task compares pixels, so
    nothing is resized or converted behind the user's back.  Unreadable files are skipped with one warning."""
    from torchvision.transforms.functional import pil_to_tensor

    from ..data.images import decode_image, warn_skipped

    path = Path(path)
    if not path.exists():
        raise RunError(f"-i {path} does not exist; give an image file or a folder of images")
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
    decoded = [(f, decode_image(f)) for f in files]
    warn_skipped([f.name for f, im in decoded if im is None], len(files), path)
    out, names = [], []
    grey_modes = ("L", "1", "I;16", "I", "LA")
    for f, im in decoded:
        if im is None:
            continue
        if im.size != (size, size):
            raise RunError(f"{f.name} is {im.size[0]}×{im.size[1]} px and this run's generator makes {size}×{size} "
                           f"images; resize it to {size}×{size} first")
        grey = im.mode in grey_modes
        if channels == 1 and not grey:
            raise RunError(f"{f.name} is a colour image ({im.mode}) and this run's images are grey; convert it to "
                           "grey first")
        if channels == 3 and grey:
            raise RunError(f"{f.name} is a grey image and this run's images are colour (RGB); convert it first")
        t = pil_to_tensor(im.convert("L" if channels == 1 else "RGB")).float() / 255
        out.append(t)
        names.append(f.name)
    if not out:
        raise RunError(f"-i {path}: no readable images there")
    return torch.stack(out), names
