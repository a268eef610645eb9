"""GMMN, the first family that plays no game: a generator trained on MMD² to the data alone, on the same
trainer, run directory, checkpoints and commands as the GANs."""

import copy

import pytest
import torch

from conftest import resumed_equals_whole
from saddlepoint import ConfigError, resolve_config, train
from saddlepoint.cli import main
from saddlepoint.divergences import mmd2
from saddlepoint.runs import load_checkpoint
from saddlepoint.trainer import build, load_run

SMALL = ["gmmn_hidden=[32,32]", "batch_size=64", "eval_samples=500", "eval_every=0"]


def test_no_critic_is_built_and_none_is_checkpointed(tmp_path):
    _, cfg = resolve_config("gmmn-grid25", ["steps=3", *SMALL])
    model = build(cfg)
    assert not hasattr(model, "D") and len(model.optimizers()) == 1
    result = train(cfg, out=tmp_path / "run", progress=False)
    tensors, meta = load_checkpoint(result.run_dir)
    assert {k.split(".")[0] for k in tensors} == {"G", "opt_g", "rng"}
    assert result.summary["game"] == "√MMD² to the data, no critic"
    assert (result.run_dir / "samples.png").is_file() and not (result.run_dir / "critic.png").exists()


@pytest.mark.parametrize("key", ["game=hinge", "lr_d=0.001", "critic_steps=5", "spectral_norm=true", "model=dcgan"])
def test_a_critic_or_player_key_is_refused(key):
    with pytest.raises(ConfigError, match="belongs to family=gan, not family=gmmn"):
        resolve_config("gmmn-grid25", [key])


def test_its_own_keys_are_refused_for_a_gan():
    with pytest.raises(ConfigError, match="gmmn_widths belongs to family=gmmn"):
        resolve_config("grid25", ["gmmn_widths=[1,2]"])


@pytest.mark.parametrize("key, match", [("gmmn_widths=[0,1]", "positive kernel widths"),
                                        ("gmmn_widths=abc", "list of numbers"),
                                        ("batch_size=1", "at least 2"), ("image_size=32", "image_size applies")])
def test_bad_values_are_refused_in_one_line(key, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("gmmn-grid25", [key])


def test_the_loss_is_the_root_of_the_biased_mmd_with_the_authors_bandwidths_as_variances(tmp_path):
    """The authors' code (Li et al. 2015) sums exp(−‖a − b‖² / 2s) over s = 2, 5, …, 80 on pixels in [0, 1]: the
    listed bandwidths are variances.  The recipe's loss must equal that sum's √MMD² (biased), written out here
    by hand in the authors' units, not through the package's mmd2."""
    import numpy as np

    npz = tmp_path / "tiny.npz"
    np.savez(npz, images=np.random.default_rng(0).integers(0, 256, (32, 8, 8), dtype=np.uint8))
    _, cfg = resolve_config("gmmn-mnist", [f"data={npz}", "image_size=8", "gmmn_hidden=[8]", "batch_size=16"])
    model = build(cfg)
    G0 = copy.deepcopy(model.G)
    state = model.rng.get_state()
    logs = model.train_step()
    model.rng.set_state(state)  # the same draws again, by hand
    real, z = model.sample_data(16), model.noise(16, model.rng)
    with torch.no_grad():
        a, b = ((G0(z).flatten(1).double() + 1) / 2), ((real.flatten(1).double() + 1) / 2)  # pixels in [0, 1]

        def k(u, v):
            d2 = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)
            return sum(torch.exp(-d2 / (2 * s)) for s in (2, 5, 10, 20, 40, 80))

        expected = (k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()).sqrt()
    # The recipe writes σ = √s to four figures, so the two agree to about 1e-4.
    assert float(logs["loss/G"]) == pytest.approx(float(expected), rel=1e-3)
    assert model.widths == tuple(2 * w for w in cfg.gmmn_widths)  # σ for pixels in [0, 1] → the players' [−1, 1]


def test_training_lowers_the_mmd_to_the_data():
    _, cfg = resolve_config("gmmn-grid25", ["steps=300", "lr_decay=none", *SMALL])
    model = build(cfg)
    real = model.data.sample(1000, torch.Generator().manual_seed(1)) / model.scale
    before = float(mmd2(real, model.generate(1000) / model.scale, (0.05, 0.1, 0.25)))
    for _ in range(300):
        model.train_step()
        model.step += 1
    after = float(mmd2(real, model.generate(1000) / model.scale, (0.05, 0.1, 0.25)))
    assert after < 0.2 * before, (before, after)


def test_resume_after_a_crash_is_exact(tmp_path):
    _, cfg = resolve_config("gmmn-grid25", ["steps=6", "checkpoint_every=3", *SMALL])
    resumed_equals_whole(cfg, tmp_path, 3)


