"""The VAE family: its bound is the ELBO (and, with k samples, the tighter IWAE bound), it trains on the shared
trainer, and its keys are its own."""

import json
import math

import pytest
import torch

from conftest import resumed_equals_whole
from saddlepoint import ConfigError, resolve_config, train
from saddlepoint.cli import main
from saddlepoint.data.images import DataError
from saddlepoint.families.vae import gaussian_kl
from saddlepoint.runs import load_checkpoint
from saddlepoint.trainer import build, load_run

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
    (["vae_net=conv"], "vae_net=conv needs images with an even side above 8 and data=grid25 holds 2-D points"),
    (["vae_channels=16"], "vae_channels sets the width of vae_net=conv"),
])
def test_keys_that_do_not_fit_are_refused(overrides, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("grid25-vae", overrides)


def test_image_keys_that_do_not_fit_are_refused():
    with pytest.raises(ConfigError, match="is read at image_size=7; use vae_net=mlp or image_size=28"):
        resolve_config("mnist-vae", ["vae_net=conv", "image_size=7"])
    with pytest.raises(ConfigError, match="likelihood_scale fixes the scale of the Gaussian likelihood"):
        resolve_config("mnist-vae", ["likelihood_scale=0.1"])  # the recipe scores Bernoulli pixels


def test_a_vae_key_on_a_gan_is_refused():
    with pytest.raises(ConfigError, match="beta belongs to family=vae, not family=gan"):
        resolve_config("grid25", ["beta=2"])


def test_an_image_vae_binarizes_trains_samples_and_resumes_exactly(tmp_path, tiny_npz, capsys):
    over = [f"data={tiny_npz}", "z_dim=4", *SMALL, "steps=6", "checkpoint_every=3", "iwae_k=3"]
    _, cfg = resolve_config("mnist-vae", over)
    model = build(cfg)
    grey = torch.full((8, 1, 28, 28), 0.0)  # grey level 0.5 everywhere
    seen, target = model._observed(grey)
    assert set(target.unique().tolist()) == {0.0, 1.0} and torch.equal(seen, 2 * target - 1)  # dynamic binarization
    assert not torch.equal(model._observed(grey)[1], target)  # a fresh draw at every pass
    whole, a = resumed_equals_whole(cfg, tmp_path, 3)
    assert whole.summary["game"] == "IWAE bound, k=3, no critic" and "elbo" in whole.summary
    assert {k.split(".")[0] for k in a} == {"E", "G", "opt", "rng"}
    for args in (["sample", str(whole.run_dir), "-o", str(tmp_path / "s.png")],
                 ["interpolate", str(whole.run_dir), "-o", str(tmp_path / "i.png")], ["evaluate", str(whole.run_dir)]):
        assert main(args) == 0, capsys.readouterr().err


def test_conv_players_train_resume_and_keep_a_fixed_gaussian_scale(tmp_path, tiny_npz):
    over = [f"data={tiny_npz}", "z_dim=4", *SMALL, "steps=6", "checkpoint_every=3", "vae_net=conv",
            "vae_channels=4", "vae_activation=relu", "likelihood=gaussian", "binarize=false", "likelihood_scale=0.2"]
    _, cfg = resolve_config("mnist-vae", over)
    model = build(cfg)
    assert any(isinstance(m, torch.nn.Conv2d) for m in model.E.modules())
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.G.modules())
    assert "log_scale" not in dict(model.G.named_parameters())  # fixed: not trained
    before = [p.detach().clone() for p in model.E.parameters()]
    model.train_step()
    assert all(not torch.equal(a, b) for a, b in zip(before, model.E.parameters()))  # gradients reach every layer
    assert float(model.G.log_scale.exp()) == pytest.approx(0.2)
    whole, a = resumed_equals_whole(cfg, tmp_path, 3)
    assert float(load_run(whole.run_dir).G.log_scale.exp()) == pytest.approx(0.2)
    assert main(["evaluate", str(whole.run_dir), "--metrics", "nll", "--nll-samples", "8"]) == 0


