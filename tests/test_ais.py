"""Annealed importance sampling and bidirectional Monte Carlo: against closed forms and against sums over a 2-D
latent for each family's observation model, and from the command line."""

import json
import math

import pytest
import torch

from saddlepoint import resolve_config
from saddlepoint.cli import main
from saddlepoint.families.base import eval_mode
from saddlepoint.metrics.ais import DecoderModel, ais, evaluate_ais, gaussian_log_likelihood, sigmoid_schedule
from saddlepoint.trainer import build


def _linear(sigma=0.1, d=3, D=20):
    g = torch.Generator().manual_seed(0)
    W, b = torch.randn(D, d, generator=g), 0.3 * torch.randn(D, generator=g)
    model = DecoderModel(lambda u: u @ W.T + b, lambda m, x: gaussian_log_likelihood(m, x, sigma),
                         lambda m, gen: m + sigma * torch.randn(m.shape, generator=gen), d)
    return model, torch.distributions.MultivariateNormal(b, W @ W.T + sigma ** 2 * torch.eye(D))


def test_the_schedule_runs_from_the_prior_to_the_posterior():
    betas = sigmoid_schedule(100)
    assert betas[0] == 0 and betas[-1] == 1 and bool((betas.diff() > 0).all())
    assert betas[1] - betas[0] < betas[50] - betas[49]  # dense at the ends


def test_ais_and_its_reverse_sandwich_a_linear_gaussian_and_close_on_it():
    """x = Wz + b + σε has p(x) = N(b, WWᵀ + σ²I): the forward estimate sits below it, the reverse one (from the
    exact posterior samples the simulation gives) above it, and both close on it as the schedule lengthens."""
    model, exact = _linear()
    g = torch.Generator().manual_seed(1)
    z = torch.randn(8, model.latent, generator=g)
    x = model.simulate(model.decode(z), g)
    truth = exact.log_prob(x)
    gaps = []
    for steps in (30, 1500):
        lower = ais(model, x, chains=8, steps=steps, seed=2)["estimate"]
        upper = ais(model, x, chains=8, steps=steps, seed=3, start=z)["estimate"]
        assert float((lower - truth).mean()) < 0.2 and float((upper - truth).mean()) > -0.2
        gaps.append(float((upper - lower).mean()))
    assert gaps[0] > 5 and gaps[1] < 1.0, gaps
    assert abs(float((lower - truth).mean())) < 1.0


def _grid_log_px(decode_mean, log_lik, x, lo, hi, h, log_prior):
    """log ∫ p(z) p(x | z) dz summed on a grid of spacing h over [lo, hi)²: (B,)."""
    axis = torch.arange(lo, hi, h) + h / 2
    z = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        params = torch.cat([decode_mean(c) for c in z.split(4096)])
        ll = torch.stack([log_lik(params, xi.expand_as(params)) for xi in x])  # (B, M)
    return torch.logsumexp(ll.double() + log_prior(z).double() + 2 * math.log(h), 1)


@pytest.mark.parametrize("recipe, extra, steps", [("mnist-dcgan", ["base_channels=8"], 200),
                                                  ("gmmn-mnist", ["gmmn_hidden=[16]"], 800)])
