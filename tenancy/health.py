"""One dependency's state for a service's ``/health`` report, shared by both planes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def probe(check: Callable[[], Any]) -> dict[str, Any]:
    """Run ``check``: up with its latency in ms, or down with the error's text (cut to 300
    characters, so a report never carries a whole traceback)."""
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return {"status": "down", "error": str(exc)[:300]}
    return {"status": "up", "ms": round((time.perf_counter() - started) * 1000, 2)}
