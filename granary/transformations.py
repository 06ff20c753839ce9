"""Transformation functions: ``@granary.udf`` and how stored ones come back to life.

Two kinds, as in Hopsworks:

- **On-demand** transformations are attached to a feature group
  (``transformation_functions=[distance("lat", "lon")]``). They run when rows are
  inserted, and their outputs are stored like any feature, so training data has them;
  at serving time they run again on request parameters (``get_feature_vector(...,
  request_parameters={...})``). A single output is named after the function.
- **Model-dependent** transformations are attached to a feature view
  (``transformation_functions=[min_max_scaler("amount")]``). They scale and encode
  features for one model, parameterized by the statistics of the training dataset,
  and run identically on training data, batch data and feature vectors. A single
  output is named ``{function}_{features}_``; several get ``_0``, ``_1``, ...

A transformation is stored as a JSON description on its group or view. A user-defined
function is stored as its source code (``inspect.getsource``, dedented, decorators
removed) and re-created from it when loaded, so it must be self-contained: import what
it needs inside its body (``np``, ``pd``, ``math`` and ``datetime`` are available),
and do not rely on closures or module globals. Built-ins are stored by name.

Transformations always run in the SDK, never in a data plane service: the service
never executes a tenant's code. Modes: ``"default"`` and ``"pandas"`` call the
function once per batch with pandas Series (so a batch of 10,000 rows and a single
feature vector go through the same code); ``"python"`` calls it once per row with
Python scalars. A function that takes a parameter named ``statistics`` receives the
training statistics of its arguments (``statistics.amount.mean``).
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from granary_core.errors import InvalidInput
from granary_core.schema import normalize
from granary_core.storage_types import type_from_string

MODES = ("default", "pandas", "python")
ON_DEMAND = "on_demand"
MODEL_DEPENDENT = "model_dependent"

_PYTHON_TYPES: dict[Any, pa.DataType] = {
    float: pa.float64(),
    int: pa.int64(),
    str: pa.string(),
    bool: pa.bool_(),
    bytes: pa.binary(),
    dt.datetime: pa.timestamp("us", tz="UTC"),
    dt.date: pa.date32(),
}
_TYPE_NAMES = {
    "float": pa.float64(),
    "float64": pa.float64(),
    "double": pa.float64(),
    "int": pa.int64(),
    "int64": pa.int64(),
    "bigint": pa.int64(),
    "str": pa.string(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "bytes": pa.binary(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


def arrow_type(value: Any) -> pa.DataType:
    """A return type given as a Python type, a name or an Arrow type."""
    if isinstance(value, pa.DataType):
        return value
    if value in _PYTHON_TYPES:
        return _PYTHON_TYPES[value]
    if isinstance(value, str):
        name = value.strip()
        if name.lower() in _TYPE_NAMES:
            return _TYPE_NAMES[name.lower()]
        return type_from_string(name)
    raise InvalidInput(f"return type {value!r}: use float, int, str, bool, bytes, datetime or date")


class FeatureStatistics:
    """Training statistics of one feature: ``mean``, ``std``, ``min``, ``max``, ``p25``,
    ``p50``, ``p75``, ``count``, ``unique_values`` (few-valued string/int/bool columns)."""

    def __init__(self, feature: str, values: dict[str, Any]) -> None:
        self.feature = feature
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        key = {"stddev": "std", "median": "p50"}.get(name, name)
        value = self._values.get(key)
        if value is None:
            raise InvalidInput(
                f"training statistics of feature '{self.feature}' have no {name!r} "
                f"(recorded: {sorted(k for k, v in self._values.items() if v is not None)})"
            )
        return value

    def __repr__(self) -> str:
        return f"FeatureStatistics({self.feature!r}, {self._values})"


class TransformationStatistics:
    """The ``statistics`` argument: one :class:`FeatureStatistics` per function argument.

    ``TransformationStatistics("feature")`` may be a parameter default, as in
    Hopsworks; Granary fills the real statistics in when it calls the function.
    """

    def __init__(self, *arguments: str, **stats: FeatureStatistics) -> None:
        self._arguments = arguments
        self._stats = stats

    def __getattr__(self, name: str) -> FeatureStatistics:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._stats:
            raise InvalidInput(f"no training statistics for argument {name!r}")
        return self._stats[name]


@dataclass(frozen=True)
class TransformationFunction:
    """A function plus what it is applied to; call it with feature names to bind them."""

    name: str
    return_types: tuple[pa.DataType, ...]
    mode: str = "default"
    drop: tuple[str, ...] = ()  # argument names whose input features are dropped
    source: str | None = None  # None for built-ins
    builtin: bool = False
    features: tuple[str, ...] | None = None  # bound input features (None: the argument names)
    output_names: tuple[str, ...] | None = None  # set by alias()
    func: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    # building -----------------------------------------------------------------------
    def __call__(self, *features: str) -> TransformationFunction:
        """Bind the function's arguments to features, in order: ``scale("amount")``."""
        if not all(isinstance(f, str) for f in features):
            raise InvalidInput(f"transformation '{self.name}': bind it to feature names, got {features!r}")
        if len(features) != len(self.arguments):
            raise InvalidInput(
                f"transformation '{self.name}' takes {len(self.arguments)} feature(s) "
                f"{list(self.arguments)}, got {len(features)}"
            )
        return replace(self, features=tuple(features))

    def alias(self, *names: str) -> TransformationFunction:
        """Name the outputs explicitly (one name per output)."""
        if not self.builtin_output_count_varies and len(names) != len(self.return_types):
            raise InvalidInput(
                f"transformation '{self.name}' has {len(self.return_types)} output(s), got {len(names)} names"
            )
        return replace(self, output_names=tuple(names))

    @property
    def builtin_output_count_varies(self) -> bool:
        return self.builtin and self.name == "one_hot_encoder"

    @property
    def function(self) -> Callable[..., Any]:
        if self.func is None:
            raise InvalidInput(f"transformation '{self.name}' has no code")
        return self.func

    @cached_property
    def arguments(self) -> tuple[str, ...]:
        """The function's parameters that take features (``statistics`` excluded)."""
        params = inspect.signature(self.function).parameters
        return tuple(p for p in params if p != "statistics")

    @cached_property
    def needs_statistics(self) -> bool:
        return "statistics" in inspect.signature(self.function).parameters

    @property
    def input_features(self) -> list[str]:
        return list(self.features if self.features is not None else self.arguments)

    @property
    def dropped_features(self) -> list[str]:
        by_argument = dict(zip(self.arguments, self.input_features, strict=True))
        return [by_argument[a] for a in self.drop]

    def annotation(self, feature: str) -> pa.DataType | None:
        """The Arrow type a function argument is annotated with, if it is a plain type."""
        argument = dict(zip(self.input_features, self.arguments, strict=True)).get(feature)
        if argument is None:
            return None
        hint = inspect.signature(self.function).parameters[argument].annotation
        try:
            return arrow_type(hint) if hint is not inspect.Parameter.empty else None
        except (InvalidInput, TypeError):
            return None

    def output_column_names(self, kind: str, statistics: dict[str, Any] | None = None) -> list[str]:
        if self.output_names is not None:
            return list(self.output_names)
        count = len(self.return_types)
        if self.builtin_output_count_varies:
            count = len(_unique_values(self.input_features[0], statistics))
        features = self.input_features
        if count == 1 and self.name in features and self.name not in self.dropped_features:
            return [self.name]
        if kind == MODEL_DEPENDENT:
            base = f"{self.name}_{'_'.join(features)}_"
            return [base] if count == 1 else [f"{base}{i}" for i in range(count)]
        return [self.name] if count == 1 else [f"{self.name}_{i}" for i in range(count)]

    # storing ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "builtin": self.builtin,
            "source": self.source,
            "return_types": [str(t) for t in self.return_types],
            "mode": self.mode,
            "drop": list(self.drop),
            "features": self.input_features,
            "arguments": list(self.arguments),
            "output_names": None if self.output_names is None else list(self.output_names),
            "statistics": self.needs_statistics,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransformationFunction:
        if data.get("builtin"):
            from granary import builtin_transformations

            base = builtin_transformations.BUILTINS.get(data["name"])
            if base is None:
                raise InvalidInput(f"unknown built-in transformation {data['name']!r}")
        else:
            base = _from_source(
                data["name"], data["source"], data["return_types"], data["mode"], data["drop"]
            )
        bound = base(*data["features"]) if data.get("features") is not None else base
        return replace(bound, output_names=tuple(data["output_names"]) if data.get("output_names") else None)

    # running ------------------------------------------------------------------------
    def apply(self, table: pa.Table, kind: str, statistics: dict[str, Any] | None = None) -> pa.Table:
        """Add the outputs to ``table`` (replacing same-named columns), drop dropped inputs."""
        return apply_all(table, [self], kind, statistics)

    def outputs(
        self, table: pa.Table, kind: str, statistics: dict[str, Any] | None = None
    ) -> list[tuple[str, pa.Array | pa.ChunkedArray]]:
        """The output columns computed from ``table``, by name."""
        features = self.input_features
        missing = [f for f in features if f not in table.column_names]
        if missing:
            raise InvalidInput(
                f"transformation '{self.name}' needs feature(s) {missing}, which are not among "
                f"{table.column_names}"
            )
        names = self.output_column_names(kind, statistics)
        outputs = self._run([table.column(f) for f in features], statistics, table.num_rows)
        if len(outputs) != len(names):
            raise InvalidInput(
                f"transformation '{self.name}' returned {len(outputs)} column(s), expected {len(names)}"
            )
        return list(zip(names, outputs, strict=True))

    def _statistics(self, statistics: dict[str, Any] | None) -> TransformationStatistics:
        per_argument = {}
        for argument, feature in zip(self.arguments, self.input_features, strict=True):
            values = (statistics or {}).get(feature)
            if values is None:
                raise InvalidInput(
                    f"transformation '{self.name}' needs training statistics of feature '{feature}', "
                    "and there are none: create a training dataset (or read training data) first"
                )
            per_argument[argument] = FeatureStatistics(feature, values)
        return TransformationStatistics(*self.arguments, **per_argument)

    def _run(
        self, columns: list[pa.ChunkedArray], statistics: dict[str, Any] | None, n: int
    ) -> list[pa.Array]:
        kwargs = {"statistics": self._statistics(statistics)} if self.needs_statistics else {}
        if self.builtin:
            result = self.function(*columns, **kwargs)
            return [r if isinstance(r, pa.Array | pa.ChunkedArray) else pa.array(r) for r in _as_list(result)]
        try:
            if self.mode == "python":
                rows = zip(*[c.to_pylist() for c in columns], strict=True) if columns else [()] * n
                values = [self.function(*row, **kwargs) for row in rows]
                if len(self.return_types) == 1:
                    outputs: list[Any] = [values]
                else:
                    outputs = (
                        [list(col) for col in zip(*values, strict=True)]
                        if values
                        else [[]] * len(self.return_types)
                    )
            else:
                series = [c.to_pandas() for c in columns]
                outputs = _as_list(self.function(*series, **kwargs))
        except InvalidInput:
            raise
        except Exception as exc:
            raise InvalidInput(f"transformation '{self.name}' failed: {type(exc).__name__}: {exc}") from exc
        if len(outputs) != len(self.return_types):
            raise InvalidInput(
                f"transformation '{self.name}' returned {len(outputs)} output(s), "
                f"declared {len(self.return_types)}"
            )
        arrays = []
        for output, typ in zip(outputs, self.return_types, strict=True):
            array = _to_arrow(output, typ, self.name)
            if len(array) != n:
                raise InvalidInput(
                    f"transformation '{self.name}' returned {len(array)} value(s) for {n} row(s)"
                )
            arrays.append(array)
        return arrays