def test_the_conditional_conv_decoder_reads_the_label_at_every_layer(tiny_npz):
    _, cfg = resolve_config("mnist-cvae", [f"data={tiny_npz}", "z_dim=4", *SMALL, "vae_net=conv", "vae_channels=4"])
    model = build(cfg)
    ups = [m for m in model.G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.in_channels for m in ups] == [8 + 4, 4 + 4]  # the feature maps and the 4 classes' one-hot channels
    z = torch.zeros(2, 4)
    assert not torch.allclose(model.decode(z, torch.tensor([0, 0])), model.decode(z, torch.tensor([2, 2])))


def test_precision_bf16_is_used_by_the_vae_not_ignored(tiny_npz):
    seen = []
    over = [f"data={tiny_npz}", "z_dim=4", *SMALL, "vae_net=conv", "vae_channels=4"]
    for precision in ("fp32", "bf16"):
        model = build(resolve_config("mnist-vae", [*over, f"precision={precision}"])[1])
        hook = model.G.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
        model.train_step()
        hook.remove()
    assert seen == [torch.float32, torch.bfloat16]


# --- the held-out likelihood -------------------------------------------------------------------------------------
def _trained(overrides, steps):
    _, cfg = resolve_config("grid25-vae", overrides)
    model = build(cfg)
    for _ in range(steps):
        model.train_step()
        model.step += 1
    return model


def test_importance_sampled_nll_matches_the_integral_over_a_2d_latent():
    """With a 2-D latent, p(x) = ∫ p(x | z) p(z) dz can be summed on a fine grid: the estimate must agree."""
    model = _trained(["vae_hidden=[32]", "batch_size=128", "lr_decay=none"], 1500)
    out = model.test_nll(k=5000, n=20)
    x = model.held_out(20)[0] / model.scale
    h = 0.02
    axis = torch.arange(-6, 6, h) + h / 2
    z = torch.cartesian_prod(axis, axis)  # (M, 2)
    with torch.no_grad():
        mean = model.G(z)
        sigma = model.G.log_scale.exp()
        log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1) + 2 * torch.log(torch.tensor(h))
        log_px_z = torch.distributions.Normal(mean[None], sigma).log_prob(x[:, None]).sum(2)  # (20, M)
        exact = torch.logsumexp(log_px_z.double() + log_pz.double(), 1) - 2 * torch.log(torch.tensor(model.scale))
    assert abs(out["nll"] - float(-exact.mean())) < 0.05, (out["nll"], float(-exact.mean()))
    assert out["nll_images"] == 20 and out["nll_se"] > 0 and "bits_per_dim" not in out


def test_the_nll_of_binary_images_is_fixed_and_below_the_negative_elbo(tiny_npz, capsys):
    _, cfg = resolve_config("mnist-vae", [f"data={tiny_npz}", "z_dim=4", *SMALL])
    model = build(cfg)
    a, b = model.test_nll(k=200), model.test_nll(k=200, progress=True)
    assert "nll, k=200: 100%" in capsys.readouterr().err  # into a log (not a terminal), the bar's last line stays
    assert a == b  # one fixed binarization, one fixed stream of draws
    assert a["bits_per_dim"] == pytest.approx(a["nll"] / (784 * math.log(2)))
    assert "training images" in a["nll_protocol"]  # an .npz has no test split, and the record says so
    x = model.held_out()[0]
    seen, target = model.observe_fixed(x)
    mu, logvar = model.E(seen)
    with torch.no_grad():
        eps = torch.randn((1, *mu.shape), generator=torch.Generator().manual_seed(0))
        log_px, log_ratio, _ = model._log_weights(mu, logvar, eps, target, None, model.G)
    elbo = float((log_px + log_ratio).mean())  # one-sample ELBO estimate: below log p(x) on average
    assert a["nll"] < -elbo


