"""An httpx transport that drops the first connections, for tests of clients' retries.

It stands between a real client and a real server: the first ``failures`` requests fail
as a refused connection does (nothing reaches the server), the rest are sent.
"""

from __future__ import annotations

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
