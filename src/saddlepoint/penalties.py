"""Regularizers: separate terms with a weight and an interval, added to a player's loss.

Each penalty is ``fn(critic, real, fake) -> scalar`` (``critic``: x → scores (B,)) plus a weight and an ``every`` interval (lazy
regularization, Karras et al. 2020: computed every k-th critic step with its weight multiplied by k,
so the expected gradient is unchanged).  Constraints that act on weights rather than losses (weight
clipping) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

__all__ = ["Penalty", "gradient_penalty", "r1_penalty", "clip_weights"]

Critic = Callable[[Tensor], Tensor]  # x → raw scores (B,): a plain critic, or a conditional one at fixed labels
CriticPenaltyFn = Callable[[Critic, Tensor, Tensor], Tensor]


def _per_sample_grad_norm(critic: Critic, x: Tensor) -> Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.flatten(1).norm(dim=1)  # (B,)


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017, eq. 3): E[(‖∇_x̂ D(x̂)‖ − 1)²] at x̂ = εx + (1−ε)x̃, ε ~ U[0,1]."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return ((_per_sample_grad_norm(critic, x_hat) - 1) ** 2).mean()


def r1_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018, eq. 9 without the γ/2, which is the weight): E_P[‖∇_x D(x)‖²]."""
    return (_per_sample_grad_norm(critic, real) ** 2).mean()


@dataclass(frozen=True)
class Penalty:
    """``weight · fn(critic, real, fake)``, applied on every ``every``-th critic step (weight × every)."""

    name: str
    fn: CriticPenaltyFn
    weight: float
    every: int = 1

    def due(self, critic_step: int) -> bool:
        return self.weight > 0 and critic_step % self.every == 0

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
        return (self.weight * self.every) * self.fn(critic, real, fake)


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """WGAN's Lipschitz constraint (Arjovsky et al. 2017, Algorithm 1): clamp every parameter to [−c, c]."""
    for p in module.parameters():
        p.clamp_(-c, c)
