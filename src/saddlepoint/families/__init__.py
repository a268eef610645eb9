"""Model families by name (the config's ``family``).

A family is one module that registers its class with ``@register_family("name")`` and declares its keys with
``@config_section("name", family="name")``; the trainer finds it here by the config's name and never imports a
family itself.  The last lines import every shipped family so that each registers; a new family adds its
line there.
"""

from __future__ import annotations

from .registry import FAMILIES, get_family, register_family

__all__ = ["FAMILIES", "register_family", "get_family"]

# Every shipped family registers itself on import: the GAN families (the game, then each kind of condition with
# its own keys, data, metrics and pictures), then the families that play no game.
from . import gan  # noqa: E402,F401
from . import classcond, infogan, pix2pix, superres, cyclegan, text2image  # noqa: E402,F401
from . import gmmn, mmdgan, vae  # noqa: E402,F401
