"""``hsfs.transformation_statistics``: the statistics argument of a transformation function."""

from granary.transformations import FeatureStatistics, TransformationStatistics

__all__ = ["FeatureStatistics", "TransformationStatistics"]
