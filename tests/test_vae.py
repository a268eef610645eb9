"""The VAE family: its bound is the ELBO (and, with k samples, the tighter IWAE bound), it trains on the shared
trainer, and its keys are its own."""

import pytest
import torch

from conftest import crash_after
from saddlepoint import ConfigError, resolve_config, train
from saddlepoint.cli import main
from saddlepoint.families.vae import gaussian_kl
from saddlepoint.runs import load_checkpoint
from saddlepoint.trainer import build, resume

SMALL = ["vae_hidden=[16]", "batch_size=32", "eval_samples=200", "eval_every=0"]


def test_the_kl_is_the_closed_form():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    expected = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-6)


def test_the_bound_is_reconstruction_plus_kl_and_iwae_is_tighter():
    _, cfg = resolve_config("grid25-vae", SMALL)
    model = build(cfg)
    x = model.data.sample(256, torch.Generator().manual_seed(1)) / model.scale
    with torch.no_grad():
        elbo = model.bound(x, 1, generator=torch.Generator().manual_seed(2))
        assert torch.allclose(elbo["loss"], elbo["reconstruction"] + elbo["kl"])
        # log p(x | z) by hand for the Gaussian likelihood at the same draw
        mu, logvar = model.E(x)
        eps = torch.randn((256, 1, mu.shape[1]), generator=torch.Generator().manual_seed(2)).transpose(0, 1)[0]
        mean = model.G(mu + (0.5 * logvar).exp() * eps)
        sigma = model.G.log_scale.exp()
        by_hand = -torch.distributions.Normal(mean, sigma).log_prob(x).sum(1)
        assert torch.allclose(elbo["reconstruction"], by_hand, atol=1e-4)
        iwae = model.bound(x, 50, generator=torch.Generator().manual_seed(3))
    assert float(iwae["loss"].mean()) < float(elbo["loss"].mean())  # Burda et al., Theorem 1: tighter


def test_training_raises_the_bound_and_uses_the_latent():
    _, cfg = resolve_config("grid25-vae", ["vae_hidden=[64,64]", "batch_size=128", "lr_decay=none"])
    model = build(cfg)
    first = float(model.train_step()["loss/elbo"])
    for _ in range(600):
        logs = model.train_step()
        model.step += 1
    assert float(logs["loss/elbo"]) < first - 0.5
    assert model.evaluate(500)["active_units"] >= 1


@pytest.mark.parametrize("overrides, match", [
    (["game=hinge"], "game belongs to family=gan, not family=vae"),
    (["iwae_k=5", "beta=4"], "no separate KL term"),
    (["likelihood=bernoulli"], "holds 2-D points"),
    (["binarize=true"], "binarize draws binary pixels"),
    (["noise=uniform"], "standard normal"),
])
def test_keys_that_do_not_fit_are_refused(overrides, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("grid25-vae", overrides)


def test_a_vae_key_on_a_gan_is_refused():
    with pytest.raises(ConfigError, match="beta belongs to family=vae, not family=gan"):
        resolve_config("grid25", ["beta=2"])


def test_an_image_vae_binarizes_trains_samples_and_resumes_exactly(tmp_path, tiny_npz, capsys):
    over = [f"data={tiny_npz}", "z_dim=4", *SMALL, "steps=6", "checkpoint_every=3", "iwae_k=3"]
    _, cfg = resolve_config("mnist-vae", over)
    model = build(cfg)
    assert set(model._target(model.sample_data(8)).unique().tolist()) <= {0.0, 1.0}  # dynamic binarization
    whole = train(cfg, out=tmp_path / "whole", progress=False)
    assert whole.summary["game"] == "IWAE bound, k=3, no critic" and "elbo" in whole.summary
    cut = train(cfg, out=tmp_path / "cut", progress=False)
    crash_after(cut.run_dir, 3)
    resume(cut.run_dir, progress=False)
    a, b = load_checkpoint(whole.run_dir)[0], load_checkpoint(cut.run_dir)[0]
    assert {k.split(".")[0] for k in a} == {"E", "G", "opt", "rng"}
    for k in a:
        assert torch.equal(a[k], b[k]), k
    for args in (["sample", str(whole.run_dir), "-o", str(tmp_path / "s.png")],
                 ["interpolate", str(whole.run_dir), "-o", str(tmp_path / "i.png")], ["evaluate", str(whole.run_dir)]):
        assert main(args) == 0, capsys.readouterr().err
