"""f-divergences as data, and the other distances the theory uses.

An f-divergence between densities p and q is

    D_f(P || Q) = ∫ q(x) f(p(x) / q(x)) dx,        f convex, f(1) = 0.

Fenchel duality, f(u) = sup_t [t u - f*(t)], turns it into a variational lower bound over critics T
(Nguyen, Wainwright & Jordan 2010; Nowozin, Cseke & Tomioka 2016, "f-GAN"):

    D_f(P || Q) >= sup_T  E_P[T(x)] - E_Q[f*(T(x))],

with equality at T*(x) = f'(p(x) / q(x)).  A critic network outputs a raw score v; the divergence's
``activation`` maps v into the domain of f*, so T = activation(v).  Every activation here is increasing,
so "a higher raw score means more real" holds for every f-GAN.

Each divergence is therefore data: ``f``, ``f_conjugate``, ``activation`` and ``f_prime`` (the optimal
critic).  The f-GAN objective in :mod:`saddlepoint.games` is built from these four functions.

Conventions: ``js`` is the Jensen-Shannon divergence itself, JSD = ½ KL(P‖M) + ½ KL(Q‖M) with
M = (P+Q)/2 (so its f is half the one in the f-GAN paper's table, and f*, the activation and f' are
scaled to match).  ``gan`` is the paper's "GAN" row, f(u) = u log u − (u+1) log(u+1), shifted by the
constant log 4 so that f(1) = 0: D_gan = 2·JSD, and the original GAN's value at the optimal
discriminator, 2·JSD − log 4, is D_gan − log 4.  (A constant shift of f shifts f* the other way and
changes no gradient.)  ``tv`` is ½ ∫ |p − q|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from torch.nn.functional import softplus

from .kernels import kernel_values

__all__ = [
    "FDivergence",
    "DIVERGENCES",
    "get_divergence",
    "wasserstein1_1d",
    "mmd2",
    "mmd2_from_kernel",
]

TensorFn = Callable[[Tensor], Tensor]
LOG2 = math.log(2.0)
LOG4 = math.log(4.0)


@dataclass(frozen=True)
class FDivergence:
    """One f-divergence: its generator f, Fenchel conjugate f*, output activation and f'.

    ``conjugate_domain`` is the open interval (lo, hi) on which f* is finite (for ``tv``, the closed
    interval [-½, ½]); ``activation`` maps any real raw score strictly inside it.
    ``gaussian_closed_form`` (if any) gives D_f(N(m1, s1²) ‖ N(m2, s2²)).
    """

    name: str
    title: str
    f: TensorFn
    f_conjugate: TensorFn
    activation: TensorFn
    f_prime: TensorFn
    conjugate_domain: tuple[float, float]
    gaussian_closed_form: Callable[[float, float, float, float], float] | None = None

    # ---- closed forms -------------------------------------------------------------------------
    def discrete(self, p: Tensor, q: Tensor) -> Tensor:
        """D_f(p ‖ q) = Σ_i q_i f(p_i / q_i) for probability vectors with q_i > 0 everywhere."""
        p = torch.as_tensor(p, dtype=torch.float64)
        q = torch.as_tensor(q, dtype=torch.float64)
        if (q <= 0).any():
            raise ValueError(f"{self.name}: q must be positive everywhere for the discrete form")
        return (q * self.f(p / q)).sum()

    def gaussian(self, m1: float, s1: float, m2: float, s2: float) -> float:
        """D_f(N(m1, s1²) ‖ N(m2, s2²)): the closed form where one exists (inf where the integral diverges), else
        numerical integration."""
        if self.gaussian_closed_form is not None:
            value = self.gaussian_closed_form(m1, s1, m2, s2)
            if not math.isnan(value):
                return value
        return self.gaussian_numeric(m1, s1, m2, s2)

    def gaussian_numeric(self, m1: float, s1: float, m2: float, s2: float) -> float:
        """∫ q f(p/q) dx by adaptive quadrature (scipy.integrate.quad), in log space for stability; inf where the
        integral diverges.  Over ±14 standard deviations a convergent integrand has left less than e⁻⁹⁸ of its mass
        outside; one whose tails do not vanish (Neyman χ² with 2·s1² < s2², for one) grows when the range is widened
        to ±20, which is how divergence is told apart from a large finite value."""
        from scipy import integrate

        def integrand(x: float) -> float:
            logp = _normal_logpdf(x, m1, s1)
            logq = _normal_logpdf(x, m2, s2)
            u = torch.tensor(math.exp(min(logp - logq, 700.0)), dtype=torch.float64)
            return math.exp(logq) * float(self.f(u))

        def over(width: float) -> float:
            import warnings

            lo = min(m1 - width * s1, m2 - width * s2)
            hi = max(m1 + width * s1, m2 + width * s2)
            with warnings.catch_warnings():  # a divergent integrand trips quad's round-off check: told apart below
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                value, _ = integrate.quad(integrand, lo, hi, points=sorted({m1, m2}), limit=400, epsabs=1e-11,
                                          epsrel=1e-10)
            return float(value)

        value = over(14)
        wider = over(20)
        if not math.isfinite(wider) or wider > value + 1e-6 * max(1.0, abs(value)):
            return math.inf
        return value


def _normal_logpdf(x: float, m: float, s: float) -> float:
    return -0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)


# ---- Gaussian closed forms -------------------------------------------------------------------
def _kl_gauss(m1: float, s1: float, m2: float, s2: float) -> float:
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def _hellinger_gauss(m1: float, s1: float, m2: float, s2: float) -> float:
    # ∫ (√p − √q)² = 2 (1 − Bhattacharyya coefficient)
    v = s1**2 + s2**2
    bc = math.sqrt(2 * s1 * s2 / v) * math.exp(-((m1 - m2) ** 2) / (4 * v))
    return 2 * (1 - bc)


def _pearson_gauss(m1: float, s1: float, m2: float, s2: float) -> float:
    # ∫ p²/q − 1 is finite only when 2 s2² > s1²
    d = 2 * s2**2 - s1**2
    if d <= 0:
        return math.inf
    return s2**2 / (s1 * math.sqrt(d)) * math.exp((m1 - m2) ** 2 / d) - 1


# ---- the table ---------------------------------------------------------------------------------
def _xlogx(u: Tensor) -> Tensor:
    return torch.xlogy(u, u)


DIVERGENCES: dict[str, FDivergence] = {}


def _register(d: FDivergence) -> FDivergence:
    DIVERGENCES[d.name] = d
    return d


KL = _register(FDivergence(
    name="kl", title="Kullback-Leibler KL(P‖Q)",
    f=_xlogx,
    f_conjugate=lambda t: torch.exp(t - 1),
    activation=lambda v: v,
    f_prime=lambda u: 1 + torch.log(u),
    conjugate_domain=(-math.inf, math.inf),
    gaussian_closed_form=_kl_gauss,
))

REVERSE_KL = _register(FDivergence(
    name="reverse_kl", title="reverse Kullback-Leibler KL(Q‖P)",
    f=lambda u: -torch.log(u),
    f_conjugate=lambda t: -1 - torch.log(-t),
    activation=lambda v: -torch.exp(-v),
    f_prime=lambda u: -1 / u,
    conjugate_domain=(-math.inf, 0.0),
    gaussian_closed_form=lambda m1, s1, m2, s2: _kl_gauss(m2, s2, m1, s1),
))

PEARSON = _register(FDivergence(
    name="pearson", title="Pearson χ²",
    f=lambda u: (u - 1) ** 2,
    f_conjugate=lambda t: t**2 / 4 + t,
    activation=lambda v: v,
    f_prime=lambda u: 2 * (u - 1),
    conjugate_domain=(-math.inf, math.inf),
    gaussian_closed_form=_pearson_gauss,
))

NEYMAN = _register(FDivergence(
    name="neyman", title="Neyman χ²",
    f=lambda u: (1 - u) ** 2 / u,
    f_conjugate=lambda t: 2 - 2 * torch.sqrt(1 - t),
    activation=lambda v: 1 - torch.exp(-v),
    f_prime=lambda u: 1 - u**-2,
    conjugate_domain=(-math.inf, 1.0),
    gaussian_closed_form=lambda m1, s1, m2, s2: _pearson_gauss(m2, s2, m1, s1),
))

HELLINGER = _register(FDivergence(
    name="hellinger", title="squared Hellinger",
    f=lambda u: (torch.sqrt(u) - 1) ** 2,
    f_conjugate=lambda t: t / (1 - t),
    activation=lambda v: 1 - torch.exp(-v),
    f_prime=lambda u: 1 - u**-0.5,
    conjugate_domain=(-math.inf, 1.0),
    gaussian_closed_form=_hellinger_gauss,
))

JENSEN_SHANNON = _register(FDivergence(
    name="js", title="Jensen-Shannon",
    f=lambda u: 0.5 * (_xlogx(u) - (u + 1) * torch.log((u + 1) / 2)),
    f_conjugate=lambda t: -0.5 * torch.log(2 - torch.exp(2 * t)),
    activation=lambda v: 0.5 * (LOG2 - softplus(-v)),
    f_prime=lambda u: 0.5 * torch.log(2 * u / (1 + u)),
    conjugate_domain=(-math.inf, 0.5 * LOG2),
))

GAN = _register(FDivergence(
    name="gan", title="GAN (2·JSD; the GAN value is this − log 4)",
    f=lambda u: _xlogx(u) - (u + 1) * torch.log(u + 1) + LOG4,
    f_conjugate=lambda t: -torch.log(1 - torch.exp(t)) - LOG4,
    activation=lambda v: -softplus(-v),
    f_prime=lambda u: torch.log(u / (u + 1)),
    conjugate_domain=(-math.inf, 0.0),
))

TOTAL_VARIATION = _register(FDivergence(
    name="tv", title="total variation",
    f=lambda u: 0.5 * torch.abs(u - 1),
    f_conjugate=lambda t: t,
    activation=lambda v: 0.5 * torch.tanh(v),
    f_prime=lambda u: 0.5 * torch.sign(u - 1),
    conjugate_domain=(-0.5, 0.5),
))


def get_divergence(name: str) -> FDivergence:
    """The registered f-divergence called ``name`` (see ``DIVERGENCES``)."""
    try:
        return DIVERGENCES[name]
    except KeyError:
        raise KeyError(f"unknown divergence {name!r}; choose one of {', '.join(DIVERGENCES)}") from None


# ---- integral probability metrics ----------------------------------------------------------------
def wasserstein1_1d(x: np.ndarray | Tensor, y: np.ndarray | Tensor) -> float:
    """W1 between two 1-D empirical distributions (scipy's exact quantile-coupling formula).

    By Kantorovich-Rubinstein duality this equals sup over 1-Lipschitz T of E_x[T] − E_y[T], the value
    a perfectly constrained WGAN critic attains.
    """
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()))


def mmd2(x: Tensor, y: Tensor, bandwidths: tuple[float, ...] | float = 1.0, unbiased: bool = True,
         kernel: str = "gaussian", alpha: float = 1.0) -> Tensor:
    """Squared maximum mean discrepancy, by default with a (sum of) Gaussian kernel(s) k(a, b) = exp(−‖a−b‖² / 2σ²);
    ``kernel``: any of :data:`saddlepoint.kernels.KERNELS` (``bandwidths`` are its widths; ``alpha`` the rational
    quadratic's shape).

    Gretton et al. 2012, eq. (3) (unbiased U-statistic) or eq. (5)-style biased V-statistic.
    ``x``: (n, d), ``y``: (m, d).  Differentiable, so it also serves as a training loss (GMMN).
    """
    if isinstance(bandwidths, (int, float)):
        bandwidths = (float(bandwidths),)
    x = x.flatten(1)
    y = y.flatten(1)
    n = x.shape[0]
    xy = torch.cat([x, y], dim=0)
    d2 = torch.cdist(xy, xy).pow(2)  # (n+m, n+m)
    return mmd2_from_kernel(kernel_values(d2, kernel, bandwidths, alpha), n, unbiased)


def mmd2_from_kernel(k: Tensor, n: int, unbiased: bool = True) -> Tensor:
    """Squared MMD from ``k``, the kernel matrix of the pooled sample whose first ``n`` points are x and the rest y
    (a permutation test reshuffles its rows and columns instead of computing it again)."""
    m = k.shape[0] - n
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    if unbiased:
        if n < 2 or m < 2:
            raise ValueError("the unbiased MMD estimate needs at least 2 samples on each side")
        sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
        syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    else:
        sxx, syy = kxx.mean(), kyy.mean()
    return sxx + syy - 2 * kxy.mean()
