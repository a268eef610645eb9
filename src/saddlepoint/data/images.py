"""Image datasets under one data home, decoded once into memory.

The data home is ``$SADDLEPOINT_DATA`` (default ``~/.cache/saddlepoint``); each named dataset has its
folder there: MNIST is ``<home>/mnist`` in torchvision's layout (``MNIST/raw/*-ubyte``), downloaded by
torchvision when it is missing and the machine is online.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["data_home", "DataError", "ImageTensorDataset", "read_idx", "load_mnist", "load_npz", "StackedMNIST",
           "ImageSampler",
           "IMAGE_DATASETS", "is_data_path", "load_images", "load_folder",
           "load_cifar10"]


class DataError(RuntimeError):
    """A dataset that cannot be found or read; the message says what to do."""


def data_home() -> Path:
    """``$SADDLEPOINT_DATA``, or ``~/.cache/saddlepoint`` when it is unset."""
    return Path(os.environ.get("SADDLEPOINT_DATA") or Path.home() / ".cache" / "saddlepoint").expanduser()


def cache_dir() -> Path:
    """Where measurements made from the data are cached (FID reference features, the precision choice, decoded
    folders): ``$SADDLEPOINT_CACHE``, or ``cache/`` in the data home.  A shared or read-only data home can be left
    alone by pointing ``SADDLEPOINT_CACHE`` elsewhere."""
    return Path(os.environ.get("SADDLEPOINT_CACHE") or data_home() / "cache").expanduser()


@dataclass
class ImageTensorDataset:
    """Decoded images, (N, C, H, W) uint8, with optional integer labels (N,) and, for a folder, each image's file
    (relative to the folder, with ``/``)."""

    images: Tensor
    labels: Tensor | None
    name: str
    files: list[str] | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    def to_float(self, idx: Tensor) -> Tensor:
        """Images ``idx`` scaled to [−1, 1], the range of a tanh generator."""
        return self.images[idx].float().div_(127.5).sub_(1.0)


_MNIST_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: Path, ndim: int) -> Tensor:
    """The uint8 array in an IDX file, MNIST's own format (LeCun et al.): two zero bytes, the type (0x08: unsigned
    bytes), the number of dimensions, each dimension as a big-endian int32, then the data.  Read here rather than
    by torchvision, whose import costs a short run about 1.5 s (it imports ``torch._dynamo``); torchvision still
    downloads the files, and tests/test_images.py checks the two readers agree."""
    raw = bytearray(Path(path).read_bytes())
    head = 4 + 4 * ndim
    if len(raw) < head or raw[:4] != bytes((0, 0, 8, ndim)):
        raise DataError(f"{path} is not an IDX file of unsigned bytes in {ndim} dimension(s); delete it and let "
                        "the download fetch it again")
    dims = struct.unpack(f">{ndim}i", raw[4:head])
    if len(raw) - head != math.prod(dims):
        raise DataError(f"{path} holds {len(raw) - head} bytes of data where its header says {math.prod(dims)}: it "
                        "is cut short or damaged; delete it and let the download fetch it again")
    return torch.frombuffer(raw, dtype=torch.uint8, offset=head).view(*dims)


def load_mnist(train: bool = True, download: bool = True) -> ImageTensorDataset:
    """MNIST from ``<data home>/mnist`` in torchvision's layout (``MNIST/raw/*-ubyte``): read directly when the files
    are there, else by torchvision, which downloads them there if allowed."""
    root = data_home() / "mnist"
    name = "mnist" if train else "mnist-test"
    images_file, labels_file = (root / "MNIST" / "raw" / f for f in _MNIST_FILES[train])
    if images_file.is_file() and labels_file.is_file():
        images, labels = read_idx(images_file, 3), read_idx(labels_file, 1).long()
        if len(images) != len(labels):
            raise DataError(f"{images_file} holds {len(images)} images and {labels_file} {len(labels)} labels; "
                            "delete both and let the download fetch them again")
        return ImageTensorDataset(images.unsqueeze(1).contiguous(), labels, name)
    from torchvision.datasets import MNIST

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
    return ImageTensorDataset(ds.data.unsqueeze(1).contiguous(), ds.targets.clone(), name)


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


def load_npz(path: str | Path) -> ImageTensorDataset:
    """Images from an ``.npz`` file: array ``images`` (or ``x``), uint8, shaped (N, H, W), (N, H, W, C) or
    (N, C, H, W) with C in {1, 3}; optional integer ``labels`` (or ``y``).  Loaded without pickle."""
    import numpy as np

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    try:
        arrays = np.load(path, allow_pickle=False)
    except Exception as e:
        raise DataError(f"{path} is not a readable .npz file ({type(e).__name__}: {e})") from None
    key = next((k for k in ("images", "x") if k in arrays.files), None)
    if key is None:
        raise DataError(f"{path} has no array named 'images' or 'x' (found: {', '.join(arrays.files)})")
    x = np.asarray(arrays[key])
    if x.dtype != np.uint8:
        raise DataError(f"{path}: '{key}' must be uint8 pixels in 0..255, not {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DataError(f"{path}: '{key}' has shape {x.shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W)")
    lab = next((k for k in ("labels", "y") if k in arrays.files), None)
    labels = torch.from_numpy(np.asarray(arrays[lab]).astype("int64")) if lab else None
    return ImageTensorDataset(torch.from_numpy(np.ascontiguousarray(x)), labels, path.stem)


class _ArraysOnlyUnpickler:
    """Reads the CIFAR-10 python batches (pickled dicts of numpy arrays) while refusing every global
    except the few numpy reconstructors those files need: no code from the file ever runs."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    @classmethod
    def load(cls, fh):
        import pickle

        allowed = cls.ALLOWED

        class _U(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) not in allowed:
                    raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
                return super().find_class(module, name)

        return _U(fh, encoding="bytes").load()


