"""The f-divergences' variational bound, run: for two Gaussians whose every f-divergence is known, the bound
E_P[T] − E_Q[f*(T)] at the optimal critic T* = f'(p/q) equals D_f(P‖Q), and a critic trained by the f-GAN game
climbs to it from below (Nguyen, Wainwright & Jordan 2010; Nowozin, Cseke & Tomioka 2016)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .. import optim
from ..divergences import DIVERGENCES
from ..games import FGAN
from . import Result, normal_pdf

P_MEAN, P_STD = 1.0, 1.0  # the data
# The generator's.  Both χ² divergences are finite (2σ_Q² > σ_P², 2σ_P² > σ_Q²), and so are the variances of their
# Monte Carlo bounds at T* (4σ_Q² > 3σ_P², 4σ_P² > 3σ_Q²): the standard errors mean what they say.
Q_MEAN, Q_STD = 0.0, 1.05
GRID = np.linspace(-4.0, 5.0, 901)  # the figure's
FINE = np.linspace(-16.0, 17.0, 330_001)  # the integrals': ±16 standard deviations of both, spacing 10⁻⁴


def _log_ratio(x: Tensor) -> Tensor:
    """log p(x)/q(x) of the two normals."""
    lp = -0.5 * ((x - P_MEAN) / P_STD) ** 2 - math.log(P_STD)
    lq = -0.5 * ((x - Q_MEAN) / Q_STD) ** 2 - math.log(Q_STD)
    return lp - lq


def _samples(n: int, g: torch.Generator, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """(n, 1) draws from P and from Q."""
    p = P_MEAN + P_STD * torch.randn(n, 1, generator=g, dtype=dtype)
    q = Q_MEAN + Q_STD * torch.randn(n, 1, generator=g, dtype=dtype)
    return p, q


def bound_at(t_p: Tensor, t_q: Tensor, name: str) -> tuple[float, float]:
    """The bound E_P[T] − E_Q[f*(T)] from a critic's values T on P's and Q's samples: (estimate, standard error)."""
    terms_q = DIVERGENCES[name].f_conjugate(t_q)
    value = float(t_p.mean() - terms_q.mean())
    se = math.sqrt(float(t_p.var()) / len(t_p) + float(terms_q.var()) / len(terms_q))
    return value, se


def train_critic(name: str, steps: int, seed: int, batch: int = 512) -> nn.Module:
    """A 1-64-64-1 MLP trained by the f-GAN critic's loss for divergence ``name`` on fresh samples (Adam 2·10⁻³);
    its raw score goes through the divergence's activation to give T."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    net = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    game = FGAN(DIVERGENCES[name])
    opt = optim.Adam(net.parameters(), lr=2e-3)
    for step in range(steps):
        if step == steps * 3 // 4:  # a smaller step at the end: the estimate settles instead of jittering
            for group in opt.param_groups:
                group["lr"] = 5e-4
        xp, xq = _samples(batch, g)
        loss = game.d_loss(net(xp).squeeze(1), net(xq).squeeze(1))  # −(E_P[T] − E_Q[f*(T)])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def _quadrature(t: Tensor, name: str) -> float:
    """The bound ∫ p T − ∫ q f*(T) for a critic's values T on :data:`FINE`, by the trapezoid rule: no sampling
    noise, so a critic's bound is below D_f exactly, not to within an error."""
    d = DIVERGENCES[name]
    p, q = normal_pdf(FINE, P_MEAN, P_STD), normal_pdf(FINE, Q_MEAN, Q_STD)
    return float(np.trapezoid(p * t.numpy() - q * d.f_conjugate(t).numpy(), FINE))


