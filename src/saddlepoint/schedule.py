"""Gradient descent-ascent schedules: the one place that zeroes, differentiates and steps.

The game is min_G max_D V(G, D).  In loss form (see :mod:`saddlepoint.games`) the critic descends
``d_loss`` (= −V) and the generator descends ``g_loss``.

* **alternating** GDA: k critic steps, each on a fresh batch against the current generator, then one
  generator step that sees the *updated* critic (Goodfellow et al. 2014, Algorithm 1).
* **generator-first** alternating GDA: one generator step against the current critic, then k critic steps
  against the *updated* generator (the order CS 446 L21 writes).
* **simultaneous** GDA: both players' gradients are taken at the *same* parameters (θ_G, θ_D), then
  both step.  With k > 1 the first k−1 critic steps run alone and the last critic step is taken
  together with the generator step.

A schedule is a value (:class:`GDA`); :func:`gda_step` runs one generator step of it; :func:`supervised_step` is
the step of a family that plays no game this run (the generator on its condition's own term alone).

No forward pass is computed twice where the schedule allows one: with ``reuse_fake`` (alternating
GDA) the generator's batch of the last critic step, G(z), is kept with its graph and the generator step
scores it again under the updated critic, instead of drawing new noise and running G a second time
(pytorch/examples' DCGAN does the same).  Mixed precision (autocast, and a gradient scaler for float16)
and the unwrapping of a distributed critic for the generator step live here too, so the training loop
never touches ``backward``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal, Union

import torch
from torch import Tensor, nn

from .conditional import split_batch
from .games import Game
from .penalties import Penalty, clip_weights

if TYPE_CHECKING:
    from .conditional import Condition
    from .pool import HistoryPool

__all__ = ["GDA", "Contest", "gda_step", "critic_step", "generator_step", "supervised_step", "critic_scores"]

Batch = Union[Tensor, tuple[Tensor, Tensor]]  # x, or (x, its label / code)


@dataclass(frozen=True)
class GDA:
    """How the two players take turns: ``mode`` and ``critic_steps`` (k) per generator step."""

    mode: Literal["alternating", "simultaneous", "generator-first"] = "alternating"
    critic_steps: int = 1
    reuse_fake: bool = True  # alternating: the generator step re-scores the last critic step's G(z)

    def __post_init__(self) -> None:
        if self.mode not in ("alternating", "simultaneous", "generator-first"):
            raise ValueError(f"schedule mode must be 'alternating', 'simultaneous' or 'generator-first', not "
                             f"{self.mode!r}")
        if self.critic_steps < 1:
            raise ValueError(f"critic_steps must be at least 1, not {self.critic_steps}")


@dataclass
class Contest:
    """The two players, their optimizers, the game and the critic's regularizers."""

    generator: nn.Module
    critic: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    game: Game
    penalties: tuple[Penalty, ...] = ()
    weight_clip: float | None = None
    critic_steps_taken: int = field(default=0)
    precision: torch.dtype | None = None  # autocast dtype for the players' forward passes (None = float32)
    scaler_g: torch.amp.GradScaler | None = None  # float16 only: loss scaling per player
    scaler_d: torch.amp.GradScaler | None = None
    condition: "Condition | None" = None  # class / code conditioning and its loss terms (saddlepoint.conditional)
    gan_weight: float = 1.0  # weight of the adversarial term in the generator's loss (0: its condition's term alone)
    g_penalties: tuple[Penalty, ...] = ()  # terms in G's loss: cycle, identity (they run G again), mmd
    pool: "HistoryPool | None" = None  # the critic sees a history of fakes (CycleGAN)
    # The same critic uncompiled, for the penalties that differentiate it twice (R1, WGAN-GP): torch.compile's
    # backward cannot be differentiated again.  None: ``critic`` itself.
    penalized_critic: nn.Module | None = None

    def autocast(self) -> contextlib.AbstractContextManager:
        """The forward passes' precision: autocast to ``precision`` on the players' device."""
        if self.precision is None:
            return contextlib.nullcontext()
        device = next(self.generator.parameters()).device.type
        return torch.autocast(device, dtype=self.precision)


