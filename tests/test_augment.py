"""DiffAugment: the augmentations themselves, and a GAN whose critic reads everything through them."""

import pytest
import torch

from conftest import resumed_equals_whole
from saddlepoint import ConfigError, resolve_config, train
from saddlepoint.augment import Augmented, color, cutout, parse_policy, translation


def test_translation_moves_each_image_by_at_most_an_eighth_and_lets_zeros_in():
    x = torch.full((400, 1, 16, 16), -1.0)
    x[:, :, 8, 8] = 1.0  # one bright pixel in the middle
    out = translation(x, torch.Generator().manual_seed(0))
    shifts = set()
    for img in out[:, 0]:
        (r, c), = (img == 1.0).nonzero().tolist()
        dy, dx = r - 8, c - 8
        assert abs(dy) <= 2 and abs(dx) <= 2  # 16 / 8
        shifts.add((dy, dx))
        zeros = img == 0  # what came in from outside: whole rows and columns
        assert int(zeros.sum()) == 16 * abs(dy) + 16 * abs(dx) - abs(dy) * abs(dx)
    assert len(shifts) == 25  # every shift in [−2, 2]² drawn


def test_cutout_zeroes_one_square_of_half_the_side():
    out = cutout(torch.ones(300, 3, 16, 16), torch.Generator().manual_seed(1))
    assert torch.equal(out[:, 0], out[:, 2])  # the same hole in every channel
    sizes = []
    for img in out[:, 0]:
        rows, cols = (img == 0).nonzero().unbind(1)
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert h <= 8 and w <= 8 and int((img == 0).sum()) == h * w  # a rectangle, clipped at the border
        sizes.append(h * w)
    assert max(sizes) == 64 and min(sizes) < 64


def test_color_changes_brightness_saturation_and_contrast_per_image():
    x = torch.rand(200, 3, 8, 8) * 2 - 1
    out = color(x, torch.Generator().manual_seed(2))
    shift = (out - x).mean(dim=(1, 2, 3))
    assert shift.std() > 0.1  # a brightness of its own per image
    grey = color(x.mean(1, keepdim=True).expand(-1, 3, -1, -1), torch.Generator().manual_seed(2))
    assert torch.allclose(grey[:, 0], grey[:, 1], atol=1e-6)  # a grey image has no saturation to change


def test_the_augmentations_pass_gradients_back():
    x = torch.ones(8, 3, 16, 16, requires_grad=True)
    y = cutout(translation(x, torch.Generator().manual_seed(4)), torch.Generator().manual_seed(5))
    y.sum().backward()
    g = x.grad
    assert set(g.unique().tolist()) == {0.0, 1.0}  # each pixel kept passes its gradient; cut or shifted out: none
    assert int(g.sum()) == int((y != 0).sum())
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    color(x, torch.Generator().manual_seed(3)).pow(2).sum().backward()
    assert (x.grad != 0).all()


def test_the_policy_is_applied_in_the_papers_order():
    assert parse_policy("cutout, translation") == ["translation", "cutout"]
    assert parse_policy("") == []
    with pytest.raises(ValueError, match="cutot"):
        parse_policy("translation,cutot")


def test_the_critic_reads_every_image_augmented_in_both_steps(tiny_npz, tmp_path):
    cfg = resolve_config("mnist-dcgan", [f"data={tiny_npz}", "augment=cutout", "batch_size=8", "steps=2",
                                         "base_channels=8", "eval_every=0", "sample_every=0", "precision=fp32"])[1]
    from saddlepoint.trainer import build

    model = build(cfg)
    critic = model.contest.critic
    assert isinstance(critic, Augmented) and critic.critic is model.D
    read = []
    model.D.register_forward_pre_hook(lambda module, args: read.append(args[0].detach().clone()))
    model.train_step()
    images = torch.cat(read)
    assert len(images) >= 3 * 8  # real and fake in the critic's step, fake again in the generator's
    holes = (images == 0).flatten(1).sum(1)  # a pixel of exactly 0 is mid-grey, which no image here has
    assert (holes >= 7 * 7).all(), holes.tolist()  # every image: a hole of (up to clipping) 14 × 14


def test_an_augmented_run_resumes_exactly(tiny_npz, tmp_path):
    cfg = resolve_config("mnist-dcgan", [f"data={tiny_npz}", "augment=translation,cutout,color", "batch_size=8",
                                         "steps=6", "checkpoint_every=3", "base_channels=8", "eval_every=0",
                                         "sample_every=0", "precision=fp32"])[1]
    _, tensors = resumed_equals_whole(cfg, tmp_path, crash_at=3)
    assert "rng.augment" in tensors


@pytest.mark.parametrize("overrides, match", [
    (["augment=cutot"], "did you mean 'cutout'"),
    (["augment=,"], "names no augmentation"),
    (["augment=translation", "data=ring8", "model=mlp"], "2-D points are not images"),
    (["augment=cutout"], "paired with"),
])
def test_augment_refusals(overrides, match):
    recipe = "pix2pix-edges2mnist" if match == "paired with" else "mnist-dcgan"
    with pytest.raises(ConfigError, match=match):
        resolve_config(recipe, overrides)[1].validate()


def test_no_augment_no_stream(tiny_npz, tmp_path):
    cfg = resolve_config("mnist-dcgan", [f"data={tiny_npz}", "batch_size=8", "steps=1", "base_channels=8",
                                         "eval_every=0", "sample_every=0"])[1]
    run = train(cfg, out=tmp_path / "plain", progress=False)
    from saddlepoint.runs import load_checkpoint

    assert not any(k.startswith("rng.augment") for k in load_checkpoint(run.run_dir)[0])