def variational_bound(quick: bool = False, seed: int = 0) -> Result:
    steps, n = (500, 20_000) if quick else (4000, 100_000)
    g = torch.Generator().manual_seed(seed + 1000)  # the evaluation's samples: apart from training's
    xp, xq = _samples(n, g)
    fine = torch.tensor(FINE, dtype=torch.float64)
    where = torch.tensor((normal_pdf(GRID, P_MEAN, P_STD) + normal_pdf(GRID, Q_MEAN, Q_STD)) / 2 > 0.05)
    rows, found, curves = [], {}, {}
    for name, d in DIVERGENCES.items():
        exact = d.gaussian(P_MEAN, P_STD, Q_MEAN, Q_STD)
        t_star_fine = d.f_prime(torch.exp(_log_ratio(fine)))
        at_optimum = _quadrature(t_star_fine, name)
        net = train_critic(name, steps, seed)
        with torch.no_grad():
            def critic(x: Tensor) -> Tensor:  # T = activation(raw score), in float64 for the sums
                return d.activation(net(x.float().unsqueeze(1)).squeeze(1).double())

            trained = _quadrature(critic(fine), name)
            sampled, se = bound_at(critic(xp.squeeze(1)), critic(xq.squeeze(1)), name)
            grid = torch.tensor(GRID, dtype=torch.float64)
            t_grid, t_star = critic(grid), d.f_prime(torch.exp(_log_ratio(grid)))
        err = float((t_grid - t_star).abs()[where].mean())
        rows.append([d.title, exact, at_optimum, trained, exact - trained, sampled, se, err])
        found[name] = {"exact": exact, "optimal": at_optimum, "trained": trained, "sampled": sampled, "se": se,
                       "critic_error": err}
        curves[name] = (t_grid.numpy(), t_star.numpy())
    notes = [f"P = N({P_MEAN:g}, {P_STD:g}²) is the data, Q = N({Q_MEAN:g}, {Q_STD:g}²) the generator's. D_f(P‖Q) in "
             "closed form where one exists, else by quadrature. The bounds ∫ p T − ∫ q f*(T) are integrated on a "
             f"fine grid (no sampling noise), and for the trained critic also averaged over {n:,} fresh samples a "
             "side, as a GAN estimates it (± one standard error: that estimate can land above D_f by chance).",
             "Fenchel–Young: t·u − f*(t) ≤ f(u) for every t, so E_P[T] − E_Q[f*(T)] ≤ D_f(P‖Q) for every critic T, "
             "with equality at T* = f'(p/q): the T* column is D_f to the quadrature's precision.",
             f"Each trained critic is a 1-64-64-1 MLP after {steps} Adam steps of the f-GAN game on 512 samples a "
             "side: its bound sits just below D_f (the gap column), and T is close to f'(p/q) where the samples are "
             "(mean |T − T*| where (p+q)/2 > 0.05). TV's T* is a step (±½), which a smooth critic can only round; "
             "Neyman χ²'s T* = 1 − (q/p)² plunges where p thins out, which is where its bound is hardest to reach.",
             "The GAN row is 2·JSD: the original GAN's value at the optimal discriminator is this minus log 4."]

    def draw(path: Path) -> None:
        from ..plots import plt, save

        names = list(DIVERGENCES)
        fig, axes = plt.subplots(2, (len(names) + 1) // 2, figsize=(14, 6), sharex=True)
        p, q = normal_pdf(GRID, P_MEAN, P_STD), normal_pdf(GRID, Q_MEAN, Q_STD)
        for ax, name in zip(axes.flat, names):
            t, t_star = curves[name]
            shown = np.concatenate([t_star[where.numpy()], t[where.numpy()]])
            lo, hi = float(shown.min()), float(shown.max())
            pad = 0.1 * (hi - lo) + 1e-3
            ax.fill_between(GRID, lo - pad, lo - pad + (hi - lo + 2 * pad) * 0.35 * p / p.max(), color="C0",
                            alpha=0.15, label="p (data)")
            ax.fill_between(GRID, lo - pad, lo - pad + (hi - lo + 2 * pad) * 0.35 * q / q.max(), color="C1",
                            alpha=0.15, label="q (generator)")
            ax.plot(GRID, t_star, "k", lw=2, label="T* = f'(p/q)")
            ax.plot(GRID, t, "C3--", lw=1.6, label="trained T")
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_title(DIVERGENCES[name].title, fontsize=9)
        for ax in axes.flat[len(names):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle("The f-GAN critic against the optimal one, T* = f'(p/q), for each f-divergence", fontsize=11)
        fig.tight_layout()
        save(fig, path)

    return Result("the variational bound E_P[T] − E_Q[f*(T)] ≤ D_f(P‖Q): at T* = f'(p/q) and at trained critics",
                  ["divergence", "D_f(P‖Q)", "bound at T*", "bound at the trained T", "D_f − trained",
                   f"trained, from {n:,} samples", "± s.e.", "mean |T − T*|"], rows, draw, notes, {"found": found})
