"""Theory you can run: the optimal discriminator, the game's value, the distinguishing game, and
the f-GAN variational bound."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from saddlepoint.divergences import DIVERGENCES, get_divergence
from saddlepoint.games import FGAN, get_game

D64 = torch.float64
# Two distributions over 5 states, as multisets of 10 equally likely draws, so a mean over the
# "samples" is the exact expectation.
P_COUNTS = [4, 3, 1, 1, 1]
Q_COUNTS = [1, 1, 2, 3, 3]
P = np.array(P_COUNTS) / 10
Q = np.array(Q_COUNTS) / 10
REAL = torch.tensor([s for s, c in enumerate(P_COUNTS) for _ in range(c)])
FAKE = torch.tensor([s for s, c in enumerate(Q_COUNTS) for _ in range(c)])


def _train_tabular(game, steps=3000):
    """A discriminator with one free logit per state, trained to minimize the game's d_loss."""
    logits = torch.zeros(5, dtype=D64, requires_grad=True)
    opt = torch.optim.LBFGS([logits], lr=0.5, max_iter=steps, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = game.d_loss(logits[REAL], logits[FAKE])
        loss.backward()
        return loss

    opt.step(closure)
    return logits.detach()


def test_cross_entropy_discriminator_converges_to_p_over_p_plus_q():
    logits = _train_tabular(get_game("minimax"))
    d = torch.sigmoid(logits).numpy()
    np.testing.assert_allclose(d, P / (P + Q), atol=1e-6)


def test_game_value_at_the_optimal_discriminator_is_2jsd_minus_log4():
    game = get_game("minimax")
    logits = _train_tabular(game)
    value = -float(game.d_loss(logits[REAL], logits[FAKE]))  # V(D*, G) = E log D* + E log(1 − D*)
    jsd = jensenshannon(P, Q) ** 2
    assert value == pytest.approx(2 * jsd - math.log(4), abs=1e-8)
    assert value == pytest.approx(float(get_divergence("gan").discrete(torch.tensor(P), torch.tensor(Q))) - math.log(4), abs=1e-8)


def test_optimal_zero_one_error_is_half_minus_half_tv():
    """The distinguishing game with 0-1 loss and equal priors: the Bayes error is ½ − ½·TV(P, Q)."""
    tv = float(get_divergence("tv").discrete(torch.tensor(P), torch.tensor(Q)))

    def error(says_real):  # says_real: bool per state
        return 0.5 * sum(P[s] * (not r) + Q[s] * r for s, r in enumerate(says_real))

    best = min(error(rule) for rule in itertools.product([False, True], repeat=5))
    assert best == pytest.approx(0.5 - 0.5 * tv, abs=1e-12)
    # ...and thresholding the cross-entropy-optimal D* at ½ attains it.
    d = torch.sigmoid(_train_tabular(get_game("minimax"))).numpy()
    assert error(d > 0.5) == pytest.approx(best, abs=1e-12)


# f-GAN: the bound with the optimal critic T* = f'(p/q) recovers D_f between two Gaussians.
MU_P, S_P, MU_Q, S_Q = 0.6, 1.0, 0.0, 1.15


def _log_ratio(x):
    lp = -0.5 * ((x - MU_P) / S_P) ** 2 - math.log(S_P)
    lq = -0.5 * ((x - MU_Q) / S_Q) ** 2 - math.log(S_Q)
    return lp - lq


@pytest.mark.parametrize("name", sorted(DIVERGENCES))
def test_fgan_bound_with_optimal_critic_recovers_the_divergence(name):
    d = DIVERGENCES[name]
    g = torch.Generator().manual_seed(0)
    n = 400_000
    xp = MU_P + S_P * torch.randn(n, generator=g, dtype=D64)
    xq = MU_Q + S_Q * torch.randn(n, generator=g, dtype=D64)
    tp = d.f_prime(torch.exp(_log_ratio(xp)))
    tq_conj = d.f_conjugate(d.f_prime(torch.exp(_log_ratio(xq))))
    bound = float(tp.mean() - tq_conj.mean())
    se = math.sqrt(float(tp.var()) / n + float(tq_conj.var()) / n)
    exact = d.gaussian(MU_P, S_P, MU_Q, S_Q)
    assert abs(bound - exact) < 5 * se + 1e-4, (name, bound, exact, se)


@pytest.mark.parametrize("name", ["kl", "js", "hellinger"])
def test_trained_critic_approaches_the_divergence_from_below(name):
    """An MLP critic trained on samples with the f-GAN critic loss gets a bound close to, and not
    above (beyond Monte-Carlo error), the closed-form divergence."""
    torch.manual_seed(0)
    game = FGAN(get_divergence(name))
    critic = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                                 torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(1500):
        xp = MU_P + S_P * torch.randn(512, 1, generator=g)
        xq = MU_Q + S_Q * torch.randn(512, 1, generator=g)
        loss = game.d_loss(critic(xp).squeeze(1), critic(xq).squeeze(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    n = 200_000
    with torch.no_grad():
        xp = MU_P + S_P * torch.randn(n, 1, generator=g)
        xq = MU_Q + S_Q * torch.randn(n, 1, generator=g)
        bound = float(game.bound(critic(xp).squeeze(1), critic(xq).squeeze(1)))
    exact = get_divergence(name).gaussian(MU_P, S_P, MU_Q, S_Q)
    assert bound <= exact + 0.01
    assert bound >= exact - 0.15 * exact - 0.005, (name, bound, exact)
