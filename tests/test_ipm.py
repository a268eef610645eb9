"""The kernels of the MMD and the three integral probability metrics as suprema over their critic classes,
checked against an exact optimal-transport solver, closed forms and scipy."""

import numpy as np
import pytest
import torch

from saddlepoint import ConfigError, resolve_config
from saddlepoint.divergences import mmd2
from saddlepoint.ipm import ipm
from saddlepoint.kernels import KERNELS, kernel_values, median_width


def _sets(n=25, m=35, d=2, shift=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(m, d, generator=g,
                                                                            dtype=torch.float64) + shift


# --- kernels ---------------------------------------------------------------------------------------------------
def test_the_gaussian_kernel_is_the_mmd_it_always_was():
    x, y = _sets()
    d2 = torch.cdist(torch.cat([x, y]), torch.cat([x, y])).pow(2)
    k = sum(torch.exp(-d2 / (2 * s**2)) for s in (0.5, 2.0))
    n = len(x)
    by_hand = (k[:n, :n].sum() - k[:n, :n].diagonal().sum()) / (n * (n - 1)) + \
        (k[n:, n:].sum() - k[n:, n:].diagonal().sum()) / (35 * 34) - 2 * k[:n, n:].mean()
    assert torch.allclose(mmd2(x, y, (0.5, 2.0)), by_hand)


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_every_kernel_is_positive_definite_and_its_mmd_tells_sets_apart(kernel):
    x, y = _sets()
    pts = torch.cat([x, y])
    gram = kernel_values(torch.cdist(pts, pts).pow(2), kernel, (0.5, 2.0), alpha=0.7)
    assert torch.linalg.eigvalsh(gram).min() > -1e-8
    same = mmd2(x, _sets(seed=1, shift=0.0)[0], (0.5, 2.0), kernel=kernel, alpha=0.7)
    apart = mmd2(x, y, (0.5, 2.0), kernel=kernel, alpha=0.7)
    assert apart > 10 * abs(same)


def test_the_median_heuristic_takes_the_median_distance():
    from scipy.spatial.distance import pdist

    x, y = _sets()
    pts = torch.cat([x, y])
    assert float(median_width(torch.cdist(pts, pts).pow(2))) == pytest.approx(np.median(pdist(pts.numpy())), rel=1e-6)


def test_the_unbiased_estimate_is_unbiased_and_the_biased_one_is_not():
    g = torch.Generator().manual_seed(0)
    est = torch.tensor([[float(mmd2(torch.randn(20, 2, generator=g), torch.randn(20, 2, generator=g), 1.0,
                                    unbiased=u)) for u in (True, False)] for _ in range(300)])
    unbiased, biased = est.mean(0)
    assert abs(unbiased) < 3 * est[:, 0].std() / 300**0.5  # same distribution: zero on average
    assert biased > 0.02 and (est[:, 1] > 0).all()  # the V-statistic's diagonal keeps it above zero


def test_gmmn_kernel_keys_train_and_refuse_what_does_not_fit():
    from saddlepoint.trainer import build

    for over in (["gmmn_kernel=rq", "gmmn_alpha=0.5"], ["gmmn_kernel=imq"], ["gmmn_kernel=median"],
                 ["gmmn_loss=mmd2_biased"]):
        _, cfg = resolve_config("gmmn-grid25", [*over, "gmmn_hidden=[16]", "batch_size=32"])
        model = build(cfg)
        assert torch.isfinite(model.train_step()["loss/G"])
    assert "rq kernel" in build(resolve_config("gmmn-grid25", ["gmmn_kernel=rq"])[1]).objective()
    with pytest.raises(ConfigError, match="takes its one width from the batch's median"):
        resolve_config("gmmn-grid25", ["gmmn_kernel=median", "gmmn_widths=[1,2]"])
    with pytest.raises(ConfigError, match="gmmn_alpha shapes the rational quadratic"):
        resolve_config("gmmn-grid25", ["gmmn_alpha=2"])


# --- the three suprema ------------------------------------------------------------------------------------------
def test_w1_as_a_supremum_over_lipschitz_critics_is_the_optimal_transport_cost():
    import ot

    x, y = _sets()
    exact = ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), ot.dist(x.numpy(), y.numpy(),
                                                                                     metric="euclidean"))
    found = ipm(x, y, "w1")
    assert found["value"] == pytest.approx(exact, rel=1e-6)
    f = found["witness"]
    assert float(f(x).mean() - f(y).mean()) == pytest.approx(exact, rel=1e-6)  # the critic attains it
    t = torch.randn(200, 2, dtype=torch.float64)
    lip = (f(t)[:, None] - f(t)[None]).abs() / torch.cdist(t, t).clamp_min(1e-12)
    assert lip.max() <= 1 + 1e-6  # and is 1-Lipschitz off the samples too
    trained = ipm(x, y, "w1", critic=True, steps=1500)["value"]
    assert 0.85 * exact < trained <= exact + 1e-9  # a critic of the class: never above the supremum


def test_w1_in_one_dimension_is_scipys():
    from scipy.stats import wasserstein_distance

    x, y = _sets(d=1, shift=0.7)
    assert ipm(x, y, "w1")["value"] == pytest.approx(wasserstein_distance(x[:, 0], y[:, 0]), rel=1e-6)


def test_tv_is_half_the_l1_gap_of_the_histograms_and_blind_to_distance():
    x = torch.tensor([[0.0], [0.0], [1.0], [2.0]])
    y = torch.tensor([[0.0], [1.0], [1.0], [1.0], [2.0], [3.0]])
    p, q = np.array([2, 1, 1, 0]) / 4, np.array([1, 3, 1, 1]) / 6
    found = ipm(x, y, "tv")
    assert found["value"] == pytest.approx(0.5 * np.abs(p - q).sum())
    assert float(found["witness"](x).mean() - found["witness"](y).mean()) == pytest.approx(found["value"])
    near, far = _sets(shift=0.05), _sets(shift=5.0)
    assert ipm(*near, "tv")["value"] == ipm(*far, "tv")["value"] == 1.0  # disjoint samples: always 1
    assert ipm(*near, "w1")["value"] < 0.5 * ipm(*far, "w1")["value"]  # W1 sees how far apart they are
    assert ipm(*far, "tv", critic=True, steps=500)["value"] > 0.95  # a bounded critic finds it too


def test_the_mmd_witness_attains_the_closed_form_and_beats_other_unit_functions():
    x, y = _sets()
    found = ipm(x, y, "mmd", widths=(1.0,))
    assert found["value"] ** 2 == pytest.approx(float(mmd2(x, y, 1.0, unbiased=False)), rel=1e-9)
    f = found["witness"]
    assert float(f(x).mean() - f(y).mean()) == pytest.approx(found["value"], rel=1e-9)
    # any other unit-norm function Σ c_i k(p_i, ·) does no better (Cauchy-Schwarz in the RKHS)
    pts = torch.cat([x, y])
    K = torch.exp(-torch.cdist(pts, pts).pow(2) / 2)
    a = torch.cat([torch.full((len(x),), 1 / len(x)), torch.full((len(y),), -1 / len(y))]).double()
    for seed in range(20):
        c = torch.randn(len(pts), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        c = c / (c @ K @ c).sqrt()
        assert float(a @ K @ c) <= found["value"] + 1e-12
    with pytest.raises(ValueError, match="closed form"):
        ipm(x, y, "mmd", critic=True)
