"""Arrow request bodies: size-limited, parsed into a table plus optional parameters."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from fastapi import Request

from granary_core.errors import InvalidInput
from granary_core.wire import ARROW_STREAM, ipc_to_table

ARROW_BODY = {
    "requestBody": {
        "required": True,
        "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
    }
}


async def arrow_body(request: Request, what: str) -> tuple[pa.Table, dict[str, Any]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != ARROW_STREAM:
        given = content_type or "no content type"
        raise InvalidInput(f"{what}: send the rows as {ARROW_STREAM}, not {given}")
    return ipc_to_table(await request.body(), what)
