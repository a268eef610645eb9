"""4× super-resolution: SRGAN's players, patch data from photographs, SRResNet / SRGAN training, and the
held-out PSNR / SSIM against bicubic interpolation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from saddlepoint import resolve_config, train
from saddlepoint.cli import main
from saddlepoint.config import ConfigError
from saddlepoint.data.images import DataError
from saddlepoint.data.superres import (SRSampler, dihedral, downsample, load_photos, self_ensemble,
                                       upsample_bicubic)
from saddlepoint.metrics.translation import pixel_metrics, superres_metrics
from saddlepoint.nets.srresnet import SRCritic, SRResNet

TINY = ["base_channels=8", "res_blocks=2", "image_size=32", "batch_size=4", "log_every=10", "checkpoint_every=1000",
        "sample_every=0", "lr_g=0.002"]  # no lr_d: srresnet-photos trains no critic and refuses one


@pytest.fixture
def photo_folder(tmp_path):
    """Smooth colour gradients with sharp-edged blocks: 4 training photos and a test/ folder of 1."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    (root / "test").mkdir(parents=True)
    for i, name in enumerate(["a", "b", "c", "d", "test/e"]):
        yy, xx = np.mgrid[0:80, 0:96]
        img = np.stack([(xx * 2 + i * 20) % 256, (yy * 3) % 256, ((xx + yy) * 1.5) % 256], -1).astype(np.uint8)
        for _ in range(6):
            r, c = rng.integers(0, 60), rng.integers(0, 76)
            img[r:r + 16, c:c + 16] = rng.integers(0, 256, size=3)
        Image.fromarray(img).save(root / f"{name}.png")
    return root


def test_players_upscale_four_times():
    G, D = SRResNet(3, 8, 2), SRCritic(3, 8, 32)
    low = torch.rand(2, 3, 8, 8) * 2 - 1
    high = G(low)
    assert high.shape == (2, 3, 32, 32) and high.abs().max() <= 1
    assert D(high).shape == (2,)
    with pytest.raises(ValueError, match="multiple of 16"):
        SRCritic(3, 8, 40)