def _as_list(result: Any) -> list[Any]:
    if isinstance(result, pd.DataFrame):
        return [result[c] for c in result.columns]
    if isinstance(result, tuple | list) and result and not np.isscalar(result[0]):
        return list(result)
    return [result]


def _to_arrow(values: Any, typ: pa.DataType, name: str) -> pa.Array:
    try:
        if isinstance(values, pa.Array | pa.ChunkedArray):
            return values.cast(typ)
        if isinstance(values, pd.Series):
            values = values.to_numpy(dtype=object, na_value=None) if values.dtype == object else values
        if pa.types.is_timestamp(typ):
            array = pa.array(values, from_pandas=True)
            if pa.types.is_timestamp(array.type) and array.type.tz is None:
                array = pc.assume_timezone(array, "UTC")
            return array.cast(typ)
        return pa.array(values, typ, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"transformation '{name}': its output is not {typ}: {exc}") from exc


def _unique_values(feature: str, statistics: dict[str, Any] | None) -> list[Any]:
    values = ((statistics or {}).get(feature) or {}).get("unique_values")
    if values is None:
        raise InvalidInput(
            f"one_hot_encoder needs the distinct values of feature '{feature}' from the training "
            "statistics; only string, integer and boolean features with at most 1,000 distinct "
            "values have them"
        )
    return list(values)


