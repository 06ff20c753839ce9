"""PySpark on Granary's Delta Lake tables (the optional ``spark`` extra)."""

from granary.spark.session import session

__all__ = ["session"]