def test_a_generators_ais_likelihood_is_the_integral_over_its_2d_latent(tiny_npz, recipe, extra, steps):
    """A GAN's generator (normal prior) and a GMMN's (uniform prior on [−1, 1]², run through z = 2Φ(u) − 1) with
    Gaussian pixel noise: the annealed estimate equals the sum over a fine latent grid."""
    _, cfg = resolve_config(recipe, [f"data={tiny_npz}", "z_dim=2", "eval_every=0", *extra])
    exp = build(cfg)
    sigma = 0.1
    out = evaluate_ais(exp, images=4, chains=4, steps=steps, sigma=sigma)
    x = ((exp.data.dataset.to_float(torch.arange(4)) + 1) / 2).clamp(0, 1)
    G = exp.sampler
    with eval_mode(G):
        if cfg.noise == "uniform":
            exact = _grid_log_px(lambda z: (G(z) + 1) / 2, lambda m, t: gaussian_log_likelihood(m, t, sigma), x,
                                 -1, 1, 0.01, lambda z: torch.full((len(z),), math.log(0.25)))
        else:
            normal = torch.distributions.Normal(0.0, 1.0)
            exact = _grid_log_px(lambda z: (G(z) + 1) / 2, lambda m, t: gaussian_log_likelihood(m, t, sigma), x,
                                 -6, 6, 0.03, lambda z: normal.log_prob(z).sum(1))
    assert out["ais_ll"] == pytest.approx(float(exact.mean()), abs=0.5), (out["ais_ll"], float(exact.mean()))
    assert out["ais_sigma"] == sigma and out["ais_images"] == 4 and "σ = 0.1" in out["ais_protocol"]
    assert 0.3 < out["ais_acceptance"] < 0.95


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_a_vaes_ais_likelihood_is_its_own_and_agrees_with_importance_sampling(tiny_npz, likelihood):
    """A VAE is scored with its own likelihood (Bernoulli: the held-out likelihood's fixed binarization; Gaussian:
    its learned scale, as a density of pixels in [0, 1]): over a 2-D latent the annealed estimate equals the
    grid's sum, and −nll (importance sampling from the encoder, pixels in [−1, 1]: D·log 2 apart)."""
    gaussian = likelihood == "gaussian"
    _, cfg = resolve_config("mnist-vae", [f"data={tiny_npz}", "z_dim=2", "vae_hidden=[16]", "eval_every=0",
                                          f"likelihood={likelihood}", f"binarize={not gaussian}"])
    exp = build(cfg)
    if gaussian:
        with torch.no_grad():
            exp.G.log_scale.fill_(math.log(0.3))  # not the untrained 1: a likelihood that the latent moves
    out = evaluate_ais(exp, images=4, chains=4, steps=800)
    assert "ais_sigma" not in out and ("Gaussian" if gaussian else "Bernoulli") in out["ais_protocol"]
    x = exp.held_out(4)[0]
    target = exp.observe_fixed(x)[1]
    normal = torch.distributions.Normal(0.0, 1.0)
    shift = 784 * math.log(2) if gaussian else 0.0
    with eval_mode(exp.G):
        exact = _grid_log_px(lambda z: exp.G(z, None, raw=True), exp._log_likelihood, target, -6, 6, 0.03,
                             lambda z: normal.log_prob(z).sum(1)) + shift
    assert out["ais_ll"] == pytest.approx(float(exact.mean()), abs=0.3), (out["ais_ll"], float(exact.mean()))
    assert shift - exp.test_nll(k=2000, n=4)["nll"] == pytest.approx(out["ais_ll"], abs=0.5)
    with pytest.raises(Exception, match="a VAE has its own likelihood"):
        evaluate_ais(exp, images=2, steps=2, sigma=0.1)


