"""A materializer that pauses after each offline write, for crash tests.

``python -m tests.faults.paused_materializer SECONDS`` runs the region's materializer
(settings from ``GRANARY_*``, as ``python -m data_plane materializer``) with its
offline store wrapped: every write logs ``paused after offline write`` and sleeps
``SECONDS`` before returning, i.e. after the Delta commit and before the commit record
in PostgreSQL. A test SIGKILLs the process there, which is exactly the crash the
materializer's repair step exists for. The wrapper lives here, not in the data plane,
so no production code path can reach it.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

log = logging.getLogger("granary.faults")


class PauseAfterOfflineWrite:
    """An offline store whose writes pause for ``seconds`` once they are committed."""

    def __init__(self, inner: Any, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _pause(self, result: Any, location: str) -> Any:
        log.warning(
            "paused after offline write", extra={"location": location, "version": result.table_version}
        )
        time.sleep(self._seconds)
        return result

    def upsert(self, location: str, *args: Any, **kwargs: Any) -> Any:
        return self._pause(self._inner.upsert(location, *args, **kwargs), location)

    def overwrite(self, location: str, *args: Any, **kwargs: Any) -> Any:
        return self._pause(self._inner.overwrite(location, *args, **kwargs), location)

    def delete(self, location: str, *args: Any, **kwargs: Any) -> Any:
        return self._pause(self._inner.delete(location, *args, **kwargs), location)


def main(argv: list[str]) -> int:
    from data_plane.ingest.materializer import Materializer
    from data_plane.region import Region
    from data_plane.settings import DataPlaneSettings
    from tenancy import logs

    settings = DataPlaneSettings()
    logs.configure(settings.log_level, "materializer")
    region = Region(settings)
    seconds = float(argv[0]) if argv else 0.0
    if seconds > 0:
        region.offline = PauseAfterOfflineWrite(region.offline, seconds)
    Materializer(region).run(threading.Event())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
