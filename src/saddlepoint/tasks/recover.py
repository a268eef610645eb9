"""Compressed sensing with a generative prior (Bora, Jalal, Price & Dimakis 2017, "CSGM").

An image x (n pixels in [0, 1]) is seen only through m < n linear measurements y = A x + η, η ~ N(0, σ² I).
Classical compressed sensing assumes x sparse in some basis and solves the Lasso.  CSGM assumes x near the range
of a trained generator G and searches its latent space instead:

    ẑ = argmin_z  mean((A G(z) − y)²) + λ‖z‖²,        x̂ = G(ẑ)

(the authors' "VAE+Reg" loss, λ = 0.1; Adam 0.01, 1000 steps, 10 random restarts, the restart with the lowest
loss kept).  Its known weakness: an image that is not exactly in G's range cannot be recovered better than its
distance to the range, so the error stops falling as m grows.  ``sparse`` > 0 adds the fix of Dhar, Grover & Ermon
(2018, "sparse-gen"): x̂ = G(ẑ) + ν̂, where the deviation ν is searched with z and pays μ‖ν‖₁, so what the generator
cannot draw is recovered as a sparse correction, as the Lasso would.

Measurement operators (each an m × n matrix, so every estimator sees the same A):

* ``gaussian``: i.i.d. N(0, 1) entries (the paper's);
* ``inpaint``: the pixels outside a centred square hole of ``hole`` × ``hole`` pixels;
* ``downsample``: the mean of each ``factor`` × ``factor`` block (4× super-resolution).

The last two are scaled so that each row has squared norm n, as a Gaussian row has on average (the CSGM code does
the same): the noise σ, the Lasso's α and the prior's λ then weigh the data alike for every operator.

The Lasso baseline is scikit-learn's ``Lasso(alpha)`` (the authors' α = 0.1), without an intercept (the measurement
model has none), on the pixels or on the coefficients of the orthonormal 2-D DCT; its output is clipped to [0, 1]
as theirs was.  Errors are the per-pixel mean squared error in [0, 1] pixel units, the paper's measure.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from ..runs import RunError
from .common import LatentGenerator
from .latent import LatentSearch, search

__all__ = ["OPERATORS", "measurement_matrix", "measure", "lasso", "recover", "dct_matrix", "mse_interval"]

OPERATORS = ("gaussian", "inpaint", "downsample")
Operator = Literal["gaussian", "inpaint", "downsample"]


def measurement_matrix(operator: Operator, shape: tuple[int, int, int], m: int | None = None, hole: int | None = None,
                       factor: int = 4, generator: torch.Generator | None = None) -> Tensor:
    """The (m, n) matrix of ``operator`` for images of ``shape`` (C, H, W), n = C·H·W pixels."""
    c, h, w = shape
    n = c * h * w
    if operator == "gaussian":
        if m is None or not 1 <= m <= n:
            raise RunError(f"--measurements {m}: give between 1 and {n} (the pixel count of a {c}×{h}×{w} image)")
        return torch.randn(m, n, generator=generator)
    if operator == "inpaint":
        hole = h // 2 if hole is None else hole
        if not 1 <= hole <= min(h, w):
            raise RunError(f"--hole {hole}: give a hole side between 1 and {min(h, w)} pixels")
        keep = torch.ones(c, h, w, dtype=torch.bool)
        top, left = (h - hole) // 2, (w - hole) // 2
        keep[:, top:top + hole, left:left + hole] = False
        return math.sqrt(n) * torch.eye(n)[keep.flatten()]
    if operator == "downsample":
        if factor < 2 or h % factor or w % factor:
            raise RunError(f"--factor {factor}: give a factor of at least 2 that divides the image side ({h}×{w})")
        blocks = torch.arange(h * w).view(h // factor, factor, w // factor, factor).permute(0, 2, 1, 3).reshape(-1, factor ** 2)
        A = torch.zeros(c * len(blocks), n)
        for ch in range(c):
            for b, pix in enumerate(blocks):
                A[ch * len(blocks) + b, ch * h * w + pix] = 1.0 / factor ** 2
        return A * math.sqrt(n) / A[0].norm()
    raise RunError(f"--operator {operator}: choose one of {', '.join(OPERATORS)}")


def measure(x: Tensor, A: Tensor, noise: float, generator: torch.Generator) -> Tensor:
    """y = A x + η for images ``x`` (N, C, H, W) in [0, 1]: (N, m)."""
    y = x.flatten(1) @ A.T
    return y + noise * torch.randn(y.shape, generator=generator)


def dct_matrix(side_h: int, side_w: int | None = None) -> Tensor:
    """(h·w, h·w) orthonormal 2-D DCT-II synthesis matrix of one channel: pixels = coefficients @ B."""
    from scipy.fft import idctn

    h, w = side_h, side_w or side_h
    return torch.from_numpy(idctn(np.eye(h * w).reshape(h * w, h, w), axes=(1, 2), norm="ortho").reshape(h * w, h * w))


def _per_channel(M: Tensor, B: Tensor, channels: int) -> Tensor:
    """``M`` (r, c·h·w) times the block-diagonal matrix with ``B`` (h·w, h·w) on each channel, without building it."""
    return torch.cat([part @ B for part in M.chunk(channels, dim=1)], dim=1)


def lasso(A: Tensor, y: Tensor, alpha: float = 0.1, basis: Literal["pixels", "dct"] = "pixels",
          shape: tuple[int, int, int] | None = None) -> Tensor:
    """The Lasso estimate of every image from its measurements ``y`` (N, m): argmin_w (1/2m)‖y − A Bᵀ w‖² + α‖w‖₁
    with B the identity (``pixels``) or the 2-D DCT per channel (``dct``); x̂ = Bᵀ ŵ clipped to [0, 1].  (N, n)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    X = A.double()
    if basis == "dct":
        if shape is None:
            raise ValueError("basis='dct' needs the image shape")
        B = dct_matrix(shape[1], shape[2])
        X = _per_channel(X, B.T, shape[0])  # A times the synthesis: measurements of each DCT coefficient
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the fit stops at max_iter; its estimate is still used
        fit = Lasso(alpha=alpha, fit_intercept=False, max_iter=5000).fit(X.numpy(), y.double().T.numpy())
    w = torch.from_numpy(np.atleast_2d(fit.coef_))  # (N, n)
    if basis == "dct":
        w = _per_channel(w, B, shape[0])
    return w.float().clamp(0, 1)


