"""`saddlepoint theory NAME`: each experiment's numbers against the theory it shows (quick settings)."""

import math

import numpy as np
import pytest

from saddlepoint.cli import main
from saddlepoint.theory import EXPERIMENTS, run_experiment


def test_disjoint_supports_js_and_tv_stick_kl_grows_w1_tracks_the_distance(tmp_path):
    r, path = run_experiment("disjoint", tmp_path / "d.png", quick=True)
    t = r.values["table"]
    assert t[(0.5, "js")]["estimate"] == pytest.approx(math.log(2), abs=0.02)
    assert t[(0.5, "tv")]["estimate"] == pytest.approx(1.0, abs=0.02)
    assert t[(0.5, "w1")]["estimate"] == pytest.approx(0.5, abs=0.1)
    kl = t[(0.5, "kl")]
    assert kl["estimate"] > 2 * kl["half"] > 5  # still climbing: no finite supremum
    for kind in ("js", "kl", "reverse_kl", "tv", "w1"):
        assert abs(t[(0.0, kind)]["estimate"]) < 0.05  # the same line: every divergence near 0
    # The generator's push: W1's is of order one toward the data; a saturated JS or TV critic's is near nothing.
    assert t[(0.5, "w1")]["grad"] > 0.5
    assert abs(t[(0.5, "js")]["grad"]) < 0.05 and abs(t[(0.5, "tv")]["grad"]) < 0.05
    # MMD² (σ = 0.5, no critic): its closed form against a 2-D quadrature, its estimate, and a push toward the data
    from saddlepoint.theory.divergence import MMD_WIDTH, disjoint_closed_forms

    u = np.linspace(0, 1, 801)
    du = u[1] - u[0]
    w = np.full_like(u, du)
    w[[0, -1]] = du / 2  # the trapezoid's weights
    same = w @ np.exp(-((u[:, None] - u[None, :]) ** 2) / (2 * MMD_WIDTH**2)) @ w
    assert disjoint_closed_forms(0.5)["mmd"] == pytest.approx(2 * same * (1 - math.exp(-0.5**2 / (2 * MMD_WIDTH**2))),
                                                              rel=1e-6)
    assert t[(0.5, "mmd")]["estimate"] == pytest.approx(t[(0.5, "mmd")]["exact"], abs=0.01)
    assert t[(0.5, "mmd")]["grad"] > 0.5 and abs(t[(0.0, "mmd")]["estimate"]) < 0.005
    assert path.stat().st_size > 10_000


def test_duality_every_device_gives_a_lower_bound_and_the_penalty_comes_close(tmp_path):
    from saddlepoint.ipm import ipm
    from saddlepoint.theory.duality import two_sets

    r, _ = run_experiment("duality", tmp_path / "k.png", quick=True)
    w1 = r.values["w1"]
    x, y = two_sets(128, 0)
    assert w1 == pytest.approx(ipm(x, y, "w1")["value"], rel=1e-6)  # POT's simplex and the LP agree
    for device, found in r.values["found"].items():
        assert 0 < found["bound"] <= w1 + 1e-9, device
    assert r.values["found"]["gradient penalty"]["bound"] > 0.85 * w1
    assert r.values["found"]["clipping"]["slope"] < 0.1  # clipping leaves the slope far below 1


def test_mode_seeking_reverse_kl_takes_one_mode_and_forward_kl_covers_both(tmp_path):
    r, _ = run_experiment("mode-seeking", tmp_path / "m.png")
    fits = r.values["fits"]
    assert fits["kl"]["mu"] == pytest.approx(0, abs=1e-3)
    assert fits["kl"]["sigma"] == pytest.approx(math.sqrt(4 + 0.25), rel=1e-3)  # moment matching
    assert abs(fits["reverse_kl"]["mu"]) == pytest.approx(2, abs=0.02)
    assert fits["reverse_kl"]["sigma"] == pytest.approx(0.5, abs=0.02)
    assert fits["kl"]["covered"] == 2 and fits["reverse_kl"]["covered"] == 1
    for width in (0.5, 4):  # GMMN's objective covers both modes, the narrow kernel wider than moment matching
        f = fits[f"mmd:{width:g}"]
        assert f["covered"] == 2 and abs(f["mu"]) < 1e-3 and f["sigma"] > 2.0
        # the grid ends at ±9, four of q’s σ: a wide kernel’s small MMD² is a difference of terms near 0.4
        assert f["value"] == pytest.approx(_mmd2_two_modes(f["mu"], f["sigma"], width), rel=1e-4, abs=2e-6)
    assert fits["mmd:0.5"]["sigma"] > fits["kl"]["sigma"] + 0.5 > fits["mmd:4"]["sigma"]


def _mmd2_two_modes(mu, sigma, width):
    """MMD² between ½N(−2, 0.5²) + ½N(2, 0.5²) and N(μ, σ²) in closed form (Gaussian integrals of the kernel)."""
    from saddlepoint.theory.kernel import mean_kernel

    p = [(-2.0, 0.5), (2.0, 0.5)]
    pp = sum(0.25 * mean_kernel(m1, s1, m2, s2, width) for m1, s1 in p for m2, s2 in p)
    pq = sum(0.5 * mean_kernel(m, s, mu, sigma, width) for m, s in p)
    return pp - 2 * pq + mean_kernel(mu, sigma, mu, sigma, width)


