"""Paired images for translation (pix2pix): a source image A and its target B.

Layouts (``data=`` a folder):

* ``A/`` and ``B/`` sub-folders whose files pair up by name (``A/0001.png`` ↔ ``B/0001.png``); files
  without a partner are skipped with one warning that names them;
* side-by-side images, A on the left half and B on the right (the layout of the pix2pix authors'
  datasets, ``facades/train/*.jpg``);
* either of them under ``train/`` with ``test/`` (or ``val/``) beside it: the held-out pairs.

Built in, offline, from MNIST (training pairs from its training split, held-out pairs from its test split):

* ``edges2mnist`` — the edges of each digit (Canny detector, scikit-image) as A, the digit as B: nearly one
  digit fits its edges, so the mapping is close to a function;
* ``halves2mnist`` — the digit's top half (the bottom 14 rows blanked) as A, the whole digit as B: many
  bottoms fit one top, the many-to-one case where an L1-trained generator draws their pixel-wise median, blurred.
Images are decoded once (in threads, each pair resized as it is read) and held in memory at ``image_size`` (center
square crop), in [−1, 1].
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .decode import decode_many, native_mode, square_tensor, stack_squares
from .images import DataError, data_home, decode_image, load_mnist, warn_skipped

__all__ = ["PairedImages", "PairedSampler", "load_pairs", "edges2mnist", "halves2mnist", "PAIRED_DATASETS"]

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class PairedImages:
    """source (N, Cs, H, W) and target (N, Ct, H, W) uint8; ``labels`` (N,) where the pairs have classes."""

    source: Tensor
    target: Tensor
    name: str
    labels: Tensor | None = None

    def __len__(self) -> int:
        return self.source.shape[0]


def _canny_edges(digits: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    from skimage.feature import canny

    return np.stack([canny(d.astype(np.float32) / 255.0, sigma=sigma) for d in digits]).astype(np.uint8) * 255


def edges2mnist(train: bool = True) -> PairedImages:
    """(edges, digit) pairs from MNIST; the edge maps are computed once and cached in the data home."""
    mnist = load_mnist(train=train)
    split = "train" if train else "test"
    cache = data_home() / "cache" / f"edges2mnist-{split}-canny1.npz"
    if cache.is_file():
        edges = np.load(cache, allow_pickle=False)["edges"]
    else:
        edges = _canny_edges(mnist.images[:, 0].numpy())
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.npz")
        np.savez_compressed(tmp, edges=edges)
        tmp.replace(cache)
    return PairedImages(torch.from_numpy(edges)[:, None].contiguous(), mnist.images, f"edges2mnist-{split}",
                        mnist.labels)


def halves2mnist(train: bool = True) -> PairedImages:
    """(top half, digit) pairs from MNIST: the source keeps the top half of the rows, the rest is blank."""
    mnist = load_mnist(train=train)
    top = mnist.images.clone()
    top[:, :, top.shape[-2] // 2:] = 0
    return PairedImages(top, mnist.images, f"halves2mnist-{'train' if train else 'test'}", mnist.labels)


# name → (builder, what it is); every built-in pair set is labelled MNIST digits
_BUILT_IN = {"edges2mnist": (edges2mnist, "MNIST digits from their Canny edges (built offline from $SADDLEPOINT_DATA/mnist)"),
             "halves2mnist": (halves2mnist, "MNIST digits from their top halves (built offline from $SADDLEPOINT_DATA/mnist)")}
PAIRED_DATASETS = {name: about for name, (_, about) in _BUILT_IN.items()}


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)


def _pair_squares(sa, sb, image_size: int) -> tuple[Tensor, Tensor]:
    """A decoded (source, target) pair as squares of ``image_size``, each in its own mode (grey stays one channel)."""
    return square_tensor(sa, image_size, native_mode(sa)), square_tensor(sb, image_size, native_mode(sb))


def _paired(squares: list, root: Path) -> PairedImages:
    return PairedImages(stack_squares([s for s, _ in squares]), stack_squares([t for _, t in squares]), root.name)


def _load_ab(root: Path, image_size: int) -> PairedImages:
    a, b = {p.stem: p for p in _images_in(root / "A")}, {p.stem: p for p in _images_in(root / "B")}
    alone = sorted((set(a) ^ set(b)))
    if alone:
        names = ", ".join(alone[:5]) + (" ..." if len(alone) > 5 else "")
        warnings.warn(f"skipped {len(alone)} files in {root} without a partner in A/ or B/: {names}", stacklevel=3)

    def read(stem: str):
        sa, sb = decode_image(a[stem]), decode_image(b[stem])
        if sa is None or sb is None:
            return None
        if sa.size != sb.size:
            raise DataError(f"the pair {stem!r} in {root} has images of different sizes (A {sa.size[0]}×{sa.size[1]}, "
                            f"B {sb.size[0]}×{sb.size[1]}); a pair must be pixel-aligned: resize one of them")
        return _pair_squares(sa, sb, image_size)

    stems = sorted(set(a) & set(b))
    squares = list(decode_many(read, stems, f"decoding {root.name}"))
    warn_skipped([s for s, sq in zip(stems, squares) if sq is None], len(stems), root, "pairs")
    squares = [sq for sq in squares if sq is not None]
    if not squares:
        raise DataError(f"{root} has no readable pairs: put images with the same names in {root}/A and {root}/B")
    return _paired(squares, root)


def _load_side_by_side(root: Path, image_size: int) -> PairedImages:
    files = _images_in(root)
    if not files:
        raise DataError(f"{root} has no images: give a folder with A/ and B/ sub-folders, or side-by-side A|B images")

    def read(f: Path):
        im = decode_image(f)
        if im is None:
            return None
        w, h = im.size
        if w != 2 * h:
            raise DataError(f"{f} is {w}×{h}; a side-by-side pair is twice as wide as high (A on the left, B on the "
                            "right), or use A/ and B/ sub-folders")
        return _pair_squares(im.crop((0, 0, h, h)), im.crop((h, 0, w, h)), image_size)

    squares = list(decode_many(read, files, f"decoding {root.name}"))
    warn_skipped([f.name for f, sq in zip(files, squares) if sq is None], len(files), root)
    squares = [sq for sq in squares if sq is not None]
    if not squares:
        raise DataError(f"none of the files in {root} is a readable image")
    return _paired(squares, root)


def _load_folder(root: Path, image_size: int) -> PairedImages:
    return _load_ab(root, image_size) if (root / "A").is_dir() or (root / "B").is_dir() else _load_side_by_side(root, image_size)


def load_pairs(name: str, image_size: int, train: bool = True) -> PairedImages | None:
    """The training (or held-out) pairs of a built-in set or a folder; None where there is no held-out split."""
    if name in _BUILT_IN:
        return _BUILT_IN[name][0](train)
    root = Path(name).expanduser()
    if not root.is_dir():
        raise DataError(f"paired data {root} is not a folder; give {' or '.join(PAIRED_DATASETS)} or a folder with A/ "
                        "and B/ sub-folders or side-by-side A|B images")
    if (root / "train").is_dir():
        if train:
            return _load_folder(root / "train", image_size)
        held = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
        return _load_folder(held, image_size) if held is not None else None
    return _load_folder(root, image_size) if train else None


def held_out_pairs(name: str, image_size: int) -> tuple[PairedImages, str]:
    """The pairs to evaluate on and what they are: the held-out ones, else (said so) the training ones."""
    held = load_pairs(name, image_size, train=False)
    if held is not None:
        return held, "held-out pairs"
    return load_pairs(name, image_size, train=True), "training pairs (no held-out split)"


class PairedSampler:
    """Random minibatches of (target, source) pairs, resized once to ``image_size``, in [−1, 1].  Drawn with
    replacement from a ``torch.Generator`` (exact resume), like :class:`~saddlepoint.data.images.ImageSampler`."""

    kind = "pairs"

    def __init__(self, name: str, image_size: int, pairs: PairedImages | None = None):
        self.name = name
        pairs = pairs if pairs is not None else load_pairs(name, image_size)
        from torchvision.transforms.functional import InterpolationMode, resize

        def sized(x: Tensor) -> Tensor:
            if x.shape[-1] == image_size and x.shape[-2] == image_size:
                return x.contiguous()
            return resize(x, [image_size, image_size], interpolation=InterpolationMode.BILINEAR, antialias=True)

        self.pairs = PairedImages(sized(pairs.source), sized(pairs.target), pairs.name, pairs.labels)
        self.channels = self.pairs.target.shape[1]
        self.source_channels = self.pairs.source.shape[1]
        self.image_size = image_size
        self.n_classes = 0  # pairs are the condition; no class labels are used in training

    def __len__(self) -> int:
        return len(self.pairs)

    def _take(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        f = lambda t: t[idx].float().div_(127.5).sub_(1.0)  # noqa: E731
        return f(self.pairs.target), f(self.pairs.source)

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(targets (n, Ct, S, S), their sources (n, Cs, S, S)), both in [−1, 1]."""
        return self._take(torch.randint(len(self), (n,), generator=generator))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.sample_labelled(n, generator)[0]

    def first(self, n: int) -> tuple[Tensor, Tensor]:
        """The first ``n`` pairs in order (held-out evaluation)."""
        return self._take(torch.arange(min(n, len(self))))
