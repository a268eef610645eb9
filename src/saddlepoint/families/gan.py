"""The GAN families: a generator and a critic playing a registered game by gradient descent-ascent.

Unconditional GANs, class-conditional ones (cGAN, projection, AC-GAN), InfoGAN and the translation games
(pix2pix, CycleGAN, super-resolution) share this module's step: :func:`saddlepoint.schedule.gda_step` over a
:class:`~saddlepoint.schedule.Contest` of the two players, their optimizers, the game
(:mod:`saddlepoint.games`), the critic's penalties and the condition (:mod:`saddlepoint.conditional`) that says
what the generator is told beside its noise.  ``gan_weight=0`` trains the generator on its condition's own
term alone (pix2pix's L1 baseline, SRResNet: :func:`saddlepoint.schedule.supervised_step`) and never steps the
critic.  Each kind of condition lives in a module of its own next to this one (``classcond``, ``infogan``,
``pix2pix``, ``cyclegan``, ``superres``) with its keys, data, metrics and pictures.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..augment import POLICIES, Augmented, parse_policy
from ..conditional import CONDITIONS, Condition, make_condition
from ..data import TOY_DATASETS, GaussianMixture2D
from ..distributed import Dist, wrap
from ..games import GAMES, get_game
from ..keys import ConfigError, check_choice, config_section, key
from ..nets import PLAYERS, PlayerSpec, build_players, with_spectral_norm
from ..nets.conditional import AuxiliaryCritic, ConditionalGenerator, LabelCritic
from ..nets.gemm import use_gemm_convolutions
from ..nets.progan import at_current_resolution, growth_of, set_growth_step
from ..penalties import (Penalty, code_consistency, drift_penalty, gradient_penalty, mmd_to_data, orthogonal_penalty,
                         r1_penalty)
from ..pool import HistoryPool
from ..precision import time_call
from ..runs import RunError
from ..schedule import GDA, Contest, critic_step, gda_step, generator_step, supervised_step
from ..state import GeneratorState, Stateful, Value, Whole
from .base import EVAL_SEED, Family, adam, eval_mode, two_d_data
from .registry import register_family

__all__ = ["GANKeys", "GANFamily", "CRITIC_PENALTIES"]

AUGMENT_SEED = 7919  # the augmentations' stream is seeded by seed + this (apart from the data's and the noise's)
# The keys of the critic's penalties (weights; each becomes a Penalty spaced out by penalty_every).
CRITIC_PENALTIES = ("gradient_penalty", "r1", "drift", "info_consistency")


@config_section("gan", family="gan")
class GANKeys:
    """The game, its players, their conditions and the schedule: keys only the GAN families read."""

    game: str = key("nonsaturating", "objective (see `saddlepoint recipes --games`)")
    gradient_penalty: float = key(0.0, "WGAN-GP weight λ on E(‖∇D(x̂)‖−1)² (0 = off)", min=0)
    r1: float = key(0.0, "R1 weight (γ/2 in Mescheder et al. 2018) on E_P‖∇D(x)‖² (0 = off)", min=0)
    drift: float = key(0.0, "weight ε of ProGAN's drift term ε·E_P[D(x)²] that keeps the critic's scores near 0 "
                            "(Karras et al. 2018: 0.001; 0 = off)", min=0)
    penalty_every: int = key(1, "apply penalties every k-th critic step (lazy regularization)", min=1)
    weight_clip: float = key(0.0, "WGAN weight clipping c: critic weights clamped to [−c, c] (0 = off)", min=0)
    spectral_norm: bool = key(False, "spectral normalization on every critic layer")
    mmd: float = key(0.0, "weight of MMD² between each generator batch and a real batch, added to G's loss: GMMN's "
                         "objective (Li et al. 2015) beside the game, which sees how often each kind of sample is "
                         "drawn (0 = off)", min=0)
    mmd_bandwidth: float = key(8.0, "mmd: width σ of the Gaussian kernels (σ and 2σ, summed), in the units the "
                                   "players see (images: pixels in [−1, 1], where two MNIST digits lie about 20 "
                                   "apart; 2-D data: divided by its scale)", positive=True)
    mmd_channels: bool = key(False, "mmd on images: one MMD² per channel, summed (each channel's distribution "
                                   "matched on its own; stacked MNIST's channels are independent digits)")
    schedule: Literal["alternating", "simultaneous", "generator-first"] = key(
        "alternating", "gradient descent-ascent form: alternating (k critic steps, then the generator against the "
                       "updated critic), simultaneous (both at the same point), generator-first (alternating with "
                       "the generator's step first, as CS 446 writes it)")
    critic_steps: int = key(1, "critic steps per generator step (k)", min=1)
    lr_d: float = key(1e-3, "critic learning rate", positive=True)
    model: Literal["mlp", "dcgan", "resnet", "biggan", "progan", "small", "infogan", "unet", "srresnet",
                   "cyclegan"] = key(
        "mlp", "player family: mlp (2-D data); dcgan, resnet or small (images; progan = players grown a resolution "
               "at a time (progan_fade_images, progan_stable_images); biggan = the ResNet players with "
               "class-conditional batch norm from a shared embedding and z split across the blocks; small = the "
               "Unrolled-GAN paper's "
               "28-px stacked-MNIST players, base_channels = critic width: 2 for D = ¼ G, 4 for D = ½ G); infogan "
               "(the InfoGAN paper's MNIST players: convolutions and a fully connected layer of 16·base_channels); unet "
               "(pix2pix: U-Net generator, PatchGAN critic); srresnet (SRGAN's players, 4× super-resolution); cyclegan "
               "(two ResNet translators, two PatchGAN critics)")
    base_channels: int = key(64, "DCGAN width (ResNet: G 4×, critic 2× this)", min=1)
    g_hidden: int = key(256, "generator hidden units", min=1)
    g_layers: int = key(3, "generator hidden layers", min=1)
    g_batch_norm: bool = key(False, "batch norm in the generator's hidden layers")
    d_hidden: int = key(256, "critic hidden units", min=1)
    d_layers: int = key(3, "critic hidden layers", min=1)
    d_maxout: int = key(1, "maxout pieces per critic unit (1 = LeakyReLU 0.2)", min=1)
    pack: int = key(1, "PacGAN packing: samples the critic judges jointly", min=1)
    critic_batch_norm: bool = key(True, "batch norm in the hidden layers of the dcgan, small, infogan, srresnet "
                                       "and unet (pix2pix PatchGAN) critics (false: none; a critic then left "
                                       "without batch statistics scores real and fake in one pass — InfoGAN's "
                                       "and AC-GAN's heads keep theirs)")
    conditional: str = key(
        "none", "conditional generation: cgan or acgan (class labels; needs labelled data), infogan (latent codes, "
                "no labels), pix2pix (paired image translation, model=unet), srgan (4× super-resolution, "
                "model=srresnet) or cyclegan (unpaired translation, model=cyclegan); each kind's own keys follow")
    # Keys that several kinds of condition read (each kind's own keys are in its module).
    aux_weight: float = key(1.0, "acgan: weight of the class cross-entropy; infogan: λ on the mutual-information term",
                            min=0, conditions=("acgan", "infogan"))
    gan_weight: float = key(1.0, "pix2pix, srgan: weight of the adversarial term in G's loss (0 = the L1-only "
                                "baseline, no critic is trained; srgan: 0 = SRResNet, 0.001 = SRGAN)", min=0,
                            conditions=("pix2pix", "srgan"))
    res_blocks: int = key(16, "srresnet, cyclegan: residual blocks in each generator (SRGAN: 16; CycleGAN: 6 at 128 px)",
                          min=1, conditions=("srgan", "cyclegan"))
    attention: int = key(0, "model=resnet or biggan: a self-attention block (SAGAN) in both players after their block of this "
                            "side in pixels, e.g. 14 at 28 px or 16 at 32 px (0 = none)", min=0)
    ortho_reg: float = key(0.0, "BigGAN's orthogonal regularization on the generator's weights, off-diagonal only "
                               "(β; BigGAN: 1e-4; 0 = off)", min=0)
    progan_fade_images: int = key(600_000, "model=progan: images over which each new resolution fades in (the "
                                           "paper: 600k)", min=0)
    progan_stable_images: int = key(600_000, "model=progan: images at each resolution once faded in, and at the "
                                             "first (the paper: 600k)", min=1)
    reuse_fake: bool = key(True, "alternating GDA: the generator step re-scores the last critic step's G(z) instead of "
                                "running G on fresh noise (one generator forward per step instead of two)")
    channels_last: bool = key(True, "image players and batches in channels-last memory format (faster convolutions)")
    gemm_pixels: int = key(0, "image players: convolutions whose smaller feature map has at most this many pixels run "
                             "as one matrix product, e.g. 64 (0 = never)", min=0)
    compile: bool = key(False, "torch.compile both players (slow first steps, then faster on some hardware)")
    augment: str = key("", "DiffAugment (Zhao et al. 2020) for few training images: every image the critic reads, real "
                           "and generated, in both players' steps, passes through random differentiable "
                           "augmentations — any of translation, cutout, color, comma-separated (the paper: "
                           "translation,cutout for few images; color,translation,cutout on CIFAR-10); empty = off")

@register_family("gan")
class GANFamily(Family):
    """A generator G and a critic D in a saddle-point game, played by gradient descent-ascent.

    Builds what a config describes: data, players, optimizers, game, penalties, the condition and the schedule."""

    optimizer_names = ("opt_g", "opt_d")
    growing = None  # progressive growing: the growing generator (nets.progan), which shows the critic the data

    def __init__(self, cfg: Any, dist: Dist, device: torch.device, shapes: dict[str, int] | None = None):
        super().__init__(cfg, dist, device, shapes)
        self._load_data(shapes)
        self.condition = _make_condition(cfg, self.classes)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # data order and noise stream
        G, D = _build_players(cfg, self.channels, self.condition, self.source_channels)
        if cfg.spectral_norm:
            with_spectral_norm(D)
        if self.images and cfg.gemm_pixels:  # small feature maps as matrix products (see nets.gemm)
            use_gemm_convolutions(G, cfg.gemm_pixels)
            use_gemm_convolutions(D, cfg.gemm_pixels, input_size=cfg.image_size)
        self.memory_format = torch.channels_last if (self.images and cfg.channels_last) else torch.contiguous_format
        self.G = G.to(self.device, memory_format=self.memory_format)
        self.D = D.to(self.device, memory_format=self.memory_format)
        self._averages()
        opt_g = adam(self.G.parameters(), cfg.lr_g, cfg)
        opt_d = adam(self.D.parameters(), cfg.lr_d, cfg)
        # The players the step runs: compiled when asked (self.G / self.D keep the weights and state-dict names).
        # Several processes: gradients averaged by DDP (see saddlepoint.distributed for the semantics).
        # DiffAugment: the critic reads every image through the augmentations (its weights stay self.D's).
        self.augment_rng = torch.Generator().manual_seed(cfg.seed + AUGMENT_SEED) if cfg.augment else None
        critic = self._augmented(self.D, self.augment_rng)
        G_run, D_run = wrap(self.G, self.dist, self.device), wrap(critic, self.dist, self.device)
        D_eager = D_run  # the input-gradient penalties differentiate the critic twice, which a compiled one cannot
        if cfg.compile:
            G_run, D_run = torch.compile(G_run), torch.compile(D_run)
        penalties = []
        growing_critic = growth_of(self.D)  # progressive growing: input gradients measured where the critic reads
        slope = (lambda fn: fn) if growing_critic is None else (lambda fn: at_current_resolution(fn, growing_critic))
        if cfg.gradient_penalty > 0:
            penalties.append(Penalty("gradient_penalty", slope(gradient_penalty), cfg.gradient_penalty,
                                     cfg.penalty_every))
        if cfg.r1 > 0:
            penalties.append(Penalty("r1", slope(r1_penalty), cfg.r1, cfg.penalty_every))
        if cfg.drift > 0:
            penalties.append(Penalty("drift", drift_penalty, cfg.drift, cfg.penalty_every, on_scores=True))
        if cfg.info_consistency > 0:
            penalties.append(Penalty("code_consistency", code_consistency(cfg.info_categorical, cfg.info_codes),
                                     cfg.info_consistency, cfg.penalty_every, reads_aux=True))
        g_penalties = []
        if cfg.mmd > 0:
            g_penalties.append(Penalty("mmd", mmd_to_data(cfg.mmd_bandwidth, cfg.mmd_channels), cfg.mmd))
        if cfg.ortho_reg > 0:
            g_penalties.append(Penalty("ortho_reg", orthogonal_penalty, cfg.ortho_reg))
        g_penalties += [Penalty(name, fn, w) for name, fn, w in getattr(self.condition, "generator_terms", ())]
        self.pool = (HistoryPool(cfg.pool_size, group=2, seed=cfg.seed)
                     if getattr(self.condition, "history_pool", False) else None)
        self.schedule = GDA(cfg.schedule, cfg.critic_steps, cfg.reuse_fake)
        game = get_game(cfg.game)

        def contest(G_: nn.Module, D_: nn.Module, opt_g_, opt_d_, dtype: torch.dtype, pool,
                    D_penalized: nn.Module | None = None) -> Contest:
            fp16 = dtype == torch.float16
            return Contest(G_, D_, opt_g_, opt_d_, game, tuple(penalties), weight_clip=cfg.weight_clip or None,
                           precision=None if dtype == torch.float32 else dtype,
                           scaler_g=torch.amp.GradScaler(self.device.type) if fp16 else None,
                           scaler_d=torch.amp.GradScaler(self.device.type) if fp16 else None,
                           condition=self.condition, gan_weight=cfg.gan_weight, g_penalties=tuple(g_penalties),
                           pool=pool, penalized_critic=D_penalized)

        self.growing = growth_of(self.G)  # progressive growing: the generator shows the critic the data
        self.precision, self.precision_note = self._choose_precision(partial(self._time_step, contest))
        self.contest = contest(G_run, D_run, opt_g, opt_d, self.precision, self.pool, D_eager)

    def _augmented(self, D: nn.Module, generator: torch.Generator | None) -> nn.Module:
        """``D`` reading its images through ``augment``'s policies (drawn from ``generator``), or ``D`` itself."""
        return Augmented(D, parse_policy(self.cfg.augment), generator) if self.cfg.augment else D

    # --- the step --------------------------------------------------------------------------------------------
    def train_step(self) -> dict[str, Tensor]:
        if self.growing is None:
            return self._step(self.contest, self.sample_real, self.sample_noise)
        set_growth_step(self.G, self.step)  # progressive growing: the players' place in the schedule
        set_growth_step(self.D, self.step)
        level, alpha = self.growing.phase()
        logs = self._step(self.contest, self.sample_real, self.sample_noise)
        side = self.growing.base * 2 ** level
        return {**logs, "growth/side": torch.tensor(float(side)), "growth/alpha": torch.tensor(alpha)}

    def _step(self, contest: Contest, sample_real, sample_noise) -> dict[str, Tensor]:
        if self.cfg.gan_weight == 0:  # no game: the condition's own term alone (L1 baseline, SRResNet)
            return supervised_step(contest, sample_real, sample_noise)
        return gda_step(self.schedule, contest, sample_real, sample_noise)

    TRIAL_BATCH = 16  # samples per trial step: the ratio of the dtypes' speeds, for a fraction of a second

    def _time_step(self, contest, dtype: torch.dtype, limit: float | None = None) -> float:
        """Seconds of one training step in ``dtype`` on ``TRIAL_BATCH`` samples, on copies of the players and a
        batch from a stream of its own (the run's players, optimizers and streams are left as they were; the caller
        keeps torch's)."""
        G, D = copy.deepcopy(self.G), self._augmented(copy.deepcopy(self.D), torch.Generator().manual_seed(0))
        trial = contest(G, D, adam(G.parameters(), self.cfg.lr_g, self.cfg), adam(D.parameters(), self.cfg.lr_d,
                                                                                  self.cfg), dtype, None)
        stream, self.rng = self.rng, torch.Generator().manual_seed(0)
        try:
            translation = self.condition is not None and self.condition.from_real  # its input is the real batch's
            real, noise = self.sample_real(), (None if translation else self.sample_noise())
        finally:
            self.rng = stream
        n = min(self.cfg.batch_size, self.TRIAL_BATCH) * self.cfg.pack
        real, noise = _first(real, n), (None if noise is None else _first(noise, n))
        return time_call(lambda: self._step(trial, lambda: real, lambda: noise), limit=limit)

    def player_signature(self) -> str:
        cfg = self.cfg
        params = sum(p.numel() for p in self.G.parameters()), sum(p.numel() for p in self.D.parameters())
        return (f"{type(self.G).__name__}/{type(self.D).__name__} {params[0]}+{params[1]} parameters, batch "
                f"{cfg.batch_size}×{cfg.pack}, {cfg.image_size} px, {cfg.conditional}, k={cfg.critic_steps}, "
                f"{cfg.schedule}, channels_last={cfg.channels_last}, gemm_pixels={cfg.gemm_pixels}, "
                f"compile={cfg.compile}")

    def optimizers(self) -> list[tuple[torch.optim.Optimizer, float]]:
        return [(self.contest.opt_g, self.cfg.lr_g), (self.contest.opt_d, self.cfg.lr_d)]

    def weights(self) -> dict[str, nn.Module]:
        w = super().weights()
        out = {"G": w.pop("G"), "D": self.D, **w}
        if getattr(self.condition, "encoder", None) is not None:  # text-to-image: the sentence encoder it trained with
            out["text_encoder"] = self.condition.encoder
        return out

    def run_info(self) -> dict[str, Any]:
        info = super().run_info()
        if getattr(self.condition, "encoder", None) is not None:
            info["text_encoder"] = self.condition.encoder_name
        return info

    def parts(self) -> dict[str, Stateful]:
        parts = super().parts()
        rngs = {k: parts.pop(k) for k in [k for k in parts if k.startswith("rng.")]}
        for name in ("scaler_g", "scaler_d"):
            scaler = getattr(self.contest, name)
            if scaler is not None:
                parts[name] = Whole(scaler)
        if self.pool is not None:
            parts["pool"] = _PoolState(self.pool, next(self.G.parameters()))
        parts.update(rngs)
        if self.augment_rng is not None:
            parts["rng.augment"] = GeneratorState(self.augment_rng)
        parts["critic_steps_taken"] = Value(lambda: self.contest.critic_steps_taken,
                                            lambda v: setattr(self.contest, "critic_steps_taken", int(v)))
        return parts

    def objective(self) -> str:
        return self.cfg.game if self.cfg.gan_weight else "no game: gan_weight=0"

    # --- streams; networks see data divided by its scale ------------------------------------------------------
    # Each process draws the global batch from the shared generator and keeps its slice, so the stream
    # (and every checkpoint) is the same for any number of processes.
    def sample_real(self) -> Tensor | tuple[Tensor, Tensor]:
        """A real batch x, or (x, labels) for a class-conditional game."""
        n = self.cfg.batch_size * self.cfg.pack
        labelled = self.condition is not None and self.condition.needs_labels
        if not labelled:
            x = self.sample_data(n)
            return x if self.growing is None else self.growing.show(x)
        x, y = self.data.sample_labelled(n, self.rng)
        x = (self.dist.shard(x) / self.scale).to(self.device, non_blocking=True)
        x = x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x
        if self.growing is not None:
            x = self.growing.show(x)
        if hasattr(self.condition, "real_condition"):  # text-to-image: the label becomes the image's caption
            return x, self.condition.real_condition(x, self.dist.shard(y), self.rng)
        y = self.dist.shard(y).to(self.device, non_blocking=True)
        return x, (y.contiguous(memory_format=self.memory_format) if y.dim() == 4 else y)  # a source image (pix2pix)

    def sample_noise(self) -> Tensor | tuple[Tensor, Tensor]:
        """Noise z, or (z, c) with the label or code c the conditional generator is given."""
        n = self.cfg.batch_size * self.cfg.pack
        z = self.dist.shard(self.noise(n, self.rng)).to(self.device)
        if self.condition is None:
            return z
        return z, self.dist.shard(self.condition.sample(n, self.rng)).to(self.device)

    def load_image_data(self):
        """Pairs (pix2pix), two domains (CycleGAN), photographs cut into patches (super-resolution) or one image
        set: the condition says which."""
        kind = CONDITIONS.get(self.cfg.conditional)
        return kind.load_data(self.cfg) if hasattr(kind, "load_data") else super().load_image_data()

    @torch.no_grad()
    def generate(self, n: int, seed: int = EVAL_SEED, cond: Tensor | None = None) -> Tensor:
        """``n`` samples in data units (images in [−1, 1]) from the generator in eval mode, noise from ``seed``.
        Conditional runs: ``cond`` holds the n labels (or InfoGAN codes); default every class equally often."""
        if self.condition is None or not self.condition.from_real:
            return super().generate(n, seed, cond)
        # translation: cond holds the source images (default: n training pairs', drawn after the noise that a
        # noise-fed generator would take, as they always were)
        if cond is None:
            g = torch.Generator().manual_seed(seed)
            self.noise(n, g)
            cond = self.data.sample_labelled(n, g)[1]
        G = self.sampler
        run = partial(self.condition.test_time, G) if self.self_ensemble else G
        with eval_mode(G):
            x = torch.cat([run(cb.to(self.device, memory_format=self.memory_format)).float().cpu()
                           for cb in cond.split(256)])
        return x * self.scale

    def evaluation_conditions(self, n: int) -> Tensor:
        """The labels (codes) a conditional run is evaluated with: every class (category) equally often, InfoGAN's
        continuous codes from their prior.  On stacked MNIST, whose protocol counts how often each digit triple
        is drawn, InfoGAN's codes all come from their prior: the generator's own distribution, not a stratified
        draw that would read more even than it samples."""
        g = torch.Generator().manual_seed(EVAL_SEED + 2)
        if self.cfg.data == "stacked-mnist":
            return self.condition.sample(n, g)
        return self.condition.balanced(n, g)

    def use_self_ensemble(self, on: bool = True) -> None:
        """Super-resolution runs: from now on each output is the mean over the input's 8 turns and mirrors
        (EDSR's self-ensemble; 8× the time), or again the plain output with ``on=False``.  Refused (RunError)
        for other runs, whose players are not trained to see their inputs turned."""
        if not on:
            self.self_ensemble = False
            return
        if getattr(self.condition, "test_time", None) is None:
            raise RunError("--self-ensemble averages over the input's turns and mirrors and is for super-resolution "
                           "runs (conditional=srgan); this run's generator was not trained on turned inputs")
        self.self_ensemble = True

    # --- evaluation and pictures ------------------------------------------------------------------------------
    def evaluate(self, n: int | None = None) -> dict[str, float | str]:
        """Quality of the generator now: PacGAN's mode-coverage numbers on mixtures; for translation runs their
        own task's numbers on held-out data (``translation_quality``: PSNR and SSIM beside bicubic's for
        super-resolution, L1 / PSNR / SSIM for pix2pix, the cycle error for CycleGAN; ``evaluated_on``, the one
        string, says on what); otherwise :meth:`Family.sample_quality` — with, on MNIST, a conditional run's
        class accuracy and InfoGAN's code match (``digit_reads``)."""
        n = n or self.cfg.eval_samples
        if isinstance(self.data, GaussianMixture2D):
            return super().sample_quality(n)
        if self.condition is not None and self.condition.from_real:
            from ..metrics.images import translation_quality

            return translation_quality(self, n)
        return self.sample_quality(n, self.evaluation_conditions(n) if self.condition is not None else None)

    def save_picture(self, path: Path, sink=None, title: str | None = None) -> None:
        """An 8×8 grid (a conditional run: one row per class; a translation run: source | output | target rows),
        or 2500 points over the data."""
        if not self.images or self.condition is None or not self.condition.from_real:
            return super().save_picture(path, sink, title)
        from ..grids import save_png

        from .pictures import translation_grid

        real, sources = self.data.sample_labelled(8, torch.Generator().manual_seed(EVAL_SEED))  # source | G | target
        grid = translation_grid(self, sources, None if self.condition.unpaired else real)
        save_png(grid, path)
        if sink is not None:
            sink.add_image("samples", grid, self.step)

    has_critic = True

    @property
    def critic_steps_taken(self) -> int:
        return self.contest.critic_steps_taken

    def player_step(self, which: str) -> dict[str, Tensor]:
        if which == "critic":
            return critic_step(self.contest, self.sample_real, self.sample_noise)
        if which != "generator":
            raise ValueError(f"player_step takes 'critic' or 'generator', not {which!r}")
        logs = generator_step(self.contest, self.sample_real, self.sample_noise)
        self.update_ema()
        self.step += 1
        self.update_mixture()
        return logs

    def critic_field(self, points: Tensor, force: bool = True) -> tuple[Tensor, Tensor | None]:
        D, game, s = self.D, self.contest.game, self.scale
        with eval_mode(D):
            x = (points.detach() / s).to(self.device).requires_grad_(force)
            with torch.set_grad_enabled(force):
                score = _critic_on_points(D, x).float()
            if not force:
                return score.detach().cpu(), None
            # Every game's g_loss is a mean over the batch: n·g_loss is the sum of the points' own losses, so its
            # gradient at each point is that point's force (one backward for all of them).
            (grad,) = torch.autograd.grad(game.g_loss(score) * score.numel(), x)  # no .grad of the critic's weights
        return score.detach().cpu(), -grad.cpu() / s  # −∇ with respect to the point in data units

    def extra_pictures(self, run_dir: Path, title: str) -> None:
        """critic.png for 2-D data: the critic's score as a heat map, with the force −∇x g_loss on the generator."""
        if self.images:
            return
        from .. import plots

        plots.save(plots.plot_critic(self.critic_field, self.generate(2500), self.data.limits,
                                     f"critic and generator force — {title}"), run_dir / "critic.png")

    # --- the config -------------------------------------------------------------------------------------------
    @classmethod
    def validate(cls, cfg: Any) -> None:
        _validate(cfg)

    @classmethod
    def warn_if_doubtful(cls, cfg: Any) -> None:
        if cfg.mixture and cfg.steps < cfg.mixture_every:
            warnings.warn(f"mixture={cfg.mixture} takes a snapshot every {cfg.mixture_every} steps and this run has "
                          f"{cfg.steps}, so the last iterate samples; lower mixture_every to sample a mixture",
                          stacklevel=4)
        if (cfg.gradient_penalty or cfg.r1) and PLAYERS[cfg.model].critic_batch_norm and cfg.critic_batch_norm:
            warnings.warn(f"{'gradient_penalty' if cfg.gradient_penalty else 'r1'} on the batch-normed {cfg.model} "
                          "critic: its gradient at each sample passes through the batch's statistics, so the penalty "
                          "is not the per-sample one of the papers (WGAN-GP leaves batch norm out); add "
                          "critic_batch_norm=false", stacklevel=4)
        # Not refused: a recipe's penalty_every (grid25, ring8) must not break the user's r1=0.
        if cfg.penalty_every > 1 and not any(getattr(cfg, k) for k in CRITIC_PENALTIES):
            warnings.warn(f"penalty_every={cfg.penalty_every} spaces out the critic's penalties and this run has none "
                          f"({', '.join(CRITIC_PENALTIES)} are 0), so it does nothing; remove it or turn a penalty on",
                          stacklevel=4)

    @classmethod
    def check_overrides(cls, cfg: Any, asked: set[str]) -> None:
        # The values alone cannot tell: a recipe may set lr_d for its game, but asking for one where none is played
        # (pix2pix's L1 baseline, SRResNet) would be accepted and ignored.
        if cfg.gan_weight == 0 and "lr_d" in asked:
            raise no_critic("lr_d")


