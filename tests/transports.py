"""httpx transports that stand between a real client and a real server, for tests of
what clients do when the server cannot be reached.

:class:`DropFirstConnections`: the first ``failures`` requests fail as a refused
connection does (nothing reaches the server), the rest are sent. :class:`Darkened`: a
switch that takes the server out of reach and back.
"""

from __future__ import annotations

import threading

import httpx


class DropFirstConnections(httpx.BaseTransport):
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests = 0
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests <= self.failures:
            raise httpx.ConnectError("connection refused (dropped by the test)", request=request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class Darkened(httpx.BaseTransport):
    """A switch in front of a real server: lit, requests pass; dark, they never reach it.

    Dark, a request either is refused at once (``hang=False``: the server's port is
    closed) or waits until the switch is lit again (``hang=True``: the server accepts but
    does not answer), and then passes. ``waiting`` counts requests held right now.
    """

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lit = threading.Event()
        self._lit.set()
        self._lock = threading.Lock()
        self.hang = False
        self.refused = 0
        self.waiting = 0
        self.passed = 0

    def darken(self, *, hang: bool) -> None:
        self.hang = hang
        self._lit.clear()

    def light(self) -> None:
        self._lit.set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self._lit.is_set():
            if not self.hang:
                with self._lock:
                    self.refused += 1
                raise httpx.ConnectError("connection refused (the region is dark)", request=request)
            with self._lock:
                self.waiting += 1
            try:
                if not self._lit.wait(60):
                    raise httpx.ConnectTimeout("no answer (the region is dark)", request=request)
            finally:
                with self._lock:
                    self.waiting -= 1
        with self._lock:
            self.passed += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
