"""The error every metric raises when it cannot be computed for a run."""

from __future__ import annotations

__all__ = ["MetricUnavailable"]


class MetricUnavailable(RuntimeError):
    """A metric that cannot be computed here (missing weights, wrong data); the message says what to do."""
