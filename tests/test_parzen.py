"""The Parzen-window log-likelihood: the closed form against scikit-learn's kernel density, the width chosen on the
validation split, and the metric from the command line on a real MNIST run."""

import math

import pytest
import torch

from saddlepoint.metrics.parzen import parzen_log_likelihoods, parzen_window
from conftest import mnist_or_skip


def test_parzen_matches_scikit_learns_kernel_density():
    from sklearn.neighbors import KernelDensity

    g = torch.Generator().manual_seed(0)
    samples, data = torch.rand(300, 12, generator=g), torch.rand(40, 12, generator=g)
    ours = parzen_log_likelihoods(samples, data, (0.15, 0.4), block=7)  # blocks that do not divide the data
    for row, sigma in zip(ours, (0.15, 0.4)):
        theirs = KernelDensity(bandwidth=sigma, kernel="gaussian").fit(samples.double().numpy()).score_samples(
            data.double().numpy())
        assert row.numpy() == pytest.approx(theirs, rel=1e-5, abs=1e-4)


def test_parzen_picks_the_width_on_validation_and_reports_the_test_mean():
    g = torch.Generator().manual_seed(1)
    centres = torch.rand(5, 8, generator=g)
    draw = lambda n, s: (centres[torch.randint(0, 5, (n,), generator=g)]  # noqa: E731
                         + s * torch.randn(n, 8, generator=g))
    samples, val, test = draw(2000, 0.2), draw(300, 0.2), draw(300, 0.2)
    sigmas = (0.02, 0.05, 0.1, 0.2, 0.4, 1.0)
    out = parzen_window(samples, val, test, sigmas)
    # The data's own spread is 0.2: a window much narrower or wider than the spacing of the samples loses.
    assert out["parzen_sigma"] in (0.1, 0.2) and not out["parzen_at_grid_edge"]
    per_image = parzen_log_likelihoods(samples, test, (out["parzen_sigma"],))[0]
    assert out["parzen_ll"] == pytest.approx(float(per_image.mean()))
    assert out["parzen_se"] == pytest.approx(float(per_image.std()) / math.sqrt(300))
    # A sampler far from the data scores lower than one on it: the metric can fail a model.
    worse = parzen_window(samples + 1.0, val, test, sigmas)
    assert worse["parzen_ll"] < out["parzen_ll"] - 10


def test_parzen_refuses_images_of_another_size():
    with pytest.raises(ValueError, match="one size"):
        parzen_log_likelihoods(torch.rand(5, 10), torch.rand(3, 12))


def test_parzen_metric_from_the_cli(tmp_path, capsys, tiny_npz):
    import json

    from saddlepoint.cli import main

    mnist_or_skip(train=False)
    run = tmp_path / "run"
    assert main(["train", "gmmn-mnist", "gmmn_hidden=[16]", "batch_size=32", "steps=2", "eval_every=0",
                 "--out", str(run), "--quiet"]) == 0
    assert main(["evaluate", str(run), "--metrics", "parzen", "--samples", "400"]) == 0
    out = json.loads((run / "eval.json").read_text())
    # An untrained generator is far from every digit: a likelihood far below the published rows (GMMN 147).
    assert out["parzen_ll"] < 0 and out["parzen_se"] > 0 and 0.1 <= out["parzen_sigma"] <= 0.29
    assert "50,000–59,999" in out["parzen_protocol"] and "400 samples" in out["parzen_protocol"]
    capsys.readouterr()
    squares = tmp_path / "squares"
    assert main(["train", "gmmn-mnist", f"data={tiny_npz}", "gmmn_hidden=[16]", "batch_size=32", "steps=2",
                 "eval_every=0", "--out", str(squares), "--quiet"]) == 0
    assert main(["evaluate", str(squares), "--metrics", "parzen"]) == 2
    assert "needs data=mnist" in capsys.readouterr().err
