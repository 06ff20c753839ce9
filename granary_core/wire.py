"""What travels between the remote SDK and the data plane, and how.

Descriptions (:mod:`granary_core.specs`) travel as JSON with ISO-8601 UTC times; feature
data travels as Arrow IPC streams. Both sides use these functions, so a field added to
a spec needs no second codec.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.ipc as ipc

from granary_core.errors import InvalidInput
from granary_core.frames import to_utc
from granary_core.specs import (
    CommitInfo,
    DeploymentInfo,
    FeatureGroupInfo,
    FeatureInfo,
    FeatureViewInfo,
    ModelInfo,
    TrainingDatasetInfo,
)

ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: Schema-metadata key of an Arrow body that carries the request's JSON parameters too.
PARAMS_KEY = b"granary.params"

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """Dataclasses, dicts and lists with datetimes as ISO strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and type(value).__module__ == "numpy":  # numpy scalars
        return value.item()
    return value


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def group_info(data: dict[str, Any]) -> FeatureGroupInfo:
    fields = dict(data)
    fields["features"] = [FeatureInfo(**f) for f in data.get("features") or []]
    fields["created_at"] = _time(data["created_at"])
    return FeatureGroupInfo(**fields)


def view_info(data: dict[str, Any]) -> FeatureViewInfo:
    fields = dict(data)
    fields["features"] = [FeatureInfo(**f) for f in data.get("features") or []]
    fields["created_at"] = _time(data["created_at"])
    return FeatureViewInfo(**fields)


def commit_info(data: dict[str, Any]) -> CommitInfo:
    return CommitInfo(**{**data, "committed_at": _time(data["committed_at"])})


def training_dataset_info(data: dict[str, Any]) -> TrainingDatasetInfo:
    return TrainingDatasetInfo(**{**data, "created_at": _time(data["created_at"])})


def model_info(data: dict[str, Any]) -> ModelInfo:
    return ModelInfo(**{**data, "created_at": _time(data["created_at"])})


def deployment_info(data: dict[str, Any]) -> DeploymentInfo:
    return DeploymentInfo(**{**data, "created_at": _time(data["created_at"])})


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def parse_time(value: Any, what: str) -> dt.datetime | None:
    """An ISO time from a request, refused with its name when malformed; naive is UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what}: expected an ISO-8601 time string, got {type(value).__name__}")
    return to_utc(value, what)


# Arrow IPC -------------------------------------------------------------------------------
def table_to_ipc(table: pa.Table, params: dict[str, Any] | None = None) -> bytes:
    """One Arrow IPC stream; ``params`` ride along in the schema metadata as JSON."""
    if params is not None:
        metadata = dict(table.schema.metadata or {})
        metadata[PARAMS_KEY] = json.dumps(to_jsonable(params)).encode()
        table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def ipc_to_table(body: bytes, what: str = "request body") -> tuple[pa.Table, dict[str, Any]]:
    """Parse an Arrow IPC stream; malformed input is ``InvalidInput`` naming ``what``."""
    if not body:
        raise InvalidInput(f"{what}: empty; expected an Arrow IPC stream ({ARROW_STREAM})")
    try:
        table = ipc.open_stream(pa.BufferReader(body)).read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError) as exc:
        raise InvalidInput(f"{what}: not a valid Arrow IPC stream: {exc}") from exc
    metadata = dict(table.schema.metadata or {})
    params: dict[str, Any] = {}
    raw = metadata.pop(PARAMS_KEY, None)
    if raw is not None:
        try:
            params = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"{what}: the parameters in the Arrow schema metadata are not JSON") from exc
        if not isinstance(params, dict):
            raise InvalidInput(f"{what}: the parameters in the Arrow schema metadata must be an object")
    table = table.replace_schema_metadata(metadata or None)
    return table, params
