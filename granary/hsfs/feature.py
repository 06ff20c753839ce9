"""``hsfs.feature``: a feature of a group, as ``Feature("amount", type="double")``."""

from granary.query import Feature

__all__ = ["Feature"]
