"""Closed-form checks of every f-divergence: f(1) = 0, Fenchel duality, domains, known values."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy, norm

from saddlepoint.divergences import DIVERGENCES, get_divergence, mmd2, wasserstein1_1d

ALL = sorted(DIVERGENCES)
D64 = torch.float64


@pytest.mark.parametrize("name", ALL)
def test_f_vanishes_at_one(name):
    d = DIVERGENCES[name]
    assert abs(float(d.f(torch.tensor(1.0, dtype=D64)))) < 1e-12


@pytest.mark.parametrize("name", ALL)
def test_biconjugate_recovers_f(name):
    """f**(u) = sup_t [t u − f*(t)] over f*'s domain equals f(u) (Fenchel-Moreau; f is convex, closed)."""
    d = DIVERGENCES[name]
    lo, hi = d.conjugate_domain
    lo = max(lo, -500.0)
    inner = min(hi, 40.0) - (1e-9 if name != "tv" else 0.0)
    t = torch.linspace(lo, inner, 400001, dtype=D64)
    ft = d.f_conjugate(t)
    for u in [0.05, 0.3, 0.7, 1.0, 1.5, 3.0, 6.0]:
        sup = float((t * u - ft).max())
        assert sup == pytest.approx(float(d.f(torch.tensor(u, dtype=D64))), abs=2e-4, rel=1e-3), (name, u)


@pytest.mark.parametrize("name", ALL)
def test_fenchel_young_equality_at_optimal_critic(name):
    """f(u) + f*(f'(u)) = u f'(u): T* = f'(p/q) attains the supremum pointwise."""
    d = DIVERGENCES[name]
    u = torch.tensor([0.2, 0.6, 1.7, 4.0], dtype=D64)
    t = d.f_prime(u)
    assert torch.allclose(d.f(u) + d.f_conjugate(t), u * t, atol=1e-10)


