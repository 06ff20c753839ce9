"""Hopsworks' ``hsfs`` module names, for notebooks ported with ``from granary import hopsworks``.

Importing this package changes nothing outside it; :mod:`granary.hopsworks` is what
makes the names ``hsfs`` and ``hopsworks.hsfs`` refer to it, and only when asked.
"""

from __future__ import annotations

from granary.hsfs import (
    builtin_transformations,
    client,
    feature,
    statistics_config,
    transformation_statistics,
)

__all__ = ["builtin_transformations", "client", "feature", "statistics_config", "transformation_statistics"]