def _strip_decorators(source: str) -> str:
    """The function's source from its ``def`` line on (decorators may span lines)."""
    lines = textwrap.dedent(source).splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("def ", "async def ")):
            return "\n".join(lines[i:]) + "\n"
    raise InvalidInput("a udf must be a function defined with def (not a lambda)")


def _namespace() -> dict[str, Any]:
    return {
        "np": np,
        "numpy": np,
        "pd": pd,
        "pandas": pd,
        "math": math,
        "datetime": dt,
        "dt": dt,
        "TransformationStatistics": TransformationStatistics,
    }


def _from_source(name: str, source: str, return_types: Sequence[str], mode: str, drop: Sequence[str]):  # type: ignore[no-untyped-def]
    namespace = _namespace()
    try:
        exec(compile("from __future__ import annotations\n" + source, f"<udf {name}>", "exec"), namespace)
    except Exception as exc:
        raise InvalidInput(f"stored transformation '{name}' does not compile: {exc}") from exc
    func = namespace.get(name)
    if not callable(func):
        raise InvalidInput(f"stored transformation source does not define function '{name}'")
    return TransformationFunction(
        name=name,
        return_types=tuple(arrow_type(t) for t in return_types),
        mode=mode,
        drop=tuple(drop),
        source=source,
        func=func,
    )


