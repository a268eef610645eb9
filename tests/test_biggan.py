"""BigGAN's pieces: self-attention (SAGAN), orthogonal regularization, the truncation trick."""


import numpy as np
import pytest
import torch
from torch import nn

from saddlepoint.config import ConfigError, resolve_config
from saddlepoint.families.base import truncated_normal
from saddlepoint.nets.attention import SelfAttention
from saddlepoint.nets.resnet import ResNetCritic, ResNetGenerator
from saddlepoint.penalties import orthogonal_penalty


def test_self_attention_starts_as_the_identity_and_learns_its_gate():
    torch.manual_seed(0)
    block = SelfAttention(32)
    x = torch.randn(3, 32, 8, 8)
    block.keep = True
    y = block(x)
    assert torch.equal(y, x)  # γ = 0: the plain player
    assert block.last.shape == (3, 64, 16)  # every position over the 2×2-pooled keys
    assert torch.allclose(block.last.sum(-1), torch.ones(3, 64))
    (g,) = torch.autograd.grad(block(x).pow(2).sum(), block.gamma)
    assert g != 0
    with torch.no_grad():
        block.gamma.fill_(1.0)
    assert not torch.allclose(block(x), x)


def test_resnet_players_take_attention_at_the_asked_side():
    G = ResNetGenerator(16, 1, 28, 32, attention=14)
    D = ResNetCritic(1, 16, down=2, image_size=28, attention=14)
    assert G.attention_after == 0 and D.attention_after == 0
    assert G(torch.randn(2, 16)).shape == (2, 1, 28, 28) and D(torch.randn(2, 1, 28, 28)).shape == (2,)
    plain = ResNetGenerator(16, 1, 28, 32)
    assert not any("attention" in k for k in plain.state_dict())  # runs without it keep their tensor names
    only_g = ResNetCritic(1, 16, down=2, image_size=28, attention=28)  # the critic has no 28-px block after its first
    assert only_g.attention_after == -1 and not hasattr(only_g, "attention")


def test_attention_key_is_refused_where_it_would_be_ignored():
    with pytest.raises(ConfigError, match="model=dcgan has none"):
        resolve_config("mnist-dcgan", ["attention=14"])
    with pytest.raises(ConfigError, match="14, 28 pixels a side"):
        resolve_config("mnist-dcgan", ["model=resnet", "attention=16"])
    assert resolve_config("mnist-dcgan", ["model=resnet", "attention=14"])[1].attention == 14


def test_orthogonal_penalty_pushes_only_the_off_diagonal():
    torch.manual_seed(0)
    lin = nn.Linear(16, 8, bias=False)
    nn.init.orthogonal_(lin.weight)
    with torch.no_grad():
        lin.weight.mul_(3.0)  # long rows, still orthogonal: no penalty (BigGAN's form, not ‖WWᵀ − I‖)
    z = torch.zeros(1)
    assert orthogonal_penalty(lin, z, z).item() == pytest.approx(0.0, abs=1e-8)
    conv = nn.Conv2d(3, 4, 3)
    w = conv.weight.detach().flatten(1)
    gram = w @ w.T
    expected = (gram.pow(2).sum() - gram.diagonal().pow(2).sum()).item()
    assert orthogonal_penalty(conv, z, z).item() == pytest.approx(expected, rel=1e-5)
    opt = torch.optim.SGD(conv.parameters(), lr=0.05)
    for _ in range(50):
        opt.zero_grad()
        orthogonal_penalty(conv, z, z).backward()
        opt.step()
    assert orthogonal_penalty(conv, z, z).item() < 0.5 * expected


def test_truncation_is_the_truncated_normal_not_a_narrower_one():
    from scipy import stats

    t = 1.0
    z = truncated_normal(20000, 4, t, torch.Generator().manual_seed(0))
    assert z.abs().max() <= t
    assert torch.equal(z, truncated_normal(20000, 4, t, torch.Generator().manual_seed(0)))
    assert stats.kstest(z.flatten().numpy(), stats.truncnorm(-t, t).cdf).pvalue > 0.01
    # a normal shrunk to the same spread is another distribution: the test can tell them apart
    shrunk = torch.randn(80000, generator=torch.Generator().manual_seed(1)) * float(z.std())
    assert stats.kstest(shrunk.clamp(-t, t).numpy(), stats.truncnorm(-t, t).cdf).pvalue < 1e-6