class _PoolState:
    """The history pool as a checkpoint part (its images come back on the players' device)."""

    def __init__(self, pool: HistoryPool, like: Tensor):
        self.pool, self.like = pool, like

    def state_dict(self) -> dict[str, Tensor]:
        return self.pool.state()

    def load_state_dict(self, flat: dict[str, Tensor]) -> None:
        self.pool.load_state(flat, like=self.like)


def _make_condition(cfg: Any, classes: int) -> Condition | None:
    """The run's condition, built by its own class from the config (which refuses data it cannot use)."""
    return make_condition(cfg, classes)


def _build_players(cfg: Any, channels: int, condition: Condition | None = None,
                   source_channels: int = 0) -> tuple[nn.Module, nn.Module]:
    """(G, D) of the player family ``cfg.model`` (nets.registry).  A condition widens G's input by its code and,
    for a concatenating cGAN critic, D's input by one plane per class, then wraps the plain players
    (nets.conditional); translation players (pix2pix, CycleGAN, super-resolution) come whole."""
    if condition is not None and condition.from_real:  # a translator reads a source image: no noise, no labels
        return build_players(cfg, PlayerSpec(channels, 0, channels, source_channels))
    z_in = cfg.z_dim + (condition.cond_dim if condition is not None else 0)
    critic_mode = getattr(condition, "critic_mode", None) or cfg.label_critic  # text: projection of a sentence
    concat = condition is not None and condition.critic_reads_label and critic_mode == "concat"
    d_in = channels + (condition.n_classes if concat else 0)
    classes = condition.n_classes if condition is not None and condition.needs_labels else 0
    G, D = build_players(cfg, PlayerSpec(channels, z_in, d_in, classes=classes))
    if condition is None:
        return G, D
    if not getattr(G, "reads_labels", False):  # BigGAN's generator embeds the labels itself
        G = ConditionalGenerator(G, condition.cond_dim)  # labels one-hot over cond_dim = n_classes; codes as they are
    if condition.critic_reads_label:
        D = LabelCritic(D, condition.n_classes, critic_mode, cond_dim=condition.cond_dim)
    elif condition.aux_outputs:
        D = AuxiliaryCritic(D, condition.aux_outputs, condition.aux_hidden)
    return G, D


