"""``Schema`` and ``ModelSchema``: what a model takes and returns, as Hopsworks records it.

A schema is read from a dataframe (pandas, polars, pyarrow) or a numpy array, so the
training pipeline writes ``ModelSchema(Schema(X_train), Schema(y_train))`` and the
registry stores its plain dictionary.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from granary_core.frames import to_arrow


class Schema:
    """Column names and Arrow types of a dataframe, or the shape and type of a tensor."""

    def __init__(self, data: Any = None) -> None:
        self.columns: list[dict[str, str]] = []
        self.tensor: dict[str, Any] | None = None
        if data is None:
            return
        if hasattr(data, "dtype") and hasattr(data, "shape") and not hasattr(data, "columns"):
            self.tensor = {"shape": list(data.shape), "type": str(data.dtype)}
            return
        if hasattr(data, "to_frame") and not hasattr(data, "columns"):  # a pandas or polars series
            data = data.to_frame()
        table: pa.Table = to_arrow(data, "model schema")
        self.columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]

    def to_dict(self) -> dict[str, Any]:
        if self.tensor is not None:
            return {"tensor_schema": self.tensor}
        return {"columnar_schema": self.columns}

    def __repr__(self) -> str:
        return f"Schema({self.to_dict()})"


class ModelSchema:
    def __init__(self, input_schema: Schema | None = None, output_schema: Schema | None = None) -> None:
        self.input_schema = input_schema
        self.output_schema = output_schema

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_schema": None if self.input_schema is None else self.input_schema.to_dict(),
            "output_schema": None if self.output_schema is None else self.output_schema.to_dict(),
        }

    def __repr__(self) -> str:
        return f"ModelSchema({self.to_dict()})"
