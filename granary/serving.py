"""Feature vectors and transformed feature data: the serving half of ``FeatureView``.

``init_serving`` asks the backend for the view's serving plan (its serving keys and
columns, see :mod:`data_plane.serving`), loads the on-demand transformations of the
view's groups and its model-dependent transformations, and the training statistics
that parameterize the latter (training dataset version ``training_dataset_version``,
else the latest). A request then is one backend call (one online-store round trip)
followed by columnar work on the returned Arrow table:

1. ``passed_features`` replace stored values;
2. ``request_parameters`` replace both, and on-demand features whose inputs they give
   are computed again (a request parameter is named like the transformation's input
   feature, without the join prefix); precedence is request parameters > passed
   features > stored values;
3. the root primary key and event time are dropped, as ``training_data`` drops them,
   and so are the inference helper columns (``get_inference_helper(s)`` returns them);
4. model-dependent transformations run with the training statistics.

Training and batch data go through the same step 4 (``_transform_features``), which
is what keeps offline and online features identical for the same entity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from granary.backend import SupportsVectorRows
from granary.transformations import MODEL_DEPENDENT, ON_DEMAND, TransformationFunction, apply_all, load
from granary_core.errors import InvalidInput
from granary_core.frames import from_arrow, to_arrow
from granary_core.specs import FeatureViewInfo, ServingKey
from granary_core.storage_types import type_from_string

if TYPE_CHECKING:
    from granary.backend import Backend

RETURN_TYPES = ("list", "dict", "pandas", "polars", "numpy", "pyarrow")
HELPER_RETURN_TYPES = ("pandas", "polars", "dict")


@dataclass(frozen=True)
class _OnDemand:
    """An on-demand transformation of one group of the view, with that group's prefix."""

    function: TransformationFunction
    prefix: str
    group: str
    types: dict[str, pa.DataType]  # the group's stored column types

    def input_type(self, feature: str) -> pa.DataType | None:
        return self.types.get(feature) or self.function.annotation(feature)