def _first(batch, n: int):
    """The first ``n`` samples of a batch x or (x, y)."""
    return tuple(b[:n] for b in batch) if isinstance(batch, tuple) else batch[:n]


def _critic_on_points(D: nn.Module, x: Tensor) -> Tensor:
    # A packed critic scores groups of `pack` points; to map single points, repeat each one pack times.
    pack = getattr(D, "pack", 1)
    if pack > 1:
        x = x.repeat_interleave(pack, dim=0)
    return D(x)


def no_critic(key: str) -> ConfigError:
    return ConfigError(f"gan_weight=0 trains no critic, so {key} would do nothing; remove it "
                       "(or give the adversarial term a weight)")


def _validate(self) -> None:
    """Refuse, in one line each, what the GAN families cannot train as asked."""
    from ..data.images import IMAGE_DATASETS, is_data_path

    check_choice("conditional", self.conditional, ["none", *CONDITIONS])
    is_toy = two_d_data(self.data)
    special = {name: kind for kind, spec in _TRANSLATIONS().items() for name in spec[1]}
    is_path = is_data_path(self.data, [*TOY_DATASETS, *IMAGE_DATASETS, *special])
    if not (is_toy or self.data in IMAGE_DATASETS or self.data in special or is_path):
        check_choice("data", self.data, [*TOY_DATASETS, *IMAGE_DATASETS, *special])
    # Each translation kind has its own built-in data; one kind's data does not fit another.
    for kind, (model, datasets, holds, needs) in _TRANSLATIONS().items():
        if (self.data in datasets) != (self.conditional == kind) and not is_path:
            raise ConfigError(f"data={self.data} " + (f"{holds}: use conditional={kind} model={model}"
                                                      if self.data in datasets else f"is not {needs}"))
    if is_toy != (self.model == "mlp"):
        raise ConfigError(f"model={self.model} does not fit data={self.data}: use model=mlp for 2-D data and "
                          "model=dcgan or model=resnet for images")
    # Keys of the other player family would be accepted and silently ignored: refuse them.
    defaults = type(self).__dataclass_fields__
    mlp_keys = ("g_hidden", "g_layers", "g_batch_norm", "d_hidden", "d_layers", "d_maxout")
    image_keys = ("image_size", "base_channels")
    foreign = image_keys if self.model == "mlp" else mlp_keys
    for name in foreign:
        if getattr(self, name) != defaults[name].default:
            fits = "model=dcgan or model=resnet" if name in image_keys else "model=mlp"
            raise ConfigError(f"{name} applies to {fits}, not model={self.model}; remove it"
                              + ("" if self.model == "mlp" else " (base_channels sets the width of image players)"))
    family = PLAYERS[self.model]  # the model's Literal choices are the registered families (a test keeps them so)
    if not self.critic_batch_norm and not family.critic_batch_norm:
        switchable = sorted(name for name, f in PLAYERS.items() if f.critic_batch_norm)
        raise ConfigError(f"critic_batch_norm=false applies to model={', '.join(switchable)}; the critic of "
                          f"model={self.model} has no batch norm to remove: remove the key")
    _validate_conditional(self, defaults)
    if not self.reuse_fake and self.schedule != "alternating":
        raise ConfigError(f"reuse_fake=false applies to schedule=alternating (the generator step after the critic's); "
                          f"schedule={self.schedule} has no G(z) to reuse: remove it")
    if self.precision == "fp16" and self.schedule == "simultaneous":
        raise ConfigError("precision=fp16 (loss scaling) works with schedule=alternating only; use precision=bf16 "
                          "or fp32 for simultaneous GDA")
    if self.attention:
        from ..nets.resnet import attention_sides

        if self.model not in ("resnet", "biggan"):
            raise ConfigError(f"attention is a block of the ResNet players; model={self.model} has none: use "
                              "model=resnet or model=biggan, or remove attention")
        try:
            sides = attention_sides(self.image_size)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if self.attention not in sides:
            raise ConfigError(f"attention={self.attention}: the generator's feature maps at image_size="
                              f"{self.image_size} are {', '.join(map(str, sides))} pixels a side; choose one")
    if self.model != "progan":
        unused = [k for k in ("progan_fade_images", "progan_stable_images") if getattr(self, k) != defaults[k].default]
        if unused:
            raise ConfigError(f"{unused[0]} sets progressive growing's schedule; add model=progan or remove it")
    elif self.gemm_pixels:
        raise ConfigError("gemm_pixels rewrites plain convolutions, and model=progan's scale their weights at every "
                          "call (equalized learning rate): remove gemm_pixels")
    if self.model == "biggan" and self.conditional not in ("none", "cgan", "acgan"):
        raise ConfigError(f"model=biggan embeds class labels (conditional=cgan or acgan) or none; "
                          f"conditional={self.conditional} is another kind: use model=resnet")
    if self.model != "mlp":
        from ..nets.common import resolution_plan

        if self.model == "biggan" and self.z_dim < resolution_plan(self.image_size)[1] + 1:
            raise ConfigError(f"model=biggan splits z across its {resolution_plan(self.image_size)[1]} blocks and its "
                              f"first layer: z_dim must be at least {resolution_plan(self.image_size)[1] + 1}")
        if self.model == "small" and self.image_size != 28:
            raise ConfigError(f"model=small builds 28×28 players only; set image_size=28 (not {self.image_size})")
        if self.model == "infogan" and self.image_size % 4:
            raise ConfigError(f"model=infogan upsamples twice by 2: image_size must be a multiple of 4, not "
                              f"{self.image_size}")
        try:
            resolution_plan(self.image_size)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    check_choice("game", self.game, GAMES)
    if not (self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")):
        raise ConfigError(f"device={self.device!r} is not a device; use cpu, cuda, cuda:N or auto")
    if self.gan_weight == 0:  # no game: the critic's settings would be accepted and ignored
        critic_only = [k for k in ("game", "critic_steps", "r1", "gradient_penalty", "drift", "weight_clip",
                                   "spectral_norm", "pack", "critic_batch_norm")
                       if getattr(self, k) != defaults[k].default]
        if critic_only:
            raise no_critic(critic_only[0])
    elif self.game == "wasserstein" and not (self.weight_clip or self.gradient_penalty or self.spectral_norm):
        raise ConfigError("game=wasserstein needs a Lipschitz constraint on the critic; add weight_clip=0.01, "
                          "gradient_penalty=10 or spectral_norm=true")
    if not self.mmd:
        unused = [k for k in ("mmd_bandwidth", "mmd_channels") if getattr(self, k) != defaults[k].default]
        if unused:
            raise ConfigError(f"{unused[0]} shapes the mmd term and mmd=0 leaves it off; set mmd=WEIGHT or remove "
                              f"{unused[0]}")
    if self.mmd_channels and self.model == "mlp":
        raise ConfigError("mmd_channels compares image channels one by one and 2-D points have none; remove it")
    if self.mmd and self.conditional in _TRANSLATIONS():
        raise ConfigError(f"mmd compares the distribution of a generator's samples with the data's; a "
                          f"{self.conditional} translator is matched to its targets by its own losses: remove mmd")
    if self.augment:
        try:
            policy = parse_policy(self.augment)
        except ValueError as e:
            check_choice("augment", str(e), list(POLICIES))
        if not policy:
            raise ConfigError(f"augment={self.augment!r} names no augmentation; give some of {', '.join(POLICIES)} "
                              "(comma-separated) or remove it")
        if self.model == "mlp":
            raise ConfigError("augment transforms images the critic reads, and 2-D points are not images: remove it")
        if self.conditional in _TRANSLATIONS():
            raise ConfigError(f"augment would move a {self.conditional} critic's image apart from the source it is "
                              "paired with: remove augment")
    if self.mixture_every != defaults["mixture_every"].default and not self.mixture:
        raise ConfigError("mixture_every sets how often a mixture takes a snapshot of G, and mixture=0 keeps none; "
                          "set mixture=N (members) or remove mixture_every")
    if self.mixture and self.conditional in _TRANSLATIONS():
        raise ConfigError(f"mixture samples generators that draw noise; a {self.conditional} translator maps each "
                          "source to one output: remove mixture")
    # BatchNorm1d in the players, or in a condition's head on the critic (InfoGAN's Q)
    feature_batch_norm = family.feature_batch_norm or getattr(CONDITIONS.get(self.conditional), "feature_batch_norm",
                                                                False)
    if self.batch_size < 2 and (self.g_batch_norm or feature_batch_norm or self.mmd  # MMD² compares pairs
                                or any(getattr(self, k) for k in CRITIC_PENALTIES)):
        raise ConfigError("batch_size must be at least 2 with batch norm, a penalty or the mmd term")


def _validate_conditional(self, defaults) -> None:
    """The condition keys: each belongs to its conditional= kinds, translations to their players."""
    for f in fields(self):  # each condition's keys say which conditional= kinds read them
        kinds = f.metadata.get("conditions")
        if kinds and getattr(self, f.name) != defaults[f.name].default and self.conditional not in kinds:
            raise ConfigError(f"{f.name} applies to conditional={' or conditional='.join(kinds)}, not "
                              f"conditional={self.conditional}; remove it or set conditional=")
    for kind, (model, *_) in _TRANSLATIONS().items():  # a translation has its own players
        if (self.conditional == kind) != (self.model == model):
            raise ConfigError(f"conditional={kind} and model={model} go together: set both or neither")
    for name in ("z_dim", "noise"):
        if self.conditional in _TRANSLATIONS() and getattr(self, name) != defaults[name].default:
            raise ConfigError(f"{name} is about the noise of generators that sample; a {self.conditional} generator "
                              f"takes an image and no noise: remove {name}")
    if self.model == "srresnet" and self.image_size % 16:
        raise ConfigError(f"model=srresnet crops high-resolution patches whose side is a multiple of 16; "
                          f"image_size={self.image_size} is not (use 64 or 96)")
    if self.conditional == "none":
        return
    if self.model == "mlp":
        raise ConfigError(f"conditional={self.conditional} is for image players (model=dcgan, resnet or small), "
                          "not model=mlp")
    if self.pack > 1:
        raise ConfigError(f"conditional={self.conditional} needs one score per sample; remove pack={self.pack}")
    own_checks = getattr(CONDITIONS[self.conditional], "validate", None)  # InfoGAN's codes, CycleGAN's pairs, ...
    if own_checks is not None:
        own_checks(self)


def _TRANSLATIONS() -> dict[str, tuple[str, dict, str, str]]:
    """conditional → (its model, its built-in datasets, what such data holds, what the data must be), from the
    registered translation conditions."""
    return {name: (c.players, c.datasets, c.holds, c.needs_data) for name, c in CONDITIONS.items() if c.from_real}
