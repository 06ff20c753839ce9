"""Conversions between the dataframes users bring and the Arrow tables Granary moves.

Feature data crosses every interface as ``pa.Table``; this module is the only place
that knows about pandas and polars, so the rest of the engine stays columnar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import pyarrow as pa

from granary_core.errors import InvalidInput

DataFrameType = Literal["pandas", "polars", "pyarrow", "numpy", "python"]


def to_arrow(data: Any, what: str = "dataframe") -> pa.Table:
    """Accept pandas, polars, pyarrow (table or batch) or a dict of columns."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars":
        return data.to_arrow()
    if isinstance(data, dict):
        return pa.table(data)
    raise InvalidInput(f"{what}: expected a pandas, polars or pyarrow dataframe, got {type(data).__name__}")


def from_arrow(table: pa.Table, dataframe_type: str = "pandas") -> Any:
    """Convert once, at the edge, into the frame type the caller asked for."""
    if dataframe_type == "pyarrow":
        return table
    if dataframe_type == "pandas":
        return table.to_pandas()
    if dataframe_type == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if dataframe_type == "numpy":
        return table.to_pandas().to_numpy()
    if dataframe_type == "python":
        return table.to_pylist()
    raise InvalidInput(
        f"dataframe_type {dataframe_type!r} is not one of pandas, polars, pyarrow, numpy, python"
    )


# The digits of the forms hsfs parses once separators are removed ("2025/01/31 10:00" ->
# "202501311000"), by length.
_DIGIT_FORMATS = {8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}


def _parse_time_text(value: str, what: str) -> dt.datetime:
    """ISO 8601, or any form Hopsworks' hsfs accepts: ``YYYY/MM/DD``, ``YYYY-MM-DD HH:MM``,
    ``YYYYMMDD``, ``YYYYMMDDHHMMSS`` (any of ``-/ :.T`` between the parts), with an
    optional fraction of a second after the seconds."""
    text = value.strip()
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    digits = "".join(ch for ch in text.rstrip("Z") if ch not in "-/ :.T")
    pattern = _DIGIT_FORMATS.get(len(digits))
    if pattern is None and digits.isdigit() and len(digits) > 14:
        digits, pattern = digits[:14] + "." + digits[14:20], "%Y%m%d%H%M%S.%f"
    try:
        if pattern is None or not digits.replace(".", "").isdigit():
            raise ValueError(value)
        return dt.datetime.strptime(digits, pattern)
    except ValueError as exc:
        raise InvalidInput(
            f"{what}: cannot parse {value!r} as a time (ISO 8601, YYYY/MM/DD, YYYYMMDD or "
            "YYYY-MM-DD HH:MM[:SS])"
        ) from exc


def to_utc(value: Any, what: str = "time") -> dt.datetime | None:
    """Parse the time forms Hopsworks users pass; naive times are taken as UTC.

    Accepts ``datetime``, ``date``, pandas ``Timestamp``, ISO strings and integers
    (milliseconds since the Unix epoch, as Hopsworks does).
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, bool):
        raise InvalidInput(f"{what}: {value!r} is not a time")
    elif isinstance(value, int | float):
        try:
            moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidInput(f"{what}: {value!r} ms since the epoch is outside years 1 to 9999") from None
    elif isinstance(value, str):
        moment = _parse_time_text(value, what)
    elif hasattr(value, "to_pydatetime"):
        moment = value.to_pydatetime()
    else:
        raise InvalidInput(f"{what}: {value!r} is not a time")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(f"{what}: {moment.isoformat()} is outside years 1 to 9999 in UTC") from None


def slices(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Record batches regrouped into tables of ``rows`` rows (the last one fewer), so a
    stream is sent or committed in pieces of a size the caller chose."""
    held: pa.Table | None = None
    for batch in batches:
        table = pa.Table.from_batches([batch])
        held = table if held is None else pa.concat_tables([held, table])
        while held.num_rows >= rows:
            yield held.slice(0, rows)
            held = held.slice(rows)
    if held is not None and held.num_rows:
        yield held
