"""Data: toy 2-D distributions now; image datasets build on the same sampler interface."""

from .toy2d import TOY_DATASETS, GaussianMixture2D, PointCloud, ToyDistribution, get_toy, is_2d, read_points

__all__ = ["TOY_DATASETS", "GaussianMixture2D", "PointCloud", "ToyDistribution", "get_toy", "is_2d", "read_points"]