def test_sampler_crops_and_degrades(photo_folder):
    s = SRSampler(str(photo_folder), 32)
    high, low = s.sample_labelled(5, torch.Generator().manual_seed(0))
    assert high.shape == (5, 3, 32, 32) and low.shape == (5, 3, 8, 8)
    assert torch.allclose(low, downsample(high, 4))
    again, _ = s.sample_labelled(5, torch.Generator().manual_seed(0))
    assert torch.equal(high, again)  # the crops come from the run's generator: exact resume
    assert len(load_photos(str(photo_folder), train=False)) == 1
    (photo_folder / "test" / "broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="skipped 1 of 2 files .* broken.png"):
        assert len(load_photos(str(photo_folder), train=False)) == 1
    with pytest.raises(DataError, match="smaller than the 128-px crops"):
        SRSampler(str(photo_folder), 128)
    with pytest.raises(DataError, match="multiple of the scale"):
        SRSampler(str(photo_folder), 30)


def test_dihedral_gives_the_squares_eight_symmetries():
    x = torch.arange(16.0).view(1, 1, 4, 4).expand(8, 2, 4, 4)
    y = dihedral(x, torch.arange(8))
    assert torch.equal(y[0], x[0]) and torch.equal(y[1], torch.rot90(x[0], 1, (1, 2)))
    assert torch.equal(y[4], x[0].flip(-1)) and torch.equal(y[6], torch.rot90(x[0].flip(-1), 2, (1, 2)))
    assert len({tuple(t.flatten().tolist()) for t in y}) == 8  # all different
    assert torch.equal(dihedral(y, torch.zeros(8, dtype=torch.long)), y)


def test_augmented_crops_are_turned_and_mirrored_copies_of_the_same_crops(photo_folder):
    plain, turned = SRSampler(str(photo_folder), 32), SRSampler(str(photo_folder), 32, augment=True)
    (a, _), (b, low) = (s.sample_labelled(24, torch.Generator().manual_seed(1)) for s in (plain, turned))
    assert torch.allclose(low, downsample(b, 4))  # degraded after the symmetry, as the model will see it
    which = [next(k for k in range(8) if torch.equal(dihedral(a[i:i + 1], torch.tensor([k]))[0], b[i]))
             for i in range(24)]  # StopIteration if a crop were anything else
    assert len(set(which)) >= 5
    again, _ = turned.sample_labelled(24, torch.Generator().manual_seed(1))
    assert torch.equal(again, b)  # from the run's generator: exact resume
    with pytest.raises(ConfigError, match="sr_augment applies to conditional=srgan"):
        resolve_config("mnist-dcgan", ["sr_augment=true"])
    from saddlepoint.train import Experiment

    for flag in (False, True):  # the key reaches the run's sampler
        _, cfg = resolve_config("srresnet-photos", [f"data={photo_folder}", *TINY, f"sr_augment={flag}"])
        assert Experiment(cfg).data.augment is flag


def test_self_ensemble_is_the_mean_over_the_eight_symmetries():
    low = torch.rand(2, 3, 6, 6) * 2 - 1
    # Bicubic enlargement commutes with turning and mirroring: turning each output back gives it unchanged.
    assert torch.allclose(self_ensemble(lambda x: upsample_bicubic(x, 4), low), upsample_bicubic(low, 4), atol=1e-5)
    # A position-dependent output (a ramp added left to right) is averaged over the symmetries of the square.
    ramp = torch.linspace(0, 1, 24).expand(1, 1, 24, 24)
    out = self_ensemble(lambda x: upsample_bicubic(x, 4) + ramp, low)
    mean_ramp = dihedral(ramp.expand(8, 1, 24, 24).clone(), torch.arange(8)).mean(0, keepdim=True)
    assert torch.allclose(out, upsample_bicubic(low, 4) + mean_ramp, atol=1e-5)
    assert not torch.allclose(mean_ramp, ramp, atol=0.1)
    G = SRResNet(3, 8, 2, residual=True).eval()  # a fully convolutional generator takes turned oblong images
    with torch.no_grad():
        assert self_ensemble(G, torch.rand(1, 3, 6, 10) * 2 - 1).shape == (1, 3, 24, 40)


def test_superres_metrics_score_bicubic_as_bicubic():
    photo = (torch.rand(3, 40, 48) * 255).to(torch.uint8)
    res = superres_metrics(lambda low: upsample_bicubic(low, 4), [photo])
    for k in ("l1", "psnr", "ssim"):
        assert res[k] == pytest.approx(res[f"bicubic/{k}"])
    high = photo[None].float().div(127.5).sub(1)
    trimmed = pixel_metrics(upsample_bicubic(downsample(high, 4), 4)[..., 4:-4, 4:-4], high[..., 4:-4, 4:-4])
    assert res["bicubic/psnr"] == pytest.approx(trimmed["psnr"])


def test_srresnet_learns_and_is_scored_against_bicubic(tmp_path, photo_folder, capsys):
    run = tmp_path / "sr"
    assert main(["train", "srresnet-photos", f"data={photo_folder}", *TINY, "steps=80", "sr_residual=false",
                 "eval_every=40", "--out", str(run), "--quiet"]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # The run reports held-out PSNR / SSIM beside bicubic's, while training and in its last line.
    evals = [r for r in rows if "eval/psnr" in r]
    assert [r["step"] for r in evals] == [40, 80] and evals[1]["eval/psnr"] > evals[0]["eval/psnr"]
    assert evals[0]["eval/bicubic/psnr"] == evals[1]["eval/bicubic/psnr"] and "eval/mmd2_pixels" not in evals[1]
    s = json.loads((run / "summary.json").read_text())
    assert s["evaluated_on"] == "1 held-out photograph" and s["psnr"] == pytest.approx(evals[1]["eval/psnr"])
    assert s["game"] == "no game: gan_weight=0"
    assert (f"PSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.3f} on 1 held-out photograph (bicubic {s['bicubic/psnr']:.2f} "
            f"dB / {s['bicubic/ssim']:.3f}: {s['psnr'] - s['bicubic/psnr']:+.2f} dB)") in capsys.readouterr().out
    assert rows[-1]["loss/srgan"] < 0.5 * rows[0]["loss/srgan"]
    assert rows[-1]["loss/G"] == pytest.approx(rows[-1]["loss/srgan"])  # gan_weight=0: the pixel loss alone
    assert "loss/D" not in rows[-1]  # ... and no critic is trained for it
    assert main(["evaluate", str(run), "--metrics", "psnr,ssim", "--quiet"]) == 0
    ev = json.loads((run / "eval.json").read_text())
    assert ev["images"] == "held-out photographs" and ev["photos"] == 1
    assert {"psnr", "ssim", "bicubic/psnr", "bicubic/ssim"} <= set(ev)
    untrained = tmp_path / "untrained"
    assert main(["train", "srresnet-photos", f"data={photo_folder}", *TINY, "steps=1", "lr_g=1e-9", "sr_residual=false",
                 "--out", str(untrained), "--quiet"]) == 0
    assert main(["evaluate", str(untrained), "--metrics", "psnr", "--quiet"]) == 0
    before = json.loads((untrained / "eval.json").read_text())["psnr"]
    assert ev["psnr"] > before + 3, (before, ev["psnr"])
    assert ev["self_ensemble"] is False
    assert main(["evaluate", str(run), "--metrics", "psnr", "--self-ensemble", "--quiet"]) == 0
    ens = json.loads((run / "eval.json").read_text())
    assert ens["self_ensemble"] is True and ens["psnr"] != pytest.approx(ev["psnr"], abs=1e-4)
    assert ens["bicubic/psnr"] == pytest.approx(ev["bicubic/psnr"])
    assert main(["evaluate", str(run), "--self-ensemble"]) == 0  # the quick check records the ensemble too
    quick = json.loads((run / "eval.json").read_text())
    assert quick["self_ensemble"] is True and quick["psnr"] == pytest.approx(ens["psnr"])  # ... and measures with it
    from saddlepoint.train import load_run

    exp = load_run(run)
    low = torch.rand(1, 3, 8, 8) * 2 - 1
    plain = exp.generate(1, cond=low)
    exp.use_self_ensemble()
    assert not torch.allclose(exp.generate(1, cond=low), plain)
    exp.use_self_ensemble(False)  # and back
    assert torch.equal(exp.generate(1, cond=low), plain)
    out = tmp_path / "crops.png"
    assert main(["translate", str(run), "-n", "2", "-o", str(out)]) == 0
    assert Image.open(out).size == (3 * 32 + 4 * 2, 2 * 32 + 3 * 2)  # enlarged input | output | original
    ens_out = tmp_path / "crops-ensemble.png"
    assert main(["translate", str(run), "-n", "2", "-o", str(ens_out), "--self-ensemble"]) == 0
    assert not np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(ens_out)))
    toy = tmp_path / "toy"
    assert main(["train", "grid25", "steps=2", "eval_every=0", "sample_every=0", "--out", str(toy), "--quiet"]) == 0
    capsys.readouterr()
    for args, message in [(["sample", str(run)], "this run translates images"),
                          (["evaluate", str(run), "--metrics", "fid"], "not for super-resolution runs"),
                          (["evaluate", str(run), "--samples", "50"], "--samples does not apply to super-resolution"),
                          (["evaluate", str(toy), "--self-ensemble"], "--self-ensemble averages over the input's turns"),
                          (["translate", str(toy), "--self-ensemble"], "is for super-resolution runs")]:
        assert main(args) == 2
        assert message in capsys.readouterr().err