def load_cifar10(train: bool = True) -> ImageTensorDataset:
    """CIFAR-10 from ``<data home>/cifar10`` in torchvision's python-batch layout
    (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``), downloaded there by torchvision when
    missing and online.  The batches are read with an unpickler that admits only numpy arrays."""
    import numpy as np

    root = data_home() / "cifar10"
    folder = root / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    if not all((folder / n).is_file() for n in names):
        try:
            from torchvision.datasets.utils import download_and_extract_archive

            download_and_extract_archive("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", str(root),
                                         md5="c58f30108f718f92721af3b95e74349a")
        except Exception as e:  # offline
            raise DataError(f"CIFAR-10 is not under {folder} and could not be downloaded ({type(e).__name__}); "
                            "set SADDLEPOINT_DATA to the folder that holds cifar10/cifar-10-batches-py") from None
    images, labels = [], []
    for n in names:
        with open(folder / n, "rb") as fh:
            try:
                batch = _ArraysOnlyUnpickler.load(fh)
            except Exception as e:
                raise DataError(f"{folder / n} is not a CIFAR-10 batch ({e})") from None
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(batch[b"labels"])
    return ImageTensorDataset(torch.from_numpy(np.concatenate(images)), torch.tensor(labels),
                              "cifar10" if train else "cifar10-test")