def recover(G: LatentGenerator, A: Tensor, y: Tensor, settings: LatentSearch = LatentSearch(restarts=10, prior=0.1),
            sparse: float = 0.0, progress: bool = False) -> tuple[Tensor, dict[str, Tensor]]:
    """CSGM's estimate of each image from its measurements ``y`` (N, m) = A x + η: (N, C, H, W) in [0, 1], and the
    search's kept losses.  ``sparse`` = μ > 0: x̂ = G(ẑ) + ν̂ with the deviation ν searched jointly at a cost μ‖ν‖₁
    (Dhar et al. 2018), clipped to [0, 1]."""
    n = y.shape[0]
    dev = G.device
    A_d, y_d = A.to(dev), y.to(dev)

    def loss(z: Tensor, idx: Tensor, extra: dict[str, Tensor]) -> Tensor:
        x = G(z).flatten(1)  # (B, n)
        if "nu" in extra:
            x = x + extra["nu"]
        return (x @ A_d.T - y_d[idx]).pow(2).mean(1)  # mean((A x − y)²) per code

    extra = {"nu": torch.zeros(n, A.shape[1])} if sparse > 0 else None
    found = search(loss, n, G.z_dim, settings, prior=G.prior, extra=extra, device=dev, progress=progress,
                   desc="CSGM", extra_penalty=(lambda ex: sparse * ex["nu"].abs().sum(1)) if sparse > 0 else None)
    with torch.no_grad():
        x = G(found.z.to(dev)).cpu()
    if sparse > 0:
        x = (x + found.extra["nu"].view_as(x)).clamp(0, 1)
    return x, {"loss": found.loss, "measurement_loss": found.task_loss, "z": found.z}


