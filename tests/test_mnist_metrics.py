"""Stacked-MNIST mode counting, the shipped classifier, and the memorization check."""

import math

import pytest
import torch

from saddlepoint.metrics.memorization import memorization
from saddlepoint.metrics.stacked import read_triples, stacked_mode_coverage
from conftest import mnist_or_skip


def test_stacked_mode_coverage_closed_forms():
    uniform = stacked_mode_coverage(torch.arange(1000))
    assert uniform["modes"] == 1000 and uniform["kl"] == pytest.approx(0.0, abs=1e-12)
    one = stacked_mode_coverage(torch.full((50,), 123))
    assert one["modes"] == 1 and one["kl"] == pytest.approx(math.log(1000))
    # One triple: every channel always draws one digit, so the whole KL is the channels' own; none is dependence.
    assert one["kl_channels"] == pytest.approx(3 * math.log(10)) and one["kl_dependence"] == pytest.approx(0, abs=1e-12)
    two = stacked_mode_coverage(torch.tensor([1, 2] * 10))
    assert two["modes"] == 2 and two["kl"] == pytest.approx(math.log(500))


def test_stacked_kl_splits_into_channels_and_dependence():
    # Channel 0 copies channel 2 (d0 = d2, each uniform, d1 uniform and free): no channel is unbalanced,
    # so the whole KL is dependence — log 10 (one digit of information shared).
    d = torch.arange(1000)
    tied = stacked_mode_coverage((d % 10) * 100 + (d // 10 % 10) * 10 + d % 10)
    assert tied["kl_channels"] == pytest.approx(0, abs=1e-12) and tied["kl_dependence"] == pytest.approx(math.log(10))
    # Independent channels, channel 1 always 7: the KL is channel 1's alone.
    fixed = stacked_mode_coverage((d // 10 % 10) * 100 + 70 + d % 10)
    assert fixed["kl_channels"] == pytest.approx(math.log(10)) and fixed["kl_dependence"] == pytest.approx(0, abs=1e-12)
    # Any histogram: the parts, each computed on its own, add up to the whole (the chain rule).
    r = stacked_mode_coverage(torch.randint(0, 1000, (300,), generator=torch.Generator().manual_seed(0)) // 7 * 7)
    assert r["kl_channels"] + r["kl_dependence"] == pytest.approx(r["kl"]) and r["kl_dependence"] > 0


class _ReadsMean(torch.nn.Module):
    """A stand-in classifier: digit = round of the image mean mapped from [−1, 1] to 0..9."""

    def forward(self, x):
        d = ((x.mean(dim=(1, 2, 3)) + 1) / 2 * 9).round().long()
        return torch.nn.functional.one_hot(d, 10).float()


def test_read_triples_reads_each_channel():
    digits = torch.tensor([[1, 2, 3], [9, 0, 5]])
    images = (digits.float() / 9 * 2 - 1)[:, :, None, None].expand(2, 3, 28, 28)
    assert read_triples(images, _ReadsMean()).tolist() == [123, 905]


def test_memorization_flags_copies():
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(500, 20, generator=g), torch.randn(200, 20, generator=g)
    fresh = torch.randn(200, 20, generator=g)
    honest = memorization(fresh, train, test)
    assert 0.85 < honest["median_ratio"] < 1.15 and honest["copies"] < 0.05
    copied = train[:200] + 0.01 * torch.randn(200, 20, generator=g)
    cheat = memorization(copied, train, test)
    assert cheat["median_ratio"] < 0.05 and cheat["copies"] > 0.95


def test_shipped_classifier_is_small_and_accurate():
    from saddlepoint.metrics.mnist_classifier import WEIGHTS, accuracy, load_mnist_classifier

    assert WEIGHTS.is_file(), "the package must ship the MNIST classifier"
    assert WEIGHTS.stat().st_size < 4_000_000
    model = load_mnist_classifier()
    test = mnist_or_skip(train=False)
    assert accuracy(model, test.images, test.labels) >= 0.99


def test_frozen_classifier_is_the_same_function():
    """The metrics read images with BN folded into the convolutions, channels-last and pool-before-ReLU: the same
    features and classes as the trained module in eval mode, to float32 rounding — including where ReLU and the pool
    would not commute if the order mattered (negative pre-activations everywhere)."""
    from saddlepoint.metrics.mnist_classifier import FrozenMNISTClassifier, MNISTClassifier, load_mnist_classifier

    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, 28, 28, generator=g) * 2 - 1
    shipped = load_mnist_classifier()
    frozen = FrozenMNISTClassifier(shipped)
    with torch.no_grad():
        want, got = shipped.features(x), frozen.features(x)
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())
        assert torch.equal(frozen(x).argmax(1), shipped(x).argmax(1))
    # Batch norm with running statistics far from (0, 1) and a negative scale: folding must carry all of them.
    odd = MNISTClassifier()
    with torch.no_grad():
        for bn in (odd.body[1], odd.body[5]):
            bn.running_mean.uniform_(-2, 2, generator=g)
            bn.running_var.uniform_(0.1, 3, generator=g)
            bn.weight.uniform_(-2, 2, generator=g)
            bn.bias.uniform_(-1, 1, generator=g)
        odd.eval()
        want = odd.features(x)
        assert torch.allclose(FrozenMNISTClassifier(odd).features(x), want, rtol=1e-4, atol=1e-5)
    assert all(p.requires_grad for p in odd.parameters()), "freezing a copy must leave the trained module as it was"
    with pytest.raises(RuntimeError, match="only reads images"):
        frozen.train()


def test_inception_score_bounds():
    from saddlepoint.metrics.images import inception_score

    confident_uniform = torch.eye(10).repeat(50, 1)  # every class equally often, each sample certain
    assert inception_score(confident_uniform, splits=5)[0] == pytest.approx(10.0)
    assert inception_score(torch.full((500, 10), 0.1), splits=5)[0] == pytest.approx(1.0)


def test_evaluate_image_run_with_the_mnist_backbone(tmp_path, capsys, monkeypatch):
    import json

    from saddlepoint.cli import main
    from saddlepoint.data.images import data_home

    mnist_or_skip(train=False)
    cache = tmp_path / "home"
    # Reference statistics are cached in $SADDLEPOINT_CACHE (default: cache/ in the data home): point both at tmp_path.
    real_home = data_home()
    cache.mkdir()
    (cache / "mnist").symlink_to(real_home.resolve() / "mnist")
    monkeypatch.setenv("SADDLEPOINT_DATA", str(cache))
    monkeypatch.delenv("SADDLEPOINT_CACHE", raising=False)  # the default place, under the data home
    run = tmp_path / "run"
    assert main(["train", "mnist-dcgan", "base_channels=8", "z_dim=16", "batch_size=16", "steps=2",
                 "eval_every=0", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--metrics", "fid,kid,is,pr", "--samples", "500"]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert result["fid"] > 0 and 1 <= result["is"] <= 10 and 0 <= result["precision"] <= 1
    assert result["backbone"].startswith("saddlepoint MNIST classifier") and result["reference_fingerprint"]
    assert list((cache / "cache").glob("reference-mnist-*.npz"))
    assert main(["evaluate", str(run), "--metrics", "modes"]) == 2
    assert "needs data=stacked-mnist" in capsys.readouterr().err


@pytest.mark.slow
def test_memorization_metric_from_the_cli(tmp_path, capsys):
    """Slow: extracts features of all 70k MNIST digits."""
    import json

    from saddlepoint.cli import main

    mnist_or_skip(train=False)
    run = tmp_path / "run"
    assert main(["train", "mnist-dcgan", "base_channels=8", "z_dim=16", "batch_size=16", "steps=2",
                 "eval_every=0", "--out", str(run), "--quiet"]) == 0
    assert main(["evaluate", str(run), "--metrics", "memorization", "--samples", "300"]) == 0
    mem = json.loads((run / "eval.json").read_text())
    assert mem["memorization/median_ratio"] > 0 and 0 <= mem["memorization/copies"] <= 1


def test_stacked_mnist_training_logs_the_protocols_numbers(tmp_path):
    """In-training evaluation of a stacked-MNIST run reads the digit triples (as the protocol does, on fewer
    samples) and logs them with the run's metrics."""
    import json

    from saddlepoint import resolve_config, train
    from saddlepoint.metrics.mnist_classifier import load_mnist_classifier
    from saddlepoint.train import load_run

    mnist_or_skip(train=True)
    _, cfg = resolve_config("stacked-mnist-weak-d", ["steps=2", "batch_size=8", "log_every=1", "eval_every=2",
                                                     "eval_samples=300", "checkpoint_every=2", "mixture_every=1"])
    result = train(cfg, recipe="stacked-mnist-weak-d", out=tmp_path / "run", progress=False)
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert "eval/modes" not in logged[0] and "eval/kl_channels" in logged[1]
    exp = load_run(tmp_path / "run", load_data=True)
    direct = stacked_mode_coverage(read_triples(exp.generate(300), load_mnist_classifier()))
    assert 1 <= direct["modes"] <= 300
    for k in ("modes", "kl", "kl_channels", "kl_dependence"):
        assert logged[1][f"eval/{k}"] == pytest.approx(direct[k]) and result.summary[k] == pytest.approx(direct[k])


def test_train_command_ends_a_stacked_mnist_run_with_its_digit_triples(tmp_path, capsys):
    """The command's last line for stacked MNIST (its summary holds "modes", as a 2-D mixture's does, and used
    to be read as one: KeyError "unknown toy dataset 'stacked-mnist'" after the run was saved)."""
    from saddlepoint.cli import main

    mnist_or_skip(train=True)
    out = tmp_path / "run"
    assert main(["train", "stacked-mnist-weak-d", "steps=2", "batch_size=8", "eval_samples=100", "mixture_every=1",
                 "--out", str(out), "--quiet"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("stacked-mnist-weak-d (nonsaturating, 2 steps")
    assert "/1000 digit triples, KL " in line and "on 100 samples" in line and str(out) in line


def test_the_cache_follows_saddlepoint_cache(monkeypatch, tmp_path):
    from saddlepoint.data.images import cache_dir

    monkeypatch.setenv("SADDLEPOINT_DATA", str(tmp_path / "home"))
    monkeypatch.delenv("SADDLEPOINT_CACHE", raising=False)
    assert cache_dir() == tmp_path / "home" / "cache"
    monkeypatch.setenv("SADDLEPOINT_CACHE", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"  # a shared data home stays untouched
