"""Conditional games: what the generator is told besides its noise, and the terms that make it listen.

A *condition* describes one variant of class-conditional (or code-conditional) generation: what it
draws for the generator beside z, whether the critic reads the label, and the extra loss terms it adds
to each player's game loss.  Like a game it is a small stateless object that owns no network and never
calls ``backward``; the schedule (:mod:`saddlepoint.schedule`) adds its terms.

* **cgan** (Mirza & Osindero 2014): both players are given the class label y; the critic judges pairs
  (x, y), so the generator must produce an x that fits its y.  The critic reads y by concatenation
  (one-hot planes) or by projection (Miyato & Koyama 2018: D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩).
* **acgan** (Odena et al. 2017): the critic sees x only and has an auxiliary classifier head.  Both
  players *maximize* the log-likelihood of the right class, L_C = E log P(C=y | x_real) + E log P(C=c |
  G(z, c)): the critic on real and fake, the generator on fake.  In loss form: cross-entropies.
* **infogan** (Chen et al. 2016): no labels.  The generator gets a latent code c (a categorical code
  and continuous codes) and a head Q on the critic's features recovers c from G(z, c).  Both players
  maximize the variational lower bound L_I(G, Q) = E log Q(c | G(z, c)) + H(c) on the mutual information
  I(c; G(z, c)); its weight is λ.  Continuous codes are read as unit-variance Gaussians (log Q = −½‖c − μ‖²
  + const).  Q is trained with the critic (on fake samples only), G with its own step.
* **pix2pix** (Isola et al. 2017): paired translation.  The generator is given a real source image A
  (no noise z: dropout is its noise) and must produce the paired target B; the critic judges (A, B) pairs,
  D(B, A) against D(G(A), A), and the generator also pays λ·E‖B − G(A)‖₁, the paper's objective
  G* = arg min_G max_D L_cGAN(G, D) + λ L_L1(G) with λ = 100.
* **cyclegan** (Zhu et al. 2017): unpaired translation A ↔ B with two generators, two critics, a cycle
  and an identity loss, and a history pool of fakes for the critics.
* **srgan** (Ledig et al. 2017): 4× super-resolution; the generator is given the low-resolution image,
  pays a content loss against the high-resolution one, and the critic judges high-resolution images.

A new variant is one class here with ``@register_condition("name")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import torch
from torch import Tensor
from torch.nn import functional as F

from .penalties import cycle_loss, identity_loss

__all__ = ["Condition", "CONDITIONS", "register_condition", "make_condition", "LabelCondition", "AuxiliaryClassifier",
           "MutualInformation", "PairedTranslation", "SuperResolution", "CycleTranslation", "split_batch"]


class Condition(Protocol):
    """What every condition offers the step.  Label and code conditions also have ``sample(n, generator)``
    (the generator's labels / codes for a batch), ``balanced(n, generator)`` (every class equally often, for
    pictures and evaluation) and ``categories(cond)`` (the class index of each); translations take the
    generator's input from the real batch instead (``from_real``)."""

    name: str
    critic_reads_label: bool  # the critic is called D(x, y)
    needs_labels: bool  # real batches come with their labels (or, for translations, the generator's input)
    from_real: bool  # the generator's input is the real batch's condition (a source image), not a draw
    cond_dim: int  # width of the generator's extra input
    aux_outputs: int  # outputs of the critic's auxiliary head (0 = none)

    def d_term(self, aux_real: Tensor | None, aux_fake: Tensor | None, y_real: Tensor | None, c_fake: Tensor) -> Tensor | None: ...

    def g_term(self, aux_fake: Tensor | None, c_fake: Tensor, fake: Tensor, real: Tensor) -> Tensor | None: ...


CONDITIONS: dict[str, type] = {}


def register_condition(name: str):
    """Class decorator: make a condition constructible by name (``conditional=<name>`` in a recipe)."""

    def deco(cls):
        if name in CONDITIONS:
            raise ValueError(f"condition {name!r} is registered twice")
        CONDITIONS[name] = cls
        cls.name = name
        return cls

    return deco


@dataclass(frozen=True)
class _Labels:
    """Shared by the label-conditional variants: uniform labels for the generator, one-hot input."""

    n_classes: int
    weight: float = 1.0
    needs_labels: ClassVar[bool] = True
    from_real: ClassVar[bool] = False

    @property
    def cond_dim(self) -> int:
        return self.n_classes

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Labels for a generated batch, uniform over the classes: (n,) int64."""
        return torch.randint(self.n_classes, (n,), generator=generator)

    def balanced(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Labels 0, 1, …, K−1, 0, 1, … (every class equally often) for pictures and evaluation."""
        return torch.arange(n) % self.n_classes

    def categories(self, labels: Tensor) -> Tensor:
        return labels