def mse_interval(x_hat: Tensor, x: Tensor) -> dict[str, float]:
    """Per-pixel MSE of each estimate: the mean over images and its 95 % interval (1.96 standard errors)."""
    per = (x_hat.flatten(1) - x.flatten(1)).pow(2).mean(1).double()
    se = float(per.std() / math.sqrt(len(per))) if len(per) > 1 else float("nan")
    return {"mse": float(per.mean()), "ci95": 1.96 * se}


def _seen(x: Tensor, A: Tensor, operator: str) -> Tensor | None:
    """What the measurements show a person, for the picture: the kept pixels (the hole grey) or the blocks' means."""
    if operator == "gaussian":
        return None
    kept = A.abs().sum(0) > 0  # (n,) pixels some measurement reads
    if operator == "inpaint":
        return torch.where(kept, x.flatten(1), torch.full_like(x.flatten(1), 0.5)).view_as(x)
    return ((x.flatten(1) @ A.T) @ (A / A.pow(2).sum(1, keepdim=True))).view_as(x)  # each block shown as its mean


def recover_images(exp, operator: Operator = "gaussian", m: int | None = None, hole: int | None = None,
                   factor: int = 4, noise: float = 0.1, images: str | None = None, n: int = 8,
                   settings: LatentSearch = LatentSearch(restarts=10, prior=0.1), sparse: float = 0.0,
                   alpha: float = 0.1, basis: Literal["pixels", "dct"] = "pixels", seed: int = 0,
                   progress: bool = False) -> tuple[list[tuple[str, Tensor]], dict]:
    """Measure held-out images (or the user's, ``images``) with ``operator`` and recover them by the Lasso and by the
    run's generator (and with a sparse deviation when ``sparse`` > 0): the picture's rows and the report."""
    from .common import held_out_images, read_exact_images

    G = LatentGenerator(exp, "recover")
    if noise < 0:
        raise RunError(f"--noise {noise}: give a standard deviation of at least 0")
    if operator != "gaussian" and m is not None:
        raise RunError(f"--measurements sets the Gaussian operator's m; --operator {operator} measures "
                       + ("the pixels outside the hole (set its side with --hole)" if operator == "inpaint"
                          else "each block's mean (set the block with --factor)"))
    g = torch.Generator().manual_seed(seed)
    A = measurement_matrix(operator, G.shape, m, hole, factor, g)  # refuses a bad m, hole or factor first
    if images is not None:
        x, names = read_exact_images(images, G.shape[1], G.shape[0])
        what = f"{len(x)} image(s) from {images}"
    else:
        if n < 1:
            raise RunError(f"-n {n}: ask for at least one image")
        x, _, what = held_out_images(exp, n)
    y = measure(x, A, noise, g)
    rows = [("original", x)]
    seen = _seen(x, A, operator)
    if seen is not None:
        rows.append(("measured", seen))
    estimates = {f"lasso ({basis})": lasso(A, y, alpha, basis, G.shape).view_as(x)}
    estimates["generator"] = recover(G, A, y, settings, progress=progress)[0]
    if sparse > 0:
        estimates["generator + sparse deviation"] = recover(G, A, y, settings, sparse, progress)[0]
    mse = {k: mse_interval(v, x) for k, v in estimates.items()}
    rows += [(f"{k}\nMSE {mse[k]['mse']:.4f}", v) for k, v in estimates.items()]
    report = {"operator": operator, "measurements": A.shape[0], "pixels": A.shape[1], "noise": noise,
              "images": what, "generator": G.what, "mse": mse, "lasso_alpha": alpha, "lasso_basis": basis,
              "sparse_deviation": sparse, "search": {k: getattr(settings, k) for k in settings.__dataclass_fields__},
              "seed": seed}
    return rows, report
