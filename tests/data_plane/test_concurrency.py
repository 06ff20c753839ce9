"""Many callers on one project at once (two notebooks are enough): every request succeeds.

Planning registers the group's offline scan on a DuckDB connection, and a DuckDB
connection serves one call at a time; requests of one project must each get their own.
"""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor

import httpx
import pyarrow.flight as flight

from tests.data_plane.conftest import ticket

WIDTH = 32
ROUNDS = 3
QUERY = {"fg": {"name": "g", "version": 1}}


def test_parallel_requests_over_http_and_flight_on_one_project_all_succeed(data_plane, group):
    http = httpx.Client(
        base_url=data_plane.api_url,
        headers={"authorization": f"Bearer {group.key}"},
        limits=httpx.Limits(max_connections=WIDTH),
        timeout=120,
    )
    clients = [flight.FlightClient(data_plane.flight_uri) for _ in range(WIDTH)]

    def call(round_: int, i: int) -> tuple[str, str]:
        kind = ("sql", "view", "flight")[i % 3]
        try:
            if kind == "sql":
                response = http.post(group.path("queries/sql"), json={"query": QUERY})
            elif kind == "view":
                body = {"name": f"v{round_}_{i}", "version": 1, "query": QUERY}
                response = http.post(group.path("feature-views"), json=body)
            else:
                reader = clients[i].do_get(ticket(group.project, "query", query=QUERY), group.options)
                return kind, "ok" if reader.read_all().num_rows == 3 else "wrong rows"
        except flight.FlightError as exc:
            return kind, f"flight error: {str(exc)[:120]}"
        return kind, "ok" if response.status_code < 300 else f"{response.status_code} {response.text[:120]}"

    outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
    try:
        with ThreadPoolExecutor(WIDTH) as pool:
            for round_ in range(ROUNDS):
                outcomes.update(pool.map(lambda i, r=round_: call(r, i), range(WIDTH)))
    finally:
        http.close()
        for client in clients:
            client.close()
    failed = {k: n for k, n in outcomes.items() if k[1] != "ok"}
    print(f"attempts={sum(outcomes.values())} failed={sum(failed.values())} outcomes={dict(outcomes)}")
    assert not failed
    assert sum(outcomes.values()) == WIDTH * ROUNDS
