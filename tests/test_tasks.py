"""What a trained generator is for: the shared latent search, compressed sensing (CSGM), inversion."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import mnist_or_skip
from saddlepoint import train
from saddlepoint.cli import main
from saddlepoint.config import resolve_config
from saddlepoint.runs import RunError
from saddlepoint.tasks.latent import LatentSearch, search
from saddlepoint.tasks.recover import dct_matrix, lasso, measure, measurement_matrix, mse_interval, recover

VAE_SMALL = ["vae_hidden=[16]", "batch_size=32", "eval_samples=200", "eval_every=0", "z_dim=4"]


# --- the latent search -------------------------------------------------------------------------------------------
def _linear_problem(n=6, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(10, d, generator=g)
    z_true = torch.randn(n, d, generator=g)
    return W, z_true, z_true @ W.T


def test_the_search_finds_each_targets_code_and_is_reproducible_however_batched():
    W, z_true, x = _linear_problem()

    def loss(z, idx, extra):
        return (z @ W.T - x[idx]).pow(2).sum(1)

    s = LatentSearch(steps=400, lr=0.05, restarts=3, seed=1)
    found = search(loss, len(x), 3, s)
    assert torch.allclose(found.z, z_true, atol=1e-3) and found.loss.max() < 1e-5
    again = search(loss, len(x), 3, LatentSearch(steps=400, lr=0.05, restarts=3, seed=1, batch=4))
    assert torch.equal(found.z, again.z) and torch.equal(found.restart, again.restart)  # chunking changes nothing
    noisy = [search(loss, len(x), 3, LatentSearch(steps=50, lr=0.05, restarts=3, seed=1, noise=0.5, batch=b)).z
             for b in (2048, 5)]
    assert torch.equal(noisy[0], noisy[1])  # nor with gradient noise
    other = search(loss, len(x), 3, LatentSearch(steps=5, lr=0.05, restarts=3, seed=2))
    assert not torch.equal(other.z, search(loss, len(x), 3, LatentSearch(steps=5, lr=0.05, restarts=3, seed=1)).z)


def test_restarts_keep_the_lowest_loss_and_the_prior_term_pulls_towards_zero():
    # A loss with two basins: (z² − 1)² + 0.3 z has its global minimum near z = −1; from z > 0.2, Adam with a
    # small step lands in the worse basin near z = +1.  More restarts find the better one.
    def loss(z, idx, extra):
        return (z[:, 0] ** 2 - 1) ** 2 + 0.3 * z[:, 0]

    starts = torch.tensor([[0.9], [-0.9], [1.2]])
    prior = lambda k, g: starts[torch.arange(k) % 3]  # noqa: E731  restart r of the single target starts at starts[r]
    one = search(loss, 1, 1, LatentSearch(steps=300, lr=0.01, restarts=1), prior=prior)
    three = search(loss, 1, 1, LatentSearch(steps=300, lr=0.01, restarts=3), prior=prior)
    assert one.z[0, 0] > 0.5 and three.z[0, 0] < -0.5 and three.restart[0] == 1 and three.loss[0] < one.loss[0]
    flat = search(lambda z, i, e: torch.zeros(len(z)), 1, 2, LatentSearch(steps=500, lr=0.05, prior=1.0))
    assert flat.z.abs().max() < 1e-2  # λ‖z‖² alone: the code goes to 0


def test_a_row_that_reaches_the_tasks_goal_is_frozen_where_it_first_did():
    # Each row walks from 0 towards 5 with plain SGD (z_t = 5 − 5·0.9^t); the task's goal is z > its threshold.
    thresholds = torch.tensor([1.0, 3.0, 100.0])

    def loss(z, idx, extra):
        return (z[:, 0] - 5).pow(2), z[:, 0] > thresholds[idx]

    seen = []

    def loss(z, idx, extra, task=loss):
        seen.append(len(z))
        return task(z, idx, extra)

    s = LatentSearch(steps=40, lr=0.05, optimizer="sgd", restarts=1)
    found = search(loss, 3, 1, s, init=torch.zeros(3, 1))
    assert seen[0] == 3 and seen[-2] == 1  # once rows are frozen only the others are computed (the last: every row)
    path = 5 - 5 * 0.9 ** torch.arange(41.0)
    for i, th in enumerate(thresholds[:2]):
        t = int((path > th).nonzero()[0])  # the first step whose iterate passes the threshold
        assert found.steps[i] == t and torch.allclose(found.z[i, 0], path[t])
    assert found.reached.tolist() == [True, True, False]
    assert found.steps[2] == 40 and torch.allclose(found.z[2, 0], path[40])  # never reached: the whole search
    assert search(lambda z, i, e: z.pow(2).sum(1), 3, 1, s).reached is None  # a task that does not say
    # a restart that reached the goal is kept over one with a lower loss that did not
    starts = torch.tensor([[4.0], [0.0]])
    both = search(lambda z, i, e: ((z[:, 0] - 5).pow(2), z[:, 0] < 0.5), 1, 1,
                  LatentSearch(steps=5, lr=0.05, optimizer="sgd", restarts=2), prior=lambda k, g: starts[:k])
    assert both.restart[0] == 1 and both.reached[0] and both.steps[0] == 0


def test_gradient_noise_moves_the_search_and_init_sets_the_first_restart():
    def loss(z, idx, extra):
        return z.pow(2).sum(1)

    init = torch.full((2, 2), 3.0)
    quiet = search(loss, 2, 2, LatentSearch(steps=0, restarts=2), init=init)
    assert torch.equal(quiet.z[quiet.restart == 0], init[quiet.restart == 0])
    every = torch.arange(12.0).view(3, 2, 2)  # (restarts, targets, d): every restart's start
    kept = search(loss, 2, 2, LatentSearch(steps=0, restarts=3), init=every)
    assert kept.restart.tolist() == [0, 0] and torch.equal(kept.z, every[0])  # the smallest |z|² is restart 0's
    with pytest.raises(ValueError, match=r"expected \(2, 2\) or \(3, 2, 2\)"):
        search(loss, 2, 2, LatentSearch(steps=0, restarts=3), init=torch.zeros(2, 2, 2))
    a = search(loss, 2, 2, LatentSearch(steps=20, lr=0.01, noise=1.0, optimizer="sgd"), init=init)
    b = search(loss, 2, 2, LatentSearch(steps=20, lr=0.01, optimizer="sgd"), init=init)
    assert not torch.allclose(a.z, b.z)
    with pytest.raises(ValueError, match="restarts ≥ 1"):
        LatentSearch(restarts=0)


# --- measurements and the Lasso ---------------------------------------------------------------------------------
def test_the_measurement_operators():
    shape = (1, 8, 8)
    g = torch.Generator().manual_seed(0)
    A = measurement_matrix("gaussian", shape, 20, generator=g)
    assert A.shape == (20, 64)
    hole = measurement_matrix("inpaint", shape, hole=4)
    assert hole.shape == (48, 64) and torch.allclose(hole.pow(2).sum(1), torch.full((48,), 64.0))
    x = torch.rand(1, *shape)
    seen = (hole @ x.flatten()) / 8
    kept = torch.ones(8, 8, dtype=torch.bool)
    kept[2:6, 2:6] = False
    assert torch.allclose(seen, x[0, 0][kept])
    down = measurement_matrix("downsample", shape, factor=4)
    assert down.shape == (4, 64) and torch.allclose(down.pow(2).sum(1), torch.full((4,), 64.0))
    means = down @ x.flatten() / down[0].max()  # the rows are scaled block means
    assert torch.allclose(means / 16, x[0, 0].unfold(0, 4, 4).unfold(1, 4, 4).mean((2, 3)).flatten(), atol=1e-6)
    for kw, match in (({"m": 65}, "between 1 and 64"), ({"m": 0}, "between 1 and 64")):
        with pytest.raises(RunError, match=match):
            measurement_matrix("gaussian", shape, **kw)
    with pytest.raises(RunError, match="divides the image side"):
        measurement_matrix("downsample", shape, factor=3)
    with pytest.raises(RunError, match="hole side between 1 and 8"):
        measurement_matrix("inpaint", shape, hole=9)
    y = measure(x, A, 0.0, g)
    assert torch.allclose(y, x.flatten(1) @ A.T)


def test_the_lasso_recovers_a_sparse_image_and_the_dct_is_orthonormal():
    D = dct_matrix(8)
    assert torch.allclose(D @ D.T, torch.eye(64, dtype=torch.float64), atol=1e-10)
    smooth = torch.linspace(0, 1, 8).repeat(8, 1).view(1, 1, 8, 8).expand(2, 3, 8, 8).contiguous()  # a colour ramp
    A = measurement_matrix("gaussian", (3, 8, 8), 120, generator=torch.Generator().manual_seed(1))
    y = measure(smooth, A, 0.0, torch.Generator())
    in_dct = mse_interval(lasso(A, y, 0.001, "dct", (3, 8, 8)).view_as(smooth), smooth)["mse"]
    assert in_dct < 0.5 * mse_interval(lasso(A, y, 0.001).view_as(smooth), smooth)["mse"]  # a ramp is sparse in the DCT
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(3, 1, 8, 8)
    x.view(3, -1)[:, [3, 17, 40]] = torch.tensor([0.9, 0.6, 0.8])  # 3-sparse in pixels
    A = measurement_matrix("gaussian", (1, 8, 8), 30, generator=g)
    y = measure(x, A, 0.0, g)
    est = lasso(A, y, alpha=0.01).view_as(x)
    assert mse_interval(est, x)["mse"] < 1e-3
    assert mse_interval(torch.zeros_like(x), x)["mse"] > 0.02


# --- compressed sensing with a generator ------------------------------------------------------------------------
class _Linear:
    """A stand-in generator: z (B, 3) → sigmoid(W z) as 1×4×4 images in [0, 1]."""

    def __init__(self):
        self.W = torch.randn(16, 3, generator=torch.Generator().manual_seed(3))
        self.device, self.z_dim, self.shape = torch.device("cpu"), 3, (1, 4, 4)

    def __call__(self, z, labels=None):
        return torch.sigmoid(z @ self.W.T).view(-1, 1, 4, 4)

    def prior(self, k, g):
        return torch.randn(k, 3, generator=g)


def test_csgm_recovers_images_in_the_range_from_few_measurements_where_the_lasso_cannot():
    G = _Linear()
    g = torch.Generator().manual_seed(0)
    x = G(torch.randn(5, 3, generator=g))
    A = measurement_matrix("gaussian", G.shape, 5, generator=g)  # 5 measurements of 16 dense pixels
    y = measure(x, A, 0.0, g)
    ours, info = recover(G, A, y, LatentSearch(steps=600, lr=0.05, restarts=4))
    assert mse_interval(ours, x)["mse"] < 1e-4 < mse_interval(lasso(A, y), x)["mse"]
    assert info["measurement_loss"].max() < 1e-4
    # an image outside the range: the plain prior stops at its distance to the range; the sparse deviation gets it
    off = x.clone()
    off.view(5, -1)[:, 5] = 1.0 - off.view(5, -1)[:, 5]
    A = measurement_matrix("gaussian", G.shape, 14, generator=g)
    y = measure(off, A, 0.0, g)
    plain = mse_interval(recover(G, A, y, LatentSearch(steps=600, lr=0.05, restarts=4))[0], off)["mse"]
    sparse = mse_interval(recover(G, A, y, LatentSearch(steps=1500, lr=0.05, restarts=4), sparse=0.01)[0], off)["mse"]
    assert sparse < 0.3 * plain


@pytest.fixture
def vae_run(tmp_path_factory, tiny_npz):
    out = tmp_path_factory.mktemp("tasks") / "vae"
    return train(resolve_config("mnist-vae", [f"data={tiny_npz}", *VAE_SMALL, "steps=2"])[1], out=out,
                 progress=False).run_dir


def test_recover_from_the_command_line(tmp_path, vae_run, capsys):
    out = tmp_path / "cs.png"
    assert main(["recover", str(vae_run), "-m", "50", "-n", "3", "--steps", "5", "--restarts", "2",
                 "--sparse-deviation", "0.2", "-o", str(out), "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    assert lines[0] == str(out) and Image.open(out).size[0] > 100
    assert report["measurements"] == 50 and report["pixels"] == 784 and report["search"]["restarts"] == 2
    assert set(report["mse"]) == {"lasso (pixels)", "generator", "generator + sparse deviation"}
    assert all(0 <= v["mse"] <= 1 and math.isfinite(v["ci95"]) for v in report["mse"].values())
    for op in ("inpaint", "downsample"):
        assert main(["recover", str(vae_run), "--operator", op, "-n", "2", "--steps", "2", "--restarts", "1",
                     "-o", str(tmp_path / f"{op}.png"), "--quiet"]) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["operator"] == op
    # the user's own images, at the run's size and channels
    folder = tmp_path / "mine"
    folder.mkdir()
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(folder / "a.png")
    assert main(["recover", str(vae_run), "-m", "20", "-i", str(folder), "--steps", "2", "--restarts", "1",
                 "-o", str(tmp_path / "mine.png"), "--quiet"]) == 0
    assert "1 image(s) from" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["images"]


def test_recover_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path, vae_run, tiny_npz, capsys):
    big, colour = tmp_path / "big", tmp_path / "colour"
    big.mkdir()
    colour.mkdir()
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(big / "a.png")
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(colour / "a.png")
    grid = train(resolve_config("grid25", ["steps=1", "g_hidden=8", "d_hidden=8", "eval_samples=50"])[1],
                 out=tmp_path / "grid", progress=False).run_dir
    cvae = train(resolve_config("mnist-cvae", [f"data={tiny_npz}", *VAE_SMALL, "steps=1"])[1],
                 out=tmp_path / "cvae", progress=False).run_dir
    out = tmp_path / "x.png"
    for args, match in (([str(vae_run), "-m", "785"], "between 1 and 784"),
                        ([str(vae_run)], "--measurements M is needed"),
                        ([str(vae_run), "--operator", "inpaint", "-m", "5"], "--measurements sets the Gaussian"),
                        ([str(vae_run), "-m", "5", "-i", str(big)], "is 32×32 px"),
                        ([str(vae_run), "-m", "5", "-i", str(colour)], "is a colour image"),
                        ([str(vae_run), "-m", "5", "-i", str(tmp_path / "none")], "does not exist"),
                        ([str(vae_run), "-m", "5", "--restarts", "0"], "restarts ≥ 1"),
                        ([str(vae_run), "-m", "5", "--noise", "-1"], "--noise -1"),
                        ([str(vae_run), "-m", "5", "--hole", "4"], "--hole sets --operator inpaint"),
                        ([str(vae_run), "--operator", "inpaint", "--factor", "2"], "--factor sets --operator downsample"),
                        ([str(vae_run), "-m", "5", "-n", "2", "-i", str(big)], "give one"),
                        ([str(grid), "-m", "5"], "2-D points"),
                        ([str(cvae), "-m", "5"], "needs an unconditional generator")):
        assert main(["recover", *args, "-o", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("saddlepoint: error: ") and match in err and err.count("\n") == 1, (args, err)
        assert not out.exists()


def test_a_translation_run_has_no_latent_space_to_search():
    from saddlepoint.tasks.common import LatentGenerator

    exp = SimpleNamespace(G=None, condition=SimpleNamespace(from_real=True, name="pix2pix"), images=True)
    with pytest.raises(RunError, match="translates images"):
        LatentGenerator(exp, "recover")


# --- inversion and latent arithmetic on a GAN --------------------------------------------------------------------
def test_inversion_finds_the_code_of_a_generated_image():
    from saddlepoint.tasks.invert import invert

    G = _Linear()
    z_true = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    z, x_hat, err = invert(G, G(z_true), LatentSearch(steps=800, lr=0.05, restarts=3))
    assert err.max() < 1e-6 and torch.allclose(z, z_true, atol=1e-2)


@pytest.fixture
def gan_run(tmp_path_factory, tiny_npz):
    out = tmp_path_factory.mktemp("tasks") / "gan"
    over = [f"data={tiny_npz}", "base_channels=8", "batch_size=16", "eval_samples=32", "eval_every=0", "steps=2",
            "z_dim=8"]
    return train(resolve_config("mnist-dcgan", over)[1], out=out, progress=False).run_dir


def test_invert_from_the_command_line_for_a_vae_and_a_gan(tmp_path, vae_run, gan_run, capsys):
    out = tmp_path / "inv.png"
    assert main(["invert", str(vae_run), "-n", "3", "--steps", "30", "--restarts", "2", "-o", str(out), "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rep = json.loads(lines[-1])
    assert lines[0] == str(out) and out.exists()
    assert rep["mse"]["mse"] <= rep["encoder_mse"]["mse"] + 1e-7  # the search starts at the encoder's guess
    assert main(["invert", str(gan_run), "-n", "2", "--steps", "3", "--restarts", "1", "-o", str(tmp_path / "g.png"),
                 "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "encoder_mse" not in rep and rep["search"]["steps"] == 3
    assert main(["invert", str(gan_run), "-n", "2", "-i", str(tmp_path), "-o", str(tmp_path / "h.png")]) == 2
    assert "give one" in capsys.readouterr().err and not (tmp_path / "h.png").exists()
    assert main(["invert", str(gan_run), "--amount", "2", "-o", str(tmp_path / "h.png")]) == 2
    assert "--amount scales --arithmetic" in capsys.readouterr().err and not (tmp_path / "h.png").exists()


def test_attribute_arithmetic_on_a_gan_goes_through_inversion(tmp_path, gan_run, capsys):
    out = tmp_path / "thick.png"
    assert main(["attribute", str(gan_run), "--attribute", "thickness", "--images", "16", "--report-images", "4",
                 "--steps", "3", "--restarts", "1", "-n", "2", "-o", str(out), "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["images"] == 4 and "inverting the generator" in rep["codes"] and out.exists()


def test_attribute_on_a_vae_refuses_the_search_options_it_would_ignore(tmp_path, vae_run, capsys):
    out = tmp_path / "a.png"
    assert main(["attribute", str(vae_run), "--attribute", "thickness", "--steps", "5", "--restarts", "3",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--steps, --restarts: the latent search finds a GAN's codes" in err and err.count("\n") == 1
    assert not out.exists()


# --- unrestricted adversarial examples ---------------------------------------------------------------------------
ACGAN_TINY = ["base_channels=8", "batch_size=16", "eval_samples=32", "eval_every=0", "z_dim=8", "sample_every=0"]


def test_pgd_stays_in_its_ball_and_raises_the_loss():
    from saddlepoint.tasks.classifiers import pgd

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x = torch.rand(8, 1, 4, 4) * 2 - 1
    y = torch.randint(0, 3, (8,))
    adv = pgd(model, x, y, eps=0.1, alpha=0.02, steps=10, generator=torch.Generator().manual_seed(0))
    assert (adv - x).abs().max() <= 0.2 + 1e-6 and adv.min() >= -1 and adv.max() <= 1  # ε 0.1 in [0, 1] units
    loss = torch.nn.functional.cross_entropy
    assert loss(model(adv), y) > loss(model(x), y)


def test_the_shipped_attack_classifiers_load_and_read_digits():
    from saddlepoint.tasks.classifiers import CLASSIFIERS, load_classifier

    test = mnist_or_skip(train=False)
    for name in ("mnist-judge", "mnist-robust"):
        if not CLASSIFIERS[name].is_file():
            pytest.fail(f"{name} weights are not shipped")
        f = load_classifier(name)
        x = test.images[:500].float().div(127.5).sub(1)
        assert (f(x).argmax(1) == test.labels[:500]).float().mean() > 0.95, name
    with pytest.raises(RunError, match="choose one of"):
        load_classifier("imagenet")


def test_the_attack_fools_a_classifier_while_the_aux_head_keeps_the_class(tmp_path, tiny_npz):
    import dataclasses

    from saddlepoint.tasks.attack import attack, attack_report
    from saddlepoint.train import load_run

    run = train(resolve_config("mnist-acgan", [f"data={tiny_npz}", *ACGAN_TINY, "steps=3"])[1], out=tmp_path / "ac",
                progress=False).run_dir
    exp = load_run(run)
    exp.cfg = dataclasses.replace(exp.cfg, data="mnist")  # the tiny squares stand in for digits

    class Reads:  # an "attacked classifier" that reads class 2 where the image is bright on its left half
        def __call__(self, x):
            left = x[..., :14].mean((1, 2, 3))
            return torch.stack([torch.zeros_like(left)] * 2 + [20 * left] + [torch.zeros_like(left)] * 7, 1)

        def to(self, device):
            return self

        eval = requires_grad_ = lambda self, *a: self

    s = LatentSearch(steps=60, lr=0.05, restarts=1, noise=0.01, seed=3)
    result = attack(exp, Reads(), source=1, target=2, n=6, settings=s, lam1=0.0, lam2=0.0)
    start_left = result["start"][..., :14].mean()
    assert result["adversarial"][..., :14].mean() > start_left  # the search brightened what the classifier reads
    assert (result["read"] == 2).float().mean() >= (result["read_start"] == 2).float().mean()
    rep = attack_report(result, 1, 2, "reads-left", judge=None)
    assert rep["attempts"] == 6 and 0 <= rep["success_rate"] <= rep["fooled_rate"]
    assert torch.equal(result["success"], (result["read"] == 2) & (result["aux"] == 1))
    again = attack(exp, Reads(), source=1, target=2, n=6, settings=s, lam1=0.0, lam2=0.0)
    assert torch.equal(again["z"], result["z"])  # reproducible from the seed, noise and all

    class Guard(Reads):  # a guard that reads the source class 1 where the image is dark on its right half
        def __call__(self, x):
            right = x[..., 14:].mean((1, 2, 3))
            return torch.stack([torch.zeros_like(right), -20 * right] + [torch.zeros_like(right)] * 8, 1)

    free = attack(exp, Reads(), source=1, target=2, n=6, settings=s, lam1=0.0, lam2=1.0)
    guarded = attack(exp, Reads(), source=1, target=2, n=6, settings=s, lam1=0.0, lam2=1.0, guards=[Guard()])
    assert guarded["adversarial"][..., 14:].mean() < free["adversarial"][..., 14:].mean()  # the guard's term acts
    assert guarded["guards"] == 1 and "guards" not in attack_report(free, 1, 2, "reads-left", None)
    reads_one = Guard()(guarded["adversarial"] * 2 - 1).argmax(1) == 1
    assert torch.equal(guarded["guards_read_source"], reads_one)
    assert torch.equal(guarded["success"], (guarded["read"] == 2) & (guarded["aux"] == 1) & reads_one)
    assert attack_report(guarded, 1, 2, "reads-left", None)["guards_read_source"] == float(reads_one.float().mean())
    # each attempt stops at its first success (this tiny AC-GAN's auxiliary head reads 3, so 3 is the source here);
    # the attacked classifier now reads 2 only where the left half is brighter than the starting images' mean (this
    # untrained generator's images differ by about 1e-4)
    starts = attack(exp, Reads(), source=3, target=2, n=6, settings=dataclasses.replace(s, steps=0))["start"]
    start_left = starts[..., :14].mul(2).sub(1).mean()

    class Reads(Reads):
        def __call__(self, x):
            left = x[..., :14].mean((1, 2, 3))
            return torch.stack([torch.zeros_like(left)] * 2 + [1e6 * (left - start_left)]
                               + [torch.zeros_like(left)] * 7, 1)

    early = attack(exp, Reads(), source=3, target=2, n=6, settings=s, lam1=0.0, lam2=0.0)
    full = attack(exp, Reads(), source=3, target=2, n=6, settings=s, lam1=0.0, lam2=0.0, stop_at_success=False)
    assert (full["steps"] == 60).all()
    stopped = early["steps"] < 60
    assert stopped.any() and early["success"][stopped].all()
    assert early["success"].sum() >= full["success"].sum()  # a success along the way is not lost by going on
    later = stopped & (early["steps"] > 0)  # started below the threshold and crossed it
    assert later.any()
    i = int(later.nonzero()[0])
    t = int(early["steps"][i])  # the same path as the full search, cut where it first succeeded
    cut = attack(exp, Reads(), source=3, target=2, n=6, settings=dataclasses.replace(s, steps=t), lam1=0.0, lam2=0.0,
                 stop_at_success=False)
    assert torch.allclose(cut["z"][i], early["z"][i]) and cut["success"][i]
    before = attack(exp, Reads(), source=3, target=2, n=6, settings=dataclasses.replace(s, steps=t - 1),
                    lam1=0.0, lam2=0.0, stop_at_success=False)
    assert not before["success"][i]  # it had not succeeded one step earlier
    assert attack_report(early, 3, 2, "reads-left", None)["median_steps_of_successes"] < 60
    # restarts: every attempt searched again from other points of the box around its z₀; one that succeeds is kept
    three = attack(exp, Reads(), source=3, target=2, n=6, settings=dataclasses.replace(s, restarts=3), lam1=0.0,
                   lam2=0.0)
    assert torch.equal(three["z0"], early["z0"])  # the same attempts
    assert three["success"].sum() >= early["success"].sum()
    assert torch.equal(three["success"], (three["read"] == 2) & (three["aux"] == 3))
    assert attack_report(three, 3, 2, "reads-left", None)["restarts"] == 3
    starts = attack(exp, Reads(), source=3, target=2, n=6, settings=dataclasses.replace(s, steps=0, restarts=3),
                    lam1=0.0, lam2=0.0)  # no steps: the kept code is one of the starts
    assert (starts["z"] - starts["z0"]).abs().max() <= 0.1 + 1e-6  # within ε = 0.1 of z₀
    attacked = Reads()
    with pytest.raises(ValueError, match="another classifier"):
        attack(exp, attacked, source=1, target=2, n=2, settings=s, guards=[attacked])


def test_attack_refuses_runs_and_classes_it_cannot_serve(tmp_path, tiny_npz, vae_run, capsys):
    cgan = train(resolve_config("mnist-cgan", [f"data={tiny_npz}", *ACGAN_TINY, "steps=1"])[1], out=tmp_path / "cg",
                 progress=False).run_dir
    acgan = train(resolve_config("mnist-acgan", [f"data={tiny_npz}", *ACGAN_TINY, "steps=1"])[1],
                  out=tmp_path / "ac", progress=False).run_dir
    out = tmp_path / "a.png"
    for args, match in (([str(vae_run), "--source", "1"], "needs a class-conditional generator"),
                        ([str(cgan), "--source", "1"], "has none; train conditional=acgan"),
                        ([str(acgan), "--source", "1"], "read 28×28 MNIST digits"),
                        ([str(acgan), "--source", "1", "--classifier", "cifar"], "choose mnist"),
                        ([str(acgan), "--source", "1", "--guard", "mnist"], "other than the attacked one (mnist)"),
                        ([str(acgan), "--source", "1", "--guard", "mnist-judge"], "mnist-judge only judges"),
                        ([str(acgan), "--source", "1", "--bound", "-1"], "at least 0")):
        assert main(["attack", *args, "-o", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("saddlepoint: error: ") and match in err and err.count("\n") == 1, (args, err)
        assert not out.exists()


def test_attack_from_the_command_line_on_mnist(tmp_path, capsys):
    mnist_or_skip(train=True)
    run = train(resolve_config("mnist-acgan", [*ACGAN_TINY, "steps=2"])[1], out=tmp_path / "ac", progress=False).run_dir
    out = tmp_path / "a.png"
    for args, match in ((["--source", "3", "--target", "3"], "is the source class"),
                        (["--source", "10"], "between 0 and 9")):
        assert main(["attack", str(run), *args, "-o", str(out), "--quiet"]) == 2
        assert match in capsys.readouterr().err and not out.exists()
    assert main(["attack", str(run), "--source", "3", "--target", "8", "-n", "4", "--steps", "3", "-o", str(out),
                 "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["attempts"] == 4 and rep["classifier"] == "mnist" and "judged_success_rate" in rep and out.exists()
    assert rep["stops_at_first_success"]
    assert main(["attack", str(run), "--source", "3", "-n", "2", "--steps", "2", "--full-search", "--restarts", "2",
                 "-o", str(out), "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not rep["stops_at_first_success"] and rep["restarts"] == 2


def test_latent_arithmetic_on_inverted_codes_from_the_command_line(tmp_path, gan_run, capsys):
    groups = []
    for name, level in (("bright", 230), ("dim", 60), ("apply", 140)):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(2):
            Image.fromarray(np.full((28, 28), level + i, np.uint8)).save(folder / f"{i}.png")
        groups.append(str(folder))
    out = tmp_path / "arith.png"
    assert main(["invert", str(gan_run), "--arithmetic", *groups, "--steps", "3", "--restarts", "1", "-o", str(out),
                 "--quiet"]) == 0
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["images"] == {"with": 2, "without": 2, "apply": 2} and rep["direction_norm"] > 0 and out.exists()
    assert main(["invert", str(gan_run), "--arithmetic", *groups, "-n", "2", "-o", str(tmp_path / "x.png")]) == 2
    assert "leave out -i and -n" in capsys.readouterr().err
