"""saddlepoint.grids lays pictures out as torchvision's make_grid / save_image do."""

import numpy as np
import pytest
import torch
from PIL import Image

from saddlepoint.grids import make_grid, save_grid, save_png

torchvision_utils = pytest.importorskip("torchvision.utils")


@pytest.mark.parametrize("n, c, nrow, padding, pad_value", [(64, 1, 8, 2, 0.0), (10, 3, 4, 2, 1.0), (7, 1, 16, 1, 1.0),
                                                            (1, 3, 8, 2, 0.0), (12, 1, 5, 0, 0.5)])
def test_grid_matches_torchvision(n, c, nrow, padding, pad_value):
    x = torch.randn(n, c, 9, 7, generator=torch.Generator().manual_seed(n)) * 1.5  # values beyond [−1, 1] too
    ours = make_grid(x, nrow=nrow, padding=padding, pad_value=pad_value, value_range=(-1, 1))
    theirs = torchvision_utils.make_grid(x, nrow=nrow, padding=padding, pad_value=pad_value, normalize=True,
                                         value_range=(-1, 1))
    assert ours.shape == theirs.shape and torch.equal(ours, theirs)
    raw = make_grid(x.clamp(0, 1), nrow=nrow, padding=padding, pad_value=pad_value)
    assert torch.equal(raw, torchvision_utils.make_grid(x.clamp(0, 1), nrow=nrow, padding=padding, pad_value=pad_value))
    assert x.shape == (n, c, 9, 7)  # the input is left as it was


def test_png_matches_torchvision(tmp_path):
    x = torch.rand(20, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    save_grid(x, tmp_path / "ours.png", nrow=6)
    torchvision_utils.save_image(x, str(tmp_path / "theirs.png"), nrow=6, normalize=True, value_range=(-1, 1))
    ours, theirs = (np.asarray(Image.open(tmp_path / f)) for f in ("ours.png", "theirs.png"))
    assert ours.shape == theirs.shape == (2 + 4 * 10, 2 + 6 * 10, 3) and (ours == theirs).all()
    save_png(torch.full((1, 4, 5), 0.5), tmp_path / "grey.png")  # one channel: a grey PNG
    assert np.asarray(Image.open(tmp_path / "grey.png")).tolist() == [[128] * 5] * 4


def test_bad_shape_is_named():
    with pytest.raises(ValueError, match=r"\(N, 1 or 3, H, W\)"):
        make_grid(torch.zeros(2, 2, 4, 4))
