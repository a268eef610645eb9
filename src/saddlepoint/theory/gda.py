"""Gradient descent-ascent on the smallest games, run by the trainer's own schedule (:func:`gda_step`):
simultaneous, alternating (critic first) and generator-first GDA on the bilinear game min_x max_y x·y and on the
Dirac GAN (Mescheder et al. 2018: the generator is a point θ, the data a point at 0, the critic D(x) = ψ·x)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import optim
from ..games import get_game
from ..schedule import GDA, Contest, gda_step
from . import Result

SCHEDULES = ("simultaneous", "alternating", "generator-first")
GAMES = {"bilinear": "wasserstein", "Dirac GAN": "minimax"}  # the game each player pair is scored by


class Point(nn.Module):
    """The generator: its one parameter θ for every noise sample."""

    def __init__(self, theta: float):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta], dtype=torch.float64))

    def forward(self, z):
        return self.theta.expand(z.shape[0], 1)


class Slope(nn.Module):
    """The critic D(v) = ψ·v."""

    def __init__(self, psi: float):
        super().__init__()
        self.psi = nn.Parameter(torch.tensor([psi], dtype=torch.float64))

    def forward(self, v):
        return (self.psi * v).squeeze(-1)


def trajectory(game: str, schedule: str, lr: float, steps: int, start: tuple[float, float] = (1.0, 0.0),
               stop_at: float = math.inf) -> np.ndarray:
    """(steps + 1, 2) points (θ, ψ) of plain SGD GDA with step size ``lr`` from ``start`` (stops early past
    radius ``stop_at``).  The bilinear game is WGAN's value on these players, −θ·ψ for the critic to maximize with
    the data at 0; the Dirac GAN is the original (minimax) GAN's, as Mescheder et al. write it."""
    G, D = Point(start[0]), Slope(start[1])
    c = Contest(G, D, optim.SGD(G.parameters(), lr=lr), optim.SGD(D.parameters(), lr=lr),
                get_game(GAMES[game]))
    real = noise = lambda: torch.zeros(1, 1, dtype=torch.float64)
    sched = GDA(schedule, 1)
    points = [start]
    for _ in range(steps):
        gda_step(sched, c, real, noise)
        point = (G.theta.item(), D.psi.item())
        points.append(point)
        if not math.isfinite(point[0] + point[1]) or math.hypot(*point) > stop_at:
            break
    return np.array(points)


def step_jacobian(game: str, schedule: str, lr: float, eps: float = 1e-6) -> np.ndarray:
    """The Jacobian of one GDA step at the equilibrium (0, 0), by central differences of the trainer's step."""
    cols = []
    for d in ((eps, 0.0), (0.0, eps)):
        plus = trajectory(game, schedule, lr, 1, start=d)[-1]
        minus = trajectory(game, schedule, lr, 1, start=(-d[0], -d[1]))[-1]
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=1)


def spectral_radius(game: str, schedule: str, lr: float) -> float:
    return float(np.abs(np.linalg.eigvals(step_jacobian(game, schedule, lr))).max())


def gda(quick: bool = False, seed: int = 0) -> Result:
    steps = 300 if quick else 2000
    rates = np.geomspace(0.02, 4.0, 8 if quick else 24)
    show = {"bilinear": 0.1, "Dirac GAN": 0.2}
    from tqdm import tqdm

    rows, values, paths = [], {}, {}
    bar = tqdm(total=len(GAMES) * len(SCHEDULES), desc="gda: schedules", unit="schedule", leave=False)
    for game in GAMES:
        for schedule in SCHEDULES:
            bar.update()
            lr = show[game]
            path = trajectory(game, schedule, lr, steps)
            paths[(game, schedule)] = path
            rho = spectral_radius(game, schedule, lr)
            diverging = [float(r) for r in rates
                         if (lambda p: not np.isfinite(p).all() or np.hypot(*p[-1]) > 10)(
                             trajectory(game, schedule, float(r), steps, stop_at=10.0))]
            first = diverging[0] if diverging else math.nan
            radius = float(np.hypot(*path[-1]))
            values[(game, schedule)] = {"rho": rho, "radius": radius, "first_diverging": first,
                                        "max_radius": float(np.hypot(path[:, 0], path[:, 1]).max())}
            rows.append([game, schedule, lr, rho, radius, first])
    bar.close()
    notes = [f"Plain SGD on both players with the same step size η, from (θ, ψ) = (1, 0), {steps} steps, each step "
             "taken by the trainer's gda_step; ρ is the spectral radius of one step's Jacobian at the equilibrium "
             "(0, 0), measured by central differences of that step: ρ > 1 spirals out, ρ = 1 circles.",
             "Bilinear game: simultaneous GDA has ρ = √(1 + η²) > 1 at every η; either alternating order keeps ρ = 1 "
             "(a bounded orbit) up to η = 2, where its eigenvalues turn real and one leaves the unit circle.",
             f"'Diverges from η' is the smallest η on a grid of {len(rates)} from {rates[0]:.2g} to {rates[-1]:.2g} "
             f"whose run passed radius 10 within {steps} steps (— for none). The Dirac GAN's critic gradient "
             "saturates, so its simultaneous spiral grows slowly; neither order converges to (0, 0) without a penalty "
             "(Mescheder et al. 2018)."]

    def draw(path_out: Path) -> None:
        from ..plots import plt, save

        fig, axes = plt.subplots(1, 2, figsize=(11, 5))
        for ax, game in zip(axes, GAMES):
            for i, schedule in enumerate(SCHEDULES):
                p = paths[(game, schedule)]
                ax.plot(p[:, 0], p[:, 1], color=f"C{i}", lw=0.8,
                        label=f"{schedule} (ρ = {values[(game, schedule)]['rho']:.4f})")
            ax.plot([1], [0], "ko", ms=4)
            ax.plot([0], [0], "k*", ms=9, label="equilibrium")
            ax.set(title=f"{game}, η = {show[game]}, {steps} steps", xlabel="θ (generator)", ylabel="ψ (critic)",
                   aspect="equal")
            lim = 1.2 * max(1.0, *(min(np.abs(paths[(game, s)]).max(), 6.0) for s in SCHEDULES))
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
            ax.legend(fontsize=8, loc="lower left")
        fig.suptitle("Gradient descent-ascent: simultaneous spirals out, alternating circles")
        fig.tight_layout()
        save(fig, path_out)

    return Result("gradient descent-ascent on the bilinear game and the Dirac GAN",
                  ["game", "schedule", "η shown", "ρ (one step at the equilibrium)", "radius after the run",
                   "diverges from η"], rows, draw, notes, values)
