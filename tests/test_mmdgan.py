"""MMD-GAN: a kernel learned by a critic, with the paper's clipping and autoencoder term or a gradient penalty on
the witness function, on the shared trainer."""

import copy

import numpy as np
import pytest
import torch

from conftest import resumed_equals_whole
from saddlepoint import ConfigError, resolve_config
from saddlepoint.cli import main
from saddlepoint.divergences import mmd2
from saddlepoint.families.mmdgan import MMDCritic, witness
from saddlepoint.trainer import build


@pytest.fixture
def bars(tmp_path):
    npz = tmp_path / "bars.npz"
    images = np.zeros((64, 8, 8), dtype=np.uint8)
    for i in range(64):
        images[i, 2 * (i % 4):2 * (i % 4) + 2, :] = 255
    np.savez(npz, images=images)
    return npz


def unchanged(before, module):
    """The weights (not the batch-norm statistics, which every forward pass in train mode updates) are as before."""
    now = module.state_dict()
    return all(torch.equal(v, now[k]) for k, v in before.items() if "running" not in k and "num_batches" not in k)


def small(npz, *more):
    return [f"data={npz}", "image_size=8", "mmdgan_width=4", "mmdgan_features=3", "z_dim=4", "batch_size=16",
            "eval_every=0", "sample_every=0", "mmdgan_warm_critic=0", "mmdgan_critic_steps=2", *more]


def test_the_biased_mmd_is_the_witness_averaged_over_real_minus_over_generated():
    g = torch.Generator().manual_seed(0)
    fx, fy = torch.randn(30, 4, generator=g), torch.randn(20, 4, generator=g) + 0.5
    widths = (1.0, 2.0, 4.0)
    w_real, w_fake = witness(fx, fx, fy, widths), witness(fy, fx, fy, widths)
    assert float(w_real.mean() - w_fake.mean()) == pytest.approx(float(mmd2(fx, fy, widths, unbiased=False)), rel=1e-5)


@pytest.mark.parametrize("kernel", ["gaussian", "rq", "imq"])
def test_the_run_measures_its_mmd_with_the_kernel_it_names(bars, kernel):
    _, cfg = resolve_config("mnist-mmdgan", small(bars, f"mmdgan_kernel={kernel}", "mmdgan_constraint=gp"))
    model = build(cfg)
    g = torch.Generator().manual_seed(0)
    fx, fy = torch.randn(16, 3, generator=g), torch.randn(16, 3, generator=g) + 1
    want = mmd2(fx, fy, cfg.mmdgan_widths, unbiased=False, kernel=kernel).sqrt()
    assert float(model._mmd(fx, fy)) == pytest.approx(float(want), rel=1e-5)
    other = "rq" if kernel == "gaussian" else "gaussian"
    assert float(model._mmd(fx, fy)) != pytest.approx(float(mmd2(fx, fy, cfg.mmdgan_widths, unbiased=False,
                                                                  kernel=other).sqrt()), rel=1e-3)
    w_real, w_fake = witness(fx, fx, fy, cfg.mmdgan_widths, kernel), witness(fy, fx, fy, cfg.mmdgan_widths, kernel)
    assert float(w_real.mean() - w_fake.mean()) == pytest.approx(float(want) ** 2, rel=1e-4)
    assert "loss/gp" in model._critic_step()


def test_the_unbiased_loss_is_the_unbiased_mmd2_and_moves_the_generator_differently(bars):
    g = torch.Generator().manual_seed(0)
    fx, fy = torch.randn(16, 3, generator=g), torch.randn(16, 3, generator=g) + 1
    grads = {}
    for loss in ("sqrt", "unbiased"):
        _, cfg = resolve_config("mnist-mmdgan-gp", small(bars, f"mmdgan_loss={loss}"))
        model = build(cfg)
        unbiased = mmd2(fx, fy, cfg.mmdgan_widths, unbiased=True, kernel="rq")
        want = unbiased if loss == "unbiased" else mmd2(fx, fy, cfg.mmdgan_widths, unbiased=False, kernel="rq").sqrt()
        assert float(model._mmd(fx, fy)) == pytest.approx(float(want), rel=1e-5)
        model._generator_step()
        grads[loss] = torch.cat([p.grad.flatten() for p in model.G.parameters()])
        # the log names what it holds: the MMD, or the unbiased MMD² (which can be negative)
        logged = {"loss/mmd", "loss/mmd2"} & set(model._critic_step())
        assert logged == {"loss/mmd2" if loss == "unbiased" else "loss/mmd"}
    assert not torch.allclose(grads["sqrt"], grads["unbiased"])


