"""The seeds' theory as runnable experiments: ``saddlepoint theory NAME`` writes a figure and prints a table.

Each experiment is a function ``(quick, seed) -> Result``: the numbers (a table whose first column names the row),
what to read in them (``notes``) and a function that draws the figure.  ``quick`` shrinks grids and training so
that the tests run each experiment in seconds; the numbers keep their meaning, with wider error.

=====================  ========================================================================================
``disjoint``           parallel lines θ apart: JS, KL, reverse KL, TV, W1 and MMD in closed form beside estimates
``duality``            Kantorovich–Rubinstein: clipped, penalized and spectrally normed critics against exact OT
``mode-seeking``       a Gaussian fitted to two modes by forward KL, reverse KL, JS, W1 and MMD
``gda``                simultaneous and alternating (both orders) GDA on the bilinear game and the Dirac GAN
``optimal-discriminator``  a trained discriminator against p/(p+q), its game value against 2·JSD − log 4
``zero-one``           the 0-1 game: a trained classifier's error against the Bayes error ½ − ½ TV
``variational-bound``  each f-divergence's bound E_P[T] − E_Q[f*(T)] at T* = f'(p/q) and at trained critics
``mmd``                MMD² in closed form and estimated, its witness, and the kernel width against test power
=====================  ========================================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["EXPERIMENTS", "Result", "run_experiment", "format_table", "normal_pdf"]


def normal_pdf(x: np.ndarray, m: float, s: float) -> np.ndarray:
    """The density of N(m, s²) at ``x``: the experiments' one-dimensional distributions."""
    return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))


@dataclass
class Result:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    draw: Callable[[Path], None]
    notes: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # named numbers the tests (and callers) read


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if math.isnan(v):
            return "—"
        return f"{v:.4g}"
    return str(v)


def format_table(result: Result) -> str:
    """The result as a markdown table, its notes below."""
    lines = ["| " + " | ".join(result.columns) + " |", "|" + "---|" * len(result.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in result.rows]
    return "\n".join([f"## {result.title}", "", *lines, "", *[f"- {n}" for n in result.notes]])


# name → (module of this package, function): imported when run
_WHERE = {"disjoint": ("divergence", "disjoint"), "duality": ("duality", "duality"),
          "mode-seeking": ("divergence", "mode_seeking"), "gda": ("gda", "gda"),
          "optimal-discriminator": ("discriminator", "optimal_discriminator"),
          "zero-one": ("discriminator", "zero_one"), "variational-bound": ("bound", "variational_bound"),
          "mmd": ("kernel", "mmd")}
EXPERIMENTS = tuple(_WHERE)
DETERMINISTIC = ("mode-seeking", "gda")  # no random numbers: a seed would change nothing
QUICK_ALREADY = ("mode-seeking",)  # runs in seconds as it is: --quick would change nothing


def run_experiment(name: str, out: Path | None = None, quick: bool = False, seed: int = 0) -> tuple[Result, Path]:
    """Run experiment ``name``, draw its figure into ``out`` (default ``theory-NAME.png``); (result, figure path)."""
    if name in DETERMINISTIC and seed != 0:
        raise ValueError(f"{name} draws no random numbers, so a seed changes nothing; leave --seed out")
    if name in QUICK_ALREADY and quick:
        raise ValueError(f"{name} already runs in seconds and has no quick form; leave --quick out")
    if name not in _WHERE:
        import difflib

        close = difflib.get_close_matches(name, EXPERIMENTS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown theory experiment {name!r}; {hint}choose one of {', '.join(EXPERIMENTS)}")
    import importlib

    module, function = _WHERE[name]
    result = getattr(importlib.import_module(f".{module}", __name__), function)(quick=quick, seed=seed)
    path = Path(out) if out is not None else Path(f"theory-{name}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    result.draw(path)
    return result, path
