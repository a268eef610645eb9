"""Integral probability metrics: one view of the Wasserstein distance, total variation and the MMD.

Each is a supremum over a class F of critics of the same difference of means (Müller 1997; seed notes 003):

    d_F(P, Q) = sup_{f ∈ F}  E_P f(x) − E_Q f(y)

    w1    F = 1-Lipschitz functions                    the Wasserstein-1 distance (Kantorovich-Rubinstein duality)
    tv    F = functions with values in [−½, ½]          total variation, ½ ∫ |p − q|
    mmd   F = the unit ball of a kernel's RKHS          the maximum mean discrepancy, √MMD²

Between two sample sets, :func:`ipm` finds the supremum itself: for ``w1`` as a linear program over the critic's
values at the pooled points (a 1-Lipschitz function on the points extends to the whole space, McShane 1934, so the
optimum is exact); for ``tv`` by the critic ½·sign(p̂ − q̂) on the pooled points; for ``mmd`` by the closed-form
witness f* ∝ μ_P − μ_Q.  With ``critic=True`` (w1, tv) a small network is trained instead, under its class's
constraint — a gradient penalty, or a bounded output — which is what a GAN's critic does, and shows how close
the trained critic comes to the supremum.  The class decides what the distance sees: two sample sets with no
point in common are as far apart as can be for ``tv`` (1) whatever their distance, while ``w1`` and ``mmd``
shrink as they approach (why JS-type games fail on disjoint supports).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from . import optim
from .kernels import kernel_values

__all__ = ["IPM_CLASSES", "ipm"]

IPM_CLASSES = ("w1", "tv", "mmd")


def ipm(x: Tensor, y: Tensor, function_class: str, critic: bool = False, widths: tuple[float, ...] = (1.0,),
        kernel: str = "gaussian", steps: int = 2000, seed: int = 0) -> dict:
    """sup_{f ∈ F} mean f(x) − mean f(y) for the samples ``x`` (n, d) and ``y`` (m, d): ``value``, the critic
    found (``witness``: a function of (k, d) points), and how (``method``).  ``widths``/``kernel``: the MMD's
    kernel (:mod:`saddlepoint.kernels`).  ``critic``: train a network of the class for ``steps`` steps instead of
    solving exactly (w1, tv)."""
    x, y = x.detach().double().flatten(1), y.detach().double().flatten(1)
    if function_class not in IPM_CLASSES:
        raise ValueError(f"unknown function class {function_class!r}; choose one of {', '.join(IPM_CLASSES)}")
    if function_class == "mmd":
        if critic:
            raise ValueError("the MMD's supremum has a closed form (the witness μ_P − μ_Q); no critic is trained")
        return _mmd(x, y, widths, kernel)
    if critic:
        return _trained_critic(x, y, function_class, steps, seed)
    return _w1_lp(x, y) if function_class == "w1" else _tv(x, y)


def _weights(n: int, m: int) -> np.ndarray:
    return np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])


def _w1_lp(x: Tensor, y: Tensor) -> dict:
    """max Σ a_i f_i subject to f_i − f_j ≤ ‖p_i − p_j‖ over the pooled points p (HiGHS)."""
    from scipy.optimize import linprog

    pts = torch.cat([x, y]).numpy()
    n, m = len(x), len(y)
    N = n + m
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    i, j = np.nonzero(~np.eye(N, dtype=bool))
    A = np.zeros((len(i), N))
    A[np.arange(len(i)), i], A[np.arange(len(i)), j] = 1.0, -1.0
    bound = float(dist.max())
    res = linprog(-_weights(n, m), A_ub=A, b_ub=dist[i, j], bounds=[(0.0, 0.0)] + [(-bound, bound)] * (N - 1),
                  method="highs")
    if res.status != 0:
        raise RuntimeError(f"the Wasserstein linear program did not solve: {res.message}")
    values = torch.from_numpy(res.x)
    ref = torch.from_numpy(pts)

    def witness(t: Tensor) -> Tensor:  # the largest 1-Lipschitz extension (McShane): min_i f_i + ‖t − p_i‖
        return (values[None] + torch.cdist(t.double().flatten(1), ref)).min(1).values

    return {"value": float(-res.fun), "witness": witness, "method": "linear program over the pooled points"}


def _tv(x: Tensor, y: Tensor) -> dict:
    """½ Σ |p̂ − q̂| over the distinct pooled points; the critic ½·sign(p̂ − q̂) attains it."""
    pts, inverse = torch.unique(torch.cat([x, y]), dim=0, return_inverse=True)
    p = torch.bincount(inverse[:len(x)], minlength=len(pts)).double() / len(x)
    q = torch.bincount(inverse[len(x):], minlength=len(pts)).double() / len(y)
    f = 0.5 * torch.sign(p - q)

    def witness(t: Tensor) -> Tensor:  # ½·sign(p̂ − q̂) on the points, 0 elsewhere
        hit = (torch.cdist(t.double().flatten(1), pts) == 0).double()
        return hit @ f

    return {"value": float(0.5 * (p - q).abs().sum()), "witness": witness,
            "method": "the critic ½·sign(p̂ − q̂) on the distinct points"}


def _mmd(x: Tensor, y: Tensor, widths: tuple[float, ...], kernel: str) -> dict:
    """‖μ_P − μ_Q‖ in the RKHS: the square root of the biased MMD², attained by the normalized witness."""
    from .divergences import mmd2

    value = float(mmd2(x, y, widths, unbiased=False, kernel=kernel).clamp_min(0).sqrt())

    def witness(t: Tensor) -> Tensor:
        t = t.double().flatten(1)
        kx = kernel_values(torch.cdist(t, x).pow(2), kernel, widths).mean(1)
        ky = kernel_values(torch.cdist(t, y).pow(2), kernel, widths).mean(1)
        return (kx - ky) / max(value, 1e-12)

    return {"value": value, "witness": witness, "method": "closed form: the witness (μ_P − μ_Q) / ‖μ_P − μ_Q‖"}


def _trained_critic(x: Tensor, y: Tensor, function_class: str, steps: int, seed: int) -> dict:
    """A 64-64 MLP critic ascending mean f(x) − mean f(y): 1-Lipschitz by a one-sided gradient penalty on
    interpolates (w1), or bounded by ½·tanh (tv).  Full batches, Adam."""
    from torch import nn

    torch.manual_seed(seed)
    d = x.shape[1]
    net = nn.Sequential(nn.Linear(d, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1)).double()
    bounded = function_class == "tv"
    f: Callable[[Tensor], Tensor] = (lambda t: 0.5 * torch.tanh(net(t)).squeeze(1)) if bounded else \
        (lambda t: net(t).squeeze(1))
    opt = optim.Adam(net.parameters(), lr=1e-3 if not bounded else 3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        gap = f(x).mean() - f(y).mean()
        loss = -gap
        if not bounded:  # penalize gradient norms above 1 at random points between the sets (and at the samples)
            n = min(len(x), len(y))
            a = torch.rand(n, 1, generator=g, dtype=torch.float64)
            pts = torch.cat([a * x[torch.randperm(len(x), generator=g)[:n]]
                             + (1 - a) * y[torch.randperm(len(y), generator=g)[:n]], x, y]).requires_grad_(True)
            grad = torch.autograd.grad(f(pts).sum(), pts, create_graph=True)[0]
            loss = loss + 100.0 * (grad.norm(dim=1) - 1).clamp_min(0).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    scale = 1.0
    with torch.no_grad():
        if not bounded:  # a penalty only discourages steeper slopes: divide by the slope found between the samples,
            pts = torch.cat([x, y])  # so that the critic is 1-Lipschitz there (and extends so): a true lower bound
            fp = f(pts)
            slope = (fp[:, None] - fp[None]).abs() / torch.cdist(pts, pts).fill_diagonal_(float("inf"))
            scale = max(1.0, float(slope.max()))
        value = float(f(x).mean() - f(y).mean()) / scale
    what = ("an MLP critic with a one-sided gradient penalty, divided by its largest slope between the samples"
            if not bounded else "an MLP critic bounded by ½·tanh")
    return {"value": value, "witness": lambda t: f(t.double().flatten(1)).detach() / scale,
            "method": f"{what}, {steps} steps"}