def _descend(loss: Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    """One optimizer step down ``loss`` (scaled for float16, so small gradients do not flush to zero)."""
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


def _local(module: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (the generator step needs no critic gradients,
    so it must not enter the critic's gradient synchronization)."""
    return getattr(module, "module", module)


def _has_batch_statistics(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in module.modules())


CriticOutput = Union[Tensor, tuple[Tensor, Tensor]]  # scores (B,), or (scores, auxiliary outputs)


def _score(out: CriticOutput) -> Tensor:
    return out if isinstance(out, Tensor) else out[0]


def _aux(out: CriticOutput) -> Tensor | None:
    return None if isinstance(out, Tensor) else out[1]


def critic_scores(D: nn.Module, real: Tensor, fake: Tensor, real_labels: Tensor | None = None,
                  fake_labels: Tensor | None = None) -> tuple[CriticOutput, CriticOutput]:
    """(D(real), D(fake)) — with the labels, D(real, y) and D(fake, c), for a critic that reads them.
    One forward pass over the concatenated batch when the critic has no batch statistics (which would
    mix the two halves); two passes otherwise."""
    labelled = real_labels is not None
    if _has_batch_statistics(D) or real.shape[1:] != fake.shape[1:]:
        if labelled:
            return D(real, real_labels), D(fake, fake_labels)
        return D(real), D(fake)
    both = torch.cat([real, fake], dim=0)
    out = D(both, torch.cat([real_labels, fake_labels])) if labelled else D(both)
    n_real = _score(out).shape[0] * real.shape[0] // (real.shape[0] + fake.shape[0])
    if isinstance(out, Tensor):
        return out[:n_real], out[n_real:]
    return tuple(o[:n_real] for o in out), tuple(o[n_real:] for o in out)


def _generate(G: nn.Module, z: Tensor | None, code: Tensor | None) -> Tensor:
    if z is None:  # translation: the source image is the generator's whole input
        return G(code)
    return G(z) if code is None else G(z, code)


def _draw(c: "Contest", sample_real: Callable[[], Batch], sample_noise: Callable[[], Batch]):
    """(real, its label / source y, noise z, the generator's condition): a translation generator is given the
    real batch's own source image and no noise."""
    real, y = split_batch(sample_real())
    if c.condition is not None and c.condition.from_real:
        return real, y, None, y
    z, code = split_batch(sample_noise())
    return real, y, z, code


def _reads_label(c: "Contest") -> bool:
    return c.condition is not None and c.condition.critic_reads_label


def _critic_loss(c: Contest, real: Tensor, fake: Tensor, real_out: CriticOutput, fake_out: CriticOutput,
                 y: Tensor | None, code: Tensor | None, logs: dict[str, Tensor]) -> Tensor:
    """d_loss, the condition's critic term and every penalty due on this critic step (each penalty also
    logged on its own as ``loss/<name>``).  ``fake`` must already be detached.  Penalties (input gradients,
    double backward) run in float32, outside autocast; a critic that reads labels is penalized at the real
    labels."""
    fake_scores = _score(fake_out).float()
    if getattr(c.condition, "mismatched", False):
        # Matching-aware (GAN-INT-CLS): real images with the sentences of other images are fakes too, half the
        # fake side — the game's own d_loss over both halves is the paper's ½(fake) + ½(mismatched).
        with c.autocast():
            wrong = _score(c.critic(real, y.roll(1, 0))).float()
        fake_scores = torch.cat([fake_scores, wrong])
    loss = c.game.d_loss(_score(real_out).float(), fake_scores)
    if c.condition is not None:
        term = c.condition.d_term(_aux(real_out), _aux(fake_out), y, code)
        if term is not None:
            loss = loss + term
    due = [pen for pen in c.penalties if pen.due(c.critic_steps_taken)]
    if due:
        D = c.critic if c.penalized_critic is None else c.penalized_critic
        critic = (lambda x: _score(D(x, y))) if _reads_label(c) else (lambda x: _score(D(x)))
        for pen in due:
            if pen.on_scores:
                term = pen(_score(real_out).float(), fake_scores)
            else:
                term = pen((lambda x: _aux(D(x))) if pen.reads_aux else critic, real, fake)
            logs[f"loss/{pen.name}"] = term.detach()
            loss = loss + term
    return loss


def _after_critic_step(c: Contest) -> None:
    if c.weight_clip is not None:
        clip_weights(c.critic, c.weight_clip)
    c.critic_steps_taken += 1


def _critic_step(c: Contest, real: Tensor, y: Tensor | None, fake: Tensor, code: Tensor | None) -> dict[str, Tensor]:
    # Update D: descend d_loss(D(x), D(G(z))) with G held fixed — the .detach() cuts the graph into G.
    fake = fake.detach()
    if c.pool is not None:
        fake = c.pool.draw(fake)
    labels = (y, code) if _reads_label(c) else (None, None)
    with c.autocast():
        real_out, fake_out = critic_scores(c.critic, real, fake, *labels)
    logs: dict[str, Tensor] = {}
    loss_d = _critic_loss(c, real, fake, real_out, fake_out, y, code, logs)
    _descend(loss_d, c.opt_d, c.scaler_d)
    _after_critic_step(c)
    return {"loss/D": loss_d.detach(), "score/D(x)": _score(real_out).detach().float().mean(),
            "score/D(G(z))": _score(fake_out).detach().float().mean(), **logs}


def _generator_loss(c: Contest, fake_out: CriticOutput | None, code: Tensor | None, logs: dict[str, Tensor],
                    fake: Tensor, real: Tensor) -> Tensor:
    """gan_weight · g_loss plus the condition's generator term (logged on its own as ``loss/<condition>``) and the
    generator penalties; without critic scores (``fake_out`` None: no game) the last two alone."""
    if fake_out is None:
        loss = torch.zeros((), device=fake.device)
    else:
        loss = c.game.g_loss(_score(fake_out).float())
        if c.gan_weight != 1.0:
            loss = c.gan_weight * loss
    if c.condition is not None:
        term = c.condition.g_term(None if fake_out is None else _aux(fake_out), code, fake, real)
        if term is not None:
            logs[f"loss/{c.condition.name}"] = term.detach()
            loss = loss + term
    for pen in c.g_penalties:  # in the generator's autocast, like its forward passes
        with c.autocast():
            term = pen(c.generator, real, fake)
        logs[f"loss/{pen.name}"] = term.detach()
        loss = loss + term.float()
    return loss


def supervised_step(c: Contest, sample_real: Callable[[], Batch], sample_noise: Callable[[], Batch]) -> dict[str, Tensor]:
    """No game: the generator descends its condition's term and penalties alone (pix2pix's L1-only baseline,
    SRResNet's pixel loss, a family's ``gan_weight=0``) and the critic, which nothing reads, is not trained."""
    real, _, z, code = _draw(c, sample_real, sample_noise)
    logs: dict[str, Tensor] = {}
    with c.autocast():
        fake = _generate(c.generator, z, code)
    loss = _generator_loss(c, None, code, logs, fake, real)
    if not loss.requires_grad:
        raise ValueError("gan_weight=0 leaves the generator no loss: its condition adds no term of its own")
    _descend(loss, c.opt_g, c.scaler_g)
    logs["loss/G"] = loss.detach()
    return logs


def critic_step(c: Contest, sample_real: Callable[[], Batch], sample_noise: Callable[[], Batch]) -> dict[str, Tensor]:
    """One critic step on a fresh batch against the current generator (held fixed)."""
    real, y, z, code = _draw(c, sample_real, sample_noise)
    with c.autocast(), torch.no_grad():
        fake = _generate(c.generator, z, code)
    return _critic_step(c, real, y, fake, code)


def generator_step(c: Contest, sample_real: Callable[[], Batch], sample_noise: Callable[[], Batch]) -> dict[str, Tensor]:
    """One generator step on fresh noise against the current critic (held fixed)."""
    real, _, z, code = _draw(c, sample_real, sample_noise)
    return _generator_update(c, real, z, code, {})


def _generator_update(c: Contest, real: Tensor, z: Tensor | None, code: Tensor | None, logs: dict[str, Tensor],
                      fake: Tensor | None = None) -> dict[str, Tensor]:
    """Descend g_loss(D(G(z))) with the critic's weights held fixed (``fake``: G(z) already computed, with its
    graph); ``logs`` gains ``loss/G`` and the generator's terms."""
    D_local = _local(c.critic)
    D_local.requires_grad_(False)
    try:
        with c.autocast():
            if fake is None:
                fake = _generate(c.generator, z, code)
            fake_out = D_local(fake, code) if _reads_label(c) else D_local(fake)
        loss_g = _generator_loss(c, fake_out, code, logs, fake, real)
        _descend(loss_g, c.opt_g, c.scaler_g)
    finally:
        D_local.requires_grad_(True)
    logs["loss/G"] = loss_g.detach()
    return logs


def gda_step(
    schedule: GDA,
    c: Contest,
    sample_real: Callable[[], Batch],
    sample_noise: Callable[[], Batch],
) -> dict[str, Tensor]:
    """One generator step of ``schedule`` (with its k critic steps).  ``sample_real`` gives x or (x, y);
    ``sample_noise`` gives z or (z, c) with c the label or code the generator is given.  Returns detached
    scalars (``loss/D``, ``loss/G``, ``score/D(x)``, ``score/D(G(z))``), left on the device so the caller
    decides when to synchronize."""
    G, D = c.generator, c.critic
    logs: dict[str, Tensor] = {}
    if schedule.mode == "generator-first":
        g_logs = generator_step(c, sample_real, sample_noise)
        for _ in range(schedule.critic_steps):
            logs = critic_step(c, sample_real, sample_noise)
        return {**logs, **g_logs}
    if schedule.mode == "alternating":
        fake, code = None, None
        for i in range(schedule.critic_steps):
            keep = schedule.reuse_fake and i == schedule.critic_steps - 1  # G(z) the generator step will reuse
            real, y, z, code = _draw(c, sample_real, sample_noise)
            with c.autocast(), (contextlib.nullcontext() if keep else torch.no_grad()):
                fake = _generate(G, z, code)
            logs = _critic_step(c, real, y, fake, code)
        # Update G against the critic just updated: the last critic step's G(z), or G on fresh noise.
        if not schedule.reuse_fake:
            real, y, z, code = _draw(c, sample_real, sample_noise)
            fake = None
        return _generator_update(c, real, z, code, logs, fake)

    # Simultaneous: the first k−1 critic steps alone, then both gradients at the same (θ_G, θ_D) from
    # one forward pass of each player.
    for _ in range(schedule.critic_steps - 1):
        real, y, z, code = _draw(c, sample_real, sample_noise)
        with c.autocast(), torch.no_grad():
            fake = _generate(G, z, code)
        logs = _critic_step(c, real, y, fake, code)
    real, y, z, code = _draw(c, sample_real, sample_noise)
    labels = (y, code) if _reads_label(c) else (None, None)
    with c.autocast():
        fake = _generate(G, z, code)
        real_out, fake_out = critic_scores(D, real, fake, *labels)
    logs: dict[str, Tensor] = {}
    loss_d = _critic_loss(c, real, fake.detach(), real_out, fake_out, y, code, logs)
    loss_g = _generator_loss(c, fake_out, code, logs, fake, real)
    d_params = [p for p in D.parameters() if p.requires_grad]
    g_params = [p for p in G.parameters() if p.requires_grad]
    if c.scaler_d is not None:
        raise ValueError("simultaneous GDA does not support float16 loss scaling; use precision=bf16 or fp32")
    grads_d = torch.autograd.grad(loss_d, d_params, retain_graph=True)
    grads_g = torch.autograd.grad(loss_g, g_params)
    for p, g in zip(d_params, grads_d):
        p.grad = g
    for p, g in zip(g_params, grads_g):
        p.grad = g
    c.opt_d.step()
    c.opt_g.step()
    _after_critic_step(c)
    return {
        "loss/D": loss_d.detach(),
        "loss/G": loss_g.detach(),
        "score/D(x)": _score(real_out).detach().float().mean(),
        "score/D(G(z))": _score(fake_out).detach().float().mean(),
        **logs,
    }
