"""A checkpoint is each stateful part's state under its name.

A *part* is anything with ``state_dict()`` and ``load_state_dict(d)``: a network, an optimizer, a gradient
scaler, a history pool, a random stream.  :func:`gather_state` turns ``{name: part}`` into the two halves a
checkpoint stores — tensors (safetensors) and plain values (JSON) — and :func:`restore_state` gives each part
back what it saved, so a family that adds a part adds it to its ``parts()`` and nothing else changes.

Names are flattened with dots: a tensor ``exp_avg`` of parameter 0 in the part ``opt_g`` is stored as
``opt_g.state.0.exp_avg``; a sub-tree that holds no tensor (an optimizer's ``param_groups``, a scaler's whole
state) is stored as one JSON value under its dotted name (``opt_g.param_groups``, ``scaler_g``).  Checkpoints
written before parts existed used exactly these names, so they load unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import torch
from torch import Tensor, nn

__all__ = ["Stateful", "OptimizerState", "GeneratorState", "TorchRNGState", "CudaRNGState", "Value", "gather_state",
           "restore_state", "StateMismatch"]


class StateMismatch(RuntimeError):
    """A checkpoint's state does not fit the part it is given to (another architecture)."""


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


def _has_tensor(x: Any) -> bool:
    if isinstance(x, Tensor):
        return True
    if isinstance(x, dict):
        return any(_has_tensor(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_has_tensor(v) for v in x)
    return False


def _flatten(prefix: str, x: Any, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    if isinstance(x, dict) and list(x) == [""]:  # a value stored under the part's own name
        x = x[""]
    if isinstance(x, Tensor):
        tensors[prefix] = x
    elif not _has_tensor(x):
        meta[prefix] = x
    elif isinstance(x, dict):
        for k, v in x.items():
            _flatten(f"{prefix}.{k}", v, tensors, meta)
    else:
        raise TypeError(f"{prefix}: a list holding tensors cannot be stored by name; use a dict")


def gather_state(parts: dict[str, Stateful]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``{name: part}`` → (tensors by dotted name, plain values by dotted name)."""
    tensors: dict[str, Tensor] = {}
    meta: dict[str, Any] = {}
    for name, part in parts.items():
        _flatten(name, part.state_dict(), tensors, meta)
    return tensors, meta


def _below(name: str, items: dict[str, Any]) -> dict[str, Any]:
    """The entries under ``name``, keys relative to it ('' for the entry named ``name`` itself)."""
    out = {}
    for k, v in items.items():
        if k == name:
            out[""] = v
        elif k.startswith(name + "."):
            out[k[len(name) + 1:]] = v
    return out


def restore_state(parts: dict[str, Stateful], tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """Give each part the entries saved under its name (flat, keys relative to the name; a value saved whole
    under the name itself has the key '').  Modules receive their own ``state_dict`` keys unchanged."""
    for name, part in parts.items():
        given = {**_below(name, meta), **_below(name, tensors)}
        if isinstance(part, nn.Module):
            try:
                part.load_state_dict(given)
            except RuntimeError as e:
                lines = str(e).splitlines()
                raise StateMismatch(f"checkpoint does not fit this config's {name} architecture "
                                    f"({(lines[1] if len(lines) > 1 else lines[0]).strip()}); use the config the "
                                    "checkpoint was trained with") from None
        else:
            part.load_state_dict(given)


# --- adapters for objects whose own state_dict is not stored by name as it is ------------------------------------
class OptimizerState:
    """An optimizer's state as a part.  Moments come back contiguous from a checkpoint; each is given its
    parameter's layout (channels-last), without which resuming a channels-last run was not bit-exact."""

    def __init__(self, opt: torch.optim.Optimizer):
        self.opt = opt

    def state_dict(self) -> dict[str, Any]:
        sd = self.opt.state_dict()
        state = {str(i): {k: v if isinstance(v, Tensor) else torch.tensor(v) for k, v in st.items()}
                 for i, st in sd["state"].items()}
        return {"state": state, "param_groups": sd["param_groups"]}

    def load_state_dict(self, flat: dict[str, Any]) -> None:
        if "" in flat:  # an optimizer that has not stepped yet holds no tensor and was stored whole
            flat = {**flat[""], **{k: v for k, v in flat.items() if k}}
        state: dict[int, dict[str, Tensor]] = {}
        for k, v in flat.items():
            if k.startswith("state."):
                idx, name = k[len("state."):].split(".", 1)
                state.setdefault(int(idx), {})[name] = v
        params = [q for group in self.opt.param_groups for q in group["params"]]
        for idx, st in state.items():
            for name, v in st.items():
                if v.shape == params[idx].shape:
                    st[name] = torch.empty_like(params[idx]).copy_(v)
        self.opt.load_state_dict({"state": state, "param_groups": flat["param_groups"]})


class Whole:
    """An object whose state holds no tensors (a gradient scaler): stored as one value under its name."""

    def __init__(self, obj: Any):
        self.obj = obj

    def state_dict(self) -> dict[str, Any]:
        return {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in self.obj.state_dict().items()}

    def load_state_dict(self, flat: dict[str, Any]) -> None:
        if "" in flat:  # absent in a checkpoint written without it (fp32 before fp16): keep the fresh state
            self.obj.load_state_dict(flat[""])


class GeneratorState:
    """A ``torch.Generator``'s state (a data-order or noise stream)."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def state_dict(self) -> dict[str, Any]:
        return {"": self.generator.get_state()}

    def load_state_dict(self, flat: dict[str, Any]) -> None:
        self.generator.set_state(flat[""])


class TorchRNGState:
    """torch's global CPU stream (dropout, the gradient penalty's interpolation points, initializations)."""

    def state_dict(self) -> dict[str, Any]:
        return {"": torch.get_rng_state()}

    def load_state_dict(self, flat: dict[str, Any]) -> None:
        torch.set_rng_state(flat[""])


class CudaRNGState:
    """The CUDA stream of ``device`` (kept only for runs on a GPU)."""

    def __init__(self, device: torch.device):
        self.device = device

    def state_dict(self) -> dict[str, Any]:
        return {"": torch.cuda.get_rng_state(self.device)}

    def load_state_dict(self, flat: dict[str, Any]) -> None:
        if "" in flat:
            torch.cuda.set_rng_state(flat[""], self.device)


_REQUIRED = object()


class Value:
    """A plain number held elsewhere (a counter), stored as one JSON value under its name.  ``default``: what a
    checkpoint written before this value existed gives (without one, such a checkpoint is refused)."""

    def __init__(self, get: Callable[[], Any], set: Callable[[Any], None], default: Any = _REQUIRED):
        self.get, self.set, self.default = get, set, default

    def state_dict(self) -> dict[str, Any]:
        return {"": self.get()}

    def load_state_dict(self, flat: dict[str, Any]) -> None:
        if "" not in flat and self.default is not _REQUIRED:
            self.set(self.default)
        else:
            self.set(flat[""])
