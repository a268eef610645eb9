"""pix2pix: U-Net and PatchGAN players, paired data layouts, the L1 + λ·adversarial step, translate /
evaluate from the CLI, and the pixel metrics."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from saddlepoint import resolve_config, train
from saddlepoint.cli import main
from saddlepoint.config import ConfigError
from saddlepoint.data.images import DataError
from saddlepoint.data.paired import PairedSampler, load_pairs
from saddlepoint.metrics.translation import pixel_metrics
from saddlepoint.nets.unet import PatchCritic, UNetGenerator
from conftest import mnist_or_skip

TINY = ["base_channels=8", "batch_size=16", "eval_samples=32", "log_every=10", "checkpoint_every=1000",
        "sample_every=0", "lr_g=0.001", "lr_d=0.001"]


def _square_pair(rng, size=28):
    """A: a filled square's outline; B: the filled square (an edges → shape task)."""
    a = np.zeros((size, size), np.uint8)
    b = np.zeros((size, size), np.uint8)
    r, c = rng.integers(2, size - 12, size=2)
    k = rng.integers(6, 10)
    b[r:r + k, c:c + k] = 255
    a[r, c:c + k] = a[r + k - 1, c:c + k] = a[r:r + k, c] = a[r:r + k, c + k - 1] = 255
    return a, b


@pytest.fixture
def ab_folder(tmp_path):
    """train/{A,B} (48 pairs) and test/{A,B} (8 pairs), grey PNGs."""
    rng = np.random.default_rng(0)
    root = tmp_path / "squares"
    for split, n in (("train", 48), ("test", 8)):
        for side in "AB":
            (root / split / side).mkdir(parents=True)
        for i in range(n):
            a, b = _square_pair(rng)
            Image.fromarray(a).save(root / split / "A" / f"{i:03d}.png")
            Image.fromarray(b).save(root / split / "B" / f"{i:03d}.png")
    return root


def test_unet_and_patch_critic_shapes():
    for size, layers in ((28, 2), (32, 3), (64, 3)):
        G = UNetGenerator(1, 3, size, 8)
        x = torch.randn(2, 1, size, size)
        y = G(x)
        assert y.shape == (2, 3, size, size) and y.abs().max() <= 1
        scores = PatchCritic(4, 8, layers)(torch.cat([x, y], 1))
        assert scores.dim() == 1 and scores.shape[0] % 2 == 0 and scores.shape[0] > 2  # several patches per image


def test_unet_skips_carry_the_source_detail():
    """The finest skip connection reaches the output: changing one source pixel changes the output near it."""
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, 32, 8).eval()
    x = torch.zeros(1, 1, 32, 32)
    x2 = x.clone()
    x2[0, 0, 5, 5] = 1.0
    diff = (G(x2) - G(x)).abs()[0, 0]
    assert diff[3:8, 3:8].sum() > 0
    assert diff[3:8, 3:8].mean() > diff[20:, 20:].mean()


