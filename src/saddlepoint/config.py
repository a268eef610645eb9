"""Typed training configuration, recipes and ``key=value`` overrides.

A recipe is a YAML file of config keys (plus an optional one-line ``description``).  A run resolves its
config once, validates every key, type and range before any training, and writes the result into
the run directory as ``config.yaml``.
"""

from __future__ import annotations

import difflib
import typing
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = ["TrainConfig", "ConfigError", "resolve_config", "list_recipes", "DEFAULT_RECIPE"]

DEFAULT_RECIPE = "grid25"
# The keys of the critic's penalties (weights; train.py makes each a Penalty spaced out by penalty_every).
CRITIC_PENALTIES = ("gradient_penalty", "r1", "info_consistency")


class ConfigError(ValueError):
    """A bad recipe, key or value.  Its message is one line that names the problem and the fix."""


def _f(default: Any, help: str, min: float | None = None, max: float | None = None, positive: bool = False):
    return field(default=default, metadata={"help": help, "min": min, "max": max, "positive": positive})


@dataclass
class TrainConfig:
    """Everything a training run depends on.  Field names are the recipe / override keys."""

    # --- data and length
    data: str = _f("grid25", "dataset: ring8, grid25, moons, spiral, checkerboard, mnist, stacked-mnist, cifar10, a folder "
                             "or .npz path; pix2pix: edges2mnist, halves2mnist or a folder of pairs")
    seed: int = _f(0, "seed for weights, noise and data order", min=0)
    steps: int = _f(12000, "generator steps", min=1)
    time_limit: float = _f(0.0, "minutes of training after which the run stops early, checkpointed and evaluated "
                                "(0 = none; a fixed-time budget: resume goes on towards steps)", min=0)
    batch_size: int = _f(256, "samples per batch", min=1)
    # --- the game and its regularizers
    game: str = _f("nonsaturating", "objective (see `saddlepoint recipes --games`)")
    gradient_penalty: float = _f(0.0, "WGAN-GP weight λ on E(‖∇D(x̂)‖−1)² (0 = off)", min=0)
    r1: float = _f(0.0, "R1 weight (γ/2 in Mescheder et al. 2018) on E_P‖∇D(x)‖² (0 = off)", min=0)
    penalty_every: int = _f(1, "apply penalties every k-th critic step (lazy regularization)", min=1)
    weight_clip: float = _f(0.0, "WGAN weight clipping c: critic weights clamped to [−c, c] (0 = off)", min=0)
    spectral_norm: bool = _f(False, "spectral normalization on every critic layer")
    mmd: float = _f(0.0, "weight of MMD² between each generator batch and a real batch, added to G's loss: GMMN's "
                         "objective (Li et al. 2015) beside the game, which sees how often each kind of sample is "
                         "drawn (0 = off)", min=0)
    mmd_bandwidth: float = _f(8.0, "mmd: width σ of the Gaussian kernels (σ and 2σ, summed), in the units the "
                                   "players see (images: pixels in [−1, 1], where two MNIST digits lie about 20 "
                                   "apart; 2-D data: divided by its scale)", positive=True)
    mmd_channels: bool = _f(False, "mmd on images: one MMD² per channel, summed (each channel's distribution "
                                   "matched on its own; stacked MNIST's channels are independent digits)")
    # --- the schedule
    schedule: Literal["alternating", "simultaneous"] = _f("alternating", "gradient descent-ascent form")
    critic_steps: int = _f(1, "critic steps per generator step (k)", min=1)
    lr_g: float = _f(1e-3, "generator learning rate (Adam)", positive=True)
    lr_d: float = _f(1e-3, "critic learning rate (Adam)", positive=True)
    beta1: float = _f(0.5, "Adam β1", min=0, max=0.999999)
    beta2: float = _f(0.999, "Adam β2", min=0, max=0.999999)
    lr_decay: Literal["none", "linear"] = _f("linear", "learning-rate schedule over the run")
    # --- players
    model: Literal["mlp", "dcgan", "resnet", "small", "infogan", "unet", "srresnet", "cyclegan"] = _f(
        "mlp", "player family: mlp (2-D data); dcgan, resnet or small (images; small = the Unrolled-GAN paper's "
               "28-px stacked-MNIST players, base_channels = critic width: 2 for D = ¼ G, 4 for D = ½ G); infogan "
               "(the InfoGAN paper's MNIST players: convolutions and a fully connected layer of 16·base_channels); unet "
               "(pix2pix: U-Net generator, PatchGAN critic); srresnet (SRGAN's players, 4× super-resolution); cyclegan "
               "(two ResNet translators, two PatchGAN critics)")
    image_size: int = _f(28, "image side in pixels (images are resized once on load)", min=4)
    base_channels: int = _f(64, "DCGAN width (ResNet: G 4×, critic 2× this)", min=1)
    z_dim: int = _f(2, "latent dimension", min=1)
    noise: Literal["normal", "uniform"] = _f("normal", "prior of the noise z: standard normal, or uniform on [−1, 1] "
                                                       "(the DCGAN and InfoGAN papers)")
    g_hidden: int = _f(256, "generator hidden units", min=1)
    g_layers: int = _f(3, "generator hidden layers", min=1)
    g_batch_norm: bool = _f(False, "batch norm in the generator's hidden layers")
    d_hidden: int = _f(256, "critic hidden units", min=1)
    d_layers: int = _f(3, "critic hidden layers", min=1)
    d_maxout: int = _f(1, "maxout pieces per critic unit (1 = LeakyReLU 0.2)", min=1)
    pack: int = _f(1, "PacGAN packing: samples the critic judges jointly", min=1)
    critic_batch_norm: bool = _f(True, "batch norm in the hidden layers of the dcgan, small, infogan, srresnet "
                                       "and unet (pix2pix PatchGAN) critics (false: none; a critic then left "
                                       "without batch statistics scores real and fake in one pass — InfoGAN's "
                                       "and AC-GAN's heads keep theirs)")
    ema: float = _f(0.0, "decay of an exponential moving average of G's weights used for sampling and evaluation (0 = off)",
                    min=0, max=0.999999)
    mixture: int = _f(0, "sample and evaluate the uniform mixture of the last N snapshots of G (the EMA copy when "
                         "ema > 0), one taken every mixture_every steps: the generator's time-averaged mixed "
                         "strategy (0 = off: the last iterate)", min=0)
    mixture_every: int = _f(1000, "steps between the snapshots a mixture keeps", min=1)
    # --- conditioning (image players)
    conditional: Literal["none", "cgan", "acgan", "infogan", "pix2pix", "srgan", "cyclegan"] = _f(
        "none", "conditional generation: cgan or acgan (class labels; needs labelled data), infogan (latent codes, "
                "no labels), pix2pix (paired image translation, model=unet), srgan (4× super-resolution, "
                "model=srresnet) or cyclegan (unpaired translation, model=cyclegan)")
    label_critic: Literal["concat", "projection"] = _f(
        "concat", "cgan: the critic reads the label as one-hot planes (concat) or by projection (Miyato & Koyama 2018)")
    aux_weight: float = _f(1.0, "acgan: weight of the class cross-entropy; infogan: λ on the mutual-information term",
                           min=0)
    aux_on_fake: bool = _f(True, "acgan: the critic's class head also learns from fake samples (Odena et al.); false = "
                                 "from real samples only")
    info_categorical: int = _f(10, "infogan: categories of the categorical code (0 = none)", min=0)
    info_codes: int = _f(1, "infogan: independent categorical codes of info_categorical values each (the paper: 4 "
                             "on SVHN, 10 on CelebA)", min=1)
    info_continuous: int = _f(2, "infogan: continuous codes, uniform on [−1, 1]", min=0)
    info_consistency: float = _f(0.0, "infogan: weight of IIC's term on Q's categorical code (Ji et al. 2019): minus "
                                      "the mutual information between Q's reading of real images and of randomly "
                                      "turned, shifted and scaled copies (0 = off; applied with penalty_every)", min=0)
    l1_weight: float = _f(100.0, "pix2pix: λ on the L1 distance between G(A) and the target B", min=0)
    gan_weight: float = _f(1.0, "pix2pix, srgan: weight of the adversarial term in G's loss (0 = the L1-only "
                                "baseline, no critic is trained; srgan: 0 = SRResNet, 0.001 = SRGAN)", min=0)
    res_blocks: int = _f(16, "srresnet, cyclegan: residual blocks in each generator (SRGAN: 16; CycleGAN: 6 at 128 px)",
                         min=1)
    sr_residual: bool = _f(True, "srgan: the generator adds its output to the bicubic enlargement of its input (global "
                                 "residual learning, VDSR; not in the SRGAN paper); false = the paper's generator")
    sr_augment: bool = _f(False, "srgan: each training crop turned by a multiple of 90° and mirrored at random (the "
                                 "square's 8 symmetries), as EDSR trains")
    cycle_weight: float = _f(10.0, "cyclegan: λ on the cycle-consistency L1 loss", min=0)
    identity_weight: float = _f(5.0, "cyclegan: weight of the identity L1 loss (the paper: 0.5·λ)", min=0)
    translator_downsampling: int = _f(2, "cyclegan: stride-2 convolutions in each translator (the paper: 2 at 128 and "
                                         "256 px; 1 keeps a 28-px digit's shape)", min=0)
    pool_size: int = _f(50, "cyclegan: generated pairs kept in the critics' history pool (0 = none)", min=0)
    reuse_fake: bool = _f(True, "alternating GDA: the generator step re-scores the last critic step's G(z) instead of "
                                "running G on fresh noise (one generator forward per step instead of two)")
    # --- runtime and output
    device: str = _f("cpu", "cpu, cuda, cuda:N or auto")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = _f(
        "auto", "forward-pass precision: bf16 / fp16 autocast (fp16 with loss scaling, CUDA only) or fp32; auto = "
                "bf16 for convolutional players on GPUs with bf16 and CPUs with AMX tiles, fp32 otherwise")
    channels_last: bool = _f(True, "image players and batches in channels-last memory format (faster convolutions)")
    gemm_pixels: int = _f(0, "image players: convolutions whose smaller feature map has at most this many pixels run "
                             "as one matrix product, e.g. 64 (0 = never)", min=0)
    compile: bool = _f(False, "torch.compile both players (slow first steps, then faster on some hardware)")
    threads: int = _f(0, "CPU threads for torch (0 = torch's default)", min=0)
    log_every: int = _f(100, "steps between metric lines", min=1)
    eval_every: int = _f(1000, "steps between mode-coverage evaluations (0 = only at the end)", min=0)
    checkpoint_every: int = _f(2000, "steps between checkpoints", min=1)
    sample_every: int = _f(0, "steps between pictures samples-STEP.png (and TensorBoard); 0 = only samples.png at the end",
                           min=0)
    eval_samples: int = _f(2500, "generated points for the final evaluation (protocol: 2500)", min=1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> "TrainConfig":
        from .data import TOY_DATASETS
        from .games import GAMES
        from .nets import PLAYERS  # importing nets registers every player family

        for f in fields(self):
            _check_value(f, getattr(self, f.name))
        from .data.images import IMAGE_DATASETS

        is_toy = self.data in TOY_DATASETS
        is_path = self.data.endswith(".npz") or "/" in self.data or self.data.startswith(("~", "."))
        special = {name: kind for kind, spec in _translation_kinds().items() for name in spec[1]}
        if not (is_toy or self.data in IMAGE_DATASETS or self.data in special or is_path):
            _check_choice("data", self.data, [*TOY_DATASETS, *IMAGE_DATASETS, *special])
        # Each translation kind has its own built-in data; one kind's data does not fit another.
        for kind, (model, datasets, holds, needs) in _translation_kinds().items():
            if (self.data in datasets) != (self.conditional == kind) and not is_path:
                raise ConfigError(f"data={self.data} " + (f"{holds}: use conditional={kind} model={model}"
                                                          if self.data in datasets else f"is not {needs}"))
        if is_toy != (self.model == "mlp"):
            raise ConfigError(f"model={self.model} does not fit data={self.data}: use model=mlp for 2-D data and "
                              "model=dcgan or model=resnet for images")
        # Keys of the other player family would be accepted and silently ignored: refuse them.
        defaults = TrainConfig.__dataclass_fields__
        mlp_keys = ("g_hidden", "g_layers", "g_batch_norm", "d_hidden", "d_layers", "d_maxout")
        image_keys = ("image_size", "base_channels")
        foreign = image_keys if self.model == "mlp" else mlp_keys
        for key in foreign:
            if getattr(self, key) != defaults[key].default:
                fits = "model=dcgan or model=resnet" if key in image_keys else "model=mlp"
                raise ConfigError(f"{key} applies to {fits}, not model={self.model}; remove it"
                                  + ("" if self.model == "mlp" else " (base_channels sets the width of image players)"))
        family = PLAYERS[self.model]  # the model's Literal choices are the registered families (a test keeps them so)
        if not self.critic_batch_norm and not family.critic_batch_norm:
            switchable = sorted(name for name, f in PLAYERS.items() if f.critic_batch_norm)
            raise ConfigError(f"critic_batch_norm=false applies to model={', '.join(switchable)}; the critic of "
                              f"model={self.model} has no batch norm to remove: remove the key")
        self._validate_conditional(defaults)
        if self.precision == "fp16" and self.schedule == "simultaneous":
            raise ConfigError("precision=fp16 (loss scaling) works with schedule=alternating only; use precision=bf16 "
                              "or fp32 for simultaneous GDA")
        if self.model != "mlp":
            from .nets.common import resolution_plan

            if self.model == "small" and self.image_size != 28:
                raise ConfigError(f"model=small builds 28×28 players only; set image_size=28 (not {self.image_size})")
            if self.model == "infogan" and self.image_size % 4:
                raise ConfigError(f"model=infogan upsamples twice by 2: image_size must be a multiple of 4, not "
                                  f"{self.image_size}")
            try:
                resolution_plan(self.image_size)
            except ValueError as e:
                raise ConfigError(str(e)) from None
        _check_choice("game", self.game, GAMES)
        if not (self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:")):
            raise ConfigError(f"device={self.device!r} is not a device; use cpu, cuda, cuda:N or auto")
        if self.gan_weight == 0:  # no game: the critic's settings would be accepted and ignored
            critic_only = [k for k in ("game", "critic_steps", "r1", "gradient_penalty", "weight_clip", "spectral_norm",
                                       "pack", "critic_batch_norm")
                           if getattr(self, k) != defaults[k].default]
            if critic_only:
                raise _no_critic(critic_only[0])
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
        if self.mmd and self.conditional in _translation_kinds():
            raise ConfigError(f"mmd compares the distribution of a generator's samples with the data's; a "
                              f"{self.conditional} translator is matched to its targets by its own losses: remove mmd")
        if self.mixture_every != defaults["mixture_every"].default and not self.mixture:
            raise ConfigError("mixture_every sets how often a mixture takes a snapshot of G, and mixture=0 keeps none; "
                              "set mixture=N (members) or remove mixture_every")
        if self.mixture and self.conditional in _translation_kinds():
            raise ConfigError(f"mixture samples generators that draw noise; a {self.conditional} translator maps each "
                              "source to one output: remove mixture")
        feature_batch_norm = family.feature_batch_norm or self.conditional == "infogan"  # BatchNorm1d (Q's head too)
        if self.batch_size < 2 and (self.g_batch_norm or feature_batch_norm or self.mmd  # MMD² compares pairs
                                    or any(getattr(self, k) for k in CRITIC_PENALTIES)):
            raise ConfigError("batch_size must be at least 2 with batch norm, a penalty or the mmd term")
        return self

    def warn_if_doubtful(self) -> None:
        """Warn about settings that train but not as the user probably means (called when training starts,
        not where a finished run is loaded)."""
        from .nets import PLAYERS

        if self.mixture and self.steps < self.mixture_every:
            warnings.warn(f"mixture={self.mixture} takes a snapshot every {self.mixture_every} steps and this run has "
                          f"{self.steps}, so the last iterate samples; lower mixture_every to sample a mixture",
                          stacklevel=3)
        if (self.gradient_penalty or self.r1) and PLAYERS[self.model].critic_batch_norm and self.critic_batch_norm:
            warnings.warn(f"{'gradient_penalty' if self.gradient_penalty else 'r1'} on the batch-normed {self.model} "
                          "critic: its gradient at each sample passes through the batch's statistics, so the penalty "
                          "is not the per-sample one of the papers (WGAN-GP leaves batch norm out); add "
                          "critic_batch_norm=false", stacklevel=3)
        # Not refused: a recipe's penalty_every (grid25, ring8) must not break the user's r1=0.
        if self.penalty_every > 1 and not any(getattr(self, k) for k in CRITIC_PENALTIES):
            warnings.warn(f"penalty_every={self.penalty_every} spaces out the critic's penalties and this run has none "
                          f"({', '.join(CRITIC_PENALTIES)} are 0), so it does nothing; remove it or turn a penalty on",
                          stacklevel=3)

    def _validate_conditional(self, defaults) -> None:
        owner = {"label_critic": ("cgan",), "aux_weight": ("acgan", "infogan"), "aux_on_fake": ("acgan",),
                 "info_categorical": ("infogan",), "info_continuous": ("infogan",), "info_codes": ("infogan",),
                 "info_consistency": ("infogan",), "l1_weight": ("pix2pix",),
                 "gan_weight": ("pix2pix", "srgan"), "res_blocks": ("srgan", "cyclegan"), "sr_residual": ("srgan",),
                 "sr_augment": ("srgan",),
                 "cycle_weight": ("cyclegan",), "identity_weight": ("cyclegan",), "pool_size": ("cyclegan",),
                 "translator_downsampling": ("cyclegan",)}
        for key, kinds in owner.items():
            if getattr(self, key) != defaults[key].default and self.conditional not in kinds:
                raise ConfigError(f"{key} applies to conditional={' or conditional='.join(kinds)}, not "
                                  f"conditional={self.conditional}; remove it or set conditional=")
        for kind, (model, *_) in _translation_kinds().items():  # a translation has its own players
            if (self.conditional == kind) != (self.model == model):
                raise ConfigError(f"conditional={kind} and model={model} go together: set both or neither")
        for key in ("z_dim", "noise"):
            if self.conditional in _translation_kinds() and getattr(self, key) != defaults[key].default:
                raise ConfigError(f"{key} is about the noise of generators that sample; a {self.conditional} generator "
                                  f"takes an image and no noise: remove {key}")
        if self.conditional == "cyclegan" and self.pool_size and self.schedule == "simultaneous":
            raise ConfigError("the history pool feeds the critic step; simultaneous GDA scores the generator's newest "
                              "batch for both players at once: set pool_size=0 or schedule=alternating")
        if self.model == "cyclegan" and self.batch_size % 2:
            raise ConfigError(f"cyclegan needs an even batch_size (pairs of A and B images; got {self.batch_size})")
        if self.model == "cyclegan" and self.image_size % 2 ** self.translator_downsampling:
            raise ConfigError(f"image_size={self.image_size} must be divisible by 2^translator_downsampling = "
                              f"{2 ** self.translator_downsampling}; change one of them")
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
        if self.conditional == "infogan" and self.info_categorical + self.info_continuous == 0:
            raise ConfigError("conditional=infogan needs a code: set info_categorical or info_continuous above 0")
        if self.info_consistency and not self.info_categorical:
            raise ConfigError("info_consistency acts on the categorical code; set info_categorical (e.g. 10) or remove it")
        if self.info_codes > 1 and not self.info_categorical:
            raise ConfigError(f"info_codes={self.info_codes} counts categorical codes and info_categorical=0 makes "
                              "none; set info_categorical (e.g. 10) or remove info_codes")
        if self.conditional == "infogan" and self.info_categorical == 1:
            raise ConfigError("info_categorical=1 is a constant; use 0 (no categorical code) or at least 2")


def _translation_kinds() -> dict[str, tuple[str, dict, str, str]]:
    """conditional → (its model, its built-in datasets, what such data holds, what the data must be)."""
    from .data.paired import PAIRED_DATASETS
    from .data.superres import SR_DATASETS
    from .data.unpaired import UNPAIRED_DATASETS

    return {"pix2pix": ("unet", PAIRED_DATASETS, "holds image pairs",
                        "a set of image pairs: pix2pix needs edges2mnist, halves2mnist or a folder of pairs"),
            "srgan": ("srresnet", SR_DATASETS, "is a set of photographs for super-resolution",
                      "for super-resolution: srgan needs skimage-photos or a folder of images"),
            "cyclegan": ("cyclegan", UNPAIRED_DATASETS, "holds two unpaired domains",
                         "a pair of domains: cyclegan needs digits2mnist or a folder with trainA/ and trainB/")}


def _check_choice(key: str, value: str, choices) -> None:
    if value not in choices:
        close = difflib.get_close_matches(value, list(choices), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{key}={value!r} is not known; {hint}choose one of: {', '.join(choices)}")


def _field_type(f) -> Any:
    hints = typing.get_type_hints(TrainConfig)
    return hints[f.name]


def _check_value(f, value: Any) -> None:
    meta = f.metadata
    if meta.get("positive") and not value > 0:
        raise ConfigError(f"{f.name}={value} must be positive ({meta['help']})")
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"{f.name}={value} is below its minimum {meta['min']} ({meta['help']})")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(f"{f.name}={value} is above its maximum {meta['max']} ({meta['help']})")


def _coerce(key: str, raw: Any, typ: Any) -> Any:
    """Turn a YAML-parsed value into the field's type, or raise a one-line ConfigError."""
    origin = typing.get_origin(typ)
    if origin is Literal:
        choices = typing.get_args(typ)
        if raw not in choices:
            close = difflib.get_close_matches(str(raw), [str(c) for c in choices], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{key}={raw!r} is not allowed; {hint}choose one of: {', '.join(map(str, choices))}")
        return raw
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        raise ConfigError(f"{key}={raw!r} must be true or false")
    if typ is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
            raise ConfigError(f"{key}={raw!r} must be a whole number")
        return raw
    if typ is float:
        if isinstance(raw, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                return float(raw)
            except ValueError:
                pass
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ConfigError(f"{key}={raw!r} must be a number")
        return float(raw)
    if typ is str:
        if isinstance(raw, (dict, list)) or raw is None:
            raise ConfigError(f"{key}={raw!r} must be a plain string")
        return str(raw)
    raise TypeError(f"unsupported config type {typ} for {key}")


def _apply(cfg_dict: dict[str, Any], updates: dict[str, Any], source: str) -> None:
    valid = {f.name: f for f in fields(TrainConfig)}
    for key, raw in updates.items():
        if key not in valid:
            close = difflib.get_close_matches(key, list(valid), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown config key {key!r} in {source}{hint} (`saddlepoint train --dry-run` lists every key)")
        cfg_dict[key] = _coerce(key, raw, _field_type(valid[key]))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["steps=100", "game=hinge"]`` → ``{"steps": 100, "game": "hinge"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


# --- recipes ----------------------------------------------------------------------------------
def _recipe_dir():
    return resources.files("saddlepoint") / "recipes"


def list_recipes() -> dict[str, str]:
    """Recipe name → its one-line description."""
    out = {}
    for entry in sorted(_recipe_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text()) or {}
            out[entry.name[: -len(".yaml")]] = str(data.get("description", ""))
    return out


def load_recipe(name_or_path: str) -> tuple[str, dict[str, Any]]:
    """A recipe name or a YAML file path → (name, its key/value mapping without ``description``)."""
    path = Path(name_or_path).expanduser()
    if name_or_path.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError(f"config file {name_or_path!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{name_or_path} is not valid YAML: {str(e).splitlines()[0]}") from None
        name = path.stem
    else:
        recipes = list_recipes()
        if name_or_path not in recipes:
            close = difflib.get_close_matches(name_or_path, list(recipes), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"unknown recipe {name_or_path!r}; {hint}`saddlepoint recipes` lists them")
        data = yaml.safe_load((_recipe_dir() / f"{name_or_path}.yaml").read_text()) or {}
        name = name_or_path
    if not isinstance(data, dict):
        raise ConfigError(f"{name_or_path} must hold a mapping of config keys")
    data.pop("description", None)
    return name, data


def resolve_config(recipe: str | None = None, overrides: list[str] | dict[str, Any] | None = None) -> tuple[str, TrainConfig]:
    """Recipe (default ``grid25``) + overrides → (recipe name, validated TrainConfig)."""
    name, data = load_recipe(recipe or DEFAULT_RECIPE)
    cfg_dict = TrainConfig().to_dict()
    _apply(cfg_dict, data, f"recipe {name!r}")
    ov: dict[str, Any] = {}
    if overrides:
        ov = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        _apply(cfg_dict, ov, "the overrides")
    cfg = TrainConfig(**cfg_dict).validate()
    # validate() sees only the values; a recipe may set lr_d for its game, but asking for one where none is played
    # (pix2pix's L1 baseline, SRResNet) would be accepted and ignored.
    if cfg.gan_weight == 0 and "lr_d" in ov:
        raise _no_critic("lr_d")
    return name, cfg


def _no_critic(key: str) -> ConfigError:
    return ConfigError(f"gan_weight=0 trains no critic, so {key} would do nothing; remove it "
                       "(or give the adversarial term a weight)")


def describe_keys() -> str:
    """One line per config key: name, type, default and help."""
    hints = typing.get_type_hints(TrainConfig)
    lines = []
    for f in fields(TrainConfig):
        default = f.default if f.default is not MISSING else None
        typ = hints[f.name]
        tname = "|".join(map(str, typing.get_args(typ))) if typing.get_origin(typ) is Literal else typ.__name__
        lines.append(f"  {f.name:<18} {tname:<24} default {default!r:<14} {f.metadata.get('help', '')}")
    return "\n".join(lines)