@pytest.mark.parametrize("name", [n for n in ALL if n != "tv"])
def test_f_prime_is_the_derivative(name):
    d = DIVERGENCES[name]
    u = torch.tensor([0.3, 0.9, 1.1, 2.5], dtype=D64, requires_grad=True)
    (g,) = torch.autograd.grad(d.f(u).sum(), u)
    assert torch.allclose(g, d.f_prime(u.detach()), atol=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_activation_maps_into_conjugate_domain_and_increases(name):
    d = DIVERGENCES[name]
    v = torch.linspace(-15, 15, 3001, dtype=D64)
    t = d.activation(v)
    lo, hi = d.conjugate_domain
    assert (t >= lo).all() and (t <= hi).all()
    assert torch.isfinite(d.f_conjugate(t)).all()
    assert (t.diff() >= 0).all() and t[-1] > t[0]  # higher raw score = more real


P = np.array([0.4, 0.3, 0.1, 0.1, 0.1])
Q = np.array([0.1, 0.1, 0.2, 0.3, 0.3])


def test_discrete_values_match_independent_formulas():
    dv = {n: float(DIVERGENCES[n].discrete(torch.tensor(P), torch.tensor(Q))) for n in ALL}
    jsd = jensenshannon(P, Q) ** 2  # scipy returns the square root, natural log by default
    assert dv["kl"] == pytest.approx(entropy(P, Q))
    assert dv["reverse_kl"] == pytest.approx(entropy(Q, P))
    assert dv["pearson"] == pytest.approx(((P - Q) ** 2 / Q).sum())
    assert dv["neyman"] == pytest.approx(((P - Q) ** 2 / P).sum())
    assert dv["hellinger"] == pytest.approx(((np.sqrt(P) - np.sqrt(Q)) ** 2).sum())
    assert dv["js"] == pytest.approx(jsd)
    assert dv["gan"] == pytest.approx(2 * jsd)
    assert dv["tv"] == pytest.approx(0.5 * np.abs(P - Q).sum())


GAUSS = [(0.0, 1.0, 1.0, 1.0), (0.5, 1.0, -0.3, 1.1), (0.0, 1.0, 0.2, 1.3)]


@pytest.mark.parametrize("params", GAUSS)
@pytest.mark.parametrize("name", ["kl", "reverse_kl", "pearson", "neyman", "hellinger"])
def test_gaussian_closed_forms_agree_with_quadrature(name, params):
    d = DIVERGENCES[name]
    closed = d.gaussian_closed_form(*params)
    assert math.isfinite(closed)
    assert closed == pytest.approx(d.gaussian_numeric(*params), rel=1e-6, abs=1e-9)


def test_gaussian_tv_and_gan_by_quadrature():
    # Equal variances: TV = 2Φ(|Δμ| / 2σ) − 1; and the GAN divergence (normalized to f(1) = 0) is 2·JSD.
    tv = get_divergence("tv").gaussian(0.0, 1.0, 1.5, 1.0)
    assert tv == pytest.approx(2 * norm.cdf(0.75) - 1, abs=1e-7)
    js = get_divergence("js").gaussian(0.0, 1.0, 1.5, 1.0)
    gan = get_divergence("gan").gaussian(0.0, 1.0, 1.5, 1.0)
    assert gan == pytest.approx(2 * js, abs=1e-7)
    assert 0 < js < math.log(2)


@pytest.mark.parametrize("name, params", [("pearson", (0.0, 2.0, 0.0, 1.0)), ("neyman", (0.0, 1.0, 1.0, 2.0)),
                                          ("pearson", (0.0, 1.5, 2.0, 1.0))])
def test_chi2_gaussians_are_infinite_where_the_integral_diverges(name, params):
    """Pearson χ² of N(m1, s1²) ‖ N(m2, s2²) is finite only when 2·s2² > s1² (Neyman's mirrors it): the closed form,
    the quadrature and ``gaussian`` all say inf there, not a large number (Neyman gave 2.1e95 before)."""
    d = get_divergence(name)
    assert math.isinf(d.gaussian_closed_form(*params))
    assert math.isinf(d.gaussian_numeric(*params))
    assert math.isinf(d.gaussian(*params))


def test_the_quadrature_keeps_a_large_finite_value_finite():
    d = get_divergence("pearson")
    params = (0.0, 1.0, 6.0, 1.0)  # e^{36} − 1 ≈ 4.3e15: large, and finite
    assert d.gaussian_numeric(*params) == pytest.approx(d.gaussian_closed_form(*params), rel=1e-6)


def test_unknown_divergence_names_the_choices():
    with pytest.raises(KeyError, match="choose one of"):
        get_divergence("kll")


def test_wasserstein1_of_shifted_samples_is_the_shift():
    x = np.random.default_rng(0).normal(size=5000)
    assert wasserstein1_1d(x, x + 0.7) == pytest.approx(0.7, abs=1e-9)
    y = np.random.default_rng(1).normal(loc=2.0, size=200000)
    z = np.random.default_rng(2).normal(loc=0.0, size=200000)
    assert wasserstein1_1d(y, z) == pytest.approx(2.0, abs=0.02)


def test_mmd_is_zero_on_one_distribution_and_positive_between_two():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(800, 2, generator=g, dtype=D64)
    b = torch.randn(800, 2, generator=g, dtype=D64)
    c = torch.randn(800, 2, generator=g, dtype=D64) + torch.tensor([1.0, 0.0], dtype=D64)
    same = float(mmd2(a, b, bandwidths=(0.5, 1.0, 2.0)))
    diff = float(mmd2(a, c, bandwidths=(0.5, 1.0, 2.0)))
    assert abs(same) < 0.01
    assert diff > 0.2
    assert float(mmd2(a, c)) == pytest.approx(float(mmd2(c, a)), abs=1e-12)
    assert float(mmd2(a, a, unbiased=False)) == pytest.approx(0.0, abs=1e-12)
