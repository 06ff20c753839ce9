"""Feature vectors: a feature view's newest stored features per entry, from the online store.

A view's query names its groups, how they join and which columns it returns; the same
description that plans training SQL (:mod:`data_plane.query`) plans serving here. A
:class:`ServingPlan` is built once (``init_serving``) and reused for every request, so
a request does no metadata reads: it checks the entries, makes one key per entry and
group, fetches all of them in one round trip and lines the rows up as an Arrow table.

Serving keys are what an entry must give: the root group's primary key, plus, for a
group joined on columns that are not primary keys of its parent (e.g. a merchant id
stored in transactions), those join columns, because reading the parent first would
be a second round trip. A joined group must be joined on its whole primary key, which
is what the online store is keyed by.

The result has the query's columns minus labels and training helper columns,
including the root primary key, event time and the inference helper columns: the SDK
drops them from feature vectors (the keys as it does for training data) and returns
the inference helpers from ``get_inference_helper(s)``, one round trip either way.
Transformations are not applied here: they are user code and run in the SDK (see
granary.serving).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from data_plane.catalog import Catalog
from data_plane.online.base import GroupReader, OnlineStore
from data_plane.query.plan import output_columns
from data_plane.query.resolve import Resolver
from granary_core import schema as schemas
from granary_core.errors import InvalidInput, MissingEntity, NotSupported
from granary_core.specs import FeatureGroupInfo, FeatureViewInfo, ServingKey, helper_columns


@dataclass
class _Lookup:
    index: int  # position of the group in the query
    info: FeatureGroupInfo
    reader: GroupReader
    sources: list[str]  # the entry name giving each primary key column, in key order
    join_type: str
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (group column, output name)


FEW_ROWS = 8  # up to this many entries, Python rows are decoded row by row (see OnlineRows)


class _RowLayout:
    """Where the output columns of Python rows come from, worked out once per column set:
    per group, which of its reader's columns are wanted (in output order) and at which
    output positions; a row of a few entries is the groups' values concatenated, then
    put in output order by one ``itemgetter`` (none when already in order)."""

    def __init__(self, sources: list[tuple[int, int]], groups: int) -> None:
        self.width = len(sources)
        self.targets = [[at for at, (li, _) in enumerate(sources) if li == g] for g in range(groups)]
        self.columns = [tuple(sources[at][1] for at in targets) for targets in self.targets]
        self.empty = [[None] * len(targets) for targets in self.targets]
        concatenated = [at for targets in self.targets for at in targets]
        position = {at: k for k, at in enumerate(concatenated)}
        order = [position[at] for at in range(self.width)]
        self.order = None if order == list(range(self.width)) or not order else itemgetter(*order)


@dataclass
class ServingPlan:
    view: FeatureViewInfo
    serving_keys: list[ServingKey]
    lookups: list[_Lookup]
    schema: pa.Schema
    groups: list[dict[str, Any]]
    # Key names a joined group's selection selects: the vector keeps the column of that
    # name, as training data does (FeatureView._joined_keys), though the root's is a helper.
    joined_keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.required = [k.feature_name for k in self.serving_keys]
        self.required_set = frozenset(self.required)
        self._layouts: dict[tuple[int, ...] | None, _RowLayout] = {}
        self._sources: list[tuple[int, int]] = []  # output column -> (lookup, column in its rows)
        for name in self.schema.names:
            for li, lookup in enumerate(self.lookups):
                names = [out for _, out in lookup.outputs]
                if name in names:
                    self._sources.append((li, names.index(name)))
                    break

    @property
    def where(self) -> str:
        return f"feature view '{self.view.name}' v{self.view.version}"

    def describe(self) -> dict[str, Any]:
        """What the SDK needs to know about the vectors (JSON-able)."""
        root = self.lookups[0].info
        return {
            "serving_keys": [k.to_dict() for k in self.serving_keys],
            "columns": [[f.name, str(f.type)] for f in self.schema],
            "primary_key": list(root.primary_key),
            "event_time": root.event_time,
            "helper_columns": [
                c
                for c in helper_columns(self.view.query, root.primary_key, root.event_time)
                if c not in self.joined_keys
            ],
            "labels": list(self.view.labels),
            "inference_helper_columns": list(self.view.inference_helper_columns),
            "groups": self.groups,
        }

    # requests -----------------------------------------------------------------------------
    def check_entries(self, entries: Sequence[Mapping[str, Any]]) -> None:
        if isinstance(entries, Mapping) or not isinstance(entries, Sequence):
            raise InvalidInput(f"{self.where}: entries must be a list of dicts, got {type(entries).__name__}")
        required = self.required_set
        for i, entry in enumerate(entries):
            if type(entry) is dict and entry.keys() == required:
                continue  # the common case, without the general checks
            if not isinstance(entry, Mapping):
                raise InvalidInput(f"{self.where}: entry {i} must be a dict, got {type(entry).__name__}")
            if entry.keys() == required:
                continue
            missing = [k for k in self.required if k not in entry]
            if missing:
                raise InvalidInput(
                    f"{self.where}: entry {i} {dict(entry)!r} is missing serving key(s) "
                    f"{missing} (serving keys: {self.required})"
                )
            unknown = sorted(set(entry) - required)
            raise InvalidInput(
                f"{self.where}: entry {i} has {unknown}, which are not serving keys "
                f"(serving keys: {self.required}); pass feature values as passed_features"
            )

    def checked_keys(self, entries: Sequence[Mapping[str, Any]]) -> list[tuple[GroupReader, list[Hashable]]]:
        """:meth:`check_entries`, then :meth:`keys`; in one pass over the entries when
        they are plain dicts of the only serving key (the common case)."""
        if len(self.required) == 1 and type(entries) is list and entries:
            name = self.required[0]
            if set(map(type, entries)) == {dict} and set(map(len, entries)) == {1}:
                try:
                    column = list(map(itemgetter(name), entries))
                except KeyError:
                    pass  # check_entries says which entry lacks it
                else:
                    return self.keys(entries, {name: column})
        self.check_entries(entries)
        return self.keys(entries)

    def keys(
        self, entries: Sequence[Mapping[str, Any]], values: dict[str, list[Any]] | None = None
    ) -> list[tuple[GroupReader, list[Hashable]]]:
        """The store key of every (group, entry): what one round trip fetches.

        ``values`` may give the entries' values of some serving keys already.
        """
        values = {} if values is None else values
        memo: dict[Any, Any] = {}
        requests = []
        for lookup in self.lookups:
            columns = []
            for source in lookup.sources:
                column = values.get(source)
                if column is None:
                    column = values[source] = [entry[source] for entry in entries]
                columns.append(column)
            requests.append((lookup.reader, lookup.reader.keys(columns, lookup.sources, memo)))
        return requests

    def get_vectors(
        self, store: OnlineStore, entries: Sequence[Mapping[str, Any]], allow_missing: bool = False
    ) -> pa.Table:
        if len(entries) <= FEW_ROWS:
            # Arrays decoded column by column cost ~10 us per column whatever the rows;
            # a few Python rows converted by Arrow in one call cost half as much.
            names = self.schema.names
            vectors = self.get_vector_rows(store, entries, allow_missing)
            records = [dict(zip(names, vector, strict=True)) for vector in vectors]
            return pa.Table.from_pylist(records, schema=self.schema)
        rows = store.get_rows(self.checked_keys(entries))
        if not allow_missing:
            self._check_found(entries, rows)
        decoded = [r.arrays() for r in rows]
        arrays = [decoded[li][ci] for li, ci in self._sources]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def get_vector_rows(
        self,
        store: OnlineStore,
        entries: Sequence[Mapping[str, Any]],
        allow_missing: bool = False,
        columns: Sequence[int] | None = None,
    ) -> list[list[Any]]:
        """The same vectors as :meth:`get_vectors`, as Python rows; only the output columns
        at ``columns`` (default all), which is cheaper than dropping them from each row."""
        rows = store.get_rows(self.checked_keys(entries))
        if not allow_missing:
            self._check_found(entries, rows)
        layout = self._layout(None if columns is None else tuple(columns))
        if len(entries) > FEW_ROWS:
            out = np.empty((len(entries), layout.width), object)
            for got, wanted, targets in zip(rows, layout.columns, layout.targets, strict=True):
                if wanted:
                    got.objects(wanted, out, targets)
            return out.tolist()
        decoded = [got.pylist(wanted) for got, wanted in zip(rows, layout.columns, strict=True)]
        vectors = []
        for e in range(len(entries)):
            row: list[Any] = []
            for group, empty in zip(decoded, layout.empty, strict=True):
                row += group[e] or empty
            vectors.append(row if layout.order is None else list(layout.order(row)))
        return vectors

    def _layout(self, columns: tuple[int, ...] | None) -> _RowLayout:
        layout = self._layouts.get(columns)
        if layout is None:
            sources = self._sources if columns is None else [self._sources[c] for c in columns]
            layout = self._layouts[columns] = _RowLayout(sources, len(self.lookups))
        return layout

    def _check_found(self, entries: Sequence[Mapping[str, Any]], rows: list[Any]) -> None:
        for lookup, got in zip(self.lookups, rows, strict=True):
            if lookup.index != 0 and lookup.join_type == "left":
                continue  # a left join serves nulls, as training data has them
            if got.complete:
                continue
            lost = np.flatnonzero(~got.found)
            shown = ", ".join(repr(dict(entries[i])) for i in lost[:3])
            more = f" and {len(lost) - 3} more" if len(lost) > 3 else ""
            raise MissingEntity(
                f"{self.where}: feature group '{lookup.info.name}' v{lookup.info.version} has no "
                f"online row for {shown}{more}; pass allow_missing=True to get nulls instead"
            )


def key_plan(
    spec: dict[str, Any], lookup: Callable[[str, int], FeatureGroupInfo], where: str
) -> tuple[list[ServingKey], list[dict[str, str]], list[FeatureGroupInfo]]:
    """Serving keys of a query, and per group (query order) which entry name fills
    each of its primary key columns. Needs only metadata, no online store and no data.

    The root's primary key is required. A joined group's key column joined to a key
    column of its parent comes from the same entry name; joined to another column of
    the parent, it is a required serving key named as that column appears in the view.
    """
    keys: list[ServingKey] = []
    maps: list[dict[str, str]] = []
    infos: list[FeatureGroupInfo] = []

    def visit(
        node: dict[str, Any], parent: int | None, join: dict[str, Any] | None, prefix: str, up: str
    ) -> None:
        info = lookup(node["fg"]["name"], int(node["fg"]["version"]))
        index = len(infos)
        infos.append(info)
        types = {f.name: f.type for f in info.features}
        key_map: dict[str, str] = {}
        if join is None or parent is None:
            for c in info.primary_key:
                key_map[c] = c
                keys.append(ServingKey(c, info.name, info.version, c, 0, types.get(c, "")))
        else:
            on = join.get("on") or []
            left_on, right_on = join.get("left_on") or on, join.get("right_on") or on
            if not left_on and not right_on:
                left_on = right_on = list(info.primary_key)
            if sorted(right_on) != sorted(info.primary_key):
                raise NotSupported(
                    f"{where}: feature group '{info.name}' v{info.version} is joined on {right_on}, not "
                    f"on its primary key {info.primary_key}; the online store looks rows up by key"
                )
            for c in info.primary_key:
                left = left_on[right_on.index(c)]
                if left in maps[parent]:
                    key_map[c] = maps[parent][left]
                    continue
                key_map[c] = name = up + left
                if name not in {k.feature_name for k in keys}:
                    keys.append(ServingKey(name, info.name, info.version, c, index, types.get(c, "")))
        maps.append(key_map)
        for child in node.get("joins", []):
            visit(child["query"], index, child, child.get("prefix") or "", prefix)

    visit(spec, None, None, "", "")
    return keys, maps, infos


def build_plan(catalog: Catalog, store: OnlineStore, view: FeatureViewInfo) -> ServingPlan:
    where = f"feature view '{view.name}' v{view.version}"
    infos: list[FeatureGroupInfo] = []

    def lookup(name: str, version: int) -> FeatureGroupInfo:
        info = catalog.get_group(name, version)
        infos.append(info)
        return info

    plan = Resolver(lookup, lambda info, as_of: "unused").plan(view.query, include_keys=True)
    for info in infos:
        if not info.online_enabled:
            raise InvalidInput(
                f"{where}: feature group '{info.name}' v{info.version} is not online enabled, so it "
                "cannot serve feature vectors; create it with online_enabled=True"
            )
    # Training helpers are never served; inference helpers are, for get_inference_helper.
    left_out = {*view.labels, *view.training_helper_columns} - set(view.inference_helper_columns)
    outputs: dict[int, list[tuple[str, str]]] = {i: [] for i in range(len(plan.nodes))}
    schema_fields = []
    for index, column, name in output_columns(plan):
        if index is None or name in left_out:
            continue
        outputs[index].append((column, name))
        typ = schemas.type_from_string(next(f.type for f in infos[index].features if f.name == column))
        schema_fields.append(pa.field(name, typ))

    serving_keys, key_maps, _ = key_plan(view.query, catalog.get_group, where)
    lookups: list[_Lookup] = []
    for index, node in enumerate(plan.nodes):
        info = infos[index]
        key_map = key_maps[index]
        columns = [c for c, _ in outputs[index]]
        lookups.append(
            _Lookup(
                index=index,
                info=info,
                reader=store.reader(info, columns),
                sources=[key_map[c] for c in info.primary_key],
                join_type=node.join_type,
                outputs=outputs[index],
            )
        )
    groups = [
        {
            "name": info.name,
            "version": info.version,
            "prefix": node.prefix,
            "transformations": info.transformations,
            "columns": {f.name: f.type for f in info.features},
        }
        for info, node in zip(infos, plan.nodes, strict=True)
    ]
    joined_keys = frozenset(
        k for node in plan.nodes[1:] for k in node.primary_key if node.features is None or k in node.features
    )
    return ServingPlan(view, serving_keys, lookups, pa.schema(schema_fields), groups, joined_keys)


class FeatureServer:
    """Serving for one engine: plans built at ``init_serving`` and reused per request."""

    def __init__(self, catalog: Catalog, store: OnlineStore) -> None:
        self.catalog = catalog
        self.store = store
        self._plans: dict[tuple[str, int], ServingPlan] = {}

    def init_serving(self, name: str, version: int) -> dict[str, Any]:
        plan = build_plan(self.catalog, self.store, self.catalog.get_view(name, version))
        self._plans[(name, version)] = plan
        return plan.describe()

    def plan(self, name: str, version: int) -> ServingPlan:
        plan = self._plans.get((name, version))
        if plan is None:
            self.init_serving(name, version)
            plan = self._plans[(name, version)]
        return plan

    def forget(self, name: str, version: int) -> None:
        """Drop a cached plan (the view was deleted)."""
        self._plans.pop((name, version), None)

    def get_feature_vectors(
        self, name: str, version: int, entries: Sequence[Mapping[str, Any]], allow_missing: bool = False
    ) -> pa.Table:
        return self.plan(name, version).get_vectors(self.store, entries, allow_missing)

    def get_feature_vector_rows(
        self,
        name: str,
        version: int,
        entries: Sequence[Mapping[str, Any]],
        allow_missing: bool = False,
        columns: Sequence[int] | None = None,
    ) -> list[list[Any]]:
        return self.plan(name, version).get_vector_rows(self.store, entries, allow_missing, columns)

    def lookup_keys(self, name: str, version: int, entries: Sequence[Mapping[str, Any]]) -> list[Hashable]:
        """The store keys a request reads, in order: for measuring the store's raw floor."""
        plan = self.plan(name, version)
        plan.check_entries(entries)
        return [k for _, keys in plan.keys(entries) for k in keys]