def udf(
    return_type: Any | list[Any], drop: str | list[str] | None = None, mode: str = "default"
) -> Callable[[Callable[..., Any]], TransformationFunction]:
    """Make a function a transformation function.

    Args:
        return_type: the output type, or a list of them for several outputs
            (``float``, ``int``, ``str``, ``bool``, ``bytes``, ``datetime``, ``date``).
        drop: argument(s) whose input features are removed after the transformation.
        mode: ``"default"`` / ``"pandas"`` (pandas Series in, Series or DataFrame out) or
            ``"python"`` (one call per row with scalars).
    """
    if mode not in MODES:
        raise InvalidInput(f"udf mode {mode!r} is not one of {MODES}")
    types = tuple(
        arrow_type(t) for t in (return_type if isinstance(return_type, list | tuple) else [return_type])
    )
    dropped = tuple([drop] if isinstance(drop, str) else drop or [])

    def decorate(func: Callable[..., Any]) -> TransformationFunction:
        if func.__name__ == "<lambda>":
            raise InvalidInput("a udf must be a function defined with def (not a lambda)")
        try:
            source = _strip_decorators(inspect.getsource(func))
        except OSError as exc:
            raise InvalidInput(f"udf '{func.__name__}': its source code cannot be read ({exc})") from exc
        recreated = _from_source(func.__name__, source, [str(t) for t in types], mode, dropped)
        unknown = [d for d in dropped if d not in recreated.arguments]
        if unknown:
            raise InvalidInput(f"udf '{func.__name__}': drop names {unknown}, which are not its arguments")
        return recreated

    return decorate