class VectorServer:
    """What ``init_serving`` prepared for one feature view."""

    def __init__(
        self,
        where: str,
        description: dict[str, Any],
        model_dependent: list[TransformationFunction],
        statistics: dict[str, Any] | None,
        training_dataset_version: int | None,
    ) -> None:
        self.where = where
        self.serving_keys = [ServingKey(**k) for k in description["serving_keys"]]
        self.columns = [name for name, _ in description["columns"]]
        self.types = {name: type_from_string(typ) for name, typ in description["columns"]}
        # Inference helper columns: served for get_inference_helper(s), not in vectors.
        self.inference_helpers = [
            c for c in description.get("inference_helper_columns", []) if c in self.types
        ]
        # The root's keys and event time the query does not select (granary_core.specs),
        # and the inference helpers.
        self.hidden_columns = [
            *(c for c in description["helper_columns"] if c in self.types),
            *(c for c in self.inference_helpers if c not in description["helper_columns"]),
        ]
        self.visible = [i for i, c in enumerate(self.columns) if c not in self.hidden_columns]
        self.visible_names = [self.columns[i] for i in self.visible]
        self.on_demand = [
            _OnDemand(f, g["prefix"], f"'{g['name']}' v{g['version']}", _types(g["columns"]))
            for g in description["groups"]
            for f in load(g["transformations"])
        ]
        # Inputs a request parameter may give, by unprefixed name.
        self.parameters = {f for odt in self.on_demand for f in odt.function.input_features}
        self.model_dependent = model_dependent
        self.statistics = statistics
        self.training_dataset_version = training_dataset_version

    # one request --------------------------------------------------------------------
    def python_rows(self, rows: list[list[Any]], return_type: str, single: bool) -> Any:
        """Rows of the visible columns from a backend's Python path, shaped as asked."""
        if return_type == "dict":
            names = self.visible_names
            rows = [dict(zip(names, row, strict=True)) for row in rows]  # type: ignore[misc]
        return rows[0] if single else rows

    def finish(
        self,
        table: pa.Table,
        passed: Sequence[Mapping[str, Any] | None] | None,
        request: Sequence[Mapping[str, Any] | None] | None,
        transform: bool,
    ) -> pa.Table:
        if passed:
            table = self._override(table, passed, "passed feature")
        if request:
            unknown = sorted({k for r in request if r for k in r} - self.parameters - set(self.types))
            if unknown:
                raise InvalidInput(
                    f"{self.where}: request parameter(s) {unknown} are neither inputs of the view's "
                    f"on-demand transformations ({sorted(self.parameters)}) nor features"
                )
            table = self._override(
                table,
                [{k: v for k, v in (r or {}).items() if k in self.types} for r in request],
                "request parameter",
            )
        if self.on_demand and (request or passed):
            table = self._on_demand(table, passed, request)
        if self.hidden_columns:
            table = table.drop_columns(self.hidden_columns)
        if transform and self.model_dependent:
            table = apply_model_dependent(table, self.model_dependent, self.statistics)
        return table

    def _override(self, table: pa.Table, rows: Sequence[Mapping[str, Any] | None], what: str) -> pa.Table:
        if len(rows) != table.num_rows:
            raise InvalidInput(f"{self.where}: {len(rows)} {what} dicts for {table.num_rows} entries")
        names = {k for row in rows if row for k in row}
        unknown = sorted(names - set(self.types))
        if unknown:
            raise InvalidInput(f"{self.where}: unknown {what}(s) {unknown} (features: {self.columns})")
        for name in names:
            given = [row is not None and name in row for row in rows]
            values = [row[name] if g else None for row, g in zip(rows, given, strict=True)]  # type: ignore[index]
            column = _typed(values, self.types[name], f"{self.where}: {what} '{name}'")
            if not all(given):
                column = pc.if_else(pa.array(given), column, table.column(name))
            table = table.set_column(table.column_names.index(name), name, column)
        return table

    def _on_demand(
        self,
        table: pa.Table,
        passed: Sequence[Mapping[str, Any] | None] | None,
        request: Sequence[Mapping[str, Any] | None] | None,
    ) -> pa.Table:
        """Recompute on-demand features whose inputs the request gives."""
        n = table.num_rows
        for odt in self.on_demand:
            function, prefix = odt.function, odt.prefix
            outputs = [prefix + o for o in function.output_column_names(ON_DEMAND)]
            if not any(o in self.types for o in outputs):
                continue
            inputs = function.input_features
            given = any(
                (r is not None and f in r) or (p is not None and prefix + f in p)
                for f in inputs
                for r, p in zip(request or [None] * n, passed or [None] * n, strict=True)
            )
            if not given:
                continue
            columns = {}
            for feature in inputs:
                columns[feature] = self._input(table, odt, feature, request, passed)
            try:
                computed = function.apply(pa.table(columns), ON_DEMAND)
            except InvalidInput as exc:
                shown = {f: r[f] for r in request or [] if r for f in inputs if f in r}
                raise InvalidInput(
                    f"{self.where}: on-demand transformation '{function.name}' of feature group "
                    f"{odt.group} with request parameters {shown}: {exc}"
                ) from exc
            for output in function.output_column_names(ON_DEMAND):
                if prefix + output in self.types:
                    value = computed.column(output).cast(self.types[prefix + output])
                    table = table.set_column(
                        table.column_names.index(prefix + output), prefix + output, value
                    )
        return table

    def _input(
        self,
        table: pa.Table,
        odt: _OnDemand,
        feature: str,
        request: Sequence[Mapping[str, Any] | None] | None,
        passed: Sequence[Mapping[str, Any] | None] | None,
    ) -> pa.Array | pa.ChunkedArray:
        """One input of an on-demand transformation per row: request > passed > stored."""
        n = table.num_rows
        stored = table.column(odt.prefix + feature) if odt.prefix + feature in table.column_names else None
        from_request = [r is not None and feature in r for r in request or [None] * n]
        if stored is not None and not any(from_request):
            return stored  # passed features were already applied to the stored column
        if stored is None and not all(from_request):
            raise InvalidInput(
                f"{self.where}: on-demand transformation '{odt.function.name}' of feature group "
                f"{odt.group} needs '{feature}'; pass it in request_parameters"
            )
        values = [r[feature] if g else None for r, g in zip(request or [None] * n, from_request, strict=True)]  # type: ignore[index]
        typ = odt.input_type(feature)
        column = _typed(values, typ, f"{self.where}: request parameter '{feature}'")
        if stored is not None:
            column = pc.if_else(pa.array(from_request), column, stored.cast(column.type))
        return column


