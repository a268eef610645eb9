"""The latent search that every use of a trained generator shares: find, for each of many targets, the latent
code z whose generated image makes a task's loss small.

    ẑ = argmin_z  loss(G(z), target) + λ‖z‖²

Compressed sensing (the loss is the measurement error ‖A G(z) − y‖², Bora et al. 2017), inversion (the pixel
error ‖G(z) − x‖²) and unrestricted adversarial examples (a classifier's cross-entropy, Song et al. 2018) are
each this search with their own loss.  It runs every target and every random restart as one batch (each code's
loss depends on its own code only, and Adam and SGD move each coordinate by its own gradient, so the batch is
exactly that many independent searches), keeps each target's restart with the lowest final loss, and is
reproducible from its seed: the starting codes and the injected noise come from one ``torch.Generator``.

A task may also say when a code is good enough: ``loss_fn`` then returns ``(loss, reached)``, and a row whose current
code has reached the task's goal is frozen there (its code and extra variables no longer move, its loss is no longer
computed, and the search stops when every row is frozen): the first code that does it, not a later one that went
further than it needed.

``noise`` > 0 adds Gaussian noise to the gradient, of variance ``noise / (1 + t)^0.55`` at step t (the annealed
schedule of Song et al. 2018, after Neelakantan et al. 2015): a Langevin-like search that can leave a poor basin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import torch
from torch import Tensor

from .. import optim

__all__ = ["LatentSearch", "SearchResult", "search"]


@dataclass(frozen=True)
class LatentSearch:
    """How the latent codes are searched (the constructor's arguments are the settings)."""

    steps: int = 1000  # optimizer steps per restart (CSGM: 1000)
    lr: float = 0.01  # CSGM: Adam 0.01
    optimizer: Literal["adam", "sgd"] = "adam"
    restarts: int = 10  # random starting codes per target; the one with the lowest final loss is kept
    prior: float = 0.0  # λ of the λ‖z‖² term that keeps z where the prior has mass (CSGM's VAE+Reg: 0.1)
    noise: float = 0.0  # variance of the gradient noise at step 0, annealed as 1/(1+t)^0.55
    seed: int = 0
    batch: int = 2048  # codes optimized at once (targets × restarts are split into chunks of at most this many)

    def __post_init__(self):
        if self.steps < 0 or self.restarts < 1 or self.lr <= 0 or self.prior < 0 or self.noise < 0 or self.batch < 1:
            raise ValueError(f"steps={self.steps}, restarts={self.restarts}, lr={self.lr:g}, prior={self.prior:g}, "
                             f"noise={self.noise:g}, batch={self.batch}: give steps ≥ 0, restarts ≥ 1, lr > 0, "
                             "prior ≥ 0, noise ≥ 0 and batch ≥ 1")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer={self.optimizer!r}: choose adam or sgd")


@dataclass
class SearchResult:
    z: Tensor  # (N, d) the kept code of each target
    loss: Tensor  # (N,) its final objective (task loss + prior term)
    task_loss: Tensor  # (N,) the task's loss alone
    restart: Tensor  # (N,) which restart was kept
    extra: dict[str, Tensor] = field(default_factory=dict)  # other searched variables of the kept restart, (N, ...)
    reached: Tensor | None = None  # (N,) bool: the kept code reached the task's goal (when the task says so)
    steps: Tensor | None = None  # (N,) optimizer steps the kept code took (fewer than settings.steps once reached)


def search(loss_fn: Callable[[Tensor, Tensor, dict[str, Tensor]], Tensor | tuple[Tensor, Tensor]], n: int, z_dim: int,
           settings: LatentSearch = LatentSearch(), prior: Callable[[int, torch.Generator], Tensor] | None = None,
           init: Tensor | None = None, extra: dict[str, Tensor] | None = None,
           extra_penalty: Callable[[dict[str, Tensor]], Tensor] | None = None, device: torch.device | str = "cpu",
           progress: bool = False, desc: str = "latent search") -> SearchResult:
    """Search a code for each of ``n`` targets.

    ``loss_fn(z, index, extra)`` → (B,): the task loss of the codes ``z`` (B, d) for the targets ``index`` (B,)
    (so a batch may hold several restarts of the same target); ``extra`` holds the other variables searched beside
    z for these rows (e.g. a sparse deviation from the generator's range), each (B, ...).  Or → ((B,), (B,) bool):
    the loss and which rows have reached the task's goal, which are then frozen where they first reached it.
    ``prior(k, generator)`` draws k starting codes (default: standard normal).  ``init`` (n, d): start the first
    restart of each target there (an encoder's guess); the others start from the prior.  ``init`` (R, n, d), R the
    number of restarts: every restart's start.
    ``extra``: name → (n, ...) starting values of variables searched jointly with z (the same for every restart);
    ``extra_penalty(extra)`` → (B,) their regularizer, added to the objective."""
    s = settings
    g = torch.Generator().manual_seed(s.seed)
    draw = prior or (lambda k, gen: torch.randn(k, z_dim, generator=gen))
    starts = draw(n * s.restarts, g).view(s.restarts, n, z_dim)  # (R, n, d): restart-major
    if init is not None:
        if init.shape == (s.restarts, n, z_dim):
            starts = init.clone()
        elif init.shape == (n, z_dim):
            starts[0] = init
        else:
            raise ValueError(f"init has shape {tuple(init.shape)}; expected ({n}, {z_dim}) or "
                             f"({s.restarts}, {n}, {z_dim})")
    index = torch.arange(n).repeat(s.restarts)  # (R·n,) which target each code serves
    z_all = starts.reshape(-1, z_dim)
    extra = extra or {}
    best = SearchResult(torch.zeros(n, z_dim), torch.full((n,), float("inf")), torch.full((n,), float("inf")),
                        torch.zeros(n, dtype=torch.long), {k: v.detach().clone() for k, v in extra.items()},
                        torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.long))
    chunks = list(torch.arange(len(index)).split(s.batch))
    from tqdm import tqdm

    reports = False  # whether the task says when a code has reached its goal
    bar = tqdm(total=len(chunks) * s.steps, disable=not progress, desc=desc, unit="step", leave=False)
    for rows in chunks:
        idx = index[rows]
        z = z_all[rows].clone().to(device).requires_grad_(True)
        ex = {k: v[idx].clone().to(device).requires_grad_(True) for k, v in extra.items()}
        params = [z, *ex.values()]
        opt = (optim.Adam(params, lr=s.lr) if s.optimizer == "adam" else optim.SGD(params, lr=s.lr))

        idx_dev = idx.to(device)

        def objective(act: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
            """The objective of every row, or of the rows ``act`` only (a frozen row's loss is not needed)."""
            zz, ii = (z, idx_dev) if act is None else (z[act], idx_dev[act])
            exx = ex if act is None else {k: v[act] for k, v in ex.items()}
            task = loss_fn(zz, ii, exx)  # (B,), or ((B,), (B,) bool)
            task, reached = task if isinstance(task, tuple) else (task, None)
            total = task + s.prior * zz.pow(2).sum(1)
            if extra_penalty is not None:
                total = total + extra_penalty(exx)
            return total, task, reached

        frozen = torch.zeros(len(rows), dtype=torch.bool, device=device)
        held = [p.detach().clone() for p in params]  # a frozen row's values, where it first reached the goal
        took = torch.full((len(rows),), s.steps, dtype=torch.long)
        for t in range(s.steps):
            opt.zero_grad(set_to_none=True)
            act = ~frozen if frozen.any() else None  # once rows are frozen, only the others are computed
            total, _, reached = objective(act)
            if reached is not None:
                if act is not None:
                    reached = torch.zeros_like(frozen).masked_scatter(act, reached.detach().to(device))
                new = reached.detach().to(device) & ~frozen
                if new.any():
                    for p, h in zip(params, held):
                        h[new] = p.detach()[new]
                    frozen |= new
                    took[new.cpu()] = t
                if frozen.all():
                    bar.update(s.steps - t)
                    break
            total.sum().backward()  # each code's gradient is its own loss's: the rows are independent searches
            if s.noise > 0:  # each row's noise depends on (seed, step, row) only: the same however the rows are chunked
                std = (s.noise / (1 + t) ** 0.55) ** 0.5
                for k, p in enumerate(params):
                    g_t = torch.Generator().manual_seed((s.seed * 1_000_003 + t) * 17 + k)
                    every = torch.randn((len(index), *p.shape[1:]), generator=g_t)
                    p.grad.add_(every[rows].to(device) * std)
            opt.step()
            if frozen.any():
                with torch.no_grad():
                    for p, h in zip(params, held):
                        p[frozen] = h[frozen]
            bar.update(1)
        with torch.no_grad():
            total, task, reached = objective()
        reports = reports or reached is not None
        done = frozen.cpu() | (reached.detach().cpu() if reached is not None else False)
        total, task, z_end = total.detach().cpu(), task.detach().cpu(), z.detach().cpu()
        for j, (i, r) in enumerate(zip(idx.tolist(), (rows // n).tolist())):
            # a restart that reached the goal beats one that did not; then the lower loss; a loss that is not finite
            # is never kept
            better = (done[j] and not best.reached[i] and torch.isfinite(total[j])) or (
                done[j] == best.reached[i] and total[j] < best.loss[i])
            if better:
                best.loss[i], best.task_loss[i], best.z[i], best.restart[i] = total[j], task[j], z_end[j], r
                best.reached[i], best.steps[i] = done[j], took[j]
                for k, v in ex.items():
                    best.extra[k][i] = v[j].detach().cpu()
    bar.close()
    if not reports:
        best.reached = None
    return best