@register_condition("cgan")
@dataclass(frozen=True)
class LabelCondition(_Labels):
    """cGAN: the label goes into both players; the game's own loss is the whole objective."""

    critic_reads_label: ClassVar[bool] = True
    aux_outputs: ClassVar[int] = 0

    def d_term(self, aux_real, aux_fake, y_real, c_fake):
        return None

    def g_term(self, aux_fake, c_fake, fake, real):
        return None


@register_condition("acgan")
@dataclass(frozen=True)
class AuxiliaryClassifier(_Labels):
    """AC-GAN: weight · cross-entropy of the critic's class head, on real and fake for the critic and on
    fake for the generator (Odena et al. 2017, eqs. 2-3: both maximize L_C).  ``on_fake=False`` trains the
    head on real samples only, so the generator must draw what a classifier of *real* digits recognizes
    (measured on MNIST: 97.3 % vs 91.7 % accuracy of the shipped classifier, BENCHMARKS.md)."""

    on_fake: bool = True
    critic_reads_label: ClassVar[bool] = False
    aux_hidden: ClassVar[int] = 0  # the class head is linear on the critic's features

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


@register_condition("infogan")
@dataclass(frozen=True)
class MutualInformation:
    """InfoGAN: λ · (−L_I) for both players, with L_I's constant entropy H(c) dropped.  A code is
    (B, codes · categorical + continuous): ``codes`` independent one-hot categorical parts (one by default; the
    paper used four 10-way codes on SVHN and ten on CelebA) and continuous parts uniform on [−1, 1].
    Each categorical code is uniform over its values, so a generator whose categories each hold one mode of
    the data draws those modes equally often."""

    categorical: int = 10
    continuous: int = 2
    weight: float = 1.0
    codes: int = 1
    critic_reads_label: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False
    from_real: ClassVar[bool] = False
    aux_hidden: ClassVar[int] = 128  # Q: one hidden layer on the critic's features (Chen et al. 2016, appendix C)

    @property
    def cond_dim(self) -> int:
        return self.codes * self.categorical + self.continuous

    @property
    def aux_outputs(self) -> int:
        return self.cond_dim

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        cat = torch.randint(max(self.categorical, 1), (n, self.codes), generator=generator)
        return self.code(cat, torch.rand(n, self.continuous, generator=generator) * 2 - 1)

    def code(self, categories: Tensor, continuous: Tensor) -> Tensor:
        """Assemble codes from categories and continuous values (B, continuous) → (B, cond_dim).  Categories
        are (B, codes), or (B,): the same category in every categorical code."""
        if categories.dim() == 1:
            categories = categories[:, None].expand(-1, self.codes)
        parts = [F.one_hot(categories, self.categorical).float().flatten(1)] if self.categorical else []
        return torch.cat(parts + [continuous.float()], dim=1)

    def balanced(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Codes for pictures and evaluation: every category equally often (with several codes, every
        combination: code j of sample i is digit j of i in base K); continuous codes from their prior."""
        k = max(self.categorical, 1)
        i = torch.arange(n)
        cats = torch.stack([(i // k**j) % k for j in range(self.codes)], 1)
        return self.code(cats, torch.rand(n, self.continuous, generator=generator) * 2 - 1)

    def categories(self, code: Tensor) -> Tensor:
        """The categorical parts of codes (B, cond_dim) as indices: (B,) for one code, else (B, codes)."""
        cats = code[:, : self.codes * self.categorical].unflatten(1, (self.codes, self.categorical)).argmax(2)
        return cats[:, 0] if self.codes == 1 else cats

    def _neg_info(self, q: Tensor, code: Tensor) -> Tensor:
        q = q.float()
        loss = q.new_zeros(())
        width = self.codes * self.categorical
        if self.categorical:  # one cross-entropy per categorical code, summed
            logits = q[:, :width].unflatten(1, (self.codes, self.categorical))
            loss = loss + self.codes * F.cross_entropy(logits.flatten(0, 1), self.categories(code).flatten())
        if self.continuous:  # −log N(c; μ, 1) up to a constant, summed over the codes
            loss = loss + 0.5 * ((q[:, width:] - code[:, width:]) ** 2).sum(1).mean()
        return self.weight * loss

    def d_term(self, aux_real, aux_fake, y_real, c_fake):
        return self._neg_info(aux_fake, c_fake)

    def g_term(self, aux_fake, c_fake, fake, real):
        return self._neg_info(aux_fake, c_fake)


@dataclass(frozen=True)
class _Translation:
    """Shared by the image-to-image variants: the real batch is (target, source) and the generator is given
    the real batch's own source image, with no noise; no critic term, no auxiliary head."""

    needs_labels: ClassVar[bool] = True
    from_real: ClassVar[bool] = True
    cond_dim: ClassVar[int] = 0
    aux_outputs: ClassVar[int] = 0
    unpaired: ClassVar[bool] = False  # no target belongs to a source (pictures show the way back instead)
    history_pool: ClassVar[bool] = False  # the critics see a history of fakes (saddlepoint.pool)
    test_time: ClassVar[None] = None  # a test-time ensemble over the input (super-resolution's self-ensemble)
    generator_terms: ClassVar[tuple] = ()  # (name, fn(generator, real, fake), weight): terms that run G again

    @staticmethod
    def load_data(cfg):
        """The sampler of this translation's training batches: (target, source) pairs."""
        raise NotImplementedError

    def d_term(self, aux_real, aux_fake, y_real, c_fake):
        return None

    def g_term(self, aux_fake, c_fake, fake, real):
        return None


@register_condition("pix2pix")
@dataclass(frozen=True)
class PairedTranslation(_Translation):
    """pix2pix: the critic reads the source image beside the image it judges; the generator adds
    ``l1_weight`` · mean |B − G(A)| (the paper's λ = 100)."""

    l1_weight: float = 100.0
    critic_reads_label: ClassVar[bool] = True

    @staticmethod
    def load_data(cfg):
        from .data.paired import PairedSampler

        return PairedSampler(cfg.data, cfg.image_size)

    def g_term(self, aux_fake, c_fake, fake, real):
        return self.l1_weight * (fake.float() - real.float()).abs().mean()


@register_condition("srgan")
@dataclass(frozen=True)
class SuperResolution(_Translation):
    """SRGAN (Ledig et al. 2017) with the pixel-space content loss (the paper's SRGAN-MSE): the generator is
    given the low-resolution image and pays ``content_weight`` · mean (G(LR) − HR)²; the critic judges
    high-resolution images alone.  With ``gan_weight=0`` this is SRResNet, trained on the pixel loss only;
    SRGAN weighs the adversarial term by 10⁻³ against the content loss."""

    content_weight: float = 1.0
    critic_reads_label: ClassVar[bool] = False

    @staticmethod
    def load_data(cfg):
        from .data.superres import SRSampler

        return SRSampler(cfg.data, cfg.image_size, augment=cfg.sr_augment)

    def test_time(self, upscale, low: Tensor) -> Tensor:
        """EDSR's geometric self-ensemble: the mean of ``upscale`` over the input's 8 turns and mirrors."""
        from .data.superres import self_ensemble

        return self_ensemble(upscale, low)

    def g_term(self, aux_fake, c_fake, fake, real):
        return self.content_weight * ((fake.float() - real.float()) ** 2).mean()


@register_condition("cyclegan")
@dataclass(frozen=True)
class CycleTranslation(_Translation):
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

    @property
    def generator_terms(self) -> tuple:
        return tuple((name, fn, w) for name, fn, w in (("cycle", cycle_loss, self.cycle_weight),
                                                       ("identity", identity_loss, self.identity_weight)) if w > 0)

    @staticmethod
    def load_data(cfg):
        from .data.unpaired import UnpairedSampler

        return UnpairedSampler(cfg.data, cfg.image_size)


def make_condition(name: str, n_classes: int = 0, weight: float = 1.0, categorical: int = 10,
                   continuous: int = 2, l1_weight: float = 100.0, aux_on_fake: bool = True,
                   codes: int = 1, cycle_weight: float = 10.0, identity_weight: float = 5.0) -> Condition | None:
    """The condition ``name`` (``none`` → None)."""
    if name == "none":
        return None
    if name == "acgan":
        return AuxiliaryClassifier(n_classes, weight, aux_on_fake)
    if name == "pix2pix":
        return PairedTranslation(l1_weight)
    if name == "srgan":
        return SuperResolution()
    if name == "cyclegan":
        return CycleTranslation(cycle_weight, identity_weight)
    if name == "infogan":
        return MutualInformation(categorical, continuous, weight, codes)
    if name not in CONDITIONS:
        raise KeyError(f"unknown conditional={name!r}; choose one of none, {', '.join(CONDITIONS)}")
    return CONDITIONS[name](n_classes, weight)


def split_batch(batch: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None]:
    """A batch is x alone or (x, its label / code)."""
    return (batch, None) if isinstance(batch, Tensor) else batch

