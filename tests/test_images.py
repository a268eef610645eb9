"""Image data: the data home, MNIST (skipped where the data home lacks it) and stacked MNIST."""

import numpy as np
import pytest
import torch

from saddlepoint.data.images import DataError, ImageTensorDataset, StackedMNIST, data_home, load_mnist
from conftest import mnist_or_skip


def test_data_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SADDLEPOINT_DATA", str(tmp_path))
    assert data_home() == tmp_path
    monkeypatch.delenv("SADDLEPOINT_DATA")
    assert data_home().name == "saddlepoint"


def test_missing_mnist_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SADDLEPOINT_DATA", str(tmp_path))
    with pytest.raises(DataError, match="set SADDLEPOINT_DATA"):
        load_mnist(download=False)


def test_mnist_is_decoded_into_memory():
    ds = mnist_or_skip()
    assert ds.images.shape == (10000, 1, 28, 28) and ds.images.dtype == torch.uint8
    x = ds.to_float(torch.arange(4))
    assert x.min() >= -1 and x.max() <= 1 and x.max() == 1.0
    assert set(ds.labels.unique().tolist()) == set(range(10))


def test_stacked_mnist_stacks_independent_digits():
    # Synthetic digits: image k is filled with the value of its label, so channels reveal the labels.
    labels = torch.arange(10).repeat(5)
    images = (labels.view(-1, 1, 1, 1) * 20).to(torch.uint8).expand(-1, 1, 28, 28).clone()
    stacked = StackedMNIST(ImageTensorDataset(images, labels, "fake"))
    x, modes = stacked.sample(3000, torch.Generator().manual_seed(0))
    assert x.shape == (3000, 3, 28, 28)
    digits = torch.round((x[:, :, 0, 0] + 1) * 127.5 / 20).long()
    assert torch.equal(digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2], modes)
    assert len(modes.unique()) > 900  # ~1000 modes, drawn independently


def _make_folder(root):
    from PIL import Image

    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir()
    Image.new("RGB", (40, 30), (255, 0, 0)).save(root / "cats" / "a.png")
    Image.new("RGBA", (20, 20), (0, 255, 0, 128)).save(root / "cats" / "b.png")
    Image.new("P", (50, 50)).save(root / "dogs" / "c.gif")
    Image.new("L", (33, 33), 200).save(root / "dogs" / "d.jpg")
    (root / "dogs" / "empty.png").write_bytes(b"")
    (root / "dogs" / "notes.txt").write_text("not an image")
    good = root / "cats" / "a.png"
    (root / "cats" / "truncated.png").write_bytes(good.read_bytes()[:40])


def test_image_folder_converts_modes_and_skips_bad_files(tmp_path):
    from saddlepoint.data.images import load_folder

    _make_folder(tmp_path / "pets")
    with pytest.warns(UserWarning, match=r"skipped 3 of 7 files .*empty.png"):
        ds = load_folder(tmp_path / "pets", 16)
    assert ds.images.shape == (4, 3, 16, 16) and ds.images.dtype == torch.uint8
    assert ds.labels.tolist() == [0, 0, 1, 1]  # cats, cats, dogs, dogs
    assert ds.images[0, 0].float().mean() > 250 and ds.images[0, 1].float().mean() < 5  # red stays red


def test_image_folder_errors_say_what_to_do(tmp_path):
    from saddlepoint.data.images import load_folder

    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "missing", 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty"):
        load_folder(tmp_path / "empty", 16)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="none of the 1 files"):
        load_folder(tmp_path / "junk", 16)


def test_grey_folder_stays_one_channel(tmp_path):
    from PIL import Image

    from saddlepoint.data.images import load_folder

    for i in range(3):
        Image.new("L", (28, 28), 10 * i).save(tmp_path / f"{i}.png")
    ds = load_folder(tmp_path, 28)
    assert ds.images.shape == (3, 1, 28, 28) and ds.labels is None


def _write_cifar(root, n=20):
    import pickle

    import numpy as np

    folder = root / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    g = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": g.integers(0, 256, size=(n, 3072), dtype=np.uint8), b"labels": list(range(n))}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    return folder


def test_cifar10_batches_load_without_running_code(tmp_path, monkeypatch):
    import pickle

    from saddlepoint.data.images import load_cifar10

    folder = _write_cifar(tmp_path)
    monkeypatch.setenv("SADDLEPOINT_DATA", str(tmp_path))
    ds = load_cifar10(train=True)
    assert ds.images.shape == (100, 3, 32, 32) and ds.labels.shape == (100,)
    assert load_cifar10(train=False).images.shape == (20, 3, 32, 32)

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo owned > " + str(tmp_path / "owned"),))

    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": []}, fh)
    with pytest.raises(DataError, match="refusing to load"):
        load_cifar10(train=False)
    assert not (tmp_path / "owned").exists()


def _idx(path, array, magic_type=8):
    import struct

    path.write_bytes(bytes((0, 0, magic_type, array.ndim)) + struct.pack(f">{array.ndim}i", *array.shape)
                     + array.astype(np.uint8).tobytes())


def test_mnist_files_read_directly_and_checked(tmp_path, monkeypatch):
    from saddlepoint.data.images import read_idx

    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28))
    _idx(raw / "t10k-images-idx3-ubyte", images)
    _idx(raw / "t10k-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5]))
    monkeypatch.setenv("SADDLEPOINT_DATA", str(tmp_path))
    ds = load_mnist(train=False, download=False)
    assert ds.name == "mnist-test" and ds.images.shape == (5, 1, 28, 28) and ds.labels.dtype == torch.int64
    assert (ds.images[:, 0].numpy() == images).all() and ds.labels.tolist() == [3, 1, 4, 1, 5]
    _idx(raw / "t10k-labels-idx1-ubyte", np.array([3, 1, 4]))
    with pytest.raises(DataError, match="5 images .* 3 labels"):
        load_mnist(train=False, download=False)
    (raw / "cut").write_bytes((raw / "t10k-images-idx3-ubyte").read_bytes()[:-10])
    with pytest.raises(DataError, match="cut short"):
        read_idx(raw / "cut", 3)
    _idx(raw / "floats", np.zeros((2, 2)), magic_type=0x0D)
    with pytest.raises(DataError, match="not an IDX file of unsigned bytes"):
        read_idx(raw / "floats", 2)


def test_mnist_reader_agrees_with_torchvision():
    ours = mnist_or_skip(train=False)
    from torchvision.datasets import MNIST

    theirs = MNIST(str(data_home() / "mnist"), train=False, download=False)
    assert torch.equal(ours.images[:, 0], theirs.data) and torch.equal(ours.labels, theirs.targets)
