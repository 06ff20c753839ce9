"""Hopsworks' ``hsml`` module names (the model registry's), for notebooks ported with
``from granary import hopsworks``: ``from hsml.schema import Schema`` and
``from hsml.model_schema import ModelSchema`` both reach :mod:`granary.model_schema`.
Importing this package changes nothing outside it; :mod:`granary.hopsworks` binds the names.
"""

from __future__ import annotations

from granary import model_schema

schema = model_schema

__all__ = ["model_schema", "schema"]
