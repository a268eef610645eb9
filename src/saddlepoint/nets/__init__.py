"""Players: plain ``nn.Module``s.  Generators map noise to samples; critics return one raw score per
sample (no sigmoid: higher = more real), so any game can use any critic."""

from .common import with_spectral_norm
from .mlp import MLPCritic, MLPGenerator

__all__ = ["MLPGenerator", "MLPCritic", "with_spectral_norm"]
