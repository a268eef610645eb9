"""CycleGAN (Zhu et al. 2017): unpaired translation A ↔ B with two generators, two critics, a cycle-consistency
and an identity loss, and a history pool of fakes for the critics.

Everything that is CycleGAN's own lives here: its keys, its condition (the cycle and identity terms it adds to the
generators' loss, the pool it asks for), its data (two domains: ``digits2mnist`` or a folder with trainA/ and
trainB/), its evaluation on held-out images of both domains (the cycle error; the digit kept on digits2mnist; FID
of G(a) against domain B) and its picture rows (source | translated | translated back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ..conditional import Translation, register_condition
from ..data.unpaired import UNPAIRED_DATASETS, UnpairedSampler, held_out_domains
from ..keys import ConfigError, config_section, key
from ..penalties import cycle_loss, identity_loss
from ..runs import RunError
from .pictures import translation_grid

__all__ = ["CycleTranslation"]


@config_section("cyclegan", family="gan", conditions=("cyclegan",))
class CycleGANKeys:
    """CycleGAN's own keys (conditional=cyclegan)."""

    cycle_weight: float = key(10.0, "cyclegan: λ on the cycle-consistency L1 loss", min=0)
    identity_weight: float = key(5.0, "cyclegan: weight of the identity L1 loss (the paper: 0.5·λ)", min=0)
    translator_downsampling: int = key(2, "cyclegan: stride-2 convolutions in each translator (the paper: 2 at 128 and "
                                         "256 px; 1 keeps a 28-px digit's shape)", min=0)
    pool_size: int = key(50, "cyclegan: generated pairs kept in the critics' history pool (0 = none)", min=0)


@register_condition("cyclegan")
@dataclass(frozen=True)
class CycleTranslation(Translation):
    """CycleGAN (Zhu et al. 2017): unpaired translation.  The real batch holds both domains as interleaved
    pairs and the generator pair is given the same batch with each pair swapped (so G sees a, F sees b);
    the twin critic judges every image in its own domain.  Its regularizers — cycle consistency and
    identity — run the generators again, so they are generator penalties (``penalties.cycle_loss``,
    ``identity_loss``, weighted by ``cycle_weight`` and ``identity_weight``); the condition adds no term of its own.
    The critics see a history pool of fakes (Shrivastava et al. 2017), as the paper's do."""

    cycle_weight: float = 10.0
    identity_weight: float = 5.0
    critic_reads_label: ClassVar[bool] = False
    unpaired: ClassVar[bool] = True
    history_pool: ClassVar[bool] = True
    players: ClassVar[str] = "cyclegan"
    datasets: ClassVar[dict] = UNPAIRED_DATASETS
    holds: ClassVar[str] = "holds two unpaired domains"
    needs_data: ClassVar[str] = "a pair of domains: cyclegan needs digits2mnist or a folder with trainA/ and trainB/"
    metrics: ClassVar[tuple[str, ...]] = ("cycle", "fid", "kid", "pr", "accuracy")
    kind_words: ClassVar[str] = "CycleGAN"
    labelled_data: ClassVar[tuple[str, ...]] = ("digits2mnist",)
    quality: ClassVar[tuple[str, ...]] = ("cycle",)

    @classmethod
    def validate(cls, cfg) -> None:
        if cfg.pool_size and cfg.schedule == "simultaneous":
            raise ConfigError("the history pool feeds the critic step; simultaneous GDA scores the generator's newest "
                              "batch for both players at once: set pool_size=0 or schedule=alternating")
        if cfg.batch_size % 2:
            raise ConfigError(f"cyclegan needs an even batch_size (pairs of A and B images; got {cfg.batch_size})")
        if cfg.image_size % 2 ** cfg.translator_downsampling:
            raise ConfigError(f"image_size={cfg.image_size} must be divisible by 2^translator_downsampling = "
                              f"{2 ** cfg.translator_downsampling}; change one of them")

    @classmethod
    def from_config(cls, cfg, classes: int) -> "CycleTranslation":
        return cls(cfg.cycle_weight, cfg.identity_weight)

    @property
    def generator_terms(self) -> tuple:
        return tuple((name, fn, w) for name, fn, w in (("cycle", cycle_loss, self.cycle_weight),
                                                       ("identity", identity_loss, self.identity_weight)) if w > 0)

    @staticmethod
    def load_data(cfg):
        return UnpairedSampler(cfg.data, cfg.image_size)

    # --- evaluation and pictures -----------------------------------------------------------------------------
    def evaluate_images(self, exp, metrics, n, n_ref, get_backbone) -> dict:
        from ..metrics.images import evaluate_cycle

        return evaluate_cycle(exp, metrics, n, n_ref, get_backbone)

    def evaluated_on(self, res: dict) -> str:
        return f"{res['pairs']} of each domain's {res['images']}"

    def reference_set(self, exp):
        """Outside the MNIST family, FID and the like compare G(a) with the held-out images of domain B."""
        from ..data.images import ImageSampler
        from ..metrics.images import MNIST_FAMILY

        if exp.cfg.data in MNIST_FAMILY:
            return None
        (_, b), what = held_out_domains(exp.cfg.data, exp.cfg.image_size)
        return ImageSampler(exp.cfg.data, exp.cfg.image_size, base=b), f"domain B of the {what}"

    def held_out_grid(self, exp, n: int, inputs=None) -> Tensor:
        """Held-out images of both domains, rows A → B and B → A: source | translated | translated back."""
        if inputs is not None:
            raise RunError("translate -i is for pix2pix and srgan runs; a CycleGAN run shows its held-out domains "
                           "(rows: source | translated | translated back)")
        size = exp.cfg.image_size
        sampler = UnpairedSampler(exp.cfg.data, size, held_out_domains(exp.cfg.data, size)[0])
        k = max(1, n // 2)
        a, b = sampler.a.to_float(torch.arange(k)), sampler.b.to_float(torch.arange(k))
        return translation_grid(exp, torch.stack([a, b], 1).flatten(0, 1))  # [a₀, b₀, a₁, b₁, …]
