"""Objectives: the saddle-point games, as small stateless objects over critic scores.

Sign convention, everywhere in saddlepoint: the critic D returns a raw, unbounded score per sample and
**a higher score means "more real"**.  For the cross-entropy games D(x) = sigmoid(score).

A game turns scores into two losses that its players *minimize*:

    d_loss(real_scores, fake_scores)   the critic's loss  (= −V for the games that have a value V)
    g_loss(fake_scores)                the generator's loss

A game owns no network or optimizer and never calls ``backward``; regularizers (gradient penalty,
R1, weight clipping) are separate terms in :mod:`saddlepoint.penalties`; the schedule that alternates
the players is in :mod:`saddlepoint.schedule`.

A new game is one class here with ``@register_game("name")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Protocol

from torch import Tensor
from torch.nn.functional import relu, softplus

from .divergences import DIVERGENCES, FDivergence

__all__ = ["Game", "GAMES", "register_game", "get_game", "FGAN"]


class Game(Protocol):
    name: str
    summary: str  # one line for `saddlepoint recipes --games`

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor: ...

    def g_loss(self, fake: Tensor) -> Tensor: ...


GAMES: dict[str, Callable[[], Game]] = {}


def register_game(name: str):
    """Class decorator: make a game constructible by name (``game=<name>`` in a recipe)."""

    def deco(factory):
        if name in GAMES:
            raise ValueError(f"game {name!r} is registered twice")
        GAMES[name] = factory
        return factory

    return deco


def get_game(name: str) -> Game:
    try:
        return GAMES[name]()
    except KeyError:
        raise KeyError(f"unknown game {name!r}; choose one of {', '.join(GAMES)}") from None


@register_game("minimax")
@dataclass(frozen=True)
class Minimax:
    """Goodfellow et al. 2014, eq. (1): min_G max_D E log D(x) + E log(1 − D(G(z))).

    With D = sigmoid(s): log D = −softplus(−s), log(1 − D) = −softplus(s).  At the optimal critic
    D* = p/(p+q) the value is 2·JSD(P‖Q) − log 4.  The generator's loss saturates when D rejects
    its samples confidently.
    """

    name: str = "minimax"
    summary: ClassVar[str] = "original GAN, min_G max_D E log D(x) + E log(1 − D(G(z))) (saturating)"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        # −[E log D(x) + E log(1 − D(G(z)))]
        return softplus(-real).mean() + softplus(fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        # minimize E log(1 − D(G(z)))
        return -softplus(fake).mean()


@register_game("nonsaturating")
@dataclass(frozen=True)
class NonSaturating(Minimax):
    """The "−log D trick" of Goodfellow et al. 2014: the critic plays minimax, the generator
    maximizes E log D(G(z)) instead, which has strong gradients where D rejects the samples."""

    name: str = "nonsaturating"
    summary: ClassVar[str] = "critic as minimax; generator maximizes E log D(G(z)) (the −log D trick)"

    def g_loss(self, fake: Tensor) -> Tensor:
        # minimize −E log D(G(z))
        return softplus(-fake).mean()


@dataclass(frozen=True)
class FGAN:
    """f-GAN (Nowozin et al. 2016, eq. 6): min_G max_T E_P[T(x)] − E_Q[f*(T(x))], T = activation(score).

    The critic maximizes the variational lower bound on D_f(P‖Q); the generator minimizes the same
    bound (the saddle-point form of the paper, their eq. 6, not its "−log D"-style alternative).
    """

    divergence: FDivergence

    @property
    def name(self) -> str:
        return f"fgan-{self.divergence.name}"

    @property
    def summary(self) -> str:
        return f"f-GAN: variational bound on the {self.divergence.title} divergence"

    def bound(self, real: Tensor, fake: Tensor) -> Tensor:
        """The variational lower bound E_P[T] − E_Q[f*(T)] that the critic pushes up."""
        t_real = self.divergence.activation(real)
        t_fake = self.divergence.activation(fake)
        return t_real.mean() - self.divergence.f_conjugate(t_fake).mean()

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return -self.bound(real, fake)

    def g_loss(self, fake: Tensor) -> Tensor:
        # The generator's part of the bound: −E_Q[f*(T(G(z)))]
        return -self.divergence.f_conjugate(self.divergence.activation(fake)).mean()


for _div in DIVERGENCES.values():
    register_game(f"fgan-{_div.name}")(lambda d=_div: FGAN(d))


@register_game("lsgan")
@dataclass(frozen=True)
class LeastSquares:
    """Least-squares GAN (Mao et al. 2017, eq. 2 with a=0, b=1, c=1): the critic regresses real
    scores to 1 and fake scores to 0; the generator pulls its scores to 1.  With these targets the
    generator minimizes a Pearson χ²-type divergence (their Theorem 1 holds for b−c=1, b−a=2; these
    0-1 targets are the variant the paper uses in practice)."""

    name: str = "lsgan"
    summary: ClassVar[str] = "least squares: real scores → 1, fake → 0; generator pulls its scores to 1"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return 0.5 * ((fake - 1) ** 2).mean()


@register_game("wasserstein")
@dataclass(frozen=True)
class Wasserstein:
    """WGAN (Arjovsky et al. 2017): the critic maximizes E_P[D] − E_Q[D]; by Kantorovich-Rubinstein
    duality its supremum over 1-Lipschitz critics is W1(P, Q).  The game is only meaningful with a
    Lipschitz constraint: weight clipping (``weight_clip``), a gradient penalty (Gulrajani et al.
    2017, ``gradient_penalty``) or spectral normalization (``spectral_norm``)."""

    name: str = "wasserstein"
    summary: ClassVar[str] = "WGAN: critic maximizes E_P[D] − E_Q[D] (needs weight_clip, gradient_penalty or spectral_norm)"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


@register_game("hinge")
@dataclass(frozen=True)
class Hinge:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): the critic is a large-margin classifier with
    margin 1; the generator raises its scores as in WGAN."""

    name: str = "hinge"
    summary: ClassVar[str] = "hinge: critic max-margin with margin 1, generator raises its scores"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return relu(1 - real).mean() + relu(1 + fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()
