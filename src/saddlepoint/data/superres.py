"""Super-resolution data: high-resolution patches and their 4× bicubic downsamplings.

``data=skimage-photos`` (the default, offline): natural photographs that scikit-image ships —
astronaut, rocket, the left motorcycle of the stereo pair, the Hubble deep field, a retina and an
immunohistochemistry slide for training; the cat ``chelsea`` and ``coffee`` held out.  Or ``data=`` a
folder of images (any sizes), with an optional ``test/`` sub-folder of held-out images.

Training batches are random ``image_size`` × ``image_size`` crops of the training images (drawn from
the run's generator: exact resume), with ``sr_augment`` each turned and mirrored by one of the square's
eight symmetries, each with its low-resolution version made by bicubic
downsampling with antialiasing (the degradation of Ledig et al. 2017).  Pixels in [−1, 1].
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

from .images import DataError, decode_image, warn_skipped

__all__ = ["SR_DATASETS", "SRSampler", "load_photos", "downsample", "upsample_bicubic", "dihedral", "self_ensemble"]

SR_DATASETS = {"skimage-photos": "natural photographs shipped with scikit-image (6 for training, 2 held out)"}
_TRAIN = ("astronaut", "rocket", "stereo_motorcycle", "hubble_deep_field", "retina", "immunohistochemistry")
_HELD_OUT = ("chelsea", "coffee")


def downsample(x: Tensor, scale: int) -> Tensor:
    """(B, C, H, W) → (B, C, H/scale, W/scale), bicubic with antialiasing, clamped to [−1, 1]."""
    return F.interpolate(x, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)


def upsample_bicubic(x: Tensor, scale: int) -> Tensor:
    """The baseline: bicubic interpolation back up, clamped to [−1, 1]."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


def dihedral(x: Tensor, which: Tensor) -> Tensor:
    """Square images (B, C, S, S), each under one of the square's 8 symmetries: ``which`` (B,) in 0..7 turns
    image b by 90° · (which mod 4) and, for 4..7, mirrors it left to right first."""
    out = torch.where((which >= 4)[:, None, None, None], x.flip(-1), x)
    turns = which % 4
    for k in (1, 2, 3):
        sel = turns == k
        if sel.any():
            out[sel] = torch.rot90(out[sel], k, (-2, -1))
    return out


def self_ensemble(upscale, low: Tensor) -> Tensor:
    """EDSR's geometric self-ensemble (Lim et al. 2017) at test time: ``upscale`` applied to ``low`` (B, C, h, w)
    under each of the square's 8 symmetries (turned by 90° · k, mirrored for the last four), each output turned
    back, and the 8 averaged.  Any image shape (a fully convolutional ``upscale`` takes the turned ones)."""
    total = None
    for k in range(8):
        x = low.flip(-1) if k >= 4 else low
        y = torch.rot90(upscale(torch.rot90(x, k % 4, (-2, -1))), -(k % 4), (-2, -1))
        y = y.flip(-1) if k >= 4 else y
        total = y if total is None else total + y
    return total / 8


def _skimage_photo(name: str) -> Tensor:
    import skimage.data

    img = skimage.data.stereo_motorcycle()[0] if name == "stereo_motorcycle" else getattr(skimage.data, name)()
    t = torch.from_numpy(img.copy())
    if t.dim() == 2:
        t = t[..., None].expand(-1, -1, 3)
    return t[..., :3].permute(2, 0, 1).contiguous()  # (3, H, W) uint8


def _folder_images(root: Path) -> list[Tensor]:
    """Every readable image in ``root``, full size, RGB (unreadable files skipped with one warning)."""
    from torchvision.transforms.functional import pil_to_tensor

    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    out, skipped = [], []
    for f in files:
        im = decode_image(f)
        if im is None:
            skipped.append(f.name)
        else:
            out.append(pil_to_tensor(im.convert("RGB")))
    warn_skipped(skipped, len(files), root)
    return out


def load_photos(name: str, train: bool = True) -> list[Tensor]:
    """The training (or held-out) photographs of ``name``: a list of (3, H, W) uint8 tensors (may be empty
    for held-out images of a folder without ``test/``)."""
    if name == "skimage-photos":
        return [_skimage_photo(n) for n in (_TRAIN if train else _HELD_OUT)]
    root = Path(name).expanduser()
    if not root.is_dir():
        raise DataError(f"super-resolution data {root} is not a folder; give skimage-photos or a folder of images")
    if not train:
        return _folder_images(root / "test") if (root / "test").is_dir() else []
    images = _folder_images(root)
    if not images:
        raise DataError(f"{root} has no readable images for super-resolution training")
    return images


def held_out_photos(name: str) -> tuple[list[Tensor], str]:
    """The photographs to evaluate on and what they are: the held-out ones, else (said so) the training ones."""
    photos = load_photos(name, train=False)
    if photos:
        return photos, "held-out photographs"
    return load_photos(name, train=True), "training photographs (no held-out test/ folder)"


class SRSampler:
    """Random (high-resolution crop, its low-resolution version) pairs from a list of photographs."""

    kind = "superres"

    def __init__(self, name: str, image_size: int, scale: int = 4, photos: list[Tensor] | None = None,
                 augment: bool = False):
        if image_size % scale:
            raise DataError(f"image_size={image_size} (the high-resolution crop) must be a multiple of the scale {scale}")
        self.name, self.image_size, self.scale, self.augment = name, image_size, scale, augment
        self.photos = photos if photos is not None else load_photos(name)
        small = [p for p in self.photos if min(p.shape[-2:]) < image_size]
        if small:
            raise DataError(f"{len(small)} image(s) of {name} are smaller than the {image_size}-px crops; lower image_size")
        self.channels = self.source_channels = 3
        self.n_classes = 0
        # Crops are drawn from each photo in proportion to its area (every pixel equally likely).
        self._areas = torch.tensor([float(p.shape[-1] * p.shape[-2]) for p in self.photos])

    def __len__(self) -> int:
        return len(self.photos)

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(high-resolution crops (n, 3, S, S), their low-resolution versions (n, 3, S/scale, S/scale))."""
        s = self.image_size
        which = torch.multinomial(self._areas, n, replacement=True, generator=generator)
        crops = []
        for i in which.tolist():
            p = self.photos[i]
            top = int(torch.randint(p.shape[-2] - s + 1, (1,), generator=generator))
            left = int(torch.randint(p.shape[-1] - s + 1, (1,), generator=generator))
            crops.append(p[:, top:top + s, left:left + s])
        high = torch.stack(crops).float().div_(127.5).sub_(1.0)
        if self.augment:
            high = dihedral(high, torch.randint(8, (n,), generator=generator))
        return high, downsample(high, self.scale)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.sample_labelled(n, generator)[0]
