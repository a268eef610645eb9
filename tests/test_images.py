"""Image data: the data home, MNIST (skipped where the data home lacks it) and stacked MNIST."""

import pytest
import torch

from saddlepoint.data.images import DataError, ImageTensorDataset, StackedMNIST, data_home, load_mnist


def _mnist_or_skip():
    try:
        return load_mnist(train=False, download=False)
    except DataError as e:
        pytest.skip(f"MNIST not in the data home: {e}")


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
    ds = _mnist_or_skip()
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