def load(descriptions: Sequence[dict[str, Any]]) -> list[TransformationFunction]:
    return [TransformationFunction.from_dict(d) for d in descriptions]


def apply_all(
    table: pa.Table,
    functions: Sequence[TransformationFunction],
    kind: str,
    statistics: dict[str, Any] | None = None,
) -> pa.Table:
    """Apply transformations side by side: each reads the untransformed columns, so two
    may take the same feature (``min_max_scaler("x")`` and ``log_transform("x")``), and
    dropped inputs go only after all have run. Outputs are appended in order, or
    replace a column of the same name in place."""
    outputs: dict[str, pa.Array | pa.ChunkedArray] = {}
    dropped: set[str] = set()
    for function in functions:
        outputs.update(function.outputs(table, kind, statistics))
        dropped.update(function.dropped_features)
    names, columns = [], []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in outputs:
            column = outputs.pop(name)
        elif name in dropped:
            continue
        names.append(name)
        columns.append(column)
    names.extend(outputs)
    columns.extend(outputs.values())
    return pa.Table.from_arrays(columns, names=names)


def _functions(values: Sequence[Any] | None, where: str) -> list[TransformationFunction]:
    functions = []
    for value in values or []:
        if isinstance(value, dict):
            value = TransformationFunction.from_dict(value)
        if not isinstance(value, TransformationFunction):
            raise InvalidInput(f"{where}: {value!r} is not a transformation function (use @granary.udf)")
        functions.append(value)
    return functions


def _bind_to(feature: Any, function: Any, where: str) -> TransformationFunction:
    if not isinstance(function, TransformationFunction):
        raise InvalidInput(f"{where}: {function!r} for feature {feature!r} is not a transformation function")
    return function(feature)


def describe_on_demand(
    where: str, primary_key: list[str], event_time: str | None, values: Sequence[Any] | None
) -> list[dict[str, Any]]:
    """Check a group's on-demand transformations and describe them for storage."""
    keys = {*primary_key, *([event_time] if event_time else [])}
    out = []
    for function in _functions(values, where):
        if function.needs_statistics:
            raise InvalidInput(
                f"{where}: on-demand transformation '{function.name}' uses training statistics; "
                "attach it to a feature view as a model-dependent transformation instead"
            )
        touched = (set(function.dropped_features) | set(function.output_column_names(ON_DEMAND))) & keys
        if touched:
            raise InvalidInput(
                f"{where}: on-demand transformation '{function.name}' would drop or overwrite "
                f"{sorted(touched)}, a primary key or the event time"
            )
        out.append(function.to_dict())
    return out


def describe_model_dependent(
    where: str, labels: list[str], values: Sequence[Any] | dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Check a view's model-dependent transformations and describe them for storage.

    ``values`` is a list of bound functions, or hsfs 3's ``{feature: function}``, which
    binds each function to its feature."""
    if isinstance(values, dict):
        values = [_bind_to(feature, function, where) for feature, function in values.items()]
    out = []
    for function in _functions(values, where):
        on_labels = set(function.input_features) & set(labels)
        if on_labels:
            raise InvalidInput(
                f"{where}: transformation '{function.name}' takes label(s) {sorted(on_labels)}; "
                "model-dependent transformations apply to features"
            )
        out.append(function.to_dict())
    return out


def apply_on_demand(where: str, descriptions: Sequence[dict[str, Any]], table: pa.Table) -> pa.Table:
    """Compute a group's on-demand features for an insert (stored with the rows)."""
    try:
        return apply_all(normalize(table), load(descriptions), ON_DEMAND)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: insert: {exc}") from exc
