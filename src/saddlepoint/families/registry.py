"""The registry of model families: ``@register_family("name")`` and :func:`get_family`."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Callable

from ..keys import ConfigError

if TYPE_CHECKING:
    from .base import Family

__all__ = ["FAMILIES", "register_family", "get_family"]

FAMILIES: dict[str, type["Family"]] = {}


def register_family(name: str) -> Callable[[type["Family"]], type["Family"]]:
    """Class decorator: make a family trainable as ``family=<name>``."""

    def deco(cls: type["Family"]) -> type["Family"]:
        if name in FAMILIES:
            raise ValueError(f"model family {name!r} is registered twice")
        cls.name = name
        FAMILIES[name] = cls
        return cls

    return deco


def get_family(name: str) -> type["Family"]:
    """The family registered as ``name``; a ConfigError that names the closest one otherwise."""
    if name not in FAMILIES:
        close = difflib.get_close_matches(name, list(FAMILIES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"family={name!r} is not known; {hint}choose one of: {', '.join(FAMILIES)}")
    return FAMILIES[name]