def test_an_interrupted_likelihood_continues_to_the_same_numbers(tiny_npz, tmp_path, monkeypatch, capsys):
    from saddlepoint.families import vae as vae_module
    from saddlepoint.runs import fingerprint, load_work

    monkeypatch.setattr(vae_module, "_NLL_BATCH", 16)  # the 64 images in four passes, one decode call each (k 40)
    model = build(resolve_config("mnist-vae", [f"data={tiny_npz}", "z_dim=4", *SMALL])[1])
    for _ in range(3):
        model.train_step()
    whole = model.test_nll(k=40)
    partial = tmp_path / "nll.partial.safetensors"
    real, calls = type(model)._log_weights, []

    def stop_in_the_third_pass(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(type(model), "_log_weights", stop_in_the_third_pass)
    with pytest.raises(KeyboardInterrupt):
        model.test_nll(k=40, partial=partial)
    about = {"work": "held-out nll", "k": "40", "images": "64", "batch": "16", "chunk": "40",
             "protocol": whole["nll_protocol"], "weights": fingerprint(model.E, model.G)}
    assert len(load_work(partial, about)["estimates"]) == 32  # two whole passes kept, the third's half lost
    monkeypatch.setattr(type(model), "_log_weights", real)
    calls.clear()
    assert model.test_nll(k=40, partial=partial, progress=True) == whole and not partial.exists()
    assert f"nll: continuing from image 32 of 64 ({partial})" in capsys.readouterr().err
    # Other work is not continued: an interrupted k = 40 does not seed a k = 41 estimate.
    monkeypatch.setattr(type(model), "_log_weights", stop_in_the_third_pass)
    with pytest.raises(KeyboardInterrupt):
        model.test_nll(k=40, partial=partial)
    monkeypatch.setattr(type(model), "_log_weights", real)
    assert model.test_nll(k=41, partial=partial) == model.test_nll(k=41) and not partial.exists()
    # Nor by other weights (a checkpoint of the same step written again after a rollback).
    monkeypatch.setattr(type(model), "_log_weights", stop_in_the_third_pass)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        model.test_nll(k=40, partial=partial)
    monkeypatch.setattr(type(model), "_log_weights", real)
    model.train_step()
    assert model.test_nll(k=40, partial=partial) == model.test_nll(k=40) != whole
    # A long estimate also writes as it goes (for a crash that leaves no time to write): here after every pass.
    monkeypatch.setattr(vae_module, "_NLL_SAVE_EVERY_S", 0.0)
    written = []
    monkeypatch.setattr("saddlepoint.runs.save_work", lambda path, tensors, about: written.append(
        len(tensors["estimates"])))
    model.test_nll(k=40, partial=partial)
    assert written == [16, 32, 48, 64]


def test_a_conv_vae_scores_its_likelihood_on_a_channels_last_copy(tiny_npz, monkeypatch):
    over = [f"data={tiny_npz}", "z_dim=4", *SMALL, "vae_net=conv", "vae_channels=4"]
    model = build(resolve_config("mnist-vae", over)[1])
    for _ in range(3):
        model.train_step()
    used = []
    picked = type(model)._nll_decoder
    monkeypatch.setattr(type(model), "_nll_decoder", lambda self: used.append(picked(self)) or used[-1])
    fast = model.test_nll(k=64)
    conv = next(m for m in used[0].modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and used[0] is not model.G
    assert all(p.is_contiguous() for p in model.G.parameters())  # the training players keep their layout
    monkeypatch.setattr(type(model), "_nll_decoder", lambda self: self.G)
    plain = model.test_nll(k=64)
    assert fast["nll"] == pytest.approx(plain["nll"], rel=1e-6)
    assert fast["nll_se"] == pytest.approx(plain["nll_se"], rel=1e-4)


def test_evaluate_nll_from_the_command_line_and_its_refusals(tmp_path, tiny_npz, capsys):
    run = train(resolve_config("mnist-vae", [f"data={tiny_npz}", "z_dim=4", *SMALL, "steps=2"])[1],
                out=tmp_path / "vae", progress=False).run_dir
    assert main(["evaluate", str(run), "--metrics", "nll", "--nll-samples", "20", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["nll_samples"] == 20 and result["nll"] > 0 and result["step"] == 2
    assert json.loads((run / "eval.json").read_text())["nll"] == result["nll"]
    gan = train(resolve_config("grid25", ["steps=2", "eval_every=0"])[1], out=tmp_path / "gan", progress=False).run_dir
    assert main(["evaluate", str(gan), "--metrics", "nll"]) == 2
    assert "needs a model that has one: family=vae" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--metrics", "nll", "--nll-samples", "0"]) == 2
    assert "--nll-samples and --nll-images must be at least 1" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--nll-samples", "20"]) == 2  # not ignored without the metric it sets
    assert "add --metrics nll" in capsys.readouterr().err


def test_a_ctrl_c_during_the_likelihood_is_continued_by_the_same_command(tmp_path, tiny_npz, capsys, monkeypatch):
    from saddlepoint.families import vae as vae_module

    monkeypatch.setattr(vae_module, "_NLL_BATCH", 16)
    run = train(resolve_config("mnist-vae", [f"data={tiny_npz}", "z_dim=4", *SMALL, "steps=2"])[1],
                out=tmp_path / "vae", progress=False).run_dir
    command = ["evaluate", str(run), "--metrics", "nll", "--nll-samples", "20"]
    assert main([*command, "--quiet"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert not list(run.glob(".nll-*"))  # a finished estimate leaves nothing behind
    cls = type(load_run(run))
    real, calls = cls._log_weights, []

    def stop_in_the_second_pass(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(cls, "_log_weights", stop_in_the_second_pass)
    assert main(command) == 130
    err = capsys.readouterr().err
    assert f"16 of 64 images scored, kept in {run / '.nll-step2.partial.safetensors'}" in err
    assert err.strip().splitlines()[-1] == "saddlepoint: interrupted"
    monkeypatch.setattr(cls, "_log_weights", real)
    assert main(command) == 0
    captured = capsys.readouterr()
    assert "nll: continuing from image 16 of 64" in captured.err and json.loads(captured.out) == whole
    assert not list(run.glob(".nll-*"))


def test_grey_images_with_the_bernoulli_likelihood_are_refused_with_the_fix(tmp_path):
    import numpy as np

    path = tmp_path / "grey.npz"
    np.savez(path, images=np.full((8, 28, 28), 128, dtype=np.uint8))
    _, cfg = resolve_config("mnist-vae", [f"data={path}", "binarize=false", *SMALL])
    with pytest.raises(DataError, match="add binarize=true .* or use likelihood=gaussian"):
        build(cfg)
    _, cfg = resolve_config("mnist-vae", [f"data={path}", "binarize=false", "likelihood=auto", *SMALL])
    assert not build(cfg).bernoulli  # auto: the Gaussian for grey levels


# --- the conditional VAE ------------------------------------------------------------------------------------------
def test_a_conditional_vae_reads_labels_samples_by_label_and_refuses_what_it_cannot(tmp_path, tiny_npz, capsys):
    _, cfg = resolve_config("mnist-cvae", [f"data={tiny_npz}", "z_dim=4", *SMALL, "steps=3"])
    run = train(cfg, out=tmp_path / "cvae", progress=False)
    assert run.summary["game"].startswith("conditional VAE")
    model = load_run(run.run_dir)
    z = torch.zeros(4, 4)
    # the label changes the decoding of the same code
    assert not torch.allclose(model.decode(z, torch.tensor([0, 0, 0, 0])), model.decode(z, torch.tensor([3, 3, 3, 3])))
    assert main(["sample", str(run.run_dir), "--label", "3", "-n", "4", "-o", str(tmp_path / "3.png")]) == 0
    assert main(["sample", str(run.run_dir), "--label", "7"]) == 2
    assert "outside the classes this run was trained on (0..3)" in capsys.readouterr().err
    assert main(["evaluate", str(run.run_dir), "--metrics", "accuracy"]) == 2  # the classifier reads MNIST only
    assert "need data=mnist" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="cvae=true conditions on class labels"):
        resolve_config("grid25-vae", ["cvae=true"])
    assert main(["sample", str(train(resolve_config("mnist-vae", [f"data={tiny_npz}", "z_dim=4", *SMALL, "steps=1"])[1],
                                     out=tmp_path / "plain", progress=False).run_dir), "--label", "1"]) == 2
    assert "or a VAE with cvae=true" in capsys.readouterr().err


# --- pictures and attribute arithmetic ----------------------------------------------------------------------------
def test_a_2d_latent_run_draws_its_latent_grid_and_reconstructions(tmp_path, tiny_npz, capsys):
    run = train(resolve_config("mnist-vae", [f"data={tiny_npz}", "z_dim=2", *SMALL, "steps=2", "checkpoint_every=1",
                                             "keep_checkpoints=0"])[1], out=tmp_path / "vae", progress=False).run_dir
    assert (run / "latent-grid.png").exists() and (run / "reconstructions.png").exists()
    import numpy as np
    from PIL import Image

    assert Image.open(run / "latent-grid.png").size == (15 * 30 + 2, 15 * 30 + 2)  # 15 × 15 decodings
    assert main(["reconstruct", str(run), "-n", "4", "-o", str(tmp_path / "r.png")]) == 0
    assert Image.open(tmp_path / "r.png").size == (8 * 30 + 2, 32)  # 4 pairs (16 images a row): one row of 8
    # An earlier checkpoint's reconstructions: its own file, drawn by the weights of that step.
    assert main(["reconstruct", str(run), "-n", "4", "--step", "1"]) == 0
    early = np.asarray(Image.open(run / "reconstructions-step1.png"))
    assert early.shape == np.asarray(Image.open(tmp_path / "r.png")).shape
    assert (early != np.asarray(Image.open(tmp_path / "r.png"))).any()
    capsys.readouterr()
    assert main(["reconstruct", str(run), "--step", "7"]) == 2
    err = capsys.readouterr().err
    assert "step 7" in err and "1, 2" in err and err.count("\n") == 1, err
    toy = train(resolve_config("grid25-vae", ["vae_hidden=[16]", "steps=2", "eval_every=0"])[1],
                out=tmp_path / "toy", progress=False).run_dir
    assert (toy / "latent-grid.png").exists()
    assert main(["reconstruct", str(toy)]) == 2
    assert "needs an image VAE run" in capsys.readouterr().err


def _digit(width: int, lean: float) -> torch.Tensor:
    """A (1, 1, 28, 28) stroke from (row 4) to (row 23), ``width`` pixels wide, its top moved ``lean`` pixels right."""
    img = -torch.ones(1, 1, 28, 28)
    for r in range(4, 24):
        c = round(14 + lean * (13.5 - r) / 19.5)
        img[0, 0, r, c - width // 2:c - width // 2 + width] = 1
    return img


def test_the_measured_attributes_see_thickness_and_slant():
    from saddlepoint.attributes import slant, thickness

    thin, thick = thickness(torch.cat([_digit(1, 0), _digit(4, 0)]))
    assert 0.9 < float(thin) < 1.3 and float(thick) > 2.5 * float(thin)
    right, upright, left = slant(torch.cat([_digit(2, 8), _digit(2, 0), _digit(2, -8)]))
    assert float(right) > 15 and abs(float(upright)) < 2 and float(left) < -15


def test_attribute_arithmetic_moves_the_attribute_from_the_command_line(tmp_path, tiny_npz, capsys):
    run = train(resolve_config("mnist-vae", [f"data={tiny_npz}", "z_dim=4", *SMALL, "steps=2"])[1],
                out=tmp_path / "vae", progress=False).run_dir
    out = tmp_path / "thick.png"
    assert main(["attribute", str(run), "--attribute", "thickness", "--amount", "2", "-n", "3", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    assert lines[0] == str(out) and report["attribute"] == "thickness" and report["amount"] == 2
    assert report["images"] == 64 and "moved_in_std" in report and "digit_kept" not in report  # not MNIST
    from PIL import Image

    assert Image.open(out).size == (3 * 30 + 2, 3 * 30 + 2)  # 3 rows of original | reconstruction | edited
    assert main(["attribute", str(run), "--attribute", "label:2", "--from", "1"]) == 0
    capsys.readouterr()
    for args, match in ((["--attribute", "label:9"], "label 9 does not occur"),
                        (["--attribute", "weight"], "not one of thickness, slant or label:K, and there is no "
                                                    "attribute table for data="),
                        (["--attribute", "weight", "--attributes", str(tmp_path / "none.csv")], "does not exist"),
                        (["--attribute", "slant", "--from", "3"], "--from picks the digit"),
                        (["--attribute", "slant", "--images", "0"], "--images must be at least 8")):
        assert main(["attribute", str(run), *args]) == 2
        assert match in capsys.readouterr().err


def test_evaluating_while_training_leaves_the_weights_as_they_were(tmp_path, tiny_npz):
    """The evaluation binarizes once by a fixed seed: the training's own stream of binary pixels stays untouched."""
    base = [f"data={tiny_npz}", "z_dim=4", "vae_hidden=[16]", "batch_size=32", "eval_samples=64", "steps=4",
            "sample_every=0"]
    runs = [train(resolve_config("mnist-vae", [*base, f"eval_every={e}"])[1], out=tmp_path / f"e{e}",
                  progress=False).run_dir for e in (0, 1)]
    a, b = load_checkpoint(runs[0])[0], load_checkpoint(runs[1])[0]
    for k in a:
        assert torch.equal(a[k], b[k]), k