@pytest.fixture(scope="module")
def attention_run(tmp_path_factory):
    from saddlepoint.cli import main

    root = tmp_path_factory.mktemp("attn")
    data = root / "digits.npz"
    rng = np.random.default_rng(0)
    np.savez(data, images=rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8), labels=np.arange(64) % 10)
    run = root / "run"
    assert main(["train", "mnist-dcgan", f"data={data}", "model=resnet", "attention=14", "ortho_reg=1e-4",
                 "base_channels=8", "steps=3", "batch_size=8", "eval_every=0", "--out", str(run), "--quiet"]) == 0
    return run


def test_sample_draws_attention_maps_and_truncated_grids(attention_run, tmp_path, capsys):
    from saddlepoint.cli import main

    assert main(["sample", str(attention_run), "--attention", "-o", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").stat().st_size > 10_000
    assert main(["sample", str(attention_run), "-n", "16", "-o", str(tmp_path / "plain.png")]) == 0
    assert main(["sample", str(attention_run), "-n", "16", "--truncation", "0.5", "-o", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "plain.png").read_bytes() != (tmp_path / "t.png").read_bytes()
    assert main(["sample", str(attention_run), "--truncation", "0"]) == 2
    assert "positive threshold" in capsys.readouterr().err
    metrics = (attention_run / "metrics.jsonl").read_text()
    assert "loss/ortho_reg" in metrics


def test_truncation_and_attention_are_refused_where_they_mean_nothing(tmp_path, capsys):
    from saddlepoint.cli import main

    run = tmp_path / "uniform"
    assert main(["train", "grid25", "noise=uniform", "steps=2", "--out", str(run), "--quiet"]) == 0
    assert main(["sample", str(run), "--truncation", "1"]) == 2
    assert "uniform" in capsys.readouterr().err
    assert main(["sample", str(run), "--attention"]) == 2
    assert "2-D points" in capsys.readouterr().err


def test_a_tall_weight_is_taken_by_its_columns():
    lin = nn.Linear(4, 50, bias=False)  # 50 rows in 4 dimensions cannot be orthogonal; 4 columns can
    nn.init.orthogonal_(lin.weight)  # orthonormal columns
    z = torch.zeros(1)
    assert orthogonal_penalty(lin, z, z).item() == pytest.approx(0.0, abs=1e-8)


def test_biggan_generator_conditions_every_block_on_the_class_and_its_own_z_chunk():
    from saddlepoint.nets.biggan import BigGANGenerator

    torch.manual_seed(0)
    G = BigGANGenerator(30, 1, 28, 16, n_classes=10)
    assert G.chunks == [10, 10, 10] and sum(isinstance(m, nn.Embedding) for m in G.modules()) == 1  # one shared table
    G.eval()
    z, y = torch.randn(4, 30), torch.tensor([0, 1, 2, 3])
    base = G(z, y)
    # a new conditional batch norm starts as plain batch norm: labels change nothing until it learns
    assert torch.allclose(G(z, torch.tensor([5, 5, 5, 5])), base)
    for m in G.modules():
        if hasattr(m, "gain") and isinstance(m.gain, nn.Linear):
            nn.init.normal_(m.gain.weight, 0, 0.5)
    base = G(z, y)
    assert not torch.allclose(G(z, torch.tensor([5, 5, 5, 5])), base)
    for chunk in range(3):  # each chunk of z reaches the picture: the first through the linear layer, the rest via BN
        z2 = z.clone()
        z2[:, 10 * chunk:10 * (chunk + 1)] += 1.0
        assert not torch.allclose(G(z2, y), base), chunk
    with pytest.raises(ValueError, match="takes labels"):
        G(z)
    assert BigGANGenerator(30, 1, 28, 16)(z).shape == (4, 1, 28, 28)  # unconditional: the z chunks alone


def test_biggan_recipe_resolves_and_refuses_other_conditions():
    _, cfg = resolve_config("mnist-biggan")
    assert (cfg.model, cfg.attention, cfg.label_critic, cfg.game) == ("biggan", 14, "projection", "hinge")
    with pytest.raises(ConfigError, match="model=biggan embeds class labels"):
        resolve_config("mnist-dcgan", ["model=biggan", "conditional=infogan"])
    with pytest.raises(ConfigError, match="z_dim must be at least 3"):
        resolve_config("mnist-biggan", ["z_dim=2"])