def test_evaluate_ais_from_the_command_line_and_its_refusals(tmp_path, tiny_npz, capsys):
    run = tmp_path / "gmmn"
    assert main(["train", "gmmn-mnist", f"data={tiny_npz}", "z_dim=4", "gmmn_hidden=[16]", "steps=2",
                 "batch_size=16", "eval_every=0", "sample_every=0", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--metrics", "ais", "--ais-images", "3", "--ais-chains", "2",
                 "--ais-steps", "20", "--bdmc", "2"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out == json.loads((run / "eval.json").read_text())
    assert out["ais_images"] == 3 and out["ais_chains"] == 2 and out["ais_steps"] == 20
    assert out["ais_sigma"] == float(out["ais_sigma"]) and str(out["ais_sigma"]) in " ".join(out["ais_sigma_scores"])
    assert "images 3–18 of" in out["ais_sigma_chosen_on"]  # σ chosen on images that are not scored
    assert out["bdmc_gap"] > 0 and out["bdmc_upper"] > out["bdmc_lower"]  # 20 distributions: far apart
    assert "ais: choosing σ" in captured.err and "ais, 20 distributions" in captured.err
    assert out["request"]["ais"] == {"images": 3, "chains": 2, "steps": 20, "bdmc": 2}
    assert not list(run.glob(".ais-step*"))  # the work file of a finished estimate is gone
    for args, says in ((["--ais-steps", "5"], "add --metrics ais"),
                       (["--metrics", "ais", "--ais-steps", "0"], "must be at least 1"),
                       (["--metrics", "ais", "--ais-sigma", "-1"], "give a positive width"),
                       (["--metrics", "ais", "--bdmc", "-2"], "--bdmc -2: give 0 (none) or more")):
        assert main(["evaluate", str(run), *args]) == 2
        assert says in capsys.readouterr().err


def _label_grid(exp, decode, log_lik, x, y, classes):
    """log p(x | c) for every class c over a fine 2-D latent grid (normal prior): (classes, B)."""
    normal = torch.distributions.Normal(0.0, 1.0)
    return torch.stack([_grid_log_px(lambda z: decode(z, torch.full((len(z),), c)), log_lik, x, -5, 5, 0.04,
                                     lambda z: normal.log_prob(z).sum(1)) for c in range(classes)])


@pytest.mark.parametrize("recipe", ["mnist-cgan", "mnist-cvae"])
def test_a_class_conditional_runs_ais_is_the_integral_given_the_label_and_summed_over_labels(tiny_npz, recipe):
    """A cGAN's generator with pixel noise and a conditional VAE with its own likelihood, each with a 2-D latent:
    log p(x | y) given each image's own label, log p(x) = log of the mean over the classes of p(x | y), the Bayes
    classifier's accuracy and log p(y | x) all equal what the sums over a fine latent grid give."""
    vae = recipe == "mnist-cvae"
    extra = ["vae_hidden=[16]", "vae_channels=4"] if vae else ["base_channels=8"]
    _, cfg = resolve_config(recipe, [f"data={tiny_npz}", "z_dim=2", "eval_every=0", *extra])
    exp = build(cfg)
    for _ in range(3 if vae else 20):  # labels that the decoder has learnt to read a little
        exp.train_step()
        exp.step += 1
    sigma = None if vae else 0.1
    n = 3
    own = evaluate_ais(exp, images=n, chains=4, steps=200, sigma=sigma)
    both = evaluate_ais(exp, images=n, chains=4, steps=200, sigma=sigma, marginal=True)
    assert "ais_ll" not in own and "given each image's own label" in own["ais_protocol"]
    assert "mean over the 4 classes" in both["ais_protocol"]
    if vae:
        x, y, _ = exp.held_out(n)
        target = exp.observe_fixed(x)[1]
        with eval_mode(exp.G):
            exact = _label_grid(exp, lambda z, c: exp.G(z, c, raw=True), exp._log_likelihood, target, y, 4)
    else:
        ds = exp.data.dataset
        x, y = ((ds.to_float(torch.arange(n)) + 1) / 2).clamp(0, 1), ds.labels[:n].long()
        G = exp.sampler
        with eval_mode(G):
            exact = _label_grid(exp, lambda z, c: (G(z, c) + 1) / 2,
                                lambda m, t: gaussian_log_likelihood(m, t, sigma), x, y, 4)
    cond = exact.gather(0, y[None])[0]
    log_px = torch.logsumexp(exact, 0) - math.log(4)
    for out in (own, both):
        assert out["ais_cond_ll"] == pytest.approx(float(cond.mean()), abs=0.5), (out["ais_cond_ll"], cond)
    assert both["ais_ll"] == pytest.approx(float(log_px.mean()), abs=0.5), (both["ais_ll"], log_px)
    assert both["ais_label_ll"] == pytest.approx(float((cond - math.log(4) - log_px).mean()), abs=0.5)
    assert float((cond - math.log(4) - log_px).mean()) < -0.01  # the labels are not certain: a test that can fail
    margins = exact.sort(0, descending=True).values
    unsure = float(((margins[0] - margins[1]) < 1.0).float().mean())  # where the best class leads by under a nat
    right = float((exact.argmax(0) == y).float().mean())
    assert abs(both["ais_bayes_accuracy"] - right) <= unsure + 1e-6, (both["ais_bayes_accuracy"], right, unsure)


def test_an_infogan_runs_ais_sums_its_categorical_code_and_anneals_its_continuous_one(tiny_npz):
    """InfoGAN's generator reads a code: p(x) is the mean over the categorical code's values of the integral over z
    and the continuous code (uniform on [−1, 1], annealed as u with z = 2Φ(u) − 1): with one z and one continuous
    dimension, the sum over a fine grid in (z, u) for each value, averaged."""
    _, cfg = resolve_config("mnist-infogan", [f"data={tiny_npz}", "z_dim=1", "info_categorical=3",
                                              "info_continuous=1", "base_channels=8", "eval_every=0"])
    exp = build(cfg)
    for _ in range(10):
        exp.train_step()
        exp.step += 1
    sigma, n = 0.1, 3
    out = evaluate_ais(exp, images=n, chains=4, steps=200, sigma=sigma)
    assert "mean over the 3 values of its categorical code" in out["ais_protocol"] and "ais_cond_ll" not in out
    x = ((exp.data.dataset.to_float(torch.arange(n)) + 1) / 2).clamp(0, 1)
    G, info = exp.sampler, exp.condition
    normal = torch.distributions.Normal(0.0, 1.0)
    with eval_mode(G):
        exact = torch.stack([_grid_log_px(
            lambda zu: (G(zu[:, :1], info.code(torch.full((len(zu),), c), torch.erf(zu[:, 1:] / math.sqrt(2))))
                        + 1) / 2, lambda m, t: gaussian_log_likelihood(m, t, sigma), x, -5, 5, 0.04,
            lambda zu: normal.log_prob(zu).sum(1)) for c in range(3)])
    log_px = torch.logsumexp(exact, 0) - math.log(3)
    assert out["ais_ll"] == pytest.approx(float(log_px.mean()), abs=0.5), (out["ais_ll"], log_px)


def test_a_mixture_of_snapshots_is_scored_as_the_mean_of_its_members():
    """p(x) of a uniform mixture of generator snapshots is the mean of the members' p(x): on 2-D points, the grid's
    sums per member, averaged, and not any single member's."""
    _, cfg = resolve_config("grid25", ["g_hidden=16", "d_hidden=16", "eval_every=0", "mixture=2", "mixture_every=25"])
    exp = build(cfg)
    for _ in range(50):
        exp.train_step()
        exp.step += 1
        exp.update_mixture()
    assert exp.sampler is exp.mixture and len(exp.mixture) == 2
    last = [m for m in exp.mixture.members[0].modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias += 0.3  # the older member's points moved: members with other likelihoods
    sigma = 1.0
    out = evaluate_ais(exp, images=16, chains=4, steps=300, sigma=sigma, bdmc=2)
    assert "mean over the 2 members" in out["ais_protocol"] and "ais_cond_ll" not in out
    x = exp.data.sample(16, torch.Generator().manual_seed(2018 + 4))
    normal = torch.distributions.Normal(0.0, 1.0)
    members = []
    for G in exp.mixture.members:
        members.append(_grid_log_px(lambda z: G(z) * exp.scale, lambda m, t: gaussian_log_likelihood(m, t, sigma),
                                    x, -8, 8, 0.02, lambda z: normal.log_prob(z).sum(1)))
    exact = torch.logsumexp(torch.stack(members), 0) - math.log(2)
    assert out["ais_ll"] == pytest.approx(float(exact.mean()), abs=0.05), (out["ais_ll"], float(exact.mean()))
    assert min(abs(float(m.mean()) - out["ais_ll"]) for m in members) > 0.2  # not one member's
    assert out["bdmc_images"] == 2 and math.isfinite(out["bdmc_gap"])


def test_ais_on_a_conditional_run_from_the_command_line_and_its_refusals(tmp_path, tiny_npz, capsys):
    run = tmp_path / "cgan"
    assert main(["train", "mnist-cgan", f"data={tiny_npz}", "steps=1", "batch_size=8", "base_channels=8",
                 "eval_every=0", "sample_every=0", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--metrics", "ais", "--ais-images", "2", "--ais-chains", "2",
                 "--ais-steps", "5", "--ais-sigma", "0.2", "--ais-marginal", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"ais_ll", "ais_cond_ll", "ais_bayes_accuracy", "ais_label_ll"} <= set(out)
    assert out["request"]["ais"]["marginal"] is True
    assert main(["runs", str(tmp_path)]) == 0
    assert "AIS log p(x|y)" in capsys.readouterr().out
    gan = tmp_path / "gan"
    assert main(["train", "mnist-dcgan", f"data={tiny_npz}", "steps=1", "batch_size=8", "base_channels=8",
                 "eval_every=0", "sample_every=0", "--out", str(gan), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(gan), "--metrics", "ais", "--ais-marginal", "--ais-sigma", "0.2"]) == 2
    assert "--ais-marginal sums over a label-conditional run's classes" in capsys.readouterr().err
    assert main(["evaluate", str(gan), "--ais-marginal"]) == 2
    assert "add --metrics ais" in capsys.readouterr().err
    info = tmp_path / "info"  # σ chosen over the code's values summed
    assert main(["train", "mnist-infogan", f"data={tiny_npz}", "steps=1", "batch_size=8", "base_channels=8",
                 "info_categorical=3", "eval_every=0", "sample_every=0", "--out", str(info), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(info), "--metrics", "ais", "--ais-images", "2", "--ais-chains", "1",
                 "--ais-steps", "3", "--bdmc", "1", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert math.isfinite(out["ais_ll"]) and "ais_sigma_chosen_on" in out and "3 values" in out["ais_protocol"]
    assert main(["evaluate", str(info), "--metrics", "ais", "--ais-marginal", "--ais-sigma", "0.2"]) == 2
    assert "--ais-marginal sums over a label-conditional run's classes" in capsys.readouterr().err  # always summed


def test_ais_refuses_a_caption_conditional_run():
    from conftest import mnist_or_skip
    from saddlepoint.metrics.images import MetricUnavailable, check_metrics

    mnist_or_skip()
    _, cfg = resolve_config("mnist-text2image", ["base_channels=8"])
    with pytest.raises(MetricUnavailable, match="ais scores unconditional, class-conditional .* told a caption"):
        check_metrics(build(cfg), ["ais"])


def test_an_interrupted_estimate_continues_to_the_same_numbers(tmp_path, tiny_npz, monkeypatch):
    """Stopped anywhere (in a job of held-out images, between jobs, among the simulated images; after σ was
    chosen), the work kept in the partial file continues to exactly the uninterrupted numbers, and the file goes;
    a file of other work is not continued."""
    import saddlepoint.metrics.ais as ais_module

    _, cfg = resolve_config("gmmn-mnist", [f"data={tiny_npz}", "z_dim=2", "gmmn_hidden=[16]", "eval_every=0"])
    exp = build(cfg)
    monkeypatch.setattr(ais_module, "_ROWS_PER_PASS", 4)  # two images a job at two chains: four jobs below
    monkeypatch.setattr(ais_module, "SAVE_EVERY_S", 0.0)
    real_hmc, partial = ais_module._hmc, tmp_path / "ais.partial.safetensors"

    def stopped_after(moves: int, armed=lambda: True):
        calls = {"n": 0}

        def hmc(*args, **kwargs):
            calls["n"] += armed()
            if calls["n"] > moves:
                raise KeyboardInterrupt
            return real_hmc(*args, **kwargs)

        return hmc

    options = dict(images=4, chains=2, steps=15, bdmc=2, sigma=0.2)  # 4 jobs × 14 moves
    whole = evaluate_ais(exp, **options)
    for moves in (5, 20, 20):  # in job 0; in job 1; in the last (the reverse) job
        monkeypatch.setattr(ais_module, "SAVE_EVERY_S", 1e9 if moves == 5 else 0.0)  # 5: kept at the interruption
        monkeypatch.setattr(ais_module, "_hmc", stopped_after(moves))
        with pytest.raises(KeyboardInterrupt):
            evaluate_ais(exp, **options, partial=partial)
        monkeypatch.setattr(ais_module, "_hmc", real_hmc)
        assert partial.exists()
    assert evaluate_ais(exp, **options, partial=partial) == whole
    assert not partial.exists()

    # σ chosen, then stopped in the first job: the choice is not made again, the numbers are the same
    auto = dict(options, sigma=None)
    whole = evaluate_ais(exp, **auto)
    chosen = {"done": False}
    real_choose = ais_module.choose_sigma

    def choose(*args, **kwargs):
        result = real_choose(*args, **kwargs)
        chosen["done"] = True
        return result

    monkeypatch.setattr(ais_module, "choose_sigma", choose)
    monkeypatch.setattr(ais_module, "_hmc", stopped_after(3, armed=lambda: chosen["done"]))
    with pytest.raises(KeyboardInterrupt):
        evaluate_ais(exp, **auto, partial=partial)
    monkeypatch.setattr(ais_module, "_hmc", real_hmc)
    monkeypatch.setattr(ais_module, "choose_sigma", lambda *a, **k: pytest.fail("σ was chosen again"))
    assert evaluate_ais(exp, **auto, partial=partial) == whole

    # stopped in the σ search (in its third width, each 4 jobs × 14 moves): the widths scored are not annealed again
    monkeypatch.setattr(ais_module, "choose_sigma", real_choose)
    monkeypatch.setattr(ais_module, "_hmc", stopped_after(2 * 56 + 10))
    with pytest.raises(KeyboardInterrupt):
        evaluate_ais(exp, **auto, partial=partial)
    monkeypatch.setattr(ais_module, "_hmc", real_hmc)
    asked, real_model = [], exp.likelihood_model
    monkeypatch.setattr(exp, "likelihood_model", lambda sigma: asked.append(sigma) or real_model(sigma))
    assert evaluate_ais(exp, **auto, partial=partial) == whole and not partial.exists()
    assert asked[0] == ais_module.SIGMAS[2] and not {0.02, 0.03} & set(asked[:-1]), asked
    monkeypatch.setattr(exp, "likelihood_model", real_model)

    # a file of other work (another schedule) is not continued: the estimate starts over
    monkeypatch.setattr(ais_module, "_hmc", stopped_after(5))
    with pytest.raises(KeyboardInterrupt):
        evaluate_ais(exp, **options, partial=partial)
    monkeypatch.setattr(ais_module, "_hmc", real_hmc)
    longer = dict(options, steps=16)
    assert evaluate_ais(exp, **longer, partial=partial) == evaluate_ais(exp, **longer) and not partial.exists()


def test_on_2d_points_ais_is_the_integral_and_a_vaes_agrees_with_its_nll():
    """2-D runs are scored on fresh draws in the data's units: a GAN's generator with noise σ equals the sum over
    its 2-D latent; a VAE's AIS estimate equals −nll (importance sampling from its encoder, same draws)."""
    _, cfg = resolve_config("grid25", ["g_hidden=16", "d_hidden=16", "eval_every=0"])
    exp = build(cfg)
    for _ in range(50):  # a generator that has moved off its initial point
        exp.train_step()
        exp.step += 1
    sigma = 1.0  # wide enough that the posterior stays well inside the grid's ±8 (a generator this young is narrow)
    out = evaluate_ais(exp, images=16, chains=4, steps=300, sigma=sigma)
    assert "fresh draws from grid25" in out["ais_protocol"] and "data's units" in out["ais_protocol"]
    x = exp.data.sample(16, torch.Generator().manual_seed(2018 + 4))
    normal = torch.distributions.Normal(0.0, 1.0)
    with eval_mode(exp.sampler):
        exact = _grid_log_px(lambda z: exp.sampler(z) * exp.scale, lambda m, t: gaussian_log_likelihood(m, t, sigma),
                             x, -8, 8, 0.02, lambda z: normal.log_prob(z).sum(1))
    assert out["ais_ll"] == pytest.approx(float(exact.mean()), abs=0.05), (out["ais_ll"], float(exact.mean()))

    _, cfg = resolve_config("grid25-vae", ["vae_hidden=[32]", "batch_size=128", "lr_decay=none", "eval_every=0"])
    vae = build(cfg)
    for _ in range(300):
        vae.train_step()
        vae.step += 1
    out = evaluate_ais(vae, images=32, chains=4, steps=300)
    assert -vae.test_nll(k=5000, n=32)["nll"] == pytest.approx(out["ais_ll"], abs=0.05)


def test_evaluate_ais_on_a_2d_run_from_the_command_line(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "ring8", "steps=20", "eval_every=0", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--metrics", "ais", "--ais-images", "8", "--ais-steps", "30",
                 "--ais-sigma", "0.05", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ais_images"] == 8 and out["ais_sigma"] == 0.05 and math.isfinite(out["ais_ll"])
    assert main(["evaluate", str(run), "--metrics", "fid"]) == 2
    assert "held-out likelihoods with --metrics ais" in capsys.readouterr().err