def test_the_critics_features_keep_float32_differences_under_bfloat16():
    """A trained critic's features carry a large common offset; under bf16 autocast the last layer must still resolve
    the differences the kernel reads (rounded to bf16, features near 1000 move in steps of 4 or 8)."""
    torch.manual_seed(0)
    critic = MMDCritic(1, 28, 8, 4, batch_norm=False, decoder=False)
    last = critic.encoder.net[-1]
    shifted = torch.nn.Conv2d(last.in_channels, last.out_channels, last.kernel_size, bias=True)
    with torch.no_grad():
        shifted.weight.copy_(last.weight)
        shifted.bias.fill_(1000.0)  # the offset training drifts to
    critic.encoder.net[-1] = shifted
    x = torch.rand(32, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        exact = critic(x) - 1000
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = critic(x)
    assert mixed.dtype == torch.float32
    # only the hidden layers' bf16 rounding is left: far below the features' spread and bf16's step of 8 at 1000
    assert (mixed - 1000 - exact).abs().max() < 0.05 * exact.std()


def test_a_shared_offset_in_the_features_changes_neither_the_mmd_nor_the_witness(bars):
    """The kernel sees differences only, and the run's MMD and witness must too: at a common offset of 1000 the
    distances' ‖a‖² + ‖b‖² − 2a·b in float32 would lose the spread of features a few units wide."""
    _, cfg = resolve_config("mnist-mmdgan-gp", small(bars))
    model = build(cfg)
    g = torch.Generator().manual_seed(0)
    fx, fy = torch.randn(64, 16, generator=g), torch.randn(64, 16, generator=g) * 1.5 + 0.5
    far = torch.full((16,), 1000.0)
    assert float(model._mmd(fx + far, fy + far)) == pytest.approx(float(model._mmd(fx, fy)), rel=1e-4)
    near = witness(fx, fx, fy, cfg.mmdgan_widths, "rq")
    assert torch.allclose(witness(fx + far, fx + far, fy + far, cfg.mmdgan_widths, "rq"), near, atol=1e-5)
    # the same numbers without the shift to the mean, by the mm-based distances that ``cdist`` uses for 128 rows
    raw = mmd2(fx + far, fy + far, cfg.mmdgan_widths, unbiased=True, kernel="rq")
    assert float(raw) != pytest.approx(float(model._mmd(fx, fy)), rel=1e-3)


def test_warm_critic_schedule():
    _, cfg = resolve_config("mnist-mmdgan", [])
    model = build(cfg, {"channels": 1, "classes": 0, "source_channels": 0})
    for step, k in ((0, 100), (24, 100), (25, 5), (499, 5), (500, 100), (501, 5)):
        model.step = step
        assert model.critic_steps_now() == k, step


def test_each_player_moves_only_its_own_weights_and_the_clip_holds(bars):
    _, cfg = resolve_config("mnist-mmdgan", small(bars))
    model = build(cfg)
    assert model.D.decoder is not None and len(model.optimizers()) == 2
    with torch.no_grad():
        for p in model.D.encoder.parameters():
            p.mul_(100)  # far outside the box: the critic step clips before it moves
    G0 = copy.deepcopy(model.G.state_dict())
    logs = model._critic_step()
    assert {"loss/mmd", "loss/ae", "loss/D"} <= set(logs)
    assert unchanged(G0, model.G)
    lr = cfg.mmdgan_lr_d
    for p in model.D.encoder.parameters():  # clipped, then one RMSprop step of at most ~lr/√(1−α) per weight
        assert p.abs().max() <= cfg.mmdgan_clip + 20 * lr
    D0 = copy.deepcopy(model.D.state_dict())
    assert set(model._generator_step()) == {"loss/G"}
    assert unchanged(D0, model.D)
    assert all(p.requires_grad for p in model.D.parameters())  # the critic trains again next step
    assert not unchanged(G0, model.G)


def test_the_critic_ascends_the_mmd_between_features(bars):
    _, cfg = resolve_config("mnist-mmdgan", small(bars, "mmdgan_optimizer=adam", "mmdgan_lr_d=0.005",
                                                  "mmdgan_constraint=gp", "mmdgan_one_sided=0"))
    model = build(cfg)
    assert model.D.decoder is None  # the penalized critic has no autoencoder term
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.D.modules())
    first = float(model._critic_step()["loss/mmd"])
    for _ in range(40):
        logs = model._critic_step()
    assert "loss/gp" in logs and float(logs["loss/mmd"]) > 2 * first


def test_resume_after_a_crash_is_exact(tmp_path, bars):
    _, cfg = resolve_config("mnist-mmdgan", small(bars, "steps=6", "checkpoint_every=3"))
    whole, tensors = resumed_equals_whole(cfg, tmp_path, 3)
    assert any(k.startswith("D.decoder") for k in tensors)
    assert whole.summary["game"].startswith("MMD² under a learned kernel (3 features, weights clipped")


def test_commands_on_an_mmdgan_run(tmp_path, bars, capsys):
    run = tmp_path / "r"
    assert main(["train", "mnist-mmdgan", *small(bars, "steps=2"), "--quiet", "--out", str(run)]) == 0
    assert main(["sample", str(run), "-n", "16", "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()


@pytest.mark.parametrize("keys, match", [
    (["mmdgan_gp=5"], "mmdgan_gp belongs to mmdgan_constraint=gp"),
    (["mmdgan_constraint=gp", "mmdgan_clip=0.1"], "mmdgan_clip belongs to mmdgan_constraint=clip"),
    (["beta1=0.9"], "set mmdgan_optimizer=adam"),
    (["data=grid25", "image_size=28"], "2-D points"),
    (["mmdgan_widths=[0]"], "positive kernel widths"),
    (["critic_steps=5"], "belongs to family=gan"),
])
def test_bad_settings_are_refused_in_one_line(keys, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("mnist-mmdgan", keys)