def test_gda_simultaneous_spirals_out_and_both_alternating_orders_circle(tmp_path):
    r, _ = run_experiment("gda", tmp_path / "g.png", quick=True)
    v = r.values
    assert v[("bilinear", "simultaneous")]["rho"] == pytest.approx(math.sqrt(1 + 0.1 ** 2), abs=1e-6)
    for order in ("alternating", "generator-first"):
        assert v[("bilinear", order)]["rho"] == pytest.approx(1.0, abs=1e-6)
        assert v[("bilinear", order)]["first_diverging"] > 2  # bounded up to η = 2
        assert v[("Dirac GAN", order)]["max_radius"] < 1.2
    assert v[("bilinear", "simultaneous")]["first_diverging"] < 0.3
    assert v[("Dirac GAN", "simultaneous")]["radius"] > 1.5
    assert v[("Dirac GAN", "simultaneous")]["rho"] == pytest.approx(math.sqrt(1 + (0.2 / 2) ** 2), abs=1e-6)


def test_optimal_discriminator_and_the_games_value(tmp_path):
    r, _ = run_experiment("optimal-discriminator", tmp_path / "o.png", quick=True)
    assert r.values["max_error"] < 0.06
    assert r.values["optimum"] - 0.003 < r.values["value"] <= r.values["optimum"] + 1e-6


def test_zero_one_errors_sit_at_or_above_the_bayes_error(tmp_path):
    from saddlepoint.theory import normal_pdf
    from saddlepoint.theory.discriminator import P_MEAN, P_STD, Q_MEAN, Q_STD

    r, _ = run_experiment("zero-one", tmp_path / "z.png", quick=True)
    x = np.linspace(-12, 12, 200001)
    direct = 0.5 * np.trapezoid(np.minimum(normal_pdf(x, P_MEAN, P_STD), normal_pdf(x, Q_MEAN, Q_STD)), x)
    assert r.values["bayes"] == pytest.approx(direct, abs=1e-6)
    assert r.values["errors"][0] == pytest.approx(r.values["bayes"], abs=1e-6)  # the Bayes rule attains it
    for err in r.values["errors"]:
        assert r.values["bayes"] - 1e-6 <= err < r.values["bayes"] + 0.01


def test_variational_bound_equals_d_f_at_f_prime_and_trained_critics_stay_below(tmp_path):
    from saddlepoint.divergences import DIVERGENCES

    r, path = run_experiment("variational-bound", tmp_path / "v.png", quick=True)
    found = r.values["found"]
    assert set(found) == set(DIVERGENCES)  # every registered f-divergence
    for name, f in found.items():
        assert f["optimal"] == pytest.approx(f["exact"], rel=1e-5, abs=1e-7), name  # equality at T* = f'(p/q)
        assert f["trained"] <= f["exact"] + 1e-7, name  # Fenchel–Young: no critic exceeds D_f
        assert f["trained"] > 0.85 * f["exact"], name  # and a trained one comes close
        assert abs(f["sampled"] - f["trained"]) < 5 * f["se"] + 1e-3, name  # what samples estimate
    assert found["js"]["critic_error"] < 0.03 and found["kl"]["critic_error"] < 0.15
    assert found["kl"]["exact"] == pytest.approx(math.log(1.05) + (1 + 1) / (2 * 1.05 ** 2) - 0.5)
    assert path.stat().st_size > 10_000


def test_mmd_closed_form_estimates_witness_and_the_widths_power(tmp_path):
    from saddlepoint.theory import kernel

    x = np.linspace(-12, 12, 1201)
    dx = x[1] - x[0]
    diff = (np.exp(-0.5 * ((x - kernel.P_MEAN) / kernel.P_STD) ** 2) / (kernel.P_STD * math.sqrt(2 * math.pi))
            - np.exp(-0.5 * ((x - kernel.Q_MEAN) / kernel.Q_STD) ** 2) / (kernel.Q_STD * math.sqrt(2 * math.pi)))
    for w in (0.5, 1.0, 5.0):  # ∫∫ k(a, b) (p − q)(a) (p − q)(b): the closed form, independently
        k = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * w**2))
        assert kernel.exact_mmd2((w,)) == pytest.approx(diff @ k @ diff * dx * dx, rel=1e-6)
        # E_P w − E_Q w of the witness w = μ_P − μ_Q is ‖μ_P − μ_Q‖² = MMD²
        assert float(np.sum(diff * kernel.witness(x, w)) * dx) == pytest.approx(kernel.exact_mmd2((w,)), rel=1e-6)
    r, path = run_experiment("mmd", tmp_path / "k.png", quick=True)
    found = r.values["found"]
    for name, row in found.items():
        if row["exact"] is not None:  # unbiased: its mean over the draws is the closed form, to its error
            assert abs(row["unbiased"] - row["exact"]) < 4 * row["unbiased_se"] + 1e-6, name
        assert row["biased"] > row["unbiased"], name
    narrow, wide, median = found["σ = 0.05"], found["σ = 20"], found["median heuristic"]
    assert wide["power"] <= 0.2 and narrow["power"] < 0.5 <= found[f"σ = {r.values['best']:g}"]["power"]
    assert median["power"] > max(narrow["power"], wide["power"]) and 0.5 < median["width"] < 2.5
    assert path.stat().st_size > 10_000


def test_theory_command_prints_a_table_and_writes_a_figure(tmp_path, capsys):
    out = tmp_path / "z.png"
    assert main(["theory", "zero-one", "--quick", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| rule | 0-1 error |" in printed and out.stat().st_size > 10_000
    assert main(["theory", "zero-on"]) == 2
    assert "did you mean 'zero-one'" in capsys.readouterr().err
    assert main(["theory", "gda", "--seed", "3"]) == 2  # deterministic: a seed would be ignored
    assert "changes nothing" in capsys.readouterr().err
    assert main(["theory", "mode-seeking", "--quick"]) == 2
    assert "no quick form" in capsys.readouterr().err
    assert main(["theory", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in EXPERIMENTS)
