"""Player families by name (the config's ``model``): each family's module registers one builder with
``@register_players("name")``, so a new family is one new file under ``nets/`` (plus its name in the
config's ``model`` choices, which a test keeps equal to this registry).  The registration also states the
facts the config checks: whether the critic's batch norm can be switched off, whether the family has
BatchNorm1d layers (which need batches of at least two).

A builder takes the resolved config (read for its sizes and switches only) and a :class:`PlayerSpec`
and returns the plain players ``(G, D)``; class conditions are wrapped around them afterwards by the
training code, and translation families (which take a source image instead of noise) return their
players whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

__all__ = ["PlayerSpec", "PlayerFamily", "PLAYERS", "register_players", "player_family", "build_players"]


@dataclass(frozen=True)
class PlayerSpec:
    """What the data and the condition fix about the players' inputs and outputs."""

    channels: int  # channels of a data image (2-D points: their dimension)
    z_in: int  # the generator's input width: noise plus a condition's code
    d_in: int  # the critic's input channels: the image plus one plane per class for a concatenating cGAN critic
    source_channels: int = 0  # translation: channels of the source image the generator reads
    classes: int = 0  # class-conditional: the number of classes (for a generator that reads labels itself)


Builder = Callable[[Any, PlayerSpec], tuple[nn.Module, nn.Module]]


@dataclass(frozen=True)
class PlayerFamily:
    """A registered family: its builder and the facts the config checks against."""

    build: Builder
    critic_batch_norm: bool = False  # its critic has batch norm that ``critic_batch_norm=false`` takes out
    feature_batch_norm: bool = False  # it has BatchNorm1d layers (batch norm over feature vectors: batch ≥ 2)


PLAYERS: dict[str, PlayerFamily] = {}


def register_players(name: str, *, critic_batch_norm: bool = False,
                     feature_batch_norm: bool = False) -> Callable[[Builder], Builder]:
    def add(builder: Builder) -> Builder:
        if name in PLAYERS:
            raise ValueError(f"player family {name!r} is registered twice")
        PLAYERS[name] = PlayerFamily(builder, critic_batch_norm, feature_batch_norm)
        return builder

    return add


def player_family(model: str) -> PlayerFamily:
    if model not in PLAYERS:
        raise ValueError(f"model={model!r} is not a registered player family; choose one of: {', '.join(PLAYERS)}")
    return PLAYERS[model]


def build_players(cfg: Any, spec: PlayerSpec) -> tuple[nn.Module, nn.Module]:
    """(G, D) of the family ``cfg.model``."""
    return player_family(cfg.model).build(cfg, spec)