def test_the_commands_work_on_a_gmmn_run(tmp_path, capsys):
    assert main(["train", "gmmn-grid25", "steps=4", *SMALL, "--quiet", "--out", str(tmp_path / "r")]) == 0
    assert "√MMD² to the data, no critic, 4 steps" in capsys.readouterr().out
    assert main(["sample", str(tmp_path / "r"), "-n", "50", "-o", str(tmp_path / "s.png")]) == 0
    assert main(["interpolate", str(tmp_path / "r"), "-o", str(tmp_path / "i.png")]) == 0
    assert main(["evaluate", str(tmp_path / "r")]) == 0
    assert "modes" in capsys.readouterr().out
    same = load_run(tmp_path / "r").generate(10, seed=3)
    assert torch.equal(same, load_run(tmp_path / "r").generate(10, seed=3))


# --- GMMN+AE ----------------------------------------------------------------------------------------------------
def _tiny_images(tmp_path):
    import numpy as np

    npz = tmp_path / "tiny.npz"
    g = np.random.default_rng(0)
    images = np.zeros((64, 8, 8), dtype=np.uint8)
    for i in range(64):  # a bright bar in one of four places: structure an autoencoder can code
        images[i, 2 * (i % 4):2 * (i % 4) + 2, :] = 255
    images = np.clip(images + g.integers(0, 30, images.shape), 0, 255).astype(np.uint8)
    np.savez(npz, images=images)
    return npz


AE = ["image_size=8", "gmmn_ae_hidden=[16]", "gmmn_hidden=[16]", "gmmn_code=4", "batch_size=32", "gmmn_ae_batch=16",
      "eval_every=0", "sample_every=0"]


def test_gmmn_ae_trains_the_autoencoder_first_then_the_gmmn_on_its_codes(tmp_path):
    _, cfg = resolve_config("gmmn-ae-mnist", [f"data={_tiny_images(tmp_path)}", *AE, "gmmn_ae_steps=30",
                                              "steps=40", "gmmn_ae_lr=0.01"])
    model = build(cfg)
    assert len(model.optimizers()) == 2 and model.widths == (0.5, 1.0)  # code units: not doubled like pixels
    gmmn0, ae0 = copy.deepcopy(model.gmmn.state_dict()), copy.deepcopy(model.ae.state_dict())
    first = None
    for _ in range(30):
        logs = model.train_step()
        model.step += 1
        first = first if first is not None else float(logs["loss/AE"])
        assert set(logs) == {"loss/AE"}
    assert float(logs["loss/AE"]) < 0.9 * first  # the reconstruction improved
    assert all(torch.equal(v, model.gmmn.state_dict()[k]) for k, v in gmmn0.items())  # the GMMN waited
    ae1 = copy.deepcopy(model.ae.state_dict())
    assert not all(torch.equal(v, ae1[k]) for k, v in ae0.items())
    logs = model.train_step()
    assert set(logs) == {"loss/G"}
    assert all(torch.equal(v, model.ae.state_dict()[k]) for k, v in ae1.items())  # the autoencoder is fixed now
    assert not all(torch.equal(v, model.gmmn.state_dict()[k]) for k, v in gmmn0.items())
    x = model.generate(10)
    assert x.shape == (10, 1, 8, 8) and x.min() >= -1 and x.max() <= 1  # decoded codes are images


def test_gmmn_ae_resume_inside_the_autoencoder_phase_is_exact(tmp_path):
    _, cfg = resolve_config("gmmn-ae-mnist", [f"data={_tiny_images(tmp_path)}", *AE, "gmmn_ae_steps=6", "steps=8",
                                              "checkpoint_every=4"])
    whole, tensors = resumed_equals_whole(cfg, tmp_path, 4)  # two autoencoder steps left, then the GMMN's
    assert any(k.startswith("opt_ae") for k in tensors)
    assert "autoencoder first, 6 steps" in whole.summary["game"]


@pytest.mark.parametrize("keys, match", [
    (["gmmn_ae_dropout=[0.2]"], "one rate per encoder layer: 2"),
    (["gmmn_ae_dropout=[0.2,1.0]"], r"must lie in \[0, 1\)"),
    (["steps=3000"], "ends before the GMMN trains"),
    (["data=grid25"], "2-D points: remove gmmn_code"),
])
def test_gmmn_ae_bad_settings_are_refused_in_one_line(keys, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("gmmn-ae-mnist", keys)


def test_autoencoder_keys_without_a_code_are_refused():
    with pytest.raises(ConfigError, match="gmmn_ae_steps shapes GMMN.AE's autoencoder"):
        resolve_config("gmmn-mnist", ["gmmn_ae_steps=10"])
    with pytest.raises(ConfigError, match="2-D points: remove gmmn_code"):
        resolve_config("gmmn-grid25", ["gmmn_code=4"])
