"""Queries over feature groups: selections, filters and point-in-time joins.

A ``Query`` is a value: every method returns a new one, and ``to_dict()`` is the whole
of it, which is what a feature view stores and what travels to a remote data plane.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from data_plane.query.plan import literal
from data_plane.query.resolve import decode_value
from granary_core.errors import InvalidInput
from granary_core.frames import from_arrow, to_utc

if TYPE_CHECKING:
    from granary.feature_group import FeatureGroup

JOIN_TYPES = ("left", "inner")


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$datetime": to_utc(value).isoformat()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_encode(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


class Filter:
    """A condition on one feature; combine with ``&`` and ``|``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def __and__(self, other: Filter) -> Filter:
        return Filter({"and": [self.spec, _filter_spec(other)]})

    def __or__(self, other: Filter) -> Filter:
        return Filter({"or": [self.spec, _filter_spec(other)]})

    def __bool__(self) -> bool:
        raise InvalidInput("combine filters with & and |, not 'and' / 'or'")

    def __repr__(self) -> str:
        return f"Filter({self.spec})"


def _filter_spec(value: Any) -> dict[str, Any]:
    if not isinstance(value, Filter):
        raise InvalidInput(f"expected a filter such as fg.amount > 10, got {value!r}")
    return value.spec


@dataclass(frozen=True, eq=False)
class Feature:
    """A feature of a group; comparing it builds a :class:`Filter`.

    ``Feature("amount", type="double", description="...")`` without a group is how
    Hopsworks notebooks declare features (``create_feature_group(features=[...])``);
    such a feature only carries its name, type and description.
    """

    name: str
    type: str = ""
    group_name: str = ""
    group_version: int = 0
    primary: bool = False
    event_time: bool = False
    description: str = ""

    def _filter(self, op: str, value: Any = None) -> Filter:
        encoded = _encode(value)
        try:  # refused here as the data plane would, before it becomes JSON no server reads
            literal(decode_value(encoded))
        except InvalidInput as exc:
            raise InvalidInput(
                f"filter on feature '{self.name}' of '{self.group_name}' v{self.group_version}: {exc}"
            ) from None
        return Filter(
            {
                "fg": {"name": self.group_name, "version": self.group_version},
                "feature": self.name,
                "op": op,
                "value": encoded,
            }
        )

    def __eq__(self, other: Any) -> Filter:  # type: ignore[override]
        return self._filter("eq", other)

    def __ne__(self, other: Any) -> Filter:  # type: ignore[override]
        return self._filter("ne", other)

    def __lt__(self, other: Any) -> Filter:
        return self._filter("lt", other)

    def __le__(self, other: Any) -> Filter:
        return self._filter("le", other)

    def __gt__(self, other: Any) -> Filter:
        return self._filter("gt", other)

    def __ge__(self, other: Any) -> Filter:
        return self._filter("ge", other)

    __hash__ = object.__hash__

    def isin(self, values: Any) -> Filter:
        return self._filter("in", list(values))

    def notin(self, values: Any) -> Filter:
        return self._filter("not_in", list(values))

    def isnull(self) -> Filter:
        return self._filter("is_null")

    def notnull(self) -> Filter:
        return self._filter("not_null")

    def like(self, pattern: str) -> Filter:
        return self._filter("like", pattern)


@dataclass(frozen=True)
class Join:
    query: Query
    on: list[str] = field(default_factory=list)
    left_on: list[str] = field(default_factory=list)
    right_on: list[str] = field(default_factory=list)
    join_type: str = "left"
    prefix: str = ""


@dataclass(frozen=True)
class Query:
    group: FeatureGroup
    features: list[str] | None = None
    joins: tuple[Join, ...] = ()
    filter_: Filter | None = None
    as_of_time: dt.datetime | None = None

    def join(
        self,
        sub_query: Query,
        on: list[str] | None = None,
        left_on: list[str] | None = None,
        right_on: list[str] | None = None,
        join_type: str = "left",
        prefix: str | None = None,
    ) -> Query:
        """Join another group's selection, point-in-time correct when both have event times."""
        if not isinstance(sub_query, Query):
            raise InvalidInput(f"join takes a query such as fg.select_all(), got {type(sub_query).__name__}")
        if join_type not in JOIN_TYPES:
            raise InvalidInput(f"join_type {join_type!r} is not supported; use one of {JOIN_TYPES}")
        if on and (left_on or right_on):
            raise InvalidInput("join: give either on= or left_on=/right_on=, not both")
        join = Join(
            sub_query, list(on or []), list(left_on or []), list(right_on or []), join_type, prefix or ""
        )
        return replace(self, joins=(*self.joins, join))

    def filter(self, condition: Filter) -> Query:
        combined = condition if self.filter_ is None else self.filter_ & condition
        _filter_spec(combined)
        return replace(self, filter_=combined)

    def as_of(self, wallclock_time: Any) -> Query:
        """Read every group of the query as it was at ``wallclock_time`` (time travel)."""
        moment = to_utc(wallclock_time, "wallclock_time")
        joins = tuple(replace(j, query=j.query.as_of(moment)) for j in self.joins)
        return replace(self, as_of_time=moment, joins=joins)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fg": {"name": self.group.name, "version": self.group.version},
            "features": self.features,
            "as_of": self.as_of_time.isoformat() if self.as_of_time else None,
            "filter": self.filter_.spec if self.filter_ is not None else None,
            "joins": [
                {
                    "query": j.query.to_dict(),
                    "on": j.on,
                    "left_on": j.left_on,
                    "right_on": j.right_on,
                    "join_type": j.join_type,
                    "prefix": j.prefix,
                }
                for j in self.joins
            ],
        }

    def read(self, dataframe_type: str = "pandas", start_time: Any = None, end_time: Any = None) -> Any:
        table = self.group._backend.run_query(
            self.to_dict(), start_time=to_utc(start_time), end_time=to_utc(end_time)
        )
        return from_arrow(table, dataframe_type)

    def show(self, n: int = 10) -> Any:
        return self.read().head(n)

    def to_string(self) -> str:
        """The DuckDB SQL this query runs."""
        return self.group._backend.query_sql(self.to_dict())

    def __str__(self) -> str:
        return self.to_string()


def query_from_dict(spec: dict[str, Any], lookup: Any) -> Query:
    """Rebuild a stored query; ``lookup(name, version)`` gives the feature group."""
    group = lookup(spec["fg"]["name"], spec["fg"]["version"])
    joins = tuple(
        Join(
            query_from_dict(j["query"], lookup),
            j.get("on", []),
            j.get("left_on", []),
            j.get("right_on", []),
            j.get("join_type", "left"),
            j.get("prefix", ""),
        )
        for j in spec.get("joins", [])
    )
    as_of = to_utc(spec["as_of"]) if spec.get("as_of") else None
    filter_ = Filter(spec["filter"]) if spec.get("filter") else None
    return Query(group, spec.get("features"), joins, filter_, as_of)
