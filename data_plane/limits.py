"""What one request may cost the data plane: checked before the work, stopped when late.

The region's cores and memory are shared by every tenant, so each request is held to
the caller's :class:`tenancy.plans.CostLimits` (the plan's, or the region's
``operator_limits`` for operator keys):

- a query spec's bytes (those of the request carrying it) and its joins, nested ones
  counted, before the spec is validated or planned: planning 1,500 joins took seconds;
- a spine's bytes and rows, counted batch by batch as a Flight upload arrives, so
  reading stops at the cap instead of holding the whole upload first;
- the seconds of work: a :class:`data_plane.deadline.Deadline` interrupts every DuckDB
  connection the request opened once its time is up, and the request fails with
  ``time_limit_exceeded``.

Refusals are :class:`granary_core.errors.LimitExceeded` (422) naming the limit, its value
and what the request came to (``quota``, ``limit``, ``current`` in the body).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from data_plane.query.validate import check_query_spec
from granary_core.errors import LimitExceeded
from tenancy.plans import CostLimits
from tenancy.quotas import number_text as _num
from tenancy.scope import Principal


def limits_for(principal: Principal, operator_limits: CostLimits) -> CostLimits:
    """The caller's plan, or the region's limits for keys without one (operator keys)."""
    return principal.quotas if principal.quotas is not None else operator_limits


def _over(where: str, limit: str, value: float, observed: float, unit: str) -> LimitExceeded:
    return LimitExceeded(
        f"{where}: {_num(observed)} {unit} is over the limit '{limit}' of {_num(value)} {unit}",
        quota=limit,
        limit=value,
        current=observed,
    )


def check_spec_bytes(nbytes: int, limits: CostLimits, where: str = "request") -> None:
    if nbytes > limits.max_spec_bytes:
        raise _over(where, "max_spec_bytes", limits.max_spec_bytes, nbytes, "bytes")


def count_joins(spec: Any) -> int:
    """Joins in a spec, nested ones included; walked without recursion and without
    trusting its shape (``check_query_spec`` says what is malformed afterwards)."""
    count, pending = 0, [spec]
    while pending:
        node = pending.pop()
        joins = node.get("joins") if isinstance(node, dict) else None
        if isinstance(joins, list):
            count += len(joins)
            pending.extend(join.get("query") for join in joins if isinstance(join, dict))
    return count


def check_query(spec: Any, spec_bytes: int, limits: CostLimits, where: str = "query") -> None:
    """Size and joins first (cheap, before any work), then the shape of ``spec``.

    Args:
        spec: the query description, as parsed from the request.
        spec_bytes: bytes of the request that carried it (JSON body or Flight command).
        limits: the caller's cost limits.
        where: what to name in messages.
    """
    check_spec_bytes(spec_bytes, limits, where)
    check_joins(spec, limits, where)
    check_query_spec(spec, where)


def check_joins(spec: Any, limits: CostLimits, where: str = "query") -> None:
    joins = count_joins(spec)
    if joins > limits.max_joins_per_query:
        raise _over(where, "max_joins_per_query", limits.max_joins_per_query, joins, "joins")


def check_spine(nbytes: int, rows: int, limits: CostLimits, where: str = "spine") -> None:
    if nbytes > limits.max_spine_bytes:
        raise _over(where, "max_spine_bytes", limits.max_spine_bytes, nbytes, "bytes")
    if rows > limits.max_spine_rows:
        raise _over(where, "max_spine_rows", limits.max_spine_rows, rows, "rows")


def read_spine(reader: Any, limits: CostLimits) -> pa.Table:
    """A Flight upload (``MetadataRecordBatchReader``) as a table, counted batch by batch:
    the first batch that takes it over a limit is refused and nothing more is read."""
    batches, nbytes, rows = [], 0, 0
    while True:
        try:
            chunk = reader.read_chunk()
        except StopIteration:
            break
        if chunk.data is None:  # app metadata alone
            continue
        nbytes += chunk.data.nbytes
        rows += chunk.data.num_rows
        check_spine(nbytes, rows, limits, "spine (as it arrived)")
        batches.append(chunk.data)
    return pa.Table.from_batches(batches, schema=reader.schema)
