"""The training loop: builds the game from a config, runs its GDA schedule, logs, checkpoints, plots.

Python use::

    from saddlepoint import resolve_config, train
    name, cfg = resolve_config("ring8", ["steps=2000"])
    result = train(cfg, recipe=name)
    print(result.summary["modes"], result.run_dir)
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor, nn

from .config import TrainConfig
from .data import GaussianMixture2D, get_toy
from .divergences import mmd2
from .games import get_game
from .metrics import mode_coverage
from .nets import PlayerSpec, build_players, with_spectral_norm
from .conditional import Condition, make_condition
from .nets.conditional import AuxiliaryCritic, ConditionalGenerator, LabelCritic
from .penalties import Penalty, code_consistency, cycle_loss, gradient_penalty, identity_loss, mmd_to_data, r1_penalty
from .mixture import IterateMixture
from .pool import HistoryPool
from .runs import (MetricsSink, RunError, create_run_dir, latest_checkpoint, load_checkpoint, read_metrics,
                   save_checkpoint, write_json_atomic, write_yaml)
from .nets.gemm import use_gemm_convolutions
from .distributed import setup, wrap
from .schedule import GDA, Contest, gda_step

__all__ = ["Experiment", "RunResult", "TrainingDiverged", "train", "resume", "evaluate", "load_run"]

EVAL_SEED = 2018  # fixed noise for every evaluation, so numbers across steps and runs compare


class TrainingDiverged(RunError):
    """A loss became NaN or infinite; the last good checkpoint is left intact."""


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RunError(f"device={name} was asked for but PyTorch sees no CUDA GPU; use device=cpu")
    return torch.device(name)


class Experiment:
    """The objects a config describes: data, players, optimizers, game, penalties and schedule."""

    def __init__(self, cfg: TrainConfig, channels: int | None = None, classes: int | None = None,
                 source_channels: int | None = None):
        """``channels`` (and ``classes``, for class-conditional runs) given: build the players without
        loading an image set (sampling from a run)."""
        self.cfg = cfg
        self.dist, device = setup(cfg.device)  # one process, or this one's place under torchrun
        self.device = _device(device)
        if cfg.batch_size % self.dist.world:
            raise RunError(f"batch_size={cfg.batch_size} is the global batch and must divide evenly among "
                           f"{self.dist.world} processes; use a multiple of {self.dist.world}")
        torch.manual_seed(cfg.seed)
        self.images = cfg.model != "mlp"
        if not self.images:
            self.data = get_toy(cfg.data)
            self.scale = self.data.scale
        else:
            self.scale = 1.0  # images are already in [−1, 1]
            self.data = None
            if channels is None:
                self.data = _load_image_data(cfg)
        self.channels = channels or getattr(self.data, "channels", 2)
        self.source_channels = source_channels or getattr(self.data, "source_channels", 0)
        self.classes = classes if classes is not None else getattr(self.data, "n_classes", 0)
        self.condition = _make_condition(cfg, self.classes)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # data order and noise stream
        G, D = _build_players(cfg, self.channels, self.condition, self.source_channels)
        if cfg.spectral_norm:
            with_spectral_norm(D)
        self.precision = resolve_precision(cfg, self.device)
        if self.images and cfg.gemm_pixels:  # small feature maps as matrix products (see nets.gemm)
            use_gemm_convolutions(G, cfg.gemm_pixels)
            use_gemm_convolutions(D, cfg.gemm_pixels, input_size=cfg.image_size)
        self.memory_format = torch.channels_last if (self.images and cfg.channels_last) else torch.contiguous_format
        self.G = G.to(self.device, memory_format=self.memory_format)
        self.D = D.to(self.device, memory_format=self.memory_format)
        # Polyak averaging of the generator (Yazıcı et al. 2019): the averaged weights sample and evaluate.
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if cfg.ema > 0 else None
        # The time-averaged mixed strategy: snapshots of (the averaged) G, sampled as a uniform mixture.
        self.mixture = IterateMixture(cfg.mixture) if cfg.mixture else None
        opt_g = _adam(self.G.parameters(), cfg.lr_g, cfg)
        opt_d = _adam(self.D.parameters(), cfg.lr_d, cfg)
        fp16 = self.precision == torch.float16
        # The players the step runs: compiled when asked (self.G / self.D keep the weights and state-dict names).
        # Several processes: gradients averaged by DDP (see saddlepoint.distributed for the semantics).
        G_run, D_run = wrap(self.G, self.dist, self.device), wrap(self.D, self.dist, self.device)
        if cfg.compile:
            G_run, D_run = torch.compile(G_run), torch.compile(D_run)
        penalties = []
        if cfg.gradient_penalty > 0:
            penalties.append(Penalty("gradient_penalty", gradient_penalty, cfg.gradient_penalty, cfg.penalty_every))
        if cfg.r1 > 0:
            penalties.append(Penalty("r1", r1_penalty, cfg.r1, cfg.penalty_every))
        if cfg.info_consistency > 0:
            penalties.append(Penalty("code_consistency", code_consistency(cfg.info_categorical, cfg.info_codes),
                                     cfg.info_consistency, cfg.penalty_every, reads_aux=True))
        g_penalties = []
        if cfg.mmd > 0:
            g_penalties.append(Penalty("mmd", mmd_to_data(cfg.mmd_bandwidth, cfg.mmd_channels), cfg.mmd))
        if cfg.conditional == "cyclegan":
            g_penalties += [Penalty(name, fn, w) for name, fn, w in (("cycle", cycle_loss, cfg.cycle_weight),
                                                                     ("identity", identity_loss, cfg.identity_weight))
                            if w > 0]
        self.pool = HistoryPool(cfg.pool_size, group=2, seed=cfg.seed) if cfg.conditional == "cyclegan" else None
        self.contest = Contest(G_run, D_run, opt_g, opt_d, get_game(cfg.game), tuple(penalties),
                               weight_clip=cfg.weight_clip or None,
                               precision=None if self.precision == torch.float32 else self.precision,
                               scaler_g=torch.amp.GradScaler(self.device.type) if fp16 else None,
                               scaler_d=torch.amp.GradScaler(self.device.type) if fp16 else None,
                               condition=self.condition, gan_weight=cfg.gan_weight, g_penalties=tuple(g_penalties),
                               pool=self.pool)
        self.schedule = GDA(cfg.schedule, cfg.critic_steps, cfg.reuse_fake)
        self.step = 0
        # Super-resolution at test time: the mean over the input's 8 turns and mirrors (use_self_ensemble).
        self.self_ensemble = False

    # --- streams; networks see data divided by its scale ----------------------------------------
    # Each process draws the global batch from the shared generator and keeps its slice, so the stream
    # (and every checkpoint) is the same for any number of processes.
    def sample_real(self) -> Tensor | tuple[Tensor, Tensor]:
        """A real batch x, or (x, labels) for a class-conditional game."""
        n = self.cfg.batch_size * self.cfg.pack
        labelled = self.condition is not None and self.condition.needs_labels
        x, y = self.data.sample_labelled(n, self.rng) if labelled else (self.data.sample(n, self.rng), None)
        x = (self.dist.shard(x) / self.scale).to(self.device, non_blocking=True)
        x = x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x
        if y is None:
            return x
        y = self.dist.shard(y).to(self.device, non_blocking=True)
        return x, (y.contiguous(memory_format=self.memory_format) if y.dim() == 4 else y)  # a source image (pix2pix)

    def noise(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` draws of z from the run's prior (``noise``: standard normal or uniform on [−1, 1])."""
        if self.cfg.noise == "uniform":
            return torch.rand(n, self.cfg.z_dim, generator=generator) * 2 - 1
        return torch.randn(n, self.cfg.z_dim, generator=generator)

    def sample_noise(self) -> Tensor | tuple[Tensor, Tensor]:
        """Noise z, or (z, c) with the label or code c the conditional generator is given."""
        n = self.cfg.batch_size * self.cfg.pack
        z = self.dist.shard(self.noise(n, self.rng)).to(self.device)
        if self.condition is None:
            return z
        return z, self.dist.shard(self.condition.sample(n, self.rng)).to(self.device)

    @torch.no_grad()
    def generate(self, n: int, seed: int = EVAL_SEED, cond: Tensor | None = None) -> Tensor:
        """``n`` samples in data units (images in [−1, 1]) from the generator in eval mode, noise from ``seed``.
        Conditional runs: ``cond`` holds the n labels (or InfoGAN codes); default every class equally often."""
        g = torch.Generator().manual_seed(seed)
        z = self.noise(n, g)
        G = self.sampler
        was_training = G.training
        G.eval()
        # A mixture gives sample i to member i mod K: batches of a multiple of K keep that over the request.
        chunk = 256 if G is not self.mixture else -(-256 // len(self.mixture)) * len(self.mixture)
        if self.condition is None:
            x = torch.cat([G(zb.to(self.device)).float().cpu() for zb in z.split(chunk)])
        elif self.condition.from_real:  # translation: cond holds the source images (default: n training pairs')
            cond = self.data.sample_labelled(n, g)[1] if cond is None else cond
            run = G
            if self.self_ensemble:
                from .data.superres import self_ensemble

                run = partial(self_ensemble, G)
            x = torch.cat([run(cb.to(self.device, memory_format=self.memory_format)).float().cpu()
                           for cb in cond.split(256)])
        else:
            cond = self.condition.balanced(n, g) if cond is None else cond
            if cond.shape[0] != n:
                raise ValueError(f"{cond.shape[0]} conditions for {n} samples")
            x = torch.cat([G(zb.to(self.device), cb.to(self.device)).float().cpu()
                           for zb, cb in zip(z.split(chunk), cond.split(chunk))])
        G.train(was_training)
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
        if self.condition is None or self.condition.name != "srgan":
            raise RunError("--self-ensemble averages over the input's turns and mirrors and is for super-resolution "
                           "runs (conditional=srgan); this run's generator was not trained on turned inputs")
        self.self_ensemble = True

    @property
    def sampler(self) -> nn.Module:
        """The generator that samples and is evaluated: the mixture of snapshots when ``mixture`` > 0 and it
        holds one, else the EMA copy when ``ema`` > 0, else G."""
        if self.mixture is not None and len(self.mixture):
            return self.mixture
        return self.G_ema if self.G_ema is not None else self.G

    @property
    def sampler_name(self) -> str:
        """What :attr:`sampler` is, in words (recorded beside every evaluation)."""
        last = "EMA generator" if self.G_ema is not None else "generator"
        if self.sampler is self.mixture:
            return (f"uniform mixture of the last {len(self.mixture)} snapshots of the {last}, "
                    f"one every {self.cfg.mixture_every} steps")
        return last

    @torch.no_grad()
    def update_mixture(self) -> None:
        """Take a snapshot for the mixture at every ``mixture_every``-th step."""
        if self.mixture is not None and self.step % self.cfg.mixture_every == 0:
            self.mixture.add(self.G_ema if self.G_ema is not None else self.G)

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.G_ema is None:
            return
        ema_p, p = list(self.G_ema.parameters()), list(self.G.parameters())
        torch._foreach_lerp_(ema_p, p, 1.0 - self.cfg.ema)
        for eb, b in zip(self.G_ema.buffers(), self.G.buffers()):  # batch-norm statistics follow G
            eb.copy_(b)

    def set_lr(self) -> None:
        factor = 1.0 - self.step / self.cfg.steps if self.cfg.lr_decay == "linear" else 1.0
        for opt, base in ((self.contest.opt_g, self.cfg.lr_g), (self.contest.opt_d, self.cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = base * factor

    # --- state ------------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors: dict[str, Tensor] = {}
        meta: dict[str, Any] = {"critic_steps_taken": self.contest.critic_steps_taken}
        for prefix, module in self._modules():
            for k, v in module.state_dict().items():
                tensors[f"{prefix}.{k}"] = v
        for prefix, opt in (("opt_g", self.contest.opt_g), ("opt_d", self.contest.opt_d)):
            sd = opt.state_dict()
            for idx, st in sd["state"].items():
                for k, v in st.items():
                    tensors[f"{prefix}.state.{idx}.{k}"] = v if isinstance(v, Tensor) else torch.tensor(v)
            meta[f"{prefix}.param_groups"] = sd["param_groups"]
        for name in ("scaler_g", "scaler_d"):
            scaler = getattr(self.contest, name)
            if scaler is not None:
                meta[name] = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in scaler.state_dict().items()}
        if self.pool is not None:
            tensors.update({f"pool.{k}": v for k, v in self.pool.state().items()})
        tensors["rng.data"] = self.rng.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return tensors, meta

    def _modules(self) -> list[tuple[str, nn.Module]]:
        mods = [("G", self.G), ("D", self.D)]
        mods += [("G_ema", self.G_ema)] if self.G_ema is not None else []
        return mods + ([("G_mix", self.mixture)] if self.mixture is not None else [])

    def load_players(self, tensors: dict[str, Tensor]) -> None:
        if self.mixture is not None:  # as many members as the checkpoint holds (none before the first snapshot)
            held = {k.split(".")[2] for k in tensors if k.startswith("G_mix.members.")}
            self.mixture.resize(len(held), self.G)
        for prefix, module in self._modules():
            sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
            try:
                module.load_state_dict(sd)
            except RuntimeError as e:
                first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
                raise RunError(f"checkpoint does not fit this config's {prefix} architecture ({first}); "
                               "use the config the checkpoint was trained with") from None

    def load_state(self, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
        self.load_players(tensors)
        for prefix, opt in (("opt_g", self.contest.opt_g), ("opt_d", self.contest.opt_d)):
            state: dict[int, dict[str, Tensor]] = {}
            for k, v in tensors.items():
                if k.startswith(prefix + ".state."):
                    idx, name = k[len(prefix) + 7:].split(".", 1)
                    state.setdefault(int(idx), {})[name] = v
            # Moments come back contiguous; give them their parameter's layout (channels-last): without
            # this, resume of a channels-last run was not bit-exact (tests/test_cli_runs.py).
            params = [q for group in opt.param_groups for q in group["params"]]
            for idx, st in state.items():
                for name, v in st.items():
                    if v.shape == params[idx].shape:
                        st[name] = torch.empty_like(params[idx]).copy_(v)
            opt.load_state_dict({"state": state, "param_groups": meta[f"{prefix}.param_groups"]})
        for name in ("scaler_g", "scaler_d"):
            scaler = getattr(self.contest, name)
            if scaler is not None and name in meta:
                scaler.load_state_dict(meta[name])
        if self.pool is not None:
            self.pool.load_state({k[5:]: v for k, v in tensors.items() if k.startswith("pool.")}, like=next(self.G.parameters()))
        self.rng.set_state(tensors["rng.data"])
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.contest.critic_steps_taken = int(meta["critic_steps_taken"])
        self.step = int(meta["step"])


def resolve_precision(cfg: TrainConfig, device: torch.device) -> torch.dtype:
    """The forward passes' dtype for ``cfg.precision`` on ``device``.  ``auto``: bf16 for convolutional
    players where the hardware has bf16 matrix units — GPUs from Ampere on, CPUs with AMX tiles — and
    float32 otherwise (a CPU with AVX-512-BF16 but no AMX measured bf16 matmuls at half the float32
    rate, and its DCGAN step 30 % slower) and for the small MLPs of 2-D data (bf16 measured slower)."""
    named = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if cfg.precision != "auto":
        if cfg.precision == "fp16" and device.type != "cuda":
            raise RunError("precision=fp16 needs a CUDA device (loss scaling); use precision=bf16 or fp32 on the CPU")
        return named[cfg.precision]
    if cfg.model == "mlp":
        return torch.float32
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_amx() else torch.float32


def cpu_has_amx() -> bool:
    """Whether this CPU has usable AMX tiles (oneDNN's fast bf16 path)."""
    try:
        return bool(torch._C._cpu._init_amx())
    except (AttributeError, RuntimeError):
        return False


def _adam(params, lr: float, cfg: TrainConfig) -> torch.optim.Adam:
    """Adam with its fused kernel where this PyTorch has one for the device (one kernel for all tensors)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), foreach=True)


def _load_image_data(cfg: TrainConfig):
    """The sampler a run's batches come from: pairs (pix2pix), two domains (CycleGAN), photographs cut into
    patches (super-resolution) or one image set."""
    if cfg.conditional == "pix2pix":
        from .data.paired import PairedSampler as sampler
    elif cfg.conditional == "cyclegan":
        from .data.unpaired import UnpairedSampler as sampler
    elif cfg.conditional == "srgan":
        from .data.superres import SRSampler

        return SRSampler(cfg.data, cfg.image_size, augment=cfg.sr_augment)
    else:
        from .data.images import load_images as sampler
    return sampler(cfg.data, cfg.image_size)


def _make_condition(cfg: TrainConfig, classes: int) -> Condition | None:
    if cfg.conditional in ("cgan", "acgan") and classes < 2:
        raise RunError(f"conditional={cfg.conditional} needs labelled images with at least two classes, and data="
                       f"{cfg.data} has {'none' if classes == 0 else 'one'}; use mnist, cifar10, class sub-folders or "
                       "an .npz with a 'labels' array (or conditional=infogan, which needs no labels)")
    return make_condition(cfg.conditional, classes, cfg.aux_weight, cfg.info_categorical, cfg.info_continuous,
                          cfg.l1_weight, cfg.aux_on_fake, cfg.info_codes)


def _build_players(cfg: TrainConfig, channels: int, condition: Condition | None = None,
                   source_channels: int = 0) -> tuple[nn.Module, nn.Module]:
    """(G, D) of the family ``cfg.model`` (nets.registry).  A condition widens G's input by its code and, for a
    concatenating cGAN critic, D's input by one plane per class, then wraps the plain players
    (nets.conditional); translation players (pix2pix, CycleGAN, super-resolution) come whole."""
    if condition is not None and condition.from_real:  # a translator reads a source image: no noise, no labels
        return build_players(cfg, PlayerSpec(channels, 0, channels, source_channels))
    z_in = cfg.z_dim + (condition.cond_dim if condition is not None else 0)
    concat = condition is not None and condition.critic_reads_label and cfg.label_critic == "concat"
    d_in = channels + (condition.n_classes if concat else 0)
    G, D = build_players(cfg, PlayerSpec(channels, z_in, d_in))
    if condition is None:
        return G, D
    G = ConditionalGenerator(G, condition.cond_dim)  # labels are one-hot over cond_dim = n_classes; codes pass as they are
    if condition.critic_reads_label:
        D = LabelCritic(D, condition.n_classes, cfg.label_critic)
    elif condition.aux_outputs:
        D = AuxiliaryCritic(D, condition.aux_outputs, condition.aux_hidden)
    return G, D


def evaluate(exp: Experiment, n: int | None = None) -> dict[str, float | str]:
    """Quality of the generator now: PacGAN's mode-coverage numbers on mixtures; for translation runs their
    own task's numbers on held-out data (``translation_quality``: PSNR and SSIM beside bicubic's for
    super-resolution, L1 / PSNR / SSIM for pix2pix, the cycle error for CycleGAN; ``evaluated_on``, the one
    string, says on what); otherwise the unbiased MMD² (Gaussian kernels) between generated and real samples —
    on the points for 2-D shapes, on raw pixels for images (a cheap proxy until feature-space metrics are
    computed) — and, on MNIST and stacked MNIST, what the shipped classifier reads in the samples
    (``digit_reads``: the stacked-MNIST protocol's numbers on ``n`` samples instead of 26,000, whose KL is
    biased upwards by about 999/(2n); a conditional run's class accuracy; InfoGAN's code match)."""
    n = n or exp.cfg.eval_samples
    if isinstance(exp.data, GaussianMixture2D):
        return mode_coverage(exp.generate(n), exp.data.means_tensor, exp.data.std)
    if exp.condition is not None and exp.condition.from_real:
        from .metrics.images import translation_quality

        return translation_quality(exp, n)
    cond = exp.evaluation_conditions(n) if exp.condition is not None else None
    fake = exp.generate(n, cond=cond) / exp.scale
    real = exp.data.sample(n, torch.Generator().manual_seed(EVAL_SEED + 1)) / exp.scale
    if not exp.images:
        return {"mmd2": float(mmd2(real, fake, bandwidths=(0.05, 0.1, 0.2, 0.5)))}
    from .metrics.images import digit_reads

    d = real[0].numel() ** 0.5  # pixel distances grow like √(pixels)
    return {"mmd2_pixels": float(mmd2(real, fake, bandwidths=(0.25 * d, 0.5 * d, d))), **digit_reads(exp, fake, cond)}


def _finite(logs: dict[str, Tensor]) -> str | None:
    for k, v in logs.items():
        if not math.isfinite(float(v)):
            return k
    return None


def train(cfg: TrainConfig, recipe: str = "custom", out: str | Path | None = None, progress: bool = True,
          runs_root: str | Path = "runs") -> RunResult:
    """Train ``cfg`` into a new run directory (``out``, or a fresh ``runs/<recipe>-<time>``)."""
    cfg.validate()
    exp = Experiment(cfg)  # fails on a bad device before any folder is made
    if exp.dist.main:  # one warning per run, not one per process
        cfg.warn_if_doubtful()
    made: Path | str = ""
    if exp.dist.main:  # only rank 0 writes; the others learn the folder (or the error) from it
        try:
            made = create_run_dir(out, recipe, runs_root)
            write_yaml(made / "config.yaml", cfg.to_dict())
            write_json_atomic(made / "run.json", {"recipe": recipe, "channels": exp.channels, "classes": exp.classes,
                                                  "source_channels": exp.source_channels,
                                                  "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        except RunError as e:
            made = f"error: {e}"
    made = exp.dist.broadcast(made)
    if isinstance(made, str):
        raise RunError(made[len("error: "):])
    return _run(exp, made, recipe, progress)


def resume(run_dir: str | Path, progress: bool = True) -> RunResult:
    """Continue ``run_dir`` from its latest checkpoint to its configured ``steps``."""
    run_dir = Path(run_dir)
    cfg = _run_config(run_dir)
    ck = latest_checkpoint(run_dir)
    if ck is None:
        raise RunError(f"{run_dir} has no checkpoint to resume from; start it again with `saddlepoint train`")
    tensors, meta = load_checkpoint(ck)
    if int(meta["step"]) >= cfg.steps:
        raise RunError(f"{run_dir} already finished ({meta['step']} of {cfg.steps} steps); "
                       f"to train longer, start a new run with steps=N")
    exp = Experiment(cfg)
    exp.load_state(tensors, meta)
    # Rows logged after the checkpoint belong to the lost stretch; they are logged again.
    if exp.dist.main:
        rows = [r for r in read_metrics(run_dir) if r["step"] <= exp.step]
        tmp = run_dir / ".metrics.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, run_dir / "metrics.jsonl")
    recipe = _run_recipe(run_dir)
    return _run(exp, run_dir, recipe, progress)


def _run_config(run_dir: Path) -> TrainConfig:
    """The validated config a run directory was trained with."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory (no config.yaml)")
    data = yaml.safe_load(path.read_text()) or {}
    valid = {f.name for f in fields(TrainConfig)}
    unknown = [k for k in data if k not in valid]
    if unknown:
        raise RunError(f"{path} has unknown key {unknown[0]!r}; was it written by another saddlepoint version?")
    return TrainConfig(**data).validate()


def _run_info(run_dir: Path) -> dict[str, Any]:
    p = run_dir / "run.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def _run_recipe(run_dir: Path) -> str:
    return _run_info(run_dir).get("recipe", "custom")


def load_run(run_dir: str | Path, load_data: bool = False) -> Experiment:
    """A run's players (and EMA generator) from its latest checkpoint, ready to ``generate``.
    Image data is loaded only with ``load_data`` (evaluation needs it, sampling does not)."""
    run_dir = Path(run_dir)
    cfg = _run_config(run_dir)
    tensors, meta = load_checkpoint(run_dir)
    info = {} if (load_data or cfg.model == "mlp") else _run_info(run_dir)
    exp = Experiment(cfg, channels=info.get("channels"), classes=info.get("classes"),
                     source_channels=info.get("source_channels"))
    exp.load_players(tensors)
    exp.step = int(meta["step"])
    return exp


def _save(exp: Experiment, run_dir: Path) -> Path:
    tensors, meta = exp.state()
    return save_checkpoint(run_dir, exp.step, tensors, meta)


def _game_played(cfg: TrainConfig) -> str:
    return cfg.game if cfg.gan_weight else "no game: gan_weight=0"


def _aside(exp: Experiment):
    """A context for work beside training (evaluating, drawing pictures) that leaves torch's global random streams
    as they were.  Dropout, IIC's deformations and the gradient penalty's interpolation points draw from them;
    evaluation may too (building the MNIST classifier initializes its weights).  Without it a run's weights would
    depend on ``eval_every``, and only rank 0, which evaluates, would move on to another stream than the other
    processes."""
    return torch.random.fork_rng(devices=[exp.device] if exp.device.type == "cuda" else [])


def _run(exp: Experiment, run_dir: Path, recipe: str, progress: bool) -> RunResult:
    from tqdm.auto import tqdm

    cfg, main = exp.cfg, exp.dist.main
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    sink = MetricsSink(run_dir) if main else None  # only rank 0 writes the run directory
    last_ckpt = latest_checkpoint(run_dir)
    t0 = time.time()
    # Into a log file or a pipe each redraw would be a line of its own: there, one every 30 s, and the last one stays.
    live = sys.stderr.isatty() or "ipykernel" in sys.modules  # a terminal, or a notebook's widget
    bar = tqdm(total=cfg.steps, initial=exp.step, desc=recipe, disable=not (progress and main), dynamic_ncols=True,
               unit="step", leave=not live, mininterval=0.1 if live else 30.0)
    deadline = t0 + 60 * cfg.time_limit if cfg.time_limit else math.inf
    out_of_time = False
    quality, evaluated_at = {}, None  # the last evaluation: the summary reuses the last step's instead of redoing it
    try:
        while exp.step < cfg.steps and not out_of_time:
            exp.set_lr()
            logs = gda_step(exp.schedule, exp.contest, exp.sample_real, exp.sample_noise)
            exp.update_ema()
            exp.step += 1
            exp.update_mixture()
            bar.update(1)
            # Every process stops at the same step (rank 0's clock decides).
            out_of_time = deadline < math.inf and exp.dist.any(main and time.time() >= deadline)
            last = exp.step == cfg.steps or out_of_time
            eval_now = bool(cfg.eval_every) and (exp.step % cfg.eval_every == 0 or last)
            # An evaluation is logged with the step's losses, whether or not log_every falls on it.
            log_now = exp.step % cfg.log_every == 0 or last or eval_now
            save_now = exp.step % cfg.checkpoint_every == 0 or last
            # Checking the losses reads them from the device: every step on the CPU (free), only before a
            # log line or a checkpoint on a GPU, so the step never waits on the host.
            bad = _finite(logs) if (exp.device.type == "cpu" or log_now or save_now) else None
            if bad is not None:
                where = (f"the last good checkpoint {last_ckpt} is intact" if last_ckpt is not None
                         else "no checkpoint had been written yet")
                raise TrainingDiverged(f"{bad} became {float(logs[bad])} at step {exp.step}; training stopped and "
                                       f"{where}. Lower lr_d/lr_g or add a penalty (r1=, gradient_penalty=)")
            if not main:
                continue
            if log_now:
                scalars = {k: float(v) for k, v in logs.items()}
                scalars["lr/G"] = exp.contest.opt_g.param_groups[0]["lr"]
                if eval_now:
                    with _aside(exp):
                        quality, evaluated_at = evaluate(exp), exp.step
                    scalars.update({f"eval/{k}": v for k, v in quality.items() if not isinstance(v, str)})
                sink.log(exp.step, scalars)
                bar.set_postfix({k: f"{v:.3g}" for k, v in scalars.items() if k.startswith(("loss", "eval/modes"))},
                                refresh=live)
            if cfg.sample_every and exp.step % cfg.sample_every == 0 and not last:
                with _aside(exp):
                    save_samples(exp, run_dir / f"samples-{exp.step:08d}.png", sink)
            if save_now:
                last_ckpt = _save(exp, run_dir)
    finally:
        bar.close()
        if sink is not None:
            sink.close()
    seconds = time.time() - t0
    if not main:
        return RunResult(run_dir, {})
    summary: dict[str, Any] = {"recipe": recipe, "data": cfg.data, "game": _game_played(cfg), "steps": exp.step,
                               "seconds": round(seconds, 2), **(quality if evaluated_at == exp.step else evaluate(exp))}
    if out_of_time:
        summary["stopped"] = f"time_limit of {cfg.time_limit:g} min reached at step {exp.step} of {cfg.steps}"
    if exp.dist.world > 1:
        summary["processes"] = exp.dist.world
    summary["eval_samples"] = cfg.eval_samples
    summary["generator"] = exp.sampler_name
    write_json_atomic(run_dir / "summary.json", summary)
    make_plots(exp, run_dir, recipe)
    return RunResult(run_dir, summary)


def save_samples(exp: Experiment, path: Path, sink: MetricsSink | None = None, title: str | None = None) -> None:
    """A picture of the generator now: an 8×8 image grid, or 2500 points over the data (with the
    3-std high-quality circles on a mixture)."""
    from . import plots

    if exp.images:
        from torchvision.utils import make_grid, save_image

        from .sampling import conditions_for_picture, translation_grid

        if exp.condition is not None and exp.condition.from_real:  # rows: source | G(source) | target
            real, sources = exp.data.sample_labelled(8, torch.Generator().manual_seed(EVAL_SEED))
            grid = translation_grid(exp, sources, None if exp.condition.name == "cyclegan" else real)
            save_image(grid, str(path))
            if sink is not None:
                sink.add_image("samples", grid, exp.step)
            return
        cond, n, per_row = conditions_for_picture(exp, 64)  # conditional: one row per class
        grid = make_grid(exp.generate(n, cond=cond), nrow=per_row, normalize=True, value_range=(-1, 1))
        save_image(grid, str(path))
        if sink is not None:
            sink.add_image("samples", grid, exp.step)
        return
    data = exp.data
    mixture = isinstance(data, GaussianMixture2D)
    fig = plots.plot_samples(data.sample(2500, torch.Generator().manual_seed(EVAL_SEED + 1)), exp.generate(2500),
                             data.limits, title or f"{exp.cfg.data}: step {exp.step}",
                             data.means_tensor if mixture else None, 3 * data.std if mixture else None)
    if sink is not None:
        sink.add_figure("samples", fig, exp.step)
    plots.save(fig, path)


def make_plots(exp: Experiment, run_dir: Path, recipe: str) -> None:
    """samples.png and curves.png in ``run_dir``; for 2-D data also critic.png."""
    from . import plots

    title = f"{recipe}: {_game_played(exp.cfg)}, step {exp.step}"
    plots.save(plots.plot_curves(read_metrics(run_dir), title), run_dir / "curves.png")
    save_samples(exp, run_dir / "samples.png", title=title)
    if exp.images:
        return
    s, limits = exp.scale, exp.data.limits
    fake = exp.generate(2500)

    D, game = exp.D, exp.contest.game
    was_training = D.training
    D.eval()

    def score(x: Tensor) -> Tensor:
        return _critic_on_points(D, (x / s).to(exp.device))

    def g_loss_per_point(x: Tensor) -> Tensor:
        sc = _critic_on_points(D, (x / s).to(exp.device))
        return torch.stack([game.g_loss(v.reshape(1)) for v in sc])

    plots.save(plots.plot_critic(score, g_loss_per_point, fake, limits, f"critic and generator force — {title}"),
               run_dir / "critic.png")
    D.train(was_training)


def _critic_on_points(D: nn.Module, x: Tensor) -> Tensor:
    # A packed critic scores groups of `pack` points; to map single points, repeat each one pack times.
    pack = getattr(D, "pack", 1)
    if pack > 1:
        x = x.repeat_interleave(pack, dim=0)
    return D(x)
