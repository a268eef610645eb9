"""The maximum mean discrepancy, run: MMD²(P, Q) = ‖μ_P − μ_Q‖² in a Gaussian kernel's feature space, in closed form
for two normals; its unbiased and biased estimates; the witness μ_P − μ_Q that attains the supremum over the unit
ball; and how the kernel's width decides what a two-sample test sees (Gretton et al. 2012; GMMN, Li et al. 2015)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..divergences import mmd2_from_kernel
from ..kernels import kernel_values, median_width
from . import Result, normal_pdf

P_MEAN, P_STD = 0.0, 1.0  # the data
Q_MEAN, Q_STD = 0.0, 1.5  # a generator with the right mean and too wide a spread
WIDTHS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 20.0)
MIXTURE = (0.2, 0.5, 1.0, 2.0, 5.0)  # a sum of widths, as GMMN trains with
MIXTURE_ROW = "sum of σ = " + ", ".join(f"{w:g}" for w in MIXTURE)
LEVEL = 0.05  # the tests' false-alarm rate
GRID = np.linspace(-6.0, 6.0, 1201)


def mean_kernel(m1: float, s1: float, m2: float, s2: float, width: float) -> float:
    """E k(X, Y) for X ~ N(m1, s1²), Y ~ N(m2, s2²) independent and k(a, b) = exp(−(a − b)² / 2σ²): the Gaussian
    integral σ / √(σ² + s1² + s2²) · exp(−(m1 − m2)² / 2(σ² + s1² + s2²))."""
    v = width**2 + s1**2 + s2**2
    return width / math.sqrt(v) * math.exp(-((m1 - m2) ** 2) / (2 * v))


def exact_mmd2(widths: tuple[float, ...]) -> float:
    """MMD²(P, Q) = E k(X, X') + E k(Y, Y') − 2 E k(X, Y) for the sum of Gaussian kernels of ``widths``."""
    return sum(mean_kernel(P_MEAN, P_STD, P_MEAN, P_STD, w) + mean_kernel(Q_MEAN, Q_STD, Q_MEAN, Q_STD, w)
               - 2 * mean_kernel(P_MEAN, P_STD, Q_MEAN, Q_STD, w) for w in widths)


def witness(x: np.ndarray, width: float) -> np.ndarray:
    """μ_P(x) − μ_Q(x) = E_P k(x, X) − E_Q k(x, Y): the function of the kernel's unit ball (once divided by its norm,
    the MMD) on which P and Q differ most."""
    def embedding(m: float, s: float) -> np.ndarray:
        v = width**2 + s**2
        return width / math.sqrt(v) * np.exp(-((x - m) ** 2) / (2 * v))

    return embedding(P_MEAN, P_STD) - embedding(Q_MEAN, Q_STD)


def _kernels(d2: Tensor) -> dict[str, Tensor]:
    """The pooled sample's kernel matrix for each row of the table."""
    out = {f"σ = {w:g}": kernel_values(d2, "gaussian", (w,)) for w in WIDTHS}
    out["median heuristic"] = kernel_values(d2, "median")
    out[MIXTURE_ROW] = kernel_values(d2, "gaussian", MIXTURE)
    return out


def two_sample_tests(n: int, draws: int, tests: int, permutations: int, seed: int) -> dict[str, dict[str, Any]]:
    """For each kernel, over ``draws`` draws of ``n`` points a side: the unbiased and biased MMD² estimates; on the
    first ``tests`` of them, how often a permutation test at level :data:`LEVEL` (``permutations`` reshufflings of
    the pooled sample) tells P from Q — the test's power."""
    g = torch.Generator().manual_seed(seed)
    found: dict[str, dict[str, Any]] = {}
    medians = []
    for draw in range(draws):
        x = P_MEAN + P_STD * torch.randn(n, 1, generator=g, dtype=torch.float64)
        y = Q_MEAN + Q_STD * torch.randn(n, 1, generator=g, dtype=torch.float64)
        d2 = torch.cdist(torch.cat([x, y]), torch.cat([x, y])).pow(2)
        medians.append(float(median_width(d2)))
        shuffles = [torch.randperm(2 * n, generator=g) for _ in range(permutations if draw < tests else 0)]
        for name, k in _kernels(d2).items():
            row = found.setdefault(name, {"unbiased": [], "biased": [], "rejected": 0})
            stat = float(mmd2_from_kernel(k, n))
            row["unbiased"].append(stat)
            row["biased"].append(float(mmd2_from_kernel(k, n, unbiased=False)))
            if shuffles:
                null = torch.stack([mmd2_from_kernel(k[i][:, i], n) for i in shuffles])  # as if P = Q
                row["rejected"] += (1 + int((null >= stat).sum())) / (1 + permutations) <= LEVEL  # the p-value
    for row in found.values():
        u, b = np.array(row.pop("unbiased")), np.array(row.pop("biased"))
        row.update(unbiased=float(u.mean()), unbiased_se=float(u.std(ddof=1) / math.sqrt(draws)),
                   biased=float(b.mean()), power=row.pop("rejected") / tests)
    found["median heuristic"]["width"] = float(np.median(medians))
    return found


