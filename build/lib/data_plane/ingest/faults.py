"""Fault injection for crash tests: stop a write at its most dangerous moment.

With ``GRANARY_FAULT_PAUSE_AFTER_OFFLINE_WRITE_S`` set, every offline write logs
``paused after offline write`` and sleeps before returning, i.e. after the Delta
commit and before the commit record in PostgreSQL. A test SIGKILLs the materializer
there, which is exactly the crash the materializer's repair step exists for. Off
(0) everywhere but in those tests.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("granary.faults")


class PauseAfterOfflineWrite:
    def __init__(self, inner: Any, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _pause(self, result: Any, location: str) -> Any:
        extra = {"location": location, "version": result.table_version}
        log.warning("paused after offline write", extra=extra)
        time.sleep(self._seconds)
        return result

    def upsert(self, location: str, *args: Any, **kwargs: Any) -> Any:
        return self._pause(self._inner.upsert(location, *args, **kwargs), location)

    def overwrite(self, location: str, *args: Any, **kwargs: Any) -> Any:
        return self._pause(self._inner.overwrite(location, *args, **kwargs), location)

    def delete(self, location: str, *args: Any, **kwargs: Any) -> Any:
        return self._pause(self._inner.delete(location, *args, **kwargs), location)
