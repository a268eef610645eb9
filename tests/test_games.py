"""One suite over every registered game, plus closed-form values of each objective."""

import math

import pytest
import torch

from saddlepoint.divergences import DIVERGENCES
from saddlepoint.games import GAMES, FGAN, get_game

ALL = sorted(GAMES)


def test_every_divergence_has_an_fgan_game():
    for name in DIVERGENCES:
        assert isinstance(get_game(f"fgan-{name}"), FGAN)
    for name in ["minimax", "nonsaturating", "lsgan", "wasserstein", "hinge"]:
        assert name in GAMES


@pytest.mark.parametrize("name", ALL)
def test_losses_are_finite_scalars_with_gradients(name):
    game = get_game(name)
    g = torch.Generator().manual_seed(0)
    real = (4 * torch.randn(64, generator=g)).requires_grad_(True)
    fake = (4 * torch.randn(64, generator=g)).requires_grad_(True)
    d, gl = game.d_loss(real, fake), game.g_loss(fake)
    assert d.dim() == 0 and gl.dim() == 0
    assert math.isfinite(d.item()) and math.isfinite(gl.item())
    (gr, gf) = torch.autograd.grad(d, (real, fake))
    assert torch.isfinite(gr).all() and torch.isfinite(gf).all()


@pytest.mark.parametrize("name", ALL)
def test_sign_convention_higher_score_means_more_real(name):
    """Where the critic cannot tell real from fake (equal scores s), its loss falls when it scores
    real higher and fake lower; and the generator's loss falls when its samples score higher."""
    game = get_game(name)
    for s in torch.linspace(-1.5, 0.5, 11):
        eps = torch.zeros((), requires_grad=True)
        score = s * torch.ones(8)
        (dd,) = torch.autograd.grad(game.d_loss(score + eps, score - eps), eps)
        assert dd < 0, (name, float(s))
        fake = (s * torch.ones(8)).requires_grad_(True)
        (dg,) = torch.autograd.grad(game.g_loss(fake), fake)
        assert (dg < 0).all(), (name, float(s))


@pytest.mark.parametrize("name", ALL)
def test_a_perfect_critic_has_lower_loss_than_a_blind_one(name):
    game = get_game(name)
    blind = game.d_loss(torch.zeros(8), torch.zeros(8))
    sharp = game.d_loss(torch.full((8,), 0.9), torch.full((8,), -0.2))
    assert sharp < blind


def test_closed_form_values():
    z = torch.zeros(4)
    assert float(get_game("minimax").d_loss(z, z)) == pytest.approx(2 * math.log(2))
    assert float(get_game("minimax").g_loss(z)) == pytest.approx(-math.log(2))
    assert float(get_game("nonsaturating").g_loss(z)) == pytest.approx(math.log(2))
    assert float(get_game("hinge").d_loss(z, z)) == pytest.approx(2.0)
    assert float(get_game("lsgan").d_loss(z, z)) == pytest.approx(0.5)
    assert float(get_game("lsgan").g_loss(z)) == pytest.approx(0.5)
    r, f = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0])
    assert float(get_game("wasserstein").d_loss(r, f)) == pytest.approx(-0.5 - 2.0)
    assert float(get_game("hinge").d_loss(r, f)) == pytest.approx(0.0 + 0.5 * (0 + 1))


def test_fgan_gan_divergence_is_the_minimax_game_up_to_a_constant():
    """With T = log sigmoid(v), the f-GAN bound for the 'gan' divergence is V(D, G) + log 4."""
    g = torch.Generator().manual_seed(0)
    r, f = torch.randn(32, generator=g), torch.randn(32, generator=g)
    fg, mm = get_game("fgan-gan"), get_game("minimax")
    assert float(fg.d_loss(r, f)) == pytest.approx(float(mm.d_loss(r, f)) - math.log(4), abs=1e-6)
    assert float(fg.bound(r, f)) == pytest.approx(-float(fg.d_loss(r, f)))


def test_unknown_game_lists_the_choices():
    with pytest.raises(KeyError, match="choose one of"):
        get_game("hing")