def mmd(quick: bool = False, seed: int = 0) -> Result:
    n, draws, tests, permutations = (100, 300, 30, 50) if quick else (100, 3000, 200, 200)
    found = two_sample_tests(n, draws, tests, permutations, seed)
    exact = {f"σ = {w:g}": exact_mmd2((w,)) for w in WIDTHS}
    exact[MIXTURE_ROW] = exact_mmd2(MIXTURE)
    rows = []
    for name, row in found.items():
        shown = name if name != "median heuristic" else f"median heuristic (σ ≈ {row['width']:.2f})"
        rows.append([shown, exact.get(name), row["unbiased"], row["unbiased_se"], row["biased"], row["power"]])
        row["exact"] = exact.get(name)
    best = max(WIDTHS, key=lambda w: found[f"σ = {w:g}"]["power"])
    notes = [f"P = N({P_MEAN:g}, {P_STD:g}²) is the data, Q = N({Q_MEAN:g}, {Q_STD:g}²) a generator with the right "
             f"mean and too wide a spread; k(a, b) = exp(−(a − b)² / 2σ²). Each estimate is the mean over {draws:,} "
             f"draws of {n} points a side (± one standard error); the power is measured on {tests} of them.",
             "MMD² = E k(X, X') + E k(Y, Y') − 2 E k(X, Y) = ‖μ_P − μ_Q‖² in the kernel's feature space, in closed "
             "form for normals. The unbiased estimate (a U-statistic, GMMN's loss) averages to it; the biased one keeps "
             "the k(x, x) terms and sits above it by (k(x, x) − E k(X, X'))/n on each side, most for narrow "
             "kernels, whose E k(X, X') is small.",
             f"Power: how often a permutation test at level {LEVEL:g} ({permutations} reshufflings) tells P from Q. A "
             "very narrow kernel sees each point alone and a very wide one sees only the means (equal here): both "
             f"miss the difference in spread. The best single width here is σ = {best:g}; the median heuristic "
             "picks a width near it from the data; a sum of widths, as GMMN uses, needs no choice and keeps most of "
             "the best width's power.",
             "The figure's witness μ_P − μ_Q (divided by its norm, E_P f − E_Q f = MMD: the supremum over the kernel's "
             "unit ball, an integral probability metric like W1) is positive where P has more mass than Q."]

    def draw(path: Path) -> None:
        from ..plots import plt, save

        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
        p, q = normal_pdf(GRID, P_MEAN, P_STD), normal_pdf(GRID, Q_MEAN, Q_STD)
        left.fill_between(GRID, p / p.max(), color="C0", alpha=0.15, label="p (data), scaled")
        left.fill_between(GRID, q / p.max(), color="C1", alpha=0.15, label="q (generator), same scale")
        for w, style in ((0.2, "C2"), (found["median heuristic"]["width"], "k"), (5.0, "C3")):
            f = witness(GRID, w)
            left.plot(GRID, f / np.abs(f).max(), style, lw=1.8, label=f"witness μ_P − μ_Q, σ = {w:.2g} (scaled)")
        left.axhline(0, color="0.6", lw=0.8)
        left.set(xlabel="x", title="The witness: where P has more mass than Q, as each kernel sees it")
        left.legend(fontsize=7, loc="lower left")
        widths = np.array(WIDTHS)
        right.semilogx(widths, [found[f"σ = {w:g}"]["power"] for w in WIDTHS], "o-", color="C0",
                       label=f"test power, n = {n} a side")
        right.axhline(found["median heuristic"]["power"], color="k", ls="--", lw=1, label="median heuristic")
        right.axhline(found[MIXTURE_ROW]["power"], color="C2", ls=":", lw=1.5,
                      label="sum of widths (GMMN)")
        right.axhline(LEVEL, color="0.6", lw=0.8)
        right.set(xlabel="kernel width σ", ylabel="power", ylim=(0, 1.02),
                  title="What a two-sample test sees depends on the width")
        twin = right.twinx()
        twin.semilogx(widths, [exact[f"σ = {w:g}"] for w in WIDTHS], "s-", color="C1", ms=4, alpha=0.7,
                      label="MMD² (closed form)")
        twin.set_ylabel("MMD²", color="C1")
        lines = right.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        right.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper right")
        fig.tight_layout()
        save(fig, path)

    return Result("MMD: closed form, estimates, and the kernel width against a two-sample test's power",
                  ["kernel", "MMD² (closed form)", "unbiased estimate", "± s.e.", "biased estimate", "power"], rows,
                  draw, notes, {"found": found, "best": best, "n": n, "draws": draws, "tests": tests})