def decode_image(path: Path, at_least: int | None = None):
    """The PIL image in ``path``, decoded now (a truncated file fails here, not later in training), or None
    when the file is not a readable image (corrupt, truncated, empty, not an image).  ``at_least``: a JPEG may be
    decoded at a half, a quarter or an eighth of its size (its own DCT scaling, several times faster) where both
    sides stay at least that many pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if at_least:
                im.draft(None, (at_least, at_least))  # only JPEGs answer; other formats are decoded whole
            im.load()
            return im.copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def warn_skipped(skipped: list[str], total: int, root: Path, what: str = "files") -> None:
    """One warning that counts and names (up to five of) the unreadable ``what`` skipped under ``root``."""
    import warnings

    if skipped:
        names = ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(f"skipped {len(skipped)} of {total} {what} in {root} that are not readable images: {names}",
                      stacklevel=3)


def square_tensors(images: list, image_size: int, mode: str | None = None) -> Tensor:
    """PIL images → (N, C, S, S) uint8, each center-cropped to a square and resized to ``image_size``.
    ``mode`` "L" or "RGB"; default grey when every image is grey, else RGB (RGBA, palette, CMYK, mixed)."""
    from .decode import GREY_MODES, square_tensor

    if mode is None:
        mode = "L" if all(im.mode in GREY_MODES for im in images) else "RGB"
    out = torch.empty(len(images), 1 if mode == "L" else 3, image_size, image_size, dtype=torch.uint8)
    for i, im in enumerate(images):
        out[i] = square_tensor(im, image_size, mode)
    return out


def load_folder(path: str | Path, image_size: int) -> ImageTensorDataset:
    """Every image under ``path`` (nested class folders as in torchvision's ImageFolder, or flat),
    center-cropped to a square and resized to ``image_size``, held in memory at that size only.

    Grayscale sets stay one channel; anything else (RGBA, palette, CMYK, mixed) becomes RGB.  Files that
    cannot be decoded (corrupt, truncated, empty, not an image) are skipped with one warning that
    counts and names them.  Labels are the index of each file's top-level class folder, if any.  Decoding runs in
    threads with a progress bar on large folders, and a folder that took a while is kept decoded in the cache
    (:mod:`saddlepoint.data.decode`)."""
    from .decode import decode_files

    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist; give data= a folder of images, a .npz file or a dataset name")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DataError(f"image folder {root} is empty; put images (png, jpg, ...) in it, in class sub-folders or flat")
    classes = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    class_index = {c: i for i, c in enumerate(classes)}
    images, kept, skipped = decode_files(root, files, image_size)
    warn_skipped(skipped, len(files), root)
    if not kept:
        raise DataError(f"none of the {len(files)} files in {root} is a readable image")
    labels = [class_index[rel[0]] if len(rel) > 1 else -1 for rel in (files[i].relative_to(root).parts for i in kept)]
    lab = torch.tensor(labels) if classes and min(labels) >= 0 else None
    return ImageTensorDataset(images, lab, root.name, [files[i].relative_to(root).as_posix() for i in kept])


def _load_named(name: str, image_size: int) -> ImageTensorDataset:
    if name in ("mnist", "stacked-mnist"):
        return load_mnist(train=True)
    if name == "cifar10":
        return load_cifar10(train=True)
    if name.endswith(".npz"):
        return load_npz(name)
    return load_folder(name, image_size)


class ImageSampler:
    """Random minibatches of one in-memory image set, resized once to ``image_size``, in [−1, 1].

    Batches are drawn with replacement from a ``torch.Generator``, so the data order is part of the
    run's RNG state and resumes exactly."""

    kind = "images"

    def __init__(self, name: str, image_size: int, base: ImageTensorDataset | None = None):
        """``base`` given: use those decoded images (e.g. a test split) instead of loading ``name``."""
        self.name = name
        self.stacked = name == "stacked-mnist"
        if base is None:
            base = _load_named(name, image_size)
        images = base.images
        if images.shape[-1] != image_size or images.shape[-2] != image_size:
            from torchvision.transforms.functional import InterpolationMode, resize

            images = resize(images, [image_size, image_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
        self.dataset = ImageTensorDataset(images.contiguous(), base.labels, base.name, base.files)
        self._stack = StackedMNIST(self.dataset) if self.stacked else None
        self.channels = 3 if self.stacked else images.shape[1]
        self.image_size = image_size

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if self._stack is not None:
            return self._stack.sample(n, generator)[0]
        idx = torch.randint(len(self.dataset), (n,), generator=generator)
        return self.dataset.to_float(idx)

    @property
    def n_classes(self) -> int:
        """Number of classes of the labels (0 when the images have none; 1000 digit triples for stacked MNIST)."""
        if self.dataset.labels is None:
            return 0
        return 1000 if self.stacked else int(self.dataset.labels.max()) + 1

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """(images (n, C, H, W) in [−1, 1], their labels (n,)); the same random stream as :meth:`sample`."""
        if self.dataset.labels is None:
            raise DataError(f"{self.name} has no labels; class-conditional training needs labelled images "
                            "(mnist, cifar10, class sub-folders, or an .npz with a 'labels' array)")
        if self._stack is not None:
            return self._stack.sample(n, generator)
        idx = torch.randint(len(self.dataset), (n,), generator=generator)
        return self.dataset.to_float(idx), self.dataset.labels[idx]


IMAGE_DATASETS = {"mnist": "MNIST digits, 28×28 grey (torchvision layout under $SADDLEPOINT_DATA/mnist)",
                  "stacked-mnist": "three independent MNIST digits as RGB channels, 1000 modes",
                  "cifar10": "CIFAR-10, 32×32 RGB (torchvision python batches under $SADDLEPOINT_DATA/cifar10)"}


def is_data_path(data: str, known=()) -> bool:
    """Whether ``data`` names a file or folder rather than one of the ``known`` built-in sets: it is written as a path
    (a ``/``, a leading ``.`` or ``~``, an ``.npz``) or, being no known name, it exists here (``data=my_images``)."""
    written_as_path = data.endswith(".npz") or "/" in data or data.startswith(("~", "."))
    return written_as_path or (data not in known and Path(data).exists())


def load_images(name: str, image_size: int) -> ImageSampler:
    """A named image set (``mnist``, ``stacked-mnist``), a path to an ``.npz`` file, or an image folder."""
    return ImageSampler(name, image_size)
