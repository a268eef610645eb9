"""Regularizers: separate terms with a weight and an interval, added to a player's loss.

Each penalty is ``fn(critic, real, fake) -> scalar`` (``critic``: x → scores (B,)) plus a weight and an ``every`` interval (lazy
regularization, Karras et al. 2020: computed every k-th critic step with its weight multiplied by k,
so the expected gradient is unchanged).  Constraints that act on weights rather than losses (weight
clipping) live here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .data.unpaired import swap_pairs  # the pair layout of unpaired batches is the data's
from .distributed import gather, local_part
from .divergences import mmd2

__all__ = ["Penalty", "gradient_penalty", "r1_penalty", "drift_penalty", "clip_weights", "swap_pairs", "cycle_loss",
           "identity_loss", "random_affine", "paired_information", "code_consistency", "mmd_to_data"]

Critic = Callable[[Tensor], Tensor]  # x → raw scores (B,): a plain critic, or a conditional one at fixed labels
#                                     (x → the auxiliary head's outputs for a penalty that ``reads_aux``)
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


def drift_penalty(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """ProGAN's drift term (Karras et al. 2018, appendix A.1, weight ε_drift = 0.001): E_P[D(x)²], on the critic's
    scores of the step's real batch (a penalty with ``on_scores``).  The Wasserstein loss sees only the difference
    of the scores, so nothing else stops them drifting together far from zero."""
    return real_scores.float().pow(2).mean()


# --- InfoGAN's code on real images: consistency under small deformations ---------------------------------
# InfoGAN's bound is indifferent to *which* partition of the data its categorical code learns: two categories
# that each draw half 4s and half 9s, told apart by style, are as recoverable from G(z, c) as two that follow
# the digits.  IIC (Ji et al. 2019) prefers the partition that survives small deformations: it maximizes the
# mutual information between the cluster read from an image and the one read from a randomly deformed copy.
# Applied to Q on real images, it pushes Q to read digits, and G's categories must then be digits for Q to
# recover them.


def random_affine(x: Tensor, degrees: float = 20.0, translate: float = 0.075, scale: float = 0.1) -> Tensor:
    """Each image of ``x`` (B, C, H, W) in [−1, 1] turned by up to ±``degrees``, shifted by up to ±``translate``
    of its size along each axis and scaled by 1 ± ``scale``, a fresh draw per image from torch's global stream
    (saved in checkpoints); uncovered borders are background (−1)."""
    n = x.shape[0]
    angle = (torch.rand(n) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(n) * 2 - 1) * scale
    shift = (torch.rand(n, 2) * 2 - 1) * (2 * translate)  # affine_grid's coordinates span 2 per image side
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # the grid maps output to input: the inverse map
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False) - 1  # zero padding, shifted: background −1


def paired_information(p: Tensor, q: Tensor) -> Tensor:
    """I(a; b) in nats of the joint P = sym(E_i p_i q_iᵀ) of two cluster readings (B, K) of the same images —
    IIC's objective: log K when the readings agree, are confident and use every cluster equally; 0 when they are
    independent."""
    joint = p.float().T @ q.float() / p.shape[0]
    joint = ((joint + joint.T) / 2).clamp_min(1e-8)
    return (joint * (joint.log() - joint.sum(1, keepdim=True).log() - joint.sum(0, keepdim=True).log())).sum()


def code_consistency(categorical: int, codes: int = 1) -> CriticPenaltyFn:
    """−I(Q(x); Q(x̃)) over real images x and random affine views x̃, on the first ``codes`` · ``categorical``
    outputs of the critic's auxiliary head (InfoGAN's Q), summed over the ``codes`` categorical codes; the
    penalty is called with ``x → aux outputs`` (``reads_aux``).  Under torchrun the joint is read over the global
    batch, as one process would."""

    def fn(aux: Critic, real: Tensor, fake: Tensor) -> Tensor:
        # Under torchrun the views are drawn for the global batch (the one-process draws) and the joint is read
        # over the global batch; each process runs Q on its own slice only.
        views = local_part(random_affine(gather(real.detach())))
        logits = aux(torch.cat([real, views]))[:, :codes * categorical].float()
        q = logits.unflatten(1, (codes, categorical)).softmax(2)
        return -sum(paired_information(*(gather(half) for half in q[:, j].chunk(2))) for j in range(codes))

    return fn


# --- a generator term beside the game: fn(generator, real, fake) -------------------------------------------
# A GAN matches the data through its critic, and a critic that sees samples one (or a pack) at a time says
# little about how often each kind of sample is drawn: PacDCGAN2's digits on stacked MNIST came out at 6–17 %
# instead of 10 %.  The maximum mean discrepancy compares the two batches as distributions, so it sees
# proportions directly; GMMN (Li et al. 2015; Dziugaite et al. 2015) trains a generator on it alone.


def mmd_to_data(bandwidth: float, per_channel: bool = False) -> Callable[[object, Tensor, Tensor], Tensor]:
    """MMD² (unbiased, :func:`saddlepoint.divergences.mmd2`) between the generator's batch and a real batch, with
    the sum of two Gaussian kernels of widths ``bandwidth`` and 2·``bandwidth`` in the units of ``real`` and ``fake``
    (for images in [−1, 1], ‖a − b‖ between two MNIST digits is about 20).  ``per_channel``: the sum of one MMD² per image channel
    — each channel's distribution matched on its own (stacked MNIST: each channel's digits).  In float32, outside
    autocast; the generator argument is not used (the fakes carry its graph).  Under torchrun it compares the
    global batches (:func:`saddlepoint.distributed.gather`), as one process would."""
    widths = (bandwidth, 2 * bandwidth)

    def fn(generator: object, real: Tensor, fake: Tensor) -> Tensor:
        with torch.autocast(fake.device.type, enabled=False):
            x, y = gather(fake.float()), gather(real.detach().float())  # the global batches under torchrun
            if not per_channel:
                return mmd2(x, y, widths)
            return sum(mmd2(x[:, c], y[:, c], widths) for c in range(x.shape[1]))

    return fn


def orthogonal_penalty(generator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """BigGAN's orthogonal regularization (Brock et al. 2019, eq. 3): Σ over the generator's linear and
    convolution weights W (one row per output unit or filter) of ‖W Wᵀ ⊙ (1 − I)‖²_F — only the filters' pairwise
    inner products are pushed to zero, not their norms to one.  A weight with more rows than columns (the first
    linear layer, 20 inputs to thousands of outputs), whose rows cannot all be orthogonal, is taken by its columns
    (Wᵀ W) instead, so that no layer carries a penalty it can never pay.  Batch-norm gains, biases and embeddings
    are left alone; ``real`` and ``fake`` are not read."""
    total = fake.new_zeros((), dtype=torch.float32)
    for m in generator.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            w = m.weight.float().flatten(1) if not isinstance(m, nn.ConvTranspose2d) else \
                m.weight.float().transpose(0, 1).flatten(1)
            if w.shape[0] > w.shape[1]:
                w = w.T
            gram = w @ w.T
            total = total + (gram - torch.diag(torch.diagonal(gram))).pow(2).sum()
    return total


# --- translation regularizers on the generator: fn(generator, real, fake) ---------------------------------
# Unpaired translation (CycleGAN) keeps both domains in one batch as interleaved pairs: the real batch is
# [b₀, a₀, b₁, a₁, …] and the generator pair maps [a₀, b₀, …] (the pairs swapped) to [G(a₀), F(b₀), …], so
# every fake sits where the real image of its target domain sits.


def cycle_loss(generator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """Cycle consistency (Zhu et al. 2017, eq. 2): E‖F(G(a)) − a‖₁ + E‖G(F(b)) − b‖₁, as one mean over the batch.
    Translating the fakes back (pairs swapped again) must give the real images."""
    return (generator(swap_pairs(fake)).float() - real.float()).abs().mean()


def identity_loss(generator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """Identity mapping (Zhu et al. 2017 §5.2, from Taigman et al. 2017): E‖G(b) − b‖₁ + E‖F(a) − a‖₁ — an image
    already in the target domain should pass through unchanged (it keeps colours and layout)."""
    return (generator(real).float() - real.float()).abs().mean()


@dataclass(frozen=True)
class Penalty:
    """``weight · fn(player, real, fake)``, applied on every ``every``-th step (weight × every).  Critic
    penalties get the critic (x → scores, or x → auxiliary outputs when ``reads_aux``), generator terms
    (cycle, identity, mmd) the generator."""

    name: str
    fn: Callable[..., Tensor]  # a CriticPenaltyFn, or (real_scores, fake_scores) → Tensor with on_scores
    weight: float
    every: int = 1
    reads_aux: bool = False
    on_scores: bool = False  # fn(real_scores, fake_scores): a term on the step's own scores, no extra pass

    def due(self, critic_step: int) -> bool:
        return self.weight > 0 and critic_step % self.every == 0

    def __call__(self, *args: Any) -> Tensor:
        """(critic, real, fake), or (real_scores, fake_scores) for a penalty ``on_scores``."""
        return (self.weight * self.every) * self.fn(*args)


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """WGAN's Lipschitz constraint (Arjovsky et al. 2017, Algorithm 1): clamp every parameter to [−c, c]."""
    for p in module.parameters():
        p.clamp_(-c, c)
