"""Class-conditional GANs: both players are told a class label.

* **cgan** (Mirza & Osindero 2014): the label goes into both players; the critic judges pairs (x, y), so the
  generator must produce an x that fits its y.  The critic reads y by concatenation (one-hot planes) or by
  projection (Miyato & Koyama 2018: D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩).
* **acgan** (Odena et al. 2017): the critic sees x only and has an auxiliary classifier head.  Both players
  *maximize* the log-likelihood of the right class, L_C = E log P(C=y | x_real) + E log P(C=c | G(z, c)): the
  critic on real and fake, the generator on fake.  In loss form: cross-entropies.

Both need labelled images; on MNIST the shipped classifier says how often a sample is the class it was asked for
(``accuracy``, and ``class_fid`` per class).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor
from torch.nn import functional as F

from ..conditional import register_condition
from ..keys import config_section, key
from ..runs import RunError

__all__ = ["ClassLabels", "LabelCondition", "AuxiliaryClassifier"]


@config_section("classcond", family="gan")
class ClassConditionKeys:
    """cGAN's and AC-GAN's own keys (conditional=cgan, acgan)."""

    label_critic: Literal["concat", "projection"] = key(
        "concat", "cgan: the critic reads the label as one-hot planes (concat) or by projection (Miyato & Koyama 2018)",
        conditions=("cgan",))
    aux_on_fake: bool = key(True, "acgan: the critic's class head also learns from fake samples (Odena et al.); false = "
                                 "from real samples only", conditions=("acgan",))


@dataclass(frozen=True)
class ClassLabels:
    """Shared by the label-conditional variants: uniform labels for the generator, one-hot input."""

    n_classes: int
    weight: float = 1.0
    needs_labels: ClassVar[bool] = True
    from_real: ClassVar[bool] = False

    metrics: ClassVar[tuple[str, ...]] = ("accuracy", "class_fid")  # beside fid, kid, is, pr

    @property
    def cond_dim(self) -> int:
        return self.n_classes

    def digit_reads(self, exp, fake: Tensor, cond: Tensor | None) -> dict[str, float]:
        """On MNIST: the fraction of samples the shipped classifier reads as the class they were asked for."""
        if exp.cfg.data != "mnist" or cond is None:
            return {}
        from ..metrics.conditional import class_accuracy
        from ..metrics.images import mnist_backbone

        predicted = mnist_backbone()[0](fake)[1].argmax(1)
        return {"accuracy": class_accuracy(predicted, self.categories(cond))["accuracy"]}

    def metric_refusal(self, exp, metric: str) -> str | None:
        if metric == "accuracy" and exp.cfg.data != "mnist":
            return ("accuracy and code_match read the samples with saddlepoint's MNIST classifier and need "
                    "data=mnist")
        return None if metric in self.metrics else NotImplemented

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Labels for a generated batch, uniform over the classes: (n,) int64."""
        return torch.randint(self.n_classes, (n,), generator=generator)

    def balanced(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Labels 0, 1, …, K−1, 0, 1, … (every class equally often) for pictures and evaluation."""
        return torch.arange(n) % self.n_classes

    def categories(self, labels: Tensor) -> Tensor:
        return labels

    def likelihood_parts(self):
        """Annealed importance sampling is given the class, or sums over the classes (uniform, as trained)."""
        from ..metrics.ais import LatentParts

        return LatentParts(self.n_classes, True, 0, "classes (a uniform label prior) of p(x | y)")

    def likelihood_code(self, k: Tensor, continuous: Tensor) -> Tensor:
        """What the generator reads for class ``k``: the label itself (there is no continuous part)."""
        return k


@register_condition("cgan")
@dataclass(frozen=True)
class LabelCondition(ClassLabels):
    """cGAN: the label goes into both players; the game's own loss is the whole objective."""

    critic_reads_label: ClassVar[bool] = True
    aux_outputs: ClassVar[int] = 0

    @classmethod
    def from_config(cls, cfg, classes: int) -> "LabelCondition":
        _need_classes(cfg, classes)
        return cls(classes, cfg.aux_weight)

    def d_term(self, aux_real, aux_fake, y_real, c_fake):
        return None

    def g_term(self, aux_fake, c_fake, fake, real):
        return None


@register_condition("acgan")
@dataclass(frozen=True)
class AuxiliaryClassifier(ClassLabels):
    """AC-GAN: weight · cross-entropy of the critic's class head, on real and fake for the critic and on
    fake for the generator (Odena et al. 2017, eqs. 2-3: both maximize L_C).  ``on_fake=False`` trains the
    head on real samples only, so the generator must draw what a classifier of *real* digits recognizes
    (measured on MNIST: 97.3 % vs 91.7 % accuracy of the shipped classifier, BENCHMARKS.md)."""

    on_fake: bool = True
    critic_reads_label: ClassVar[bool] = False
    aux_hidden: ClassVar[int] = 0  # the class head is linear on the critic's features

    @classmethod
    def from_config(cls, cfg, classes: int) -> "AuxiliaryClassifier":
        _need_classes(cfg, classes)
        return cls(classes, cfg.aux_weight, cfg.aux_on_fake)

    @property
    def aux_outputs(self) -> int:
        return self.n_classes

    def d_term(self, aux_real, aux_fake, y_real, c_fake):
        loss = F.cross_entropy(aux_real.float(), y_real)
        if self.on_fake:
            loss = loss + F.cross_entropy(aux_fake.float(), c_fake)
        return self.weight * loss

    def g_term(self, aux_fake, c_fake, fake, real):
        return self.weight * F.cross_entropy(aux_fake.float(), c_fake)


def _need_classes(cfg, classes: int) -> None:
    if classes < 2:
        raise RunError(f"conditional={cfg.conditional} needs labelled images with at least two classes, and data="
                       f"{cfg.data} has {'none' if classes == 0 else 'one'}; use mnist, cifar10, class sub-folders or "
                       "an .npz with a 'labels' array (or conditional=infogan, which needs no labels)")