def _types(columns: dict[str, str]) -> dict[str, pa.DataType]:
    return {name: type_from_string(typ) for name, typ in columns.items()}


def _typed(values: list[Any], typ: pa.DataType | None, what: str) -> pa.Array:
    """Values as an Arrow array of ``typ``: a value of the wrong type is an error."""
    try:
        if typ is None:
            return pa.array(values)
        if pa.types.is_floating(typ) and any(isinstance(v, bool | str) for v in values):
            raise TypeError("expected a number")
        return pa.array(values, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
        shown = next((v for v in values if v is not None), None)
        raise InvalidInput(f"{what}: {shown!r} is not {typ}") from exc


def apply_model_dependent(
    table: pa.Table, functions: Sequence[TransformationFunction], statistics: dict[str, Any] | None
) -> pa.Table:
    return apply_all(table, functions, MODEL_DEPENDENT, statistics)


def _convert(table: pa.Table, return_type: str, single: bool) -> Any:
    if return_type == "list":
        rows = _rows(table)
        return rows[0] if single else rows
    if return_type == "dict":
        names = table.column_names
        rows = [dict(zip(names, row, strict=True)) for row in _rows(table)]
        return rows[0] if single else rows
    if return_type == "numpy":
        array = from_arrow(table, "numpy")
        return array[0] if single else array
    return from_arrow(table, return_type)


def _rows(table: pa.Table) -> list[list[Any]]:
    """Python rows, built by numpy's ``tolist`` from one object matrix.

    Numeric columns without nulls go in as blocks (numpy makes the Python ints and
    floats in C): neighbouring columns of one type whose values follow each other in one
    buffer, as the online store's decoder lays them out, are one block read in place.
    Strings go in as numpy makes them from Arrow, the others as Arrow's Python values.
    """
    n = table.num_rows
    if not table.num_columns:
        return []
    if n <= 8:  # numpy's set-up costs more than a few rows of Arrow's own values
        return [list(row) for row in zip(*(column.to_pylist() for column in table.columns), strict=True)]
    rows = np.empty((n, table.num_columns), object)
    blocks: list[tuple[list[int], pa.Array, pa.Buffer | None, int]] = []  # positions, first, buffer, end
    for j, (typ, column) in enumerate(zip(table.schema.types, table.columns, strict=True)):
        if column.null_count == 0 and (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
            array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
            buffer, start = _values(array)
            if blocks and buffer is not None:
                positions, first, previous, end = blocks[-1]
                follows = previous is not None and previous.address == buffer.address and end == start
                if follows and first.type == typ:
                    positions.append(j)
                    blocks[-1] = (positions, first, buffer, start + n * typ.byte_width)
                    continue
            blocks.append(([j], array, buffer, start + n * typ.byte_width))
        elif pa.types.is_string(typ) or pa.types.is_binary(typ):
            rows[:, j] = column.to_numpy(zero_copy_only=False)
        else:
            rows[:, j] = np.fromiter(column.to_pylist(), object, count=n)
    for positions, first, buffer, end in blocks:
        if len(positions) == 1:
            rows[:, positions[0]] = first.to_numpy()
            continue
        dtype = np.dtype(first.type.to_pandas_dtype())
        start = end - len(positions) * n * dtype.itemsize
        values = np.frombuffer(buffer, dtype, count=n * len(positions), offset=start)  # type: ignore[arg-type]
        rows[:, positions] = values.reshape(len(positions), n).T
    return rows.tolist()


def _values(array: pa.Array) -> tuple[pa.Buffer | None, int]:
    """The buffer that holds an array's values (the whole buffer it was sliced from),
    and where they start in it, in bytes."""
    values = array.buffers()[1]
    if values is None:
        return None, 0
    start = array.offset * array.type.byte_width
    parent = values.parent
    if parent is None:
        return values, start
    return parent, values.address - parent.address + start


class ServingMixin:
    """Serving methods of :class:`granary.FeatureView` (Hopsworks names)."""

    _backend: Backend
    _info: FeatureViewInfo
    _vector_server: VectorServer | None = None
    _batch: tuple[int | None, dict[str, Any] | None] | None = None
    _mdt_cache: list[TransformationFunction] | None = None

    name: str
    version: int

    @property
    def _where(self) -> str:
        return f"feature view '{self.name}' v{self.version}"

    # model-dependent transformations ----------------------------------------------------
    @property
    def transformation_functions(self) -> list[TransformationFunction]:
        """The view's model-dependent transformations."""
        if self._mdt_cache is None:
            self._mdt_cache = load(self._info.transformations)
        return list(self._mdt_cache)

    def _needs_statistics(self) -> bool:
        return any(f.needs_statistics for f in self.transformation_functions)

    def _training_statistics(self, training_dataset_version: int | None) -> tuple[int | None, dict | None]:
        """The train-split statistics of a training dataset version (default: latest)."""
        if not self._needs_statistics():
            return training_dataset_version, None
        if training_dataset_version is None:
            versions = [td.version for td in self._backend.list_training_datasets(self.name, self.version)]
            if not versions:
                raise InvalidInput(
                    f"{self._where} has model-dependent transformations that need training statistics, "
                    "and no training dataset exists yet: create one first (fv.create_training_data or "
                    "fv.create_train_test_split)"
                )
            training_dataset_version = max(versions)
        info, _ = self._backend.get_training_dataset(self.name, self.version, training_dataset_version)
        return training_dataset_version, _train_statistics(info.statistics)

    def _transform_features(self, table: pa.Table, statistics: dict[str, Any] | None) -> pa.Table:
        if not self.transformation_functions:
            return table
        return apply_model_dependent(table, self.transformation_functions, statistics)

    def init_batch_scoring(self, training_dataset_version: int | None = None) -> None:
        """Fix the training dataset version whose statistics ``get_batch_data`` uses."""
        self._batch = self._training_statistics(training_dataset_version)

    def _batch_statistics(self) -> dict[str, Any] | None:
        if self._batch is None:
            if self._vector_server is not None:
                return self._vector_server.statistics
            self.init_batch_scoring()
        return self._batch[1] if self._batch else None

    def transform(self, feature_vector: Any, external: bool | None = None) -> Any:
        """Apply the model-dependent transformations to features: a frame, a dict or a
        list of dicts, or a vector (list of values) or list of vectors in the order
        ``get_feature_vector(s)`` returns them; the result has the same shape."""
        single = isinstance(feature_vector, Mapping)
        rows = [feature_vector] if single else feature_vector
        if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
            table = pa.Table.from_pylist(rows)
            out = self._transform_features(table, self._batch_statistics())
            return _convert(out, "dict", single)
        if isinstance(rows, list | tuple) and rows:
            return self._transform_vectors(list(rows))
        table = to_arrow(feature_vector, f"{self._where}: transform")
        out = self._transform_features(table, self._batch_statistics())
        module = type(feature_vector).__module__.split(".")[0]
        return from_arrow(out, {"polars": "polars", "pyarrow": "pyarrow"}.get(module, "pandas"))

    def _transform_vectors(self, rows: list[Any]) -> Any:
        single = not isinstance(rows[0], list | tuple)
        vectors = [rows] if single else [list(r) for r in rows]
        names = self._server().visible_names
        wrong = next((v for v in vectors if len(v) != len(names)), None)
        if wrong is not None:
            raise InvalidInput(
                f"{self._where}: transform got a vector of {len(wrong)} values; a feature vector of "
                f"this view has {len(names)} ({', '.join(names)})"
            )
        table = pa.Table.from_pylist([dict(zip(names, v, strict=True)) for v in vectors])
        out = self._transform_features(table, self._server().statistics)
        return _convert(out, "list", single)

    # serving ------------------------------------------------------------------------
    def init_serving(
        self,
        training_dataset_version: int | None = None,
        external: bool | None = None,
        options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Prepare feature vectors: plan, transformations and their training statistics.

        Model-dependent transformations use the statistics of training dataset version
        ``training_dataset_version`` (default: the latest); with none, this raises.
        """
        description = self._backend.init_serving(self.name, self.version)
        version, statistics = self._training_statistics(training_dataset_version)
        self._vector_server = VectorServer(
            self._where, description, self.transformation_functions, statistics, version
        )

    def _server(self) -> VectorServer:
        if self._vector_server is None:
            self.init_serving()
        return self._vector_server  # type: ignore[return-value]

    @property
    def serving_keys(self) -> list[ServingKey]:
        """What an entry of ``get_feature_vector(s)`` gives."""
        return list(self._server().serving_keys)

    @property
    def primary_keys(self) -> list[str]:
        """The names every entry of ``get_feature_vector(s)`` must give (the required
        serving keys): the root group's primary key, plus columns that join a group on
        something other than a key of its parent. Known from metadata alone."""
        if self._vector_server is not None:
            keys = self._vector_server.serving_keys
        else:
            from data_plane.serving import key_plan

            keys = key_plan(self._info.query, self._backend.get_feature_group, self._where)[0]
        return [k.feature_name for k in keys if k.required]

    @property
    def training_dataset_version(self) -> int | None:
        """The training dataset version whose statistics serving uses."""
        return self._server().training_dataset_version

    def get_feature_vector(
        self,
        entry: Mapping[str, Any],
        passed_features: Mapping[str, Any] | None = None,
        request_parameters: Mapping[str, Any] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
        transform: bool = True,
        external: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """The feature vector of one entry, e.g. ``{"cc_num": 4444}``.

        Returns a list of values (in the order of the view's features, without labels,
        primary key and event time), or a dict, pandas/polars frame of one row, or a
        1-D numpy array, per ``return_type``. A missing entry raises MissingEntity
        unless ``allow_missing``, which gives nulls.
        """
        if not isinstance(entry, Mapping):
            raise InvalidInput(
                f"{self._where}: entry must be a dict of serving keys, got {type(entry).__name__}"
            )
        _check_dict(passed_features, "passed_features")
        _check_dict(request_parameters, "request_parameters")
        return self._vectors(
            [entry],
            None if passed_features is None else [passed_features],
            None if request_parameters is None else [request_parameters],
            return_type,
            allow_missing,
            transform,
            single=True,
        )

    def get_feature_vectors(
        self,
        entry: Sequence[Mapping[str, Any]],
        passed_features: Sequence[Mapping[str, Any]] | None = None,
        request_parameters: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
        transform: bool = True,
        external: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Feature vectors of many entries in one round trip to the online store.

        ``passed_features`` and ``request_parameters`` are one dict per entry (a single
        ``request_parameters`` dict applies to all). Returns a list of lists (or dicts),
        a frame, or a 2-D numpy array, per ``return_type``.
        """
        if isinstance(entry, Mapping):
            raise InvalidInput(f"{self._where}: get_feature_vectors takes a list of entries")
        entries = list(entry)
        if isinstance(request_parameters, Mapping):
            request_parameters = [request_parameters] * len(entries)
        return self._vectors(
            entries,
            None if passed_features is None else list(passed_features),
            None if request_parameters is None else list(request_parameters),
            return_type,
            allow_missing,
            transform,
            single=False,
        )

    def _vectors(
        self,
        entries: list[Mapping[str, Any]],
        passed: list[Mapping[str, Any]] | None,
        request: list[Mapping[str, Any]] | None,
        return_type: str,
        allow_missing: bool,
        transform: bool,
        single: bool,
    ) -> Any:
        if return_type not in RETURN_TYPES:
            raise InvalidInput(f"return_type {return_type!r} is not one of {', '.join(RETURN_TYPES)}")
        server = self._server()
        if (
            return_type in ("list", "dict")
            and not passed
            and not request
            and not (transform and server.model_dependent)
            and isinstance(self._backend, SupportsVectorRows)
        ):
            rows = self._backend.get_feature_vector_rows(  # type: ignore[attr-defined]
                self.name, self.version, entries, allow_missing, server.visible
            )
            return server.python_rows(rows, return_type, single)
        table = self._backend.get_feature_vectors(self.name, self.version, entries, allow_missing)  # type: ignore[arg-type]
        table = server.finish(table, passed, request, transform)
        return _convert(table, return_type, single)

    # inference helpers ----------------------------------------------------------------
    def get_inference_helper(
        self,
        entry: Mapping[str, Any],
        external: bool | None = None,
        return_type: str = "pandas",
        **kwargs: Any,
    ) -> Any:
        """The inference helper columns of one entry, from the online store: a frame of
        one row, or a dict, per ``return_type`` (``"pandas"``, ``"polars"``, ``"dict"``)."""
        if not isinstance(entry, Mapping):
            raise InvalidInput(
                f"{self._where}: entry must be a dict of serving keys, got {type(entry).__name__}"
            )
        return self._helpers([entry], return_type, single=True)

    def get_inference_helpers(
        self,
        entry: Sequence[Mapping[str, Any]],
        external: bool | None = None,
        return_type: str = "pandas",
        **kwargs: Any,
    ) -> Any:
        """The inference helper columns of many entries in one round trip: a frame, or a
        list of dicts, per ``return_type`` (``"pandas"``, ``"polars"``, ``"dict"``)."""
        if isinstance(entry, Mapping):
            raise InvalidInput(f"{self._where}: get_inference_helpers takes a list of entries")
        return self._helpers(list(entry), return_type, single=False)

    def _helpers(self, entries: list[Mapping[str, Any]], return_type: str, single: bool) -> Any:
        """The vectors' read, keeping the inference helper columns: stored values, as
        hsfs returns them (no passed features, request parameters or transformations)."""
        if return_type not in HELPER_RETURN_TYPES:
            raise InvalidInput(f"return_type {return_type!r} is not one of {', '.join(HELPER_RETURN_TYPES)}")
        server = self._server()
        if not server.inference_helpers:
            raise InvalidInput(
                f"{self._where} has no inference helper columns; name them with "
                "create_feature_view(..., inference_helper_columns=[...])"
            )
        table = self._backend.get_feature_vectors(self.name, self.version, entries)  # type: ignore[arg-type]
        return _convert(table.select(server.inference_helpers), return_type, single)


def _check_dict(value: Any, what: str) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a dict, got {type(value).__name__}")


def _train_statistics(statistics: dict[str, Any]) -> dict[str, Any]:
    """The train split's statistics of a training dataset version."""
    if "train" in statistics:
        return statistics["train"]
    if not statistics:
        return {}
    return next(iter(statistics.values()))


__all__ = ["RETURN_TYPES", "ServingMixin", "VectorServer", "apply_model_dependent"]
