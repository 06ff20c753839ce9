"""Hopsworks' feature logging calls on a feature view, each refused with what to use.

Hopsworks can keep, per feature view, a log of the features a model was served and
what it predicted (``logging_enabled=True``, ``fv.log``, ``fv.read_log``), written by
a materialization job. Granary has no such log yet. A notebook that enables logging
still creates its view; each logging call raises ``NotSupported`` naming the way to
keep the same record: a feature group of one's own, written with ``fg.insert``.
"""

from __future__ import annotations

from typing import Any, NoReturn

from granary_core.errors import NotSupported

ALTERNATIVE = (
    "feature logging is not available in Granary: keep served features and predictions in a feature "
    "group of your own (fs.get_or_create_feature_group(...).insert(df)) and read them with fg.read()"
)


class FeatureLoggingMixin:
    """``log``, ``read_log``, ``pause_logging``, ``resume_logging``, ``materialize_log``,
    ``enable_logging`` and ``delete_log`` of hsfs' ``FeatureView``."""

    def _no_logging(self, call: str) -> NoReturn:
        raise NotSupported(f"fv.{call}(): {ALTERNATIVE}")

    def log(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._no_logging("log")

    def read_log(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._no_logging("read_log")

    def pause_logging(self) -> NoReturn:
        self._no_logging("pause_logging")

    def resume_logging(self) -> NoReturn:
        self._no_logging("resume_logging")

    def materialize_log(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._no_logging("materialize_log")

    def enable_logging(self) -> NoReturn:
        self._no_logging("enable_logging")

    def delete_log(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._no_logging("delete_log")
