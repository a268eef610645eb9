"""Metrics: pure functions from samples (and reference data) to numbers."""

from .modes2d import mode_coverage

__all__ = ["mode_coverage"]