def test_pairs_from_ab_folders_warn_and_fail_clearly(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "pairs"
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    for i in range(3):
        a, b = _square_pair(rng)
        Image.fromarray(a).save(root / "A" / f"{i}.png")
        Image.fromarray(b).save(root / "B" / f"{i}.png")
    Image.fromarray(a).save(root / "A" / "lonely.png")
    with pytest.warns(UserWarning, match="skipped 1 files .* without a partner in A/ or B/: lonely"):
        pairs = load_pairs(str(root), 28)
    assert pairs.source.shape == pairs.target.shape == (3, 1, 28, 28)
    assert load_pairs(str(root), 28, train=False) is None  # no held-out split
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(root / "B" / "0.png")
    with pytest.raises(DataError, match="pair '0' .* different sizes"):
        load_pairs(str(root), 28)
    with pytest.raises(DataError, match="is not a folder"):
        load_pairs(str(tmp_path / "missing"), 28)


def test_side_by_side_pairs(tmp_path):
    rng = np.random.default_rng(2)
    root = tmp_path / "facades"
    root.mkdir()
    for i in range(4):
        a, b = _square_pair(rng, 32)
        Image.fromarray(np.concatenate([a, b], axis=1)).convert("RGB").save(root / f"{i}.jpg")
    pairs = load_pairs(str(root), 32)
    assert pairs.source.shape == (4, 3, 32, 32)
    assert pairs.source.float().mean() < pairs.target.float().mean()  # outline left, filled square right
    Image.fromarray(np.zeros((32, 40), np.uint8)).save(root / "odd.png")
    with pytest.raises(DataError, match="twice as wide as high"):
        load_pairs(str(root), 32)


def test_sampler_draws_matching_pairs(ab_folder):
    s = PairedSampler(str(ab_folder), 28)
    target, source = s.sample_labelled(6, torch.Generator().manual_seed(0))
    assert target.shape == source.shape == (6, 1, 28, 28)
    # Each source outline lies on its own target's filled square.
    assert bool((((source > 0) & (target < 0)).flatten(1).sum(1) == 0).all())


def test_pix2pix_learns_the_translation_and_the_cli_shows_it(tmp_path, ab_folder, capsys):
    run = tmp_path / "p2p"
    assert main(["train", "pix2pix-edges2mnist", f"data={ab_folder}", *TINY, "steps=120", "eval_every=60",
                 "checkpoint_every=60", "--out", str(run), "--quiet"]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["loss/pix2pix"] < 0.5 * rows[0]["loss/pix2pix"]  # λ·L1 falls as G learns to fill the squares
    # The run reports its own task's numbers on the held-out pairs, while training and at the end.
    evals = [r for r in rows if "eval/l1" in r]
    assert [r["step"] for r in evals] == [60, 120] and evals[1]["eval/l1"] < evals[0]["eval/l1"]
    assert "eval/mmd2_pixels" not in rows[-1] and "eval/accuracy" not in rows[-1]  # squares are no digits
    summary = json.loads((run / "summary.json").read_text())
    line = capsys.readouterr().out
    assert f"L1 {summary['l1']:.4f}, PSNR {summary['psnr']:.2f} dB, SSIM {summary['ssim']:.3f} on 8 held-out pairs" in line
    assert summary["l1"] == pytest.approx(evals[1]["eval/l1"])
    assert main(["evaluate", str(run), "--metrics", "l1,psnr,ssim,fid", "--backbone", "mnist", "--quiet"]) == 2
    assert "reads MNIST digits" in capsys.readouterr().err  # a folder of squares is not MNIST
    before = _untrained_l1(ab_folder, tmp_path)
    assert main(["evaluate", str(run), "--metrics", "l1,psnr,ssim", "--quiet"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    assert ev["pairs"] == "held-out pairs" and ev["translated"] == 8
    assert ev["l1"] < 0.5 * before, (ev["l1"], before)
    assert 0 < ev["ssim"] <= 1 and ev["psnr"] > 10
    assert main(["evaluate", str(run)]) == 0  # the quick check: the same numbers, said on what
    quick = json.loads((run / "eval.json").read_text())
    assert quick["evaluated_on"] == "8 held-out pairs" and "samples" not in quick
    assert quick["l1"] == pytest.approx(ev["l1"]) and quick["psnr"] == pytest.approx(ev["psnr"])
    out = tmp_path / "rows.png"
    assert main(["translate", str(run), "-n", "4", "-o", str(out)]) == 0
    assert Image.open(out).size == (3 * 28 + 4 * 2, 4 * 28 + 5 * 2)  # source | output | target
    assert main(["translate", str(run), "-n", "4", "--step", "60"]) == 0  # the same pairs, an earlier checkpoint
    early = np.asarray(Image.open(run / "translate-step60.png"))
    assert early.shape == np.asarray(Image.open(out)).shape and (early != np.asarray(Image.open(out))).any()
    assert main(["translate", str(run), "-i", str(ab_folder / "test" / "A"), "-n", "3", "-o", str(out)]) == 0
    assert Image.open(out).size == (2 * 28 + 3 * 2, 3 * 28 + 4 * 2)  # source | output
    capsys.readouterr()
    for args, message in [
        (["sample", str(run)], "this run translates images"),
        (["interpolate", str(run)], "this run translates images"),
        (["translate", str(run), "-i", str(tmp_path / "nothing")], "does not exist"),
        (["evaluate", str(run), "--metrics", "code_match"], "not for translation runs"),
    ]:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_translate_says_in_one_line_when_the_runs_data_has_gone(tmp_path, ab_folder, capsys):
    import shutil

    data = tmp_path / "moved"
    shutil.copytree(ab_folder, data)
    run = tmp_path / "run"
    assert main(["train", "pix2pix-edges2mnist", f"data={data}", *TINY, "steps=1", "--out", str(run), "--quiet"]) == 0
    shutil.rmtree(data)
    capsys.readouterr()
    for args in (["translate", str(run), "-o", str(tmp_path / "t.png")], ["evaluate", str(run)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("saddlepoint: error: ") and str(data) in err and err.count("\n") == 1, err
    assert not (tmp_path / "t.png").exists()


def test_evaluating_while_training_leaves_the_training_stream_alone(tmp_path, ab_folder, monkeypatch):
    """The U-Net's dropout draws from torch's global stream; an evaluation that draws from it too (building the MNIST
    classifier initializes weights) must not move the run onto another trajectory."""
    from saddlepoint.metrics import images
    from saddlepoint.train import load_run

    quality = images.translation_quality

    def drawing(exp, n):
        torch.rand(1000)
        return quality(exp, n)

    monkeypatch.setattr(images, "translation_quality", drawing)
    weights = []
    for every in (0, 3):
        _, cfg = resolve_config("pix2pix-edges2mnist", [f"data={ab_folder}", *TINY, "steps=6", f"eval_every={every}",
                                                        f"sample_every={every}"])
        run = train(cfg, out=tmp_path / f"every{every}", progress=False).run_dir
        weights.append(load_run(run).G.state_dict())
    assert (run / "samples-00000003.png").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval/l1" in r] == [3, 6]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0]), "evaluation changed the training"


def test_edges2mnist_reports_the_digit_and_trains_as_if_unwatched(tmp_path):
    """On the built-in MNIST pairs the run also reports how many outputs the classifier reads as their digit; that
    reading builds the classifier, and the weights still do not depend on eval_every."""
    mnist_or_skip(train=True)
    from saddlepoint.train import load_run

    weights = []
    for every in (0, 3):
        _, cfg = resolve_config("pix2pix-edges2mnist", [*TINY, "steps=6", f"eval_every={every}", "eval_samples=64"])
        run = train(cfg, out=tmp_path / f"every{every}", progress=False).run_dir
        weights.append(load_run(run).G.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0]), "evaluation changed the training"
    summary = json.loads((run / "summary.json").read_text())
    assert 0 <= summary["accuracy"] <= 1 and summary["evaluated_on"] == "64 held-out pairs"


def _untrained_l1(ab_folder, tmp_path) -> float:
    from saddlepoint.metrics.images import evaluate_images
    from saddlepoint.train import load_run

    _, cfg = resolve_config("pix2pix-edges2mnist", [f"data={ab_folder}", *TINY, "steps=1", "lr_g=1e-9", "lr_d=1e-9"])
    exp = load_run(train(cfg, out=tmp_path / "untrained", progress=False).run_dir, load_data=True)
    return evaluate_images(exp, ["l1"], n=8)["l1"]


def test_l1_only_baseline_and_its_keys(tmp_path, ab_folder):
    no_critic = [o for o in TINY if not o.startswith("lr_d=")]  # gan_weight=0 trains no critic and refuses an lr_d
    _, cfg = resolve_config("pix2pix-edges2mnist", [f"data={ab_folder}", *no_critic, "steps=3", "gan_weight=0"])
    rows = train(cfg, out=tmp_path / "l1", progress=False).run_dir / "metrics.jsonl"
    last = json.loads(rows.read_text().splitlines()[-1])
    assert last["loss/G"] == pytest.approx(last["loss/pix2pix"])  # no adversarial term in G's loss
    for overrides, message in [
        (["model=dcgan"], "conditional=pix2pix and model=unet go together"),
        (["conditional=cgan"], "holds image pairs: use conditional=pix2pix"),
        (["data=mnist"], "not a set of image pairs"),
        (["z_dim=64"], "takes an image and no noise: remove z_dim"),
        (["noise=uniform"], "takes an image and no noise: remove noise"),
    ]:
        with pytest.raises(ConfigError, match=message):
            resolve_config("pix2pix-edges2mnist", overrides)
    with pytest.raises(ConfigError, match="holds image pairs"):
        resolve_config("mnist-dcgan", ["data=edges2mnist"])
    with pytest.raises(ConfigError, match="l1_weight applies to conditional=pix2pix"):
        resolve_config("mnist-dcgan", ["l1_weight=10"])


def test_pixel_metrics_agree_with_independent_formulas():
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(0)
    target = torch.rand(3, 1, 32, 32, generator=g) * 1.6 - 0.8
    out = (target + 0.2).clamp(-1, 1)  # +0.1 on the [0, 1] scale
    m = pixel_metrics(out, target)
    assert m["l1"] == pytest.approx(0.1, abs=1e-5)
    assert m["psnr"] == pytest.approx(20.0, abs=1e-3)  # 10·log10(1 / 0.1²)
    noisy = (target + 0.3 * torch.randn(target.shape, generator=g)).clamp(-1, 1)
    ours = pixel_metrics(noisy, target)["ssim"]
    theirs = np.mean([structural_similarity(((t[0] + 1) / 2).numpy(), ((n[0] + 1) / 2).numpy(), data_range=1.0,
                                            gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
                      for t, n in zip(target, noisy)])
    assert ours == pytest.approx(theirs, abs=0.02)


def test_edges2mnist_pairs_from_the_data_home():
    mnist_or_skip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = load_pairs("edges2mnist", 28, train=False)
    assert pairs.source.shape == pairs.target.shape == (10000, 1, 28, 28) and pairs.labels is not None
    edges, digits = pairs.source[:100] > 0, pairs.target[:100] > 60
    assert edges.float().mean() < digits.float().mean()  # outlines are thinner than strokes


def test_halves2mnist_pairs_keep_the_top_half():
    mnist_or_skip()
    pairs = load_pairs("halves2mnist", 28, train=False)
    assert pairs.source.shape == pairs.target.shape == (10000, 1, 28, 28) and pairs.labels is not None
    assert torch.equal(pairs.source[:, :, :14], pairs.target[:, :, :14])  # the top half as it is
    assert pairs.source[:, :, 14:].max() == 0 and pairs.target[:, :, 14:].float().mean() > 10  # the bottom to draw
    _, cfg = resolve_config("pix2pix-edges2mnist", ["data=halves2mnist"])
    assert cfg.data == "halves2mnist"
    with pytest.raises(ConfigError, match="holds image pairs"):
        resolve_config("mnist-dcgan", ["data=halves2mnist"])
