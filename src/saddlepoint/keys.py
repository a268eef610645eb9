"""Config keys, declared next to the code that reads them.

Each owner — the trainer, a model family — declares its keys as a small dataclass decorated with
``@config_section("owner")``: every field is one flat ``key=value`` key with its type, default, range and help
(:func:`key`).  :mod:`saddlepoint.config` gathers every section into the one flat ``TrainConfig`` that recipes,
overrides and run directories use, so adding a family adds its keys without editing any central table.

A section of a model family (``family="gmmn"``) holds keys that only that family reads: the config refuses
them, changed from their defaults, when another family is chosen.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from typing import Any, Callable

__all__ = ["key", "config_section", "SECTIONS", "Section", "ConfigError", "check_choice"]


class ConfigError(ValueError):
    """A bad recipe, key or value.  Its message is one line that names the problem and the fix."""


def check_choice(key: str, value: str, choices) -> None:
    """Refuse ``value`` unless it is one of ``choices``, naming the closest one."""
    if value not in choices:
        close = difflib.get_close_matches(value, list(choices), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{key}={value!r} is not known; {hint}choose one of: {', '.join(choices)}")


def key(default: Any, help: str, min: float | None = None, max: float | None = None, positive: bool = False,
        **more: Any):
    """One config key: its default, one line of help, and its range (checked before anything is written).
    ``more``: facts the owner checks itself (the GAN family's ``conditions``: the conditional= kinds that read it)."""
    return field(default=default, metadata={"help": help, "min": min, "max": max, "positive": positive, **more})


@dataclass(frozen=True)
class Section:
    owner: str  # who reads these keys: "run", "gan", "gmmn", ...
    keys: type  # the dataclass that declares them
    family: str | None  # the model family that alone reads them (None: shared by every family)
    meta: tuple[tuple[str, Any], ...] = ()  # facts true of every key in it (``key``'s ``more``)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.keys))


SECTIONS: dict[str, Section] = {}


def config_section(owner: str, *, family: str | None = None, **meta: Any) -> Callable[[type], type]:
    """Class decorator: the annotated fields of the class become config keys owned by ``owner``; ``meta`` holds
    facts true of each of them (the GAN conditions' ``conditions=("cyclegan",)``)."""

    def deco(cls: type) -> type:
        cls = dataclass(cls)
        if owner in SECTIONS:
            raise ValueError(f"config section {owner!r} is declared twice")
        taken = {name: s.owner for s in SECTIONS.values() for name in s.names}
        for f in fields(cls):
            if f.name in taken:
                raise ValueError(f"config key {f.name!r} of {owner!r} is already declared by {taken[f.name]!r}")
        SECTIONS[owner] = Section(owner, cls, family, tuple(meta.items()))
        return cls

    return deco
