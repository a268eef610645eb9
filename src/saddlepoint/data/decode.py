"""Many image files into one uint8 tensor: each decoded, center-cropped to a square and resized as it is read (so
memory holds only the result, not every photograph at full size), in threads, with a progress bar on long work, and
kept in the cache for the next run when decoding took a while.

A folder of 200,000 face photographs at 64 px is 2.4 GB here however large its files are; decoded once, the next
run reads it back in seconds instead of decoding it again.  The cached copy is the same bytes: it is keyed by the
folder's path, the size asked and every file's name, size and modification time, and a changed folder is decoded
again (its old copy removed).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor

__all__ = ["GREY_MODES", "native_mode", "square_tensor", "decode_square", "decode_many", "stack_squares", "decode_files",
           "CACHE_AFTER_SECONDS"]

GREY_MODES = ("L", "1", "I;16", "I")
CACHE_AFTER_SECONDS = 10.0  # decoding that took longer than this is kept for the next run
DRAFT_MARGIN = 8  # a large JPEG is decoded at a reduced scale that keeps 8× the size asked, then resized as any other
_CHUNK = 64  # files per task handed to a thread
_FORMAT = 1  # bump when what a decoded file becomes changes: older cached copies are then not read


def square_tensor(im, image_size: int, mode: str) -> Tensor:
    """One PIL image → (C, S, S) uint8 in ``mode`` ("L" or "RGB"), center-cropped to a square and resized (antialiased)
    to ``image_size``."""
    from torchvision.transforms.functional import center_crop, pil_to_tensor, resize

    t = pil_to_tensor(im.convert(mode))
    side = min(t.shape[-2:])
    return resize(center_crop(t, [side, side]), [image_size, image_size], antialias=True)


def native_mode(im) -> str:
    """The mode a decoded image is squared in on its own: "L" for a grey file, "RGB" for anything else."""
    return "L" if im.mode in GREY_MODES else "RGB"


def decode_square(path: Path, image_size: int) -> Tensor | None:
    """The image in ``path`` as a (1 or 3, S, S) uint8 square (grey files one channel), or None where it is not a
    readable image.  A JPEG at least 16× larger than S on its short side is decoded at a reduced scale first
    (:data:`DRAFT_MARGIN`): a 12-megapixel photograph at 64 px in a sixth of the time, each pixel within one level of
    255 of decoding it whole (benchmarks/folders.py)."""
    from .images import decode_image

    im = decode_image(path, at_least=DRAFT_MARGIN * image_size)
    if im is None:
        return None
    return square_tensor(im, image_size, native_mode(im))


def _workers() -> int:
    """Threads for decoding: as many as torch may use in this process (the run's ``threads``)."""
    return max(1, torch.get_num_threads())


def decode_many(fn: Callable, items: Sequence, desc: str, progress: bool = True) -> Iterator:
    """``fn(item)`` for each of ``items``, yielded in order, computed ahead in threads (PIL and torch let go of the
    interpreter while they decode and resize), with a progress bar when there are many."""
    from ..runs import progress_bar

    chunks = [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    bar = progress_bar(len(items), desc, "image", disable=not progress or len(items) < 20 * _CHUNK)
    pool = ThreadPoolExecutor(_workers())
    try:
        with bar:
            for done in pool.map(lambda chunk: [fn(x) for x in chunk], chunks):
                bar.update(len(done))
                yield from done
    finally:  # an error, Ctrl-C or a consumer that stops early: the files not started are not decoded
        pool.shutdown(wait=True, cancel_futures=True)


def stack_squares(squares: Sequence[Tensor]) -> Tensor:
    """(N, C, S, S) from squares of one or three channels: one channel when every one is grey, else RGB with each grey
    square repeated in the three channels (what converting it to RGB gives)."""
    channels = 3 if any(s.shape[0] == 3 for s in squares) else 1
    out = torch.empty(len(squares), channels, *squares[0].shape[1:], dtype=torch.uint8)
    for i, s in enumerate(squares):
        out[i] = s  # a grey square broadcasts over three channels
    return out


def _listing_key(root: Path, files: Sequence[Path], image_size: int) -> tuple[str, str]:
    """(a key of the folder and size, a key of every file's name, size and modification time)."""
    where = hashlib.sha256(f"{_FORMAT}\0{root.resolve()}\0{image_size}".encode()).hexdigest()[:10]
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return where, h.hexdigest()[:16]


def _cache_path(root: Path, image_size: int, where: str, listing: str) -> Path:
    from .images import cache_dir

    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in root.name)[:40] or "folder"
    return cache_dir() / "folders" / f"{stem}-{image_size}px-{where}-{listing}.safetensors"


def _read_cached(path: Path) -> tuple[Tensor, list[int], list[str]] | None:
    """(squares, the kept files' indices, the skipped files' names) from a cached copy, or None (none, unreadable)."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            return f.get_tensor("images"), f.get_tensor("kept").tolist(), json.loads(meta.get("skipped", "[]"))
    except Exception:  # a cut-off or foreign file: decode again (and write it anew)
        return None


def _write_cached(path: Path, images: Tensor, kept: list[int], skipped: list[str], seconds: float) -> None:
    """Keep a decoded folder for the next run (written to a temporary name and renamed, so a crash leaves no half
    file under the real name); older copies of the same folder and size are removed.  A cache that cannot be
    written costs only the decoding next time."""
    from safetensors.torch import save_file

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file({"images": images.contiguous(), "kept": torch.tensor(kept, dtype=torch.int64)}, str(tmp),
                  metadata={"skipped": json.dumps(skipped), "decode_seconds": f"{seconds:.1f}"})
        tmp.replace(path)
        prefix = path.name.rsplit("-", 1)[0] + "-"
        for old in path.parent.glob(f"{prefix}*.safetensors"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as e:
        print(f"saddlepoint: could not keep the decoded images in {path.parent} ({e.strerror or e}); "
              "they will be decoded again next time", file=sys.stderr)


def decode_files(root: Path, files: Sequence[Path], image_size: int, progress: bool = True
                 ) -> tuple[Tensor, list[int], list[str]]:
    """Every file of ``files`` (under ``root``) as squares of ``image_size``: (N, C, S, S) uint8 for the readable ones,
    their indices in ``files``, and the names (relative to ``root``) of those that are not readable images.
    Read from the cache where this folder was decoded before at this size and has not changed since."""
    where, listing = _listing_key(root, files, image_size)
    cache = _cache_path(root, image_size, where, listing)
    cached = _read_cached(cache)
    if cached is not None:
        return cached
    start = time.perf_counter()
    n = len(files)
    buf = torch.empty(n, 3, image_size, image_size, dtype=torch.uint8)  # filled as files arrive: no list of squares
    readable, grey = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    for i, square in enumerate(decode_many(lambda f: decode_square(f, image_size), files, f"decoding {root.name}",
                                           progress)):
        if square is not None:
            buf[i, :square.shape[0]] = square
            readable[i], grey[i] = True, square.shape[0] == 1
    kept = readable.nonzero().flatten()
    skipped = [str(files[i].relative_to(root)) for i in (~readable).nonzero().flatten().tolist()]
    if bool(grey[kept].all()):
        images = buf[kept, :1]  # a grey set stays one channel
    else:
        buf[grey, 1:] = buf[grey, :1]  # a grey file in a colour set: its grey in the three channels, as RGB has it
        images = buf if len(kept) == n else buf[kept]
    del buf
    kept = kept.tolist()
    seconds = time.perf_counter() - start
    if kept and seconds >= CACHE_AFTER_SECONDS:
        _write_cached(cache, images, kept, skipped, seconds)
        print(f"saddlepoint: decoded {len(kept):,} images of {root} in {seconds:.0f} s; kept at {image_size} px in "
              f"{cache} ({images.numel() / 2**20:,.0f} MB) for the next run", file=sys.stderr)
    return images, kept, skipped
