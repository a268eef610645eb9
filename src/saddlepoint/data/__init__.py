"""Data: toy 2-D distributions now; image datasets build on the same sampler interface."""

from .toy2d import TOY_DATASETS, GaussianMixture2D, ToyDistribution, get_toy

__all__ = ["TOY_DATASETS", "GaussianMixture2D", "ToyDistribution", "get_toy"]
