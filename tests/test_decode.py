"""Image folders decoded a file at a time, in threads, and kept decoded in the cache: the same pixels as decoding
every image whole and then resizing, without holding the photographs, and a changed folder decoded again."""

import threading
import time

import numpy as np
import pytest
import torch

from saddlepoint.data import decode
from saddlepoint.data.images import decode_image, load_folder, square_tensors


def _photos(root, n=24, size=(90, 70), seed=0):
    """``n`` noisy photographs, some grey, one truncated and one not an image, in two class folders."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        im = Image.fromarray(pixels)
        if i % 5 == 0:
            im = im.convert("L")
        im.save(root / ("a" if i % 2 else "b") / f"{i:03d}.{'jpg' if i % 3 else 'png'}")
    good = (root / "a" / "001.jpg").read_bytes()
    (root / "a" / "zz-truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "b" / "zz-notes.txt").write_text("not an image")
    return root


def _whole_then_resized(root, size):
    """What the folder loader gave before: every readable image decoded, then all converted and resized."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    images = [im for im in (decode_image(f) for f in files) if im is not None]
    return square_tensors(images, size)


def test_folder_pixels_are_those_of_decoding_every_image_whole(tmp_path):
    root = _photos(tmp_path / "set")
    with pytest.warns(UserWarning, match=r"skipped 2 of 26 files .*zz-notes.txt"):
        ds = load_folder(root, 32)
    assert ds.images.shape == (24, 3, 32, 32)
    assert torch.equal(ds.images, _whole_then_resized(root, 32))  # grey files repeated in the three channels
    assert ds.labels.tolist() == [0 if p.parent.name == "a" else 1 for p in sorted(root.rglob("*[0-9].*"))]


def test_a_folder_is_not_held_at_full_size_while_it_is_read(tmp_path, monkeypatch):
    """At most a few decoded photographs are alive at once (one per thread, give or take), not the whole folder."""
    root = _photos(tmp_path / "set", n=60, size=(300, 200))
    alive, most, lock = [0], [0], threading.Lock()

    def counted(path, at_least=None):
        im = decode_image(path, at_least)
        if im is not None:
            with lock:
                alive[0] += 1
                most[0] = max(most[0], alive[0])

            def gone():
                with lock:
                    alive[0] -= 1
            import weakref
            weakref.finalize(im, gone)
        return im

    monkeypatch.setattr("saddlepoint.data.images.decode_image", counted)
    with pytest.warns(UserWarning):
        ds = load_folder(root, 16)
    assert len(ds) == 60
    assert most[0] <= 2 * decode._workers() + 1, most[0]


def test_a_slow_folder_is_kept_decoded_and_read_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SADDLEPOINT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(decode, "CACHE_AFTER_SECONDS", 0.0)
    root = _photos(tmp_path / "set")
    with pytest.warns(UserWarning, match="skipped 2 of 26"):
        first = load_folder(root, 16)
    kept = list((tmp_path / "cache" / "folders").glob("set-16px-*.safetensors"))
    assert len(kept) == 1 and "kept at 16 px" in capsys.readouterr().err

    def no_decoding(*a, **k):
        raise AssertionError("decoded again although the folder is cached")

    monkeypatch.setattr(decode, "decode_square", no_decoding)
    with pytest.warns(UserWarning, match="skipped 2 of 26"):  # the unreadable files are still named
        again = load_folder(root, 16)
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)

    monkeypatch.undo()
    monkeypatch.setenv("SADDLEPOINT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(decode, "CACHE_AFTER_SECONDS", 0.0)
    from PIL import Image

    Image.new("RGB", (50, 50), (255, 0, 0)).save(root / "a" / "001.jpg")  # one photograph replaced
    with pytest.warns(UserWarning):
        changed = load_folder(root, 16)
    assert not torch.equal(changed.images, first.images)
    assert changed.images[:, 0].float().mean(dim=(1, 2)).max() > 240  # the red square is in
    now = list((tmp_path / "cache" / "folders").glob("set-16px-*.safetensors"))
    assert len(now) == 1 and now != kept  # the stale copy is gone
    with pytest.warns(UserWarning):
        load_folder(root, 8)  # another size is kept beside it
    assert len(list((tmp_path / "cache" / "folders").glob("set-*.safetensors"))) == 2


def test_a_damaged_cached_copy_is_decoded_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SADDLEPOINT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(decode, "CACHE_AFTER_SECONDS", 0.0)
    root = _photos(tmp_path / "set", n=6)
    with pytest.warns(UserWarning):
        first = load_folder(root, 16)
    (cached,) = (tmp_path / "cache" / "folders").glob("*.safetensors")
    cached.write_bytes(cached.read_bytes()[:100])
    with pytest.warns(UserWarning):
        again = load_folder(root, 16)
    assert torch.equal(again.images, first.images)
    assert cached.stat().st_size > 100  # written anew


def test_quick_folders_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SADDLEPOINT_CACHE", str(tmp_path / "cache"))
    with pytest.warns(UserWarning):
        load_folder(_photos(tmp_path / "set", n=6), 16)
    assert not (tmp_path / "cache" / "folders").exists()


def test_an_error_stops_the_decoding_without_reading_the_rest():
    seen = []

    def fn(i):
        seen.append(i)
        time.sleep(0.001)  # a file's decoding takes a while
        if i == 3:
            raise ValueError("bad file 3")
        return i

    with pytest.raises(ValueError, match="bad file 3"):
        list(decode.decode_many(fn, list(range(20_000)), "test", progress=False))
    assert len(seen) < 2_000  # the queued files were cancelled, not all decoded before the error came out
    assert list(decode.decode_many(lambda i: i * i, list(range(1000)), "test", progress=False)) == \
        [i * i for i in range(1000)]


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_within_a_level(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    smooth = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).resize((1024, 768), Image.BICUBIC)
    smooth.save(tmp_path / "big.jpg", quality=92)
    smooth.save(tmp_path / "big.png")
    assert decode_image(tmp_path / "big.jpg", at_least=256).size == (512, 384)  # a half keeps both sides ≥ 256
    assert decode_image(tmp_path / "big.jpg", at_least=400).size == (1024, 768)  # a half would not
    assert decode_image(tmp_path / "big.png", at_least=64).size == (1024, 768)  # only JPEGs scale as they decode
    whole = square_tensors([decode_image(tmp_path / "big.jpg")], 16)[0]
    fast = decode.decode_square(tmp_path / "big.jpg", 16)  # 768 ≥ 16 × 16 × 2: decoded at a quarter
    assert (whole.int() - fast.int()).abs().max() <= 1
    png = square_tensors([decode_image(tmp_path / "big.png")], 16)[0]
    assert torch.equal(decode.decode_square(tmp_path / "big.png", 16), png)
