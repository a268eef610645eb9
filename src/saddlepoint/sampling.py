"""Pictures from a trained generator: sample grids and spherical interpolation in latent space."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .train import EVAL_SEED, Experiment

__all__ = ["slerp", "sample", "save_sample_picture", "save_interpolation"]


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between latent vectors (White 2016): for Gaussian latents it keeps the
    norm typical of the prior, where linear interpolation passes through unlikely, short vectors.
    ``z0``, ``z1``: (B, d); ``t``: (T,) in [0, 1] → (B, T, d)."""
    cos = (torch.nn.functional.normalize(z0, dim=1) * torch.nn.functional.normalize(z1, dim=1)).sum(1)
    omega = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (B, 1, 1)
    t = t[None, :, None]
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0[:, None] + (torch.sin(t * omega) / so) * z1[:, None]


@torch.no_grad()
def sample(exp: Experiment, n: int, seed: int = EVAL_SEED) -> Tensor:
    """``n`` samples from the run's sampling generator (EMA if trained with one); same seed, same samples."""
    return exp.generate(n, seed)


def save_sample_picture(exp: Experiment, path: str | Path, n: int = 64, seed: int = 0) -> Path:
    """An image grid (√n per row) or, for 2-D data, a scatter of ``n`` points over the data."""
    from . import plots

    path = Path(path)
    x = sample(exp, n, seed)
    if exp.images:
        from torchvision.utils import save_image

        save_image(x, str(path), nrow=max(1, int(round(n**0.5))), normalize=True, value_range=(-1, 1))
    else:
        real = exp.data.sample(2500, torch.Generator().manual_seed(EVAL_SEED + 1))
        plots.save(plots.plot_samples(real, x, exp.data.limits, f"{exp.cfg.data}: {n} samples, seed {seed}"), path)
    return path


@torch.no_grad()
def save_interpolation(exp: Experiment, path: str | Path, rows: int = 8, steps: int = 10, seed: int = 0) -> Path:
    """``rows`` walks of ``steps`` points each along great circles between random latent pairs."""
    from . import plots

    path = Path(path)
    g = torch.Generator().manual_seed(seed)
    z0, z1 = torch.randn(rows, exp.cfg.z_dim, generator=g), torch.randn(rows, exp.cfg.z_dim, generator=g)
    z = slerp(z0, z1, torch.linspace(0, 1, steps)).reshape(rows * steps, -1)
    G = exp.sampler
    was = G.training
    G.eval()
    x = G(z.to(exp.device)).float().cpu() * exp.scale
    G.train(was)
    if exp.images:
        from torchvision.utils import save_image

        save_image(x, str(path), nrow=steps, normalize=True, value_range=(-1, 1))
    else:
        real = exp.data.sample(2500, torch.Generator().manual_seed(EVAL_SEED + 1))
        fig = plots.plot_samples(real, x, exp.data.limits, f"{exp.cfg.data}: {rows} latent walks")
        for walk in x.view(rows, steps, 2):
            fig.axes[0].plot(walk[:, 0], walk[:, 1], lw=0.8)
        plots.save(fig, path)
    return path
