"""Sample-quality metrics on feature vectors from any backbone (Inception-v3, an MNIST classifier, ...).

Each function takes real and generated features, (N, d) and (M, d), computed by the same backbone, so
the backbone is pluggable and every number can record which one it used.

* Fréchet distance (Heusel et al. 2017, "FID" with Inception pool features):
  ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2}).
* Kernel distance (Bińkowski et al. 2018, "KID"): the unbiased MMD² with the cubic polynomial kernel
  k(x, y) = (xᵀy / d + 1)³, averaged over random subsets.
* Precision and recall (Kynkäänniemi et al. 2019): the fraction of generated samples inside the real
  k-NN manifold (union of balls to each real point's k-th neighbour), and vice versa.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["feature_statistics", "frechet_distance", "kernel_distance", "precision_recall"]


def feature_statistics(features: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of (N, d) features, in float64."""
    x = features.detach().to(torch.float64).cpu().numpy()
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Tr((Σ1 Σ2)^{1/2}) is the sum of the square roots of the eigenvalues of Σ1 Σ2, which are those of
    the symmetric PSD matrix Σ1^{1/2} Σ2 Σ1^{1/2}; computing it that way (two symmetric eigen-
    decompositions) avoids the complex round-off of a general matrix square root."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root1 @ s2 @ root1
    ev = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_sqrt = np.sqrt(np.clip(ev, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def kernel_distance(real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation over ``subsets`` random subsets of the unbiased MMD² with
    the kernel (xᵀy/d + 1)³."""
    x = real.detach().to(torch.float64).cpu()
    y = fake.detach().to(torch.float64).cpu()
    d = x.shape[1]
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 samples on each side")
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        a = x[torch.randperm(x.shape[0], generator=g)[:m]]
        b = y[torch.randperm(y.shape[0], generator=g)[:m]]
        kxx, kyy, kxy = ((a @ a.T) / d + 1) ** 3, ((b @ b.T) / d + 1) ** 3, ((a @ b.T) / d + 1) ** 3
        mmd = ((kxx.sum() - kxx.diagonal().sum()) + (kyy.sum() - kyy.diagonal().sum())) / (m * (m - 1)) \
            - 2 * kxy.mean()
        values.append(float(mmd))
    return float(np.mean(values)), float(np.std(values))


def _knn_radii(x: Tensor, k: int) -> Tensor:
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # +1: each point is its own nearest neighbour


def _inside(points: Tensor, centres: Tensor, radii: Tensor, batch: int = 2048) -> Tensor:
    out = []
    for p in points.split(batch):
        out.append((torch.cdist(p, centres) <= radii[None, :]).any(dim=1))
    return torch.cat(out)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds (k = 3 there)."""
    x = real.detach().to(torch.float32).cpu()
    y = fake.detach().to(torch.float32).cpu()
    precision = _inside(y, x, _knn_radii(x, k)).float().mean().item()
    recall = _inside(x, y, _knn_radii(y, k)).float().mean().item()
    return {"precision": precision, "recall": recall}