def test_residual_generator_starts_at_bicubic_and_improves_on_it(tmp_path, photo_folder):
    from saddlepoint.metrics.images import evaluate_images
    from saddlepoint.train import load_run

    G = SRResNet(3, 8, 2, residual=True).eval()
    low = torch.rand(2, 3, 8, 8) * 2 - 1
    assert torch.allclose(G(low), upsample_bicubic(low, 4), atol=1e-6)  # the detail branch starts at zero
    _, cfg = resolve_config("srresnet-photos", [f"data={photo_folder}", *TINY, "steps=150", "lr_g=0.001"])
    ev = evaluate_images(load_run(train(cfg, out=tmp_path / "r", progress=False).run_dir, load_data=True), ["psnr"])
    assert ev["psnr"] > ev["bicubic/psnr"], ev  # sharp-edged blocks: learnable detail that bicubic blurs


def test_srgan_adds_the_adversarial_term_and_srresnet_leaves_the_critic_alone(tmp_path, photo_folder):
    from saddlepoint.train import Experiment, load_run

    _, cfg = resolve_config("srgan-photos", [f"data={photo_folder}", *TINY, "steps=2", "log_every=1"])
    rows = train(cfg, out=tmp_path / "g", progress=False).run_dir / "metrics.jsonl"
    last = json.loads(rows.read_text().splitlines()[-1])
    assert last["loss/G"] > last["loss/srgan"]  # content + 10⁻³ · adversarial
    for recipe, trained in [("srgan-photos", True), ("srresnet-photos", False)]:
        _, cfg = resolve_config(recipe, [f"data={photo_folder}", *TINY, "steps=3"])
        fresh = Experiment(cfg).D.state_dict()  # the seed's initial critic
        after = load_run(train(cfg, out=tmp_path / recipe, progress=False).run_dir).D.state_dict()
        changed = any(not torch.equal(fresh[k], after[k]) for k in fresh)
        assert changed == trained, recipe


