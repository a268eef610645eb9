"""The distinguishing game on a 1-D pair of densities, P = N(0, 1) (data) and Q = N(1.5, 0.8²) (generator):
the cross-entropy discriminator converges to p/(p+q) and its value to 2·JSD − log 4; the 0-1 game's best error is
the Bayes error ½ − ½·TV."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import optim
from ..divergences import get_divergence
from ..games import get_game
from . import Result, normal_pdf

P_MEAN, P_STD, Q_MEAN, Q_STD = 0.0, 1.0, 1.5, 0.8
GRID = np.linspace(-4.0, 5.0, 901)


def _draw(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return (P_MEAN + P_STD * torch.randn(n, 1, generator=g, dtype=torch.float64),
            Q_MEAN + Q_STD * torch.randn(n, 1, generator=g, dtype=torch.float64))


@functools.lru_cache(maxsize=4)
def trained_discriminator(steps: int, seed: int) -> nn.Module:
    """A 1-64-64-1 MLP trained by the original GAN's cross-entropy (the minimax game's d_loss) on fresh samples."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1)).double()
    opt = optim.Adam(net.parameters(), lr=2e-3)
    game = get_game("minimax")
    for _ in range(steps):
        real, fake = _draw(512, g)
        loss = game.d_loss(net(real).squeeze(1), net(fake).squeeze(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def _d(net: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(net(torch.as_tensor(x, dtype=torch.float64).reshape(-1, 1))).squeeze(1).numpy()


def optimal_discriminator(quick: bool = False, seed: int = 0) -> Result:
    steps = 600 if quick else 3000
    net = trained_discriminator(steps, seed)
    p, q = normal_pdf(GRID, P_MEAN, P_STD), normal_pdf(GRID, Q_MEAN, Q_STD)
    optimum = p / (p + q)
    d = _d(net, GRID)
    where = (p + q) / 2 > 0.02  # where the samples are: elsewhere nothing trains the discriminator
    err = np.abs(d - optimum)[where]
    # The game's value at the trained D, ∫ p log D + q log(1 − D), by quadrature: no sampling noise.
    fine = np.linspace(-12.0, 12.0, 48001)
    pf, qf = normal_pdf(fine, P_MEAN, P_STD), normal_pdf(fine, Q_MEAN, Q_STD)
    df = np.clip(_d(net, fine), 1e-300, 1 - 1e-16)
    value = float(np.trapezoid(pf * np.log(df) + qf * np.log1p(-df), fine))
    jsd = get_divergence("js").gaussian(P_MEAN, P_STD, Q_MEAN, Q_STD)
    best = 2 * jsd - math.log(4)
    rows = [["trained D against p/(p+q): largest absolute error where (p+q)/2 > 0.02", float(err.max())],
            ["mean absolute error there", float(err.mean())],
            ["game value V(D) = E_P log D + E_Q log(1 − D) at the trained D, by quadrature", value],
            ["2·JSD(P‖Q) − log 4, JSD by quadrature (the value at the optimal D)", best],
            ["V(D) − optimum (≤ 0: no discriminator does better than p/(p+q))", value - best]]
    notes = [f"P = N({P_MEAN}, {P_STD}²) is the data, Q = N({Q_MEAN}, {Q_STD}²) the generator's; D is trained for "
             f"{steps} Adam steps on 512 fresh samples a side by the minimax game's cross-entropy.",
             "For a fixed generator the best discriminator is D*(x) = p(x)/(p(x)+q(x)), and there the game's value is "
             "2·JSD − log 4: the generator's objective at the optimal critic is the Jensen–Shannon divergence."]

    def draw(path: Path) -> None:
        from ..plots import plt, save

        fig, ax = plt.subplots(figsize=(8, 4))
        ax.fill_between(GRID, p / p.max(), color="C0", alpha=0.15, label="p (data), scaled")
        ax.fill_between(GRID, q / q.max(), color="C1", alpha=0.15, label="q (generator), scaled")
        ax.plot(GRID, optimum, "k", lw=2, label="p/(p+q)")
        ax.plot(GRID, d, "C3--", lw=1.8, label=f"trained D ({steps} steps)")
        ax.set(xlabel="x", ylabel="D(x)", title="The optimal discriminator", ylim=(-0.02, 1.02))
        ax.legend(fontsize=8)
        fig.tight_layout()
        save(fig, path)

    return Result("the optimal discriminator p/(p+q) and the game's value 2·JSD − log 4", ["measure", "value"], rows,
                  draw, notes, {"max_error": float(err.max()), "value": value, "optimum": best})


def zero_one(quick: bool = False, seed: int = 0) -> Result:
    steps = 600 if quick else 3000
    tv = get_divergence("tv").gaussian(P_MEAN, P_STD, Q_MEAN, Q_STD)
    bayes = 0.5 - 0.5 * tv
    g = torch.Generator().manual_seed(seed + 2)
    train_p, train_q = _draw(2000, g)
    fine = np.linspace(-12.0, 12.0, 96001)
    pf, qf = normal_pdf(fine, P_MEAN, P_STD), normal_pdf(fine, Q_MEAN, Q_STD)

    def error(says_p) -> float:  # equal priors: ½ P(rule says Q | P) + ½ P(rule says P | Q), by quadrature
        s = says_p(fine)
        return float(0.5 * np.trapezoid(pf * ~s, fine) + 0.5 * np.trapezoid(qf * s, fine))

    # The Bayes rule: say P where p > q (a quadratic boundary for two Gaussians).
    bayes_rule = lambda x: normal_pdf(x, P_MEAN, P_STD) > normal_pdf(x, Q_MEAN, Q_STD)
    # The 0-1 game played on 2000 samples a side: the threshold rule x < t with the fewest training mistakes.
    xs, ys = train_p.numpy().ravel(), train_q.numpy().ravel()
    cuts = np.sort(np.concatenate([xs, ys]))
    mistakes = [np.mean(xs >= t) + np.mean(ys < t) for t in cuts]
    t_best = float(cuts[int(np.argmin(mistakes))])
    net = trained_discriminator(steps, seed)
    rows = [["Bayes error ½ − ½·TV(P, Q), TV by quadrature", bayes, 0.0],
            ["the Bayes rule (say P where p > q)", error(bayes_rule),
             error(bayes_rule) - bayes],
            [f"the empirical 0-1 minimizer, a threshold x < {t_best:.3f} fitted on 2000 a side", error(lambda x: x < t_best),
             error(lambda x: x < t_best) - bayes],
            ["the cross-entropy discriminator, D(x) > ½", error(lambda x: _d(net, x) > 0.5),
             error(lambda x: _d(net, x) > 0.5) - bayes]]
    notes = ["With equal priors the best possible error of telling P's samples from Q's is ½ − ½·TV(P, Q): the 0-1 "
             "loss's game measures total variation, as the cross-entropy's measures Jensen–Shannon.",
             "Each rule's error is computed exactly (quadrature over x, equal priors); every one is the Bayes error or "
             "more. The variances differ, so the Bayes rule says P on an interval and again far to the right; a "
             "threshold misses only the far part, where almost no mass lies."]

    def draw(path: Path) -> None:
        from ..plots import plt, save

        p, q = normal_pdf(GRID, P_MEAN, P_STD), normal_pdf(GRID, Q_MEAN, Q_STD)
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot(GRID, p, "C0", label="p (data)")
        ax.plot(GRID, q, "C1", label="q (generator)")
        ax.fill_between(GRID, np.minimum(p, q), color="0.6", alpha=0.5,
                        label=f"min(p, q): area = 1 − TV = 2 × Bayes error ({bayes:.3f})")
        ax.axvline(t_best, color="C3", ls="--", label=f"empirical 0-1 threshold {t_best:.2f}")
        ax.set(xlabel="x", ylabel="density", title="The 0-1 game: Bayes error = ½ − ½ TV")
        ax.legend(fontsize=8)
        fig.tight_layout()
        save(fig, path)

    return Result("the 0-1 game and total variation", ["rule", "0-1 error", "minus the Bayes error"], rows, draw,
                  notes, {"bayes": bayes, "tv": tv, "errors": [r[1] for r in rows[1:]]})
