"""Pictures from a trained generator: sample grids and spherical interpolation in latent space."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .runs import RunError
from .train import EVAL_SEED, Experiment

__all__ = ["slerp", "sample", "save_sample_picture", "save_interpolation", "conditions_for_picture", "code_sweep"]


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
def sample(exp: Experiment, n: int, seed: int = EVAL_SEED, cond: Tensor | None = None) -> Tensor:
    """``n`` samples from the run's sampling generator (EMA if trained with one); same seed, same samples.
    Conditional runs: ``cond`` holds n labels (or InfoGAN codes); default every class equally often."""
    return exp.generate(n, seed, cond)


def _check_label(exp: Experiment, label: int) -> None:
    cond = exp.condition
    if cond is None or not cond.needs_labels:
        kind = "unconditional" if cond is None else f"conditional={cond.name} (codes, not labels)"
        raise RunError(f"--label needs a class-conditional run (cgan or acgan); this run is {kind}"
                       + ("; use --sweep to walk its codes" if cond is not None else ""))
    if not 0 <= label < cond.n_classes:
        raise RunError(f"label {label} is outside the classes this run was trained on (0..{cond.n_classes - 1})")


def _row_conditions(exp: Experiment, rows: int) -> Tensor:
    """Row r: class r mod K (InfoGAN: category r mod K, continuous codes 0)."""
    cond = exp.condition
    if cond.needs_labels:
        return torch.arange(rows) % cond.n_classes
    return cond.code(torch.arange(rows) % max(cond.categorical, 1), torch.zeros(rows, cond.continuous))


def conditions_for_picture(exp: Experiment, n: int, label: int | None = None) -> tuple[Tensor | None, int, int]:
    """(conditions, number of samples, samples per row) for a sample picture of a run.

    Unconditional: no conditions, ``n`` samples in rows of √n.  ``label`` given: n samples of that class.
    Class- or code-conditional without a label: one row per class (or category), ⌈n / K⌉ samples each."""
    cond = exp.condition
    if label is not None:
        _check_label(exp, label)
        return torch.full((n,), label, dtype=torch.long), n, max(1, int(round(n**0.5)))
    if cond is None:
        return None, n, max(1, int(round(n**0.5)))
    k = cond.n_classes if cond.needs_labels else max(cond.categorical, 1)
    per_row = -(-n // k)
    return _row_conditions(exp, k).repeat_interleave(per_row, 0), k * per_row, per_row


def code_sweep(exp: Experiment, code: str, rows: int = 10, steps: int = 9, limit: float = 2.0) -> Tensor:
    """InfoGAN codes (rows · steps, cond_dim) that sweep one code along each row while the others stay fixed.

    ``code`` ``cat``: the columns run through the categories.  ``c1``, ``c2``, …: that continuous code runs
    from −``limit`` to ``limit`` (Chen et al. 2016 sweep −2…2, beyond the training range [−1, 1]) and row r
    has category r; every other continuous code is 0."""
    cond = exp.condition
    if cond is None or cond.name != "infogan":
        raise RunError("--sweep walks InfoGAN's latent codes; this run is "
                       + ("unconditional" if cond is None else f"conditional={cond.name} (use --label)"))
    names = (["cat"] if cond.categorical else []) + [f"c{i + 1}" for i in range(cond.continuous)]
    if code not in names:
        raise RunError(f"--sweep {code}: this run's codes are {', '.join(names)}")
    if code == "cat":
        k = cond.categorical
        cats = torch.arange(k).repeat(rows)  # each row: every category in turn
        return cond.code(cats, torch.zeros(rows * k, cond.continuous))
    i = int(code[1:]) - 1
    cats = (torch.arange(rows) % max(cond.categorical, 1)).repeat_interleave(steps)
    cont = torch.zeros(rows * steps, cond.continuous)
    cont[:, i] = torch.linspace(-limit, limit, steps).repeat(rows)
    return cond.code(cats, cont)


@torch.no_grad()
def save_code_sweep(exp: Experiment, path: str | Path, code: str, rows: int = 10, seed: int = 0) -> Path:
    """A picture of :func:`code_sweep`: each row keeps its noise z, its columns change only ``code``."""
    from torchvision.utils import save_image

    codes = code_sweep(exp, code, rows)
    per_row = codes.shape[0] // rows
    z = torch.randn(rows, exp.cfg.z_dim, generator=torch.Generator().manual_seed(seed)).repeat_interleave(per_row, 0)
    G = exp.sampler
    was = G.training
    G.eval()
    x = G(z.to(exp.device), codes.to(exp.device)).float().cpu()
    G.train(was)
    path = Path(path)
    save_image(x, str(path), nrow=per_row, normalize=True, value_range=(-1, 1))
    return path


def save_sample_picture(exp: Experiment, path: str | Path, n: int = 64, seed: int = 0, label: int | None = None) -> Path:
    """An image grid (√n per row; for a conditional run without ``label``, one row per class) or, for 2-D
    data, a scatter of ``n`` points over the data."""
    from . import plots

    path = Path(path)
    if exp.images:
        from torchvision.utils import save_image

        cond, n, per_row = conditions_for_picture(exp, n, label)
        x = sample(exp, n, seed, cond)
        save_image(x, str(path), nrow=per_row, normalize=True, value_range=(-1, 1))
        return path
    x = sample(exp, n, seed)
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
    if exp.condition is None:
        x = G(z.to(exp.device)).float().cpu() * exp.scale
    else:  # conditional: the walk changes z only; row r keeps class (category) r
        x = G(z.to(exp.device), _row_conditions(exp, rows).repeat_interleave(steps, 0).to(exp.device)).float().cpu()
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