def test_superres_config_is_checked():
    for overrides, message in [(["model=dcgan", "image_size=64"], "conditional=srgan and model=srresnet go together"),
                               (["image_size=72"], "multiple of 16"),
                               (["data=mnist"], "not for super-resolution")]:
        with pytest.raises(ConfigError, match=message):
            resolve_config("srgan-photos", overrides)
    with pytest.raises(ConfigError, match="gan_weight=0 trains no critic, so game would do nothing"):
        resolve_config("srresnet-photos", ["game=hinge"])
    with pytest.raises(ConfigError, match="gan_weight=0 trains no critic, so lr_d would do nothing"):
        resolve_config("srresnet-photos", ["lr_d=0.5"])
    resolve_config("srgan-photos", ["lr_d=0.5"])  # where the critic trains, it is its learning rate
    with pytest.raises(ConfigError, match="gan_weight=0 trains no critic, so r1 would do nothing"):
        resolve_config("srresnet-photos", ["r1=1"])
    with pytest.raises(ConfigError, match="gan_weight=0 trains no critic, so critic_batch_norm would do nothing"):
        resolve_config("srresnet-photos", ["critic_batch_norm=false"])
    resolve_config("srgan-photos", ["r1=1", "critic_batch_norm=false"])  # the critic trains and R1 applies
    with pytest.raises(ConfigError, match="res_blocks applies to conditional=srgan"):
        resolve_config("mnist-dcgan", ["res_blocks=4"])


def test_skimage_photos_are_shipped():
    train_photos, held = load_photos("skimage-photos"), load_photos("skimage-photos", train=False)
    assert len(train_photos) == 6 and len(held) == 2
    assert all(p.dtype == torch.uint8 and p.shape[0] == 3 and min(p.shape[1:]) >= 256 for p in train_photos + held)


