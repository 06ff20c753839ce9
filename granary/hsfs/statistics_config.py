"""``hsfs.statistics_config``: which statistics a feature group keeps, as hsfs spells it."""

from granary.group_options import StatisticsConfig

__all__ = ["StatisticsConfig"]
