"""Request bodies of the plain-ASGI fast paths (:mod:`data_plane.api.fast_vectors`,
:mod:`data_plane.api.fast_predict`): each reads the body to decide whether it answers the
request itself, and hands it on, unread as far as the route can tell, when it does not."""

from __future__ import annotations

from typing import Any


async def read_body(receive: Any) -> bytes | None:
    """The whole body (the body-limit middleware counts it), or None on disconnect."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Any) -> Any:
    """``receive`` with the body already read handed out again first."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> dict:
        return pending.pop() if pending else await receive()

    return replayed
