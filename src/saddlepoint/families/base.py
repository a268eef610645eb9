"""What every model family offers the trainer, and what they share.

A family builds its parts from the config, takes one training step, generates samples, evaluates itself and
draws its pictures.  The trainer (:mod:`saddlepoint.trainer`) runs any family through these methods and never
asks which one it runs.  What most families need the same way lives here once: the data a run samples, the
noise prior, the averaged generators (an EMA copy, the mixture of snapshots), sampling in eval mode, the quick
evaluation of an unconditional sampler and its picture.
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from .. import optim  # torch's optimizers without the compiler's guards (saddlepoint.optim)
from ..data import TOY_DATASETS, GaussianMixture2D, get_toy, is_2d, read_points
from ..divergences import mmd2
from ..distributed import Dist
from ..metrics import mode_coverage
from ..mixture import IterateMixture
from ..runs import RunError
from ..precision import NAMES, choose_precision, machine_id, matmul_speed
from ..state import CudaRNGState, GeneratorState, OptimizerState, Stateful, TorchRNGState

if TYPE_CHECKING:
    from ..runs import MetricsSink

__all__ = ["Family", "EVAL_SEED", "adam", "eval_mode", "resolve_precision", "cpu_has_amx", "truncated_normal"]

EVAL_SEED = 2018  # fixed noise for every evaluation, so numbers across steps and runs compare


class Family:
    """One kind of model on the shared trainer.  Subclasses register with ``@register_family("name")``, declare
    their own keys with ``@config_section("name", family="name")`` and override what differs."""

    name: ClassVar[str] = ""
    condition = None  # what a conditional generator is told beside its noise (the GAN families' conditions)
    self_ensemble = False

    def __init__(self, cfg: Any, dist: Dist, device: torch.device, shapes: dict[str, int] | None = None):
        """``shapes`` (``channels``, ``classes``, ``source_channels`` from a run's run.json) given: build the
        parts without loading an image set (sampling from a run)."""
        self.cfg, self.dist, self.device = cfg, dist, device
        self.step = 0
        self.lr_scale, self.rollbacks = 1.0, 0  # the trainer's: learning rates lowered by rollbacks, and how often
        self.images = not is_2d(cfg.data)
        self.G_ema: nn.Module | None = None
        self.mixture: IterateMixture | None = None

    # --- what the trainer calls ------------------------------------------------------------------------------
    def train_step(self) -> dict[str, Tensor]:
        """One training step; detached scalars by hierarchical name (``loss/G``, ...), left on the device."""
        raise NotImplementedError

    def optimizers(self) -> list[tuple[torch.optim.Optimizer, float]]:
        """(optimizer, its base learning rate), generator's first: the trainer decays them and logs the first."""
        raise NotImplementedError

    def parts(self) -> dict[str, Stateful]:
        """Every stateful part by name: what a checkpoint holds and a resume restores."""
        parts: dict[str, Stateful] = dict(self.weights())
        for i, (opt, _) in enumerate(self.optimizers()):
            parts[self.optimizer_names[i]] = OptimizerState(opt)
        parts["rng.data"] = GeneratorState(self.rng)
        parts["rng.torch"] = TorchRNGState()
        if self.device.type == "cuda" and torch.cuda.is_available():
            parts["rng.cuda"] = CudaRNGState(self.device)
        return parts

    optimizer_names: ClassVar[tuple[str, ...]] = ("opt_g",)

    def weights(self) -> dict[str, nn.Module]:
        """The networks by name (what sampling from a run loads): the generator and its averaged copies."""
        out: dict[str, nn.Module] = {"G": self.G}
        if self.G_ema is not None:
            out["G_ema"] = self.G_ema
        if self.mixture is not None:
            out["G_mix"] = self.mixture
        return out

    def prepare_weights(self, tensors: dict[str, Tensor]) -> None:
        """Shape the parts for a checkpoint's tensors before they load: a mixture holds as many members as the
        checkpoint has (none before its first snapshot)."""
        if self.mixture is not None:
            held = {k.split(".")[2] for k in tensors if k.startswith("G_mix.members.")}
            self.mixture.resize(len(held), self.G)

    def objective(self) -> str:
        """What the run optimizes, in a few words (the summary's ``game``)."""
        raise NotImplementedError

    # --- precision ------------------------------------------------------------------------------------------
    precision_note = ""  # what precision=auto chose and why (printed and recorded by the trainer)

    def player_signature(self) -> str:
        """What the speed of a training step depends on besides the machine (the precision cache's key)."""
        return ""

    def _choose_precision(self, time_step) -> tuple[torch.dtype, str]:
        """(the forward passes' dtype, why).  A named precision is used as it is; ``auto`` on image players times
        ``time_step(dtype)`` (seconds per training step) in float32 and bfloat16 (and float16 on CUDA) and takes the
        faster (:mod:`saddlepoint.precision`); 2-D MLPs and runs loaded without their data stay float32.  Every
        process takes rank 0's answer."""
        from ..data.images import cache_dir

        cfg = self.cfg
        if cfg.precision != "auto" or not self.images or self.data is None:
            return resolve_precision(cfg, self.device, mlp=not self.images), ""
        candidates = [torch.float32]
        if self.device.type != "cuda" or torch.cuda.is_bf16_supported():
            candidates.append(torch.bfloat16)
        if self.device.type == "cuda":
            candidates.append(torch.float16)
        key = f"{machine_id(self.device)} | {self.name}: {self.player_signature()}"
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            cache = cache_dir() / "precision.json"
            dtype, note = choose_precision(time_step, candidates, key, cache,
                                           probe=lambda dt: matmul_speed(dt, self.device))
        name = self.dist.broadcast(NAMES[dtype])  # one answer for every process
        return {v: k for k, v in NAMES.items()}[name], note

    def run_info(self) -> dict[str, Any]:
        """What sampling from the run needs to rebuild the parts without the data (run.json)."""
        return {"channels": self.channels, "classes": self.classes, "source_channels": self.source_channels}

    # --- generator averaging: EMA (Yazıcı et al. 2019) and the mixture of snapshots ---------------------------
    def _averages(self) -> None:
        """Make the EMA copy of G and the empty mixture the config asks for (call once G is on its device)."""
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if self.cfg.ema > 0 else None
        self.mixture = IterateMixture(self.cfg.mixture) if self.cfg.mixture else None

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.G_ema is None:
            return
        ema_p, p = list(self.G_ema.parameters()), list(self.G.parameters())
        if self.step < self.cfg.ema_start:  # not started: the copy follows G
            torch._foreach_copy_(ema_p, p)
        else:
            torch._foreach_lerp_(ema_p, p, 1.0 - self.cfg.ema)
        for eb, b in zip(self.G_ema.buffers(), self.G.buffers()):  # batch-norm statistics follow G
            eb.copy_(b)

    @torch.no_grad()
    def update_mixture(self) -> None:
        """Take a snapshot for the mixture at every ``mixture_every``-th step."""
        if self.mixture is not None and self.step % self.cfg.mixture_every == 0:
            self.mixture.add(self.G_ema if self.G_ema is not None else self.G)

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

    # --- data and noise -------------------------------------------------------------------------------------
    def _load_data(self, shapes: dict[str, int] | None) -> None:
        """The run's data: a 2-D distribution, or an image set (not loaded when ``shapes`` says the sizes)."""
        if not self.images:
            self.data = get_toy(self.cfg.data)
            self.scale = self.data.scale
        else:
            self.scale = 1.0  # images are already in [−1, 1]
            self.data = None
            if not shapes or shapes.get("channels") is None:
                self.data = self.load_image_data()
        shapes = shapes or {}
        self.channels = shapes.get("channels") or getattr(self.data, "channels", 2)
        self.classes = shapes["classes"] if shapes.get("classes") is not None else getattr(self.data, "n_classes", 0)
        self.source_channels = shapes.get("source_channels") or getattr(self.data, "source_channels", 0)

    def load_image_data(self):
        from ..data.images import load_images

        return load_images(self.cfg.data, self.cfg.image_size)

    truncation: float | None = None  # sampling only: z from the normal truncated at ±truncation (use_truncation)

    def use_truncation(self, threshold: float | None) -> None:
        """From now on sample (and evaluate) with the truncation trick (Brock et al. 2019): each entry of z drawn
        from the standard normal truncated at ±``threshold`` by resampling the entries beyond it — the truncated
        distribution itself, not a normal with a smaller variance.  ``None``: the prior again."""
        if threshold is None:
            self.truncation = None
            return
        if not (math.isfinite(threshold) and threshold > 0):
            raise RunError(f"--truncation {threshold}: give a positive threshold (BigGAN uses 0.04 to 2)")
        if self.cfg.noise != "normal":
            raise RunError(f"--truncation cuts a normal prior's tails, and this run draws z from the {self.cfg.noise} "
                           "prior on [−1, 1]; leave it out")
        if getattr(self.condition, "from_real", False):
            raise RunError("--truncation applies to generators fed noise; a translation run's input is its source image")
        self.truncation = float(threshold)

    def sampling_noise(self, n: int, generator: torch.Generator) -> Tensor:
        """z for samples: the prior, or its truncation (:meth:`use_truncation`)."""
        if self.truncation is None:
            return self.noise(n, generator)
        return truncated_normal(n, self.cfg.z_dim, self.truncation, generator)

    def noise(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` draws of z from the run's prior (``noise``: standard normal or uniform on [−1, 1])."""
        if self.cfg.noise == "uniform":
            return torch.rand(n, self.cfg.z_dim, generator=generator) * 2 - 1
        return torch.randn(n, self.cfg.z_dim, generator=generator)

    def sample_data(self, n: int) -> Tensor:
        """A real batch of ``n`` per process (this process's slice of the global draw), in the players' units."""
        x = self.data.sample(n, self.rng)
        x = (self.dist.shard(x) / self.scale).to(self.device, non_blocking=True)
        return x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x

    memory_format = torch.contiguous_format

    @torch.no_grad()
    def generate(self, n: int, seed: int = EVAL_SEED, cond: Tensor | None = None) -> Tensor:
        """``n`` samples in data units (images in [−1, 1]) from :attr:`sampler` in eval mode, noise from ``seed``.
        A class- or code-conditional run: ``cond`` holds the n labels (or codes); default every class equally often."""
        if cond is not None and self.condition is None:
            raise RunError(f"this {self.name} run is unconditional; it takes no labels or codes")
        g = torch.Generator().manual_seed(seed)
        z = self.sampling_noise(n, g)
        if self.condition is None:
            return self.run_sampler(z)
        cond = self.condition.balanced(n, g) if cond is None else cond
        if cond.shape[0] != n:
            raise ValueError(f"{cond.shape[0]} conditions for {n} samples")
        return self.run_sampler(z, cond)

    @torch.no_grad()
    def run_sampler(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """:attr:`sampler` in eval mode on the latents ``z`` (and a conditional generator's per-sample ``cond``), in
        data units on the CPU.  A mixture gives sample i to member i mod K: batches of a multiple of K keep that
        over the request."""
        G = self.sampler
        chunk = 256 if G is not self.mixture else -(-256 // len(self.mixture)) * len(self.mixture)
        conds = cond.split(chunk) if cond is not None else [None] * len(z.split(chunk))
        with eval_mode(G):
            x = torch.cat([G(zb.to(self.device), *([] if cb is None else [cb.to(self.device)])).float().cpu()
                           for zb, cb in zip(z.split(chunk), conds)])
        return x * self.scale

    # --- evaluation and pictures ----------------------------------------------------------------------------
    def evaluate(self, n: int | None = None) -> dict[str, float | str]:
        """Quality of the sampler now (see :meth:`sample_quality`)."""
        return self.sample_quality(n or self.cfg.eval_samples)

    def sample_quality(self, n: int, cond: Tensor | None = None) -> dict[str, float | str]:
        """PacGAN's mode-coverage numbers on mixtures; otherwise the unbiased MMD² (Gaussian kernels) between
        generated and real samples — on the points for 2-D shapes, on raw pixels for images (a cheap proxy
        until feature-space metrics are computed) — and, on MNIST and stacked MNIST, what the shipped classifier
        reads in the samples (``digit_reads``)."""
        if isinstance(self.data, GaussianMixture2D):
            return mode_coverage(self.generate(n), self.data.means_tensor, self.data.std)
        fake = self.generate(n, cond=cond) / self.scale
        real = self.data.sample(n, torch.Generator().manual_seed(EVAL_SEED + 1)) / self.scale
        if not self.images:
            return {"mmd2": float(mmd2(real, fake, bandwidths=(0.05, 0.1, 0.2, 0.5)))}
        from ..metrics.images import digit_reads

        d = real[0].numel() ** 0.5  # pixel distances grow like √(pixels)
        return {"mmd2_pixels": float(mmd2(real, fake, bandwidths=(0.25 * d, 0.5 * d, d))),
                **digit_reads(self, fake, cond)}

    def held_out(self, n: int | None = None) -> tuple[Tensor, Tensor | None, str]:
        """(the first ``n`` held-out images in data units, their labels where the data has some, what they are): the
        test split where the data has one, else the training images (said so); 2-D data: fresh draws."""
        if not self.images:
            n = n or 10_000
            return self.data.sample(n, torch.Generator().manual_seed(EVAL_SEED + 4)), None, \
                f"{n} fresh draws from {self.cfg.data} (seed {EVAL_SEED + 4})"
        from ..metrics.images import reference_set

        sampler, what = reference_set(self)
        ds = sampler.dataset
        idx = torch.arange(min(n or len(ds), len(ds)))
        labels = ds.labels[idx] if ds.labels is not None else None
        return ds.to_float(idx), labels, f"the first {len(idx)} images of {what}"

    own_likelihood = False  # a generator has none: --metrics ais gives it Gaussian noise of a width σ

    MAX_COMPONENTS = 100  # the most values of a discrete latent ais anneals each image given, one after another

    def likelihood_parts(self):
        """What :func:`saddlepoint.metrics.ais.evaluate_ais` anneals over beside z
        (:class:`~saddlepoint.metrics.ais.LatentParts`): a class-conditional run's classes, InfoGAN's categorical
        code (and its continuous codes as more latent dimensions), a mixture's members; :class:`RunError` for a
        condition it cannot score."""
        from ..metrics.ais import LatentParts

        if self.condition is not None:
            parts = getattr(self.condition, "likelihood_parts", None)
            if parts is None:
                from ..metrics.images import METRICS

                raise RunError(METRICS["ais"].refusal)
            if self.sampler is self.mixture:
                raise RunError("ais scores a mixture of an unconditional generator's snapshots, and this run's "
                               "generator is told labels or codes; score its networks in a run without the mixture")
            parts = parts()
            if parts.components > self.MAX_COMPONENTS:
                raise RunError(f"ais anneals each image once for every one of the {parts.components} {parts.words}, "
                               f"more than {self.MAX_COMPONENTS}; score a run with fewer")
            return parts
        if self.sampler is self.mixture:
            return LatentParts(len(self.mixture), False, 0, "members of p(x | member)")
        return LatentParts()

    def likelihood_model(self, sigma: float | None):
        """(the sampler as a decoder-based model for :func:`saddlepoint.metrics.ais.ais` with the observation model
        p(x | z[, k]) = N(x; G(z[, k]), σ²I) — on pixels in [0, 1] for images, in the data's units for points —,
        held-out data in data units → its targets, the protocol in words); :class:`RunError` where there is none.
        k and a code's continuous parts (:meth:`likelihood_parts`) are read by a conditional generator, k picks a
        mixture's member."""
        from ..metrics.ais import DecoderModel, gaussian_log_likelihood

        parts = self.likelihood_parts()
        if sigma is None:
            raise RunError("a generator's likelihood needs the width σ of its observation noise")
        G, cond, d = self.sampler, self.condition, self.cfg.z_dim
        uniform, scale = self.cfg.noise == "uniform", self.scale

        def decode(u: Tensor, k: Tensor | None = None) -> Tensor:
            z = torch.erf(u[:, :d] / math.sqrt(2)) if uniform else u[:, :d]  # uniform prior: z = 2Φ(u) − 1 has it
            x = (G(z, cond.likelihood_code(k, u[:, d:])) if cond is not None else G(z) if k is None
                 else G(z, member=k)).float()
            return (x + 1) / 2 if self.images else x * scale

        def simulate(mean: Tensor, g: torch.Generator) -> Tensor:
            return mean + sigma * torch.randn(mean.shape, generator=g).to(mean.device)

        model = DecoderModel(decode, lambda m, x: gaussian_log_likelihood(m, x, sigma), simulate, d + parts.continuous,
                             (G,), parts.components)
        if not self.images:
            return model, lambda x: x, (f"Gaussian noise of σ = {sigma:g} (the data's units) around the "
                                        f"{self.sampler_name}'s point; a density of the points in the data's units")
        return model, lambda x: ((x + 1) / 2).clamp(0, 1), (
            f"Gaussian observation noise of σ = {sigma:g} on pixels in [0, 1] around the {self.sampler_name}'s "
            f"image (Wu et al. 2017); a density of continuous pixel values in [0, 1]")

    def save_picture(self, path: Path, sink: "MetricsSink | None" = None, title: str | None = None) -> None:
        """A picture of the sampler now: an 8×8 image grid (a class- or code-conditional run: one row per class),
        or 2500 points over the data (with the 3-std high-quality circles on a mixture)."""
        if self.images:
            from ..grids import make_grid, save_png

            from .pictures import conditions_for_picture

            cond, n, per_row = conditions_for_picture(self, 64)
            grid = make_grid(self.generate(n, cond=cond), nrow=per_row, value_range=(-1, 1))
            save_png(grid, path)
            if sink is not None:
                sink.add_image("samples", grid, self.step)
            return
        from .. import plots  # matplotlib: only for points (an image run's grid needs no figure)

        data = self.data
        mixture = isinstance(data, GaussianMixture2D)
        fig = plots.plot_samples(data.sample(2500, torch.Generator().manual_seed(EVAL_SEED + 1)), self.generate(2500),
                                 data.limits, title or f"{self.cfg.data}: step {self.step}",
                                 data.means_tensor if mixture else None, 3 * data.std if mixture else None)
        if sink is not None:
            sink.add_figure("samples", fig, self.step)
        plots.save(fig, path)

    def extra_pictures(self, run_dir: Path, title: str) -> None:
        """Pictures beside samples.png and curves.png at the end of a run (none by default)."""

    # --- one player at a time (the live lab) ------------------------------------------------------------------
    has_critic = False  # a family with a critic offers player_step and critic_field

    @property
    def critic_steps_taken(self) -> int:
        return 0

    def player_step(self, which: str) -> dict[str, Tensor]:
        """One step of one player alone: ``critic`` (against the current generator) or ``generator`` (against the
        current critic; counted as a step)."""
        raise RunError(f"a {self.name} run has no critic: its players step together")

    def critic_field(self, points: Tensor, force: bool = True) -> tuple[Tensor, Tensor | None]:
        """At 2-D ``points`` in data units: the critic's score, and (``force``) the force −∇x of the generator's
        loss that a generated point there feels (in data units)."""
        raise RunError(f"a {self.name} run has no critic")

    # --- the config ------------------------------------------------------------------------------------------
    @classmethod
    def validate(cls, cfg: Any) -> None:
        """Refuse (ConfigError, one line) what this family cannot train; called after every key's range."""

    @staticmethod
    def check_sample_data(cfg: Any) -> bool:
        """For families that model one distribution (no pairs, no domains): ``data`` must be a 2-D set, a built-in
        image set or a path, and image_size is for images only.  True for 2-D data."""
        from ..data.images import IMAGE_DATASETS, is_data_path
        from ..keys import ConfigError, check_choice

        is_path = is_data_path(cfg.data, [*TOY_DATASETS, *IMAGE_DATASETS])
        toy = two_d_data(cfg.data)
        if not (toy or cfg.data in IMAGE_DATASETS or is_path):
            check_choice("data", cfg.data, [*TOY_DATASETS, *IMAGE_DATASETS])
        if toy and cfg.image_size != type(cfg).__dataclass_fields__["image_size"].default:
            raise ConfigError(f"image_size applies to image data, not data={cfg.data}; remove it")
        return toy

    @classmethod
    def warn_if_doubtful(cls, cfg: Any) -> None:
        """Warn about settings that train but not as the user probably means (when training starts)."""

    @classmethod
    def check_overrides(cls, cfg: Any, asked: set[str]) -> None:
        """Refuse keys the user asked for that this run would ignore although their values are allowed."""


@contextmanager
def eval_mode(*modules: nn.Module):
    """The modules in eval mode for the block, each back in its own mode after it."""
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, w in zip(modules, was):
            m.train(w)


def adam(params, lr: float, cfg: Any) -> torch.optim.Optimizer:
    """The run's optimizer (``cfg.optimizer``): Adam with its fused kernel where this PyTorch has one for the device
    (one kernel for all tensors), or SGD with ``cfg.momentum``."""
    params = list(params)
    if getattr(cfg, "optimizer", "adam") == "sgd":
        return optim.SGD(params, lr=lr, momentum=cfg.momentum, foreach=True)
    try:
        return optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), fused=True)
    except (RuntimeError, TypeError):
        return optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), foreach=True)


def two_d_data(data: str) -> bool:
    """Whether ``data`` is 2-D points: a built-in distribution, or a CSV of points that must read (ConfigError with
    one line if it does not)."""
    from ..keys import ConfigError

    if is_2d(data) and data not in TOY_DATASETS:
        try:
            read_points(data)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    return is_2d(data)


def truncated_normal(n: int, d: int, threshold: float, generator: torch.Generator) -> Tensor:
    """(n, d) draws of the standard normal truncated to [−threshold, threshold]: every entry beyond it drawn again
    until none is (reproducible from ``generator``)."""
    z = torch.randn(n, d, generator=generator)
    out = z.abs() > threshold
    while out.any():
        z[out] = torch.randn(int(out.sum()), generator=generator)
        out = z.abs() > threshold
    return z


def resolve_precision(cfg: Any, device: torch.device, mlp: bool) -> torch.dtype:
    """The forward passes' dtype for a named ``cfg.precision`` on ``device``; for ``auto`` without a measurement
    (2-D MLPs, a run sampled without its data) float32 — except the guess kept for callers that cannot measure:
    bf16 for convolutional players on GPUs with bf16 and CPUs with AMX tiles.  A family measures instead
    (:meth:`Family._choose_precision`)."""
    named = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if cfg.precision != "auto":
        if cfg.precision == "fp16" and device.type != "cuda":
            raise RunError("precision=fp16 needs a CUDA device (loss scaling); use precision=bf16 or fp32 on the CPU")
        return named[cfg.precision]
    if mlp:
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
