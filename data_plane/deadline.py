"""A request's deadline: its DuckDB work is interrupted when the time is up.

The engine opens every DuckDB connection through ``FeatureStoreEngine.cursor``, which
calls :func:`watch`; a request that runs under a :class:`Deadline` (Flight calls, the
REST routes that run queries) thereby has all its connections stopped together, even
those opened deep inside planning or training splits. DuckDB checks for an interrupt
while it executes and fails the statement with ``InterruptException``, which the
deadline reports as :class:`granary_core.errors.TimeLimitExceeded` (422).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import duckdb

from granary_core.errors import TimeLimitExceeded

#: After a deadline passes, its connections are interrupted again this often (s), this
#: many times at most: an interrupt that lands between two statements is forgotten when
#: the next one starts. A request left unclosed thus costs its thread 5 s, not forever.
REINTERRUPT_SECONDS = 0.02
REINTERRUPTS = 250

_ACTIVE: ContextVar[Deadline | None] = ContextVar("granary_request_deadline", default=None)


def watch(connection: duckdb.DuckDBPyConnection) -> None:
    """Put a DuckDB connection under the running request's deadline, if any.

    The engine calls this for every connection it opens, so work started anywhere
    below a request (planning, training splits) is stopped with it.
    """
    deadline = _ACTIVE.get()
    if deadline is not None:
        deadline.watch(connection)


class Deadline:
    """``seconds`` of work for one request, from now (monotonic clock).

    A daemon thread waits for the deadline; past it, it interrupts the watched DuckDB
    connections, again every ``REINTERRUPT_SECONDS`` until the request ends, since
    DuckDB forgets an interrupt that arrives between statements. Code runs under the
    deadline inside :meth:`active` (or :meth:`run`), which turns any failure after the
    deadline into :class:`TimeLimitExceeded`.
    """

    def __init__(self, seconds: float, what: str = "request") -> None:
        self.seconds = seconds
        self.what = what
        self._started = time.monotonic()
        self._connections: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._expired = threading.Event()
        threading.Thread(target=self._enforce, name="deadline", daemon=True).start()

    @property
    def expired(self) -> bool:
        return self._expired.is_set()

    def error(self) -> TimeLimitExceeded:
        elapsed = round(time.monotonic() - self._started, 3)
        return TimeLimitExceeded(
            f"{self.what}: stopped after {elapsed:g} s, over the limit 'max_request_seconds' "
            f"of {self.seconds:g} s",
            quota="max_request_seconds",
            limit=self.seconds,
            current=elapsed,
        )

    def watch(self, connection: duckdb.DuckDBPyConnection) -> None:
        if self.expired:
            raise self.error()
        with self._lock:
            self._connections.append(connection)

    def check(self) -> None:
        if self.expired:
            raise self.error()

    @contextmanager
    def active(self) -> Iterator[None]:
        """Run a step of the request under this deadline (connections opened inside are
        watched); a failure once the deadline passed is the time limit's."""
        token = _ACTIVE.set(self)
        try:
            self.check()
            yield
        except Exception as exc:
            if self.expired and not isinstance(exc, TimeLimitExceeded):
                raise self.error() from exc
            raise
        finally:
            _ACTIVE.reset(token)

    def run(self, items: Iterator[Any]) -> Iterator[Any]:
        """``items``, each produced under the deadline; the deadline ends with them."""
        try:
            while True:
                with self.active():
                    try:
                        item = next(items)
                    except StopIteration:
                        return
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """The request ended: stop watching."""
        self._done.set()

    def _enforce(self) -> None:
        if self._done.wait(self.seconds):
            return
        self._expired.set()
        for _ in range(REINTERRUPTS):
            with self._lock:
                self._connections = [c for c in self._connections if _interrupt(c)]
                if not self._connections:
                    return
            if self._done.wait(REINTERRUPT_SECONDS):
                return


def _interrupt(connection: duckdb.DuckDBPyConnection) -> bool:
    """Interrupt; False once the connection is closed (nothing left to stop)."""
    try:
        connection.interrupt()
    except duckdb.ConnectionException:
        return False
    return True
