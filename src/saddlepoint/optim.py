"""The package's optimizers: torch's Adam, AdamW, SGD and RMSprop, called without importing ``torch._dynamo``.

torch guards five methods of every optimizer for ``torch.compile``: ``add_param_group`` (which the constructor
calls), ``zero_grad``, ``state_dict`` and ``load_state_dict`` are wrapped in ``torch._disable_dynamo``, and ``step`` in
a graph break that also turns gradients off.  Each guard imports ``torch._dynamo`` on its first call: about 1.2 s of
a short run's start on a 2-core machine (BENCHMARKS.md, "The fixed cost of a short run"), for a compiler that an eager
step never enters.  The classes here call the functions those guards wrap (``inspect.unwrap``), with gradients off
around ``step`` as the guard has them: the same arithmetic and the same state dicts, bit for bit (tests/test_optim.py).
An optimizer step traced by ``torch.compile`` needs torch's own classes; the trainer never traces one
(``compile=true`` compiles the players, not the update).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

__all__ = ["Adam", "AdamW", "SGD", "RMSprop"]

_Optimizer = torch.optim.Optimizer
_add_param_group = inspect.unwrap(_Optimizer.add_param_group)
_zero_grad = inspect.unwrap(_Optimizer.zero_grad)
_state_dict = inspect.unwrap(_Optimizer.state_dict)
_load_state_dict = inspect.unwrap(_Optimizer.load_state_dict)


class _Unguarded:
    """Mixed in before a torch optimizer class; ``_step`` is that class's own ``step``, unwrapped."""

    _step: Callable[..., Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        torch_class = next(c for c in cls.__mro__[1:] if c is not _Unguarded and "step" in vars(c))
        cls._step = staticmethod(inspect.unwrap(vars(torch_class)["step"]))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _add_param_group(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _zero_grad(self, set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return _state_dict(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _load_state_dict(self, state_dict)

    def step(self, closure: Callable[[], float] | None = None):
        with torch.set_grad_enabled(self.defaults["differentiable"]):
            return self._step(self, closure)


class Adam(_Unguarded, torch.optim.Adam):
    """``torch.optim.Adam``, without the compiler's guards."""


class SGD(_Unguarded, torch.optim.SGD):
    """``torch.optim.SGD``, without the compiler's guards."""


class RMSprop(_Unguarded, torch.optim.RMSprop):
    """``torch.optim.RMSprop``, without the compiler's guards."""


class AdamW(_Unguarded, torch.optim.AdamW):
    """``torch.optim.AdamW``, without the compiler's guards."""
