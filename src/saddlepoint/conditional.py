"""Conditional games: what the generator is told besides its noise, and the terms that make it listen.

A *condition* describes one variant of conditional generation: what it draws for the generator beside z,
whether the critic reads the label, and the extra loss terms it adds to each player's game loss.  Like a game it
is a small stateless object that owns no network and never calls ``backward``; the schedule
(:mod:`saddlepoint.schedule`) adds its terms.  Each variant lives in its own module under
:mod:`saddlepoint.families` with everything else that is its own — its config keys, its data, its metrics and
pictures — and registers with ``@register_condition("name")``:

* ``families.classcond``: **cgan** (Mirza & Osindero 2014; concatenated or projection critic) and **acgan**
  (Odena et al. 2017);
* ``families.infogan``: **infogan** (Chen et al. 2016);
* ``families.pix2pix``: **pix2pix** (Isola et al. 2017), paired translation;
* ``families.cyclegan``: **cyclegan** (Zhu et al. 2017), unpaired translation;
* ``families.superres``: **srgan** (Ledig et al. 2017), 4× super-resolution.

This module holds what they share: the protocol, the registry and the base of the translations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from torch import Tensor

__all__ = ["Condition", "CONDITIONS", "register_condition", "make_condition", "Translation", "split_batch"]


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
    """Class decorator: make a condition constructible by name (``conditional=<name>`` in a recipe).  The class
    builds itself with ``from_config(cfg, classes)`` and may check the config with a ``validate(cfg)`` classmethod."""

    def deco(cls):
        if name in CONDITIONS:
            raise ValueError(f"condition {name!r} is registered twice")
        CONDITIONS[name] = cls
        cls.name = name
        return cls

    return deco


@dataclass(frozen=True)
class Translation:
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

    @classmethod
    def from_config(cls, cfg, classes: int) -> "Translation":
        return cls()

    def d_term(self, aux_real, aux_fake, y_real, c_fake):
        return None

    def g_term(self, aux_fake, c_fake, fake, real):
        return None


def make_condition(cfg, classes: int = 0) -> Condition | None:
    """The condition ``cfg.conditional`` names (``none`` → None), built from the config by its own class."""
    if cfg.conditional == "none":
        return None
    if cfg.conditional not in CONDITIONS:
        raise KeyError(f"unknown conditional={cfg.conditional!r}; choose one of none, {', '.join(CONDITIONS)}")
    return CONDITIONS[cfg.conditional].from_config(cfg, classes)


def split_batch(batch: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor | None]:
    """A batch is x alone or (x, its label / code)."""
    return (batch, None) if isinstance(batch, Tensor) else batch