def test_upscale_in_tiles_is_the_whole_images_output(photo_folder, monkeypatch):
    import saddlepoint.sampling as sampling
    from saddlepoint.train import Experiment

    exp = Experiment(resolve_config("srresnet-photos", [f"data={photo_folder}", *TINY, "sr_residual=false"])[1])
    image = torch.from_numpy(np.array(Image.open(photo_folder / "a.png"))).permute(2, 0, 1)[:, :37, :50].contiguous()
    whole = exp.generate(1, cond=image[None].float().div(127.5).sub(1.0))[0]
    whole = whole.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    assert whole.shape == (3, 148, 200)
    for tile in (7, 16, 1000):
        tiled = sampling.upscale(exp, image, tile=tile)
        assert tiled.shape == whole.shape
        assert (tiled.int() - whole.int()).abs().max() <= 1, tile  # float rounding at most
        assert (tiled != whole).float().mean() < 1e-3, tile
    # The margins matter: tiles read without them differ from the whole image near every seam.
    monkeypatch.setattr(sampling, "_reach", lambda run, channels: (4, -1))
    assert (sampling.upscale(exp, image, tile=16).int() - whole.int()).abs().max() > 8


def test_upscale_command_enlarges_photographs_and_overwrites_nothing(tmp_path, photo_folder, capsys):
    run = tmp_path / "sr"
    assert main(["train", "srresnet-photos", f"data={photo_folder}", *TINY, "steps=2", "checkpoint_every=1",
                 "keep_checkpoints=0", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["upscale", str(run), str(photo_folder / "a.png")]) == 0
    out = run / "upscaled" / "a.png"
    assert capsys.readouterr().out.strip() == str(out)
    assert Image.open(out).size == (4 * 96, 4 * 80)
    assert main(["upscale", str(run), str(photo_folder / "a.png"), "--step", "1"]) == 0  # an earlier checkpoint's
    early = run / "upscaled-step1" / "a.png"
    assert capsys.readouterr().out.strip() == str(early)
    assert not np.array_equal(np.asarray(Image.open(early)), np.asarray(Image.open(out)))
    before = out.read_bytes()
    assert main(["upscale", str(run), str(photo_folder / "a.png")]) == 2  # the same target again: refused
    assert "exists (nothing is overwritten)" in capsys.readouterr().err and out.read_bytes() == before
    ens = tmp_path / "a-ensemble.png"
    assert main(["upscale", str(run), str(photo_folder / "a.png"), "-o", str(ens), "--self-ensemble"]) == 0
    assert not np.array_equal(np.asarray(Image.open(ens)), np.asarray(Image.open(out)))
    (photo_folder / "test" / "notes.txt").write_text("not an image")
    folder = tmp_path / "big"
    capsys.readouterr()
    assert main(["upscale", str(run), str(photo_folder / "test"), "-o", str(folder)]) == 0
    assert "skipped 1 of 2 files" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["e.png"] and Image.open(folder / "e.png").size == (384, 320)
    Image.open(photo_folder / "test" / "e.png").save(photo_folder / "test" / "e.jpg")
    assert main(["upscale", str(run), str(photo_folder / "test"), "-o", str(tmp_path / "twice")]) == 2
    assert "e.jpg and e.png would both be written as e.png" in capsys.readouterr().err
    assert not (tmp_path / "twice").exists()
    toy = tmp_path / "toy"
    assert main(["train", "grid25", "steps=2", "eval_every=0", "sample_every=0", "--out", str(toy), "--quiet"]) == 0
    capsys.readouterr()
    # A run that is not super-resolution is refused before the files are looked at (``out`` exists).
    for args, message in [([str(toy), str(photo_folder / "a.png"), "-o", str(out)],
                           "upscale is for super-resolution runs"),
                          ([str(run), str(tmp_path / "missing.png")], "does not exist"),
                          ([str(run), str(photo_folder / "a.png"), "-o", str(tmp_path / "a.txt")], "give an image file"),
                          ([str(run), str(photo_folder / "a.png"), "--tile", "0"], "tile=0"),
                          ([str(run), str(photo_folder / "test" / "notes.txt"), "-o", str(tmp_path / "n.png")],
                           "no readable images")]:
        assert main(["upscale", *args]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "a.txt").exists()
