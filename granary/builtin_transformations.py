"""Built-in model-dependent transformations, parameterized by training statistics.

Each takes one feature, replaces it (``drop=["feature"]``) with an output named
``{function}_{feature}_`` (``one_hot_encoder``: one boolean column per training value,
``one_hot_encoder_{feature}_{i}`` in sorted value order), and is computed with Arrow
compute kernels, so a batch of rows and a single feature vector go through the same
arithmetic and give bit-identical results.

Edge cases, chosen so a model always gets a number: a scaler whose spread is zero in
training gives 0.0; ``label_encoder`` gives -1 for a value not seen in training and
null for null; ``one_hot_encoder`` gives all False for both; ``log_transform`` gives
null for values <= 0.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from granary.transformations import TransformationFunction, TransformationStatistics, _unique_values
from granary_core.errors import InvalidInput


def _float(feature: pa.ChunkedArray) -> pa.ChunkedArray:
    return feature.cast(pa.float64())


def _scale(feature: pa.ChunkedArray, center: float, spread: float | None) -> pa.ChunkedArray:
    shifted = pc.subtract(_float(feature), center)
    if not spread:
        return pc.multiply(shifted, 0.0)
    return pc.divide(shifted, spread)


def min_max_scaler_fn(feature: Any, statistics: TransformationStatistics) -> pa.ChunkedArray:
    stats = statistics.feature
    return _scale(feature, stats.min, stats.max - stats.min)


def standard_scaler_fn(feature: Any, statistics: TransformationStatistics) -> pa.ChunkedArray:
    stats = statistics.feature
    return _scale(feature, stats.mean, stats.std)


def robust_scaler_fn(feature: Any, statistics: TransformationStatistics) -> pa.ChunkedArray:
    stats = statistics.feature
    return _scale(feature, stats.p50, stats.p75 - stats.p25)


def _values(statistics: TransformationStatistics) -> pa.Array:
    stats = statistics.feature
    try:
        return pa.array(stats.unique_values)
    except InvalidInput:
        return pa.array(_unique_values(stats.feature, None))  # raises, explaining why


def label_encoder_fn(feature: Any, statistics: TransformationStatistics) -> pa.ChunkedArray:
    values = _values(statistics)
    index = pc.index_in(feature.cast(values.type), value_set=values).cast(pa.int64())
    unseen = pc.and_(pc.is_valid(feature), pc.is_null(index))
    return pc.if_else(unseen, -1, index)


def one_hot_encoder_fn(feature: Any, statistics: TransformationStatistics) -> list[pa.ChunkedArray]:
    values = _values(statistics)
    typed = feature.cast(values.type)
    return [pc.fill_null(pc.equal(typed, value), False) for value in values]


def log_transform_fn(feature: Any) -> pa.ChunkedArray:
    x = _float(feature)
    positive = pc.fill_null(pc.greater(x, 0.0), False)
    return pc.if_else(positive, pc.ln(pc.if_else(positive, x, 1.0)), pa.scalar(None, pa.float64()))


def impute_mean_fn(feature: Any, statistics: TransformationStatistics) -> pa.ChunkedArray:
    return pc.fill_null(_float(feature), statistics.feature.mean)


def _builtin(name: str, return_type: pa.DataType, func: Any) -> TransformationFunction:
    return TransformationFunction(
        name=name, return_types=(return_type,), drop=("feature",), builtin=True, func=func
    )


min_max_scaler = _builtin("min_max_scaler", pa.float64(), min_max_scaler_fn)
standard_scaler = _builtin("standard_scaler", pa.float64(), standard_scaler_fn)
robust_scaler = _builtin("robust_scaler", pa.float64(), robust_scaler_fn)
label_encoder = _builtin("label_encoder", pa.int64(), label_encoder_fn)
one_hot_encoder = _builtin("one_hot_encoder", pa.bool_(), one_hot_encoder_fn)
log_transform = _builtin("log_transform", pa.float64(), log_transform_fn)
impute_mean = _builtin("impute_mean", pa.float64(), impute_mean_fn)

BUILTINS: dict[str, TransformationFunction] = {
    f.name: f
    for f in (
        min_max_scaler,
        standard_scaler,
        robust_scaler,
        label_encoder,
        one_hot_encoder,
        log_transform,
        impute_mean,
    )
}

__all__ = [
    "impute_mean",
    "label_encoder",
    "log_transform",
    "min_max_scaler",
    "one_hot_encoder",
    "robust_scaler",
    "standard_scaler",
]
