"""The names this module has always offered, kept for code written against them: the loop lives in
:mod:`saddlepoint.trainer`, the families in :mod:`saddlepoint.families`.

``Experiment(cfg)`` builds the family that ``cfg.family`` names (a GAN for every recipe written before families
existed); ``evaluate(exp)`` is ``exp.evaluate()``.
"""

from __future__ import annotations

from typing import Any

from .data import is_2d
from .families.base import EVAL_SEED, Family, cpu_has_amx
from .families.base import resolve_precision as _resolve_precision
from .families.gan import _build_players, _make_condition  # noqa: F401  (tests build players as a run does)
from .trainer import RunResult, TrainingDiverged, build, load_run, make_plots, resume, start_from, train

__all__ = ["Experiment", "RunResult", "TrainingDiverged", "train", "resume", "evaluate", "load_run", "EVAL_SEED",
           "save_samples", "make_plots", "cpu_has_amx", "resolve_precision"]


def Experiment(cfg: Any, channels: int | None = None, classes: int | None = None,
               source_channels: int | None = None) -> Family:
    """The family ``cfg`` describes, built (``channels`` given: without loading an image set), its networks from
    ``cfg.init_from``'s run where that is set."""
    shapes = None if channels is None else {"channels": channels, "classes": classes, "source_channels": source_channels}
    model = build(cfg, shapes)
    start_from(model)
    return model


def save_samples(exp: Family, path, sink=None, title: str | None = None) -> None:
    """A picture of the generator now: ``exp.save_picture`` (the family draws it)."""
    exp.save_picture(path, sink, title)


def evaluate(exp: Family, n: int | None = None) -> dict[str, float | str]:
    """The family's quick evaluation of its sampler now (:meth:`Family.evaluate`)."""
    return exp.evaluate(n)


def resolve_precision(cfg: Any, device) -> Any:
    """The forward passes' dtype for ``cfg.precision`` on ``device`` (see :func:`families.base.resolve_precision`)."""
    return _resolve_precision(cfg, device, mlp=is_2d(cfg.data))
