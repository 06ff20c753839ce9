"""The region's Arrow Flight server: every bulk read, as Arrow record batches.

A ticket (``DoGet``) or descriptor command (``DoExchange``, when the client uploads a
spine first) is a JSON object ``{"kind": ..., "project": ..., ...}``; see
:mod:`data_plane.flight.commands`. Every call carries ``authorization: Bearer <key>``;
the key is checked against the command's project and must grant reading it, exactly as
over REST.

Answers stream: batches of up to ``BATCH_ROWS`` rows leave as DuckDB produces them, so
the server holds a few batches per call (gRPC flow control pauses it for a slow client)
and the first batch leaves before the query ends. Multi-table answers (training splits)
are one stream: each batch's app metadata names the split it belongs to.

Each call is held to the caller's cost limits (:mod:`data_plane.limits`): the command's
bytes, a spine's bytes and rows as it arrives, and the seconds of work, after which
the call's DuckDB work is interrupted (:mod:`data_plane.deadline`).

Errors leave as Flight errors whose ``extra_info`` is the JSON ``{code, message}`` the
REST API would send (quota and limit errors add ``quota``, ``limit``, ``current``); the
SDK re-raises the same class, e.g. ``RateLimitExceeded`` as for REST's 429.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
from prometheus_client import Histogram

from data_plane.deadline import Deadline
from data_plane.flight.commands import Answer, run_command
from data_plane.limits import check_spec_bytes, limits_for, read_spine
from data_plane.region import Region
from granary_core.errors import GranaryError, InvalidInput, PayloadTooLarge, PermissionDenied, Unauthenticated
from tenancy.plans import CostLimits
from tenancy.roles import READ
from tenancy.scope import Principal

log = logging.getLogger("granary.flight")

BATCH_ROWS = 64 * 1024

FLIGHT_LATENCY = Histogram(
    "granary_flight_request_duration_seconds",
    "Arrow Flight call latency (until the last batch is sent) by command kind",
    ["kind", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def flight_error(exc: GranaryError) -> flight.FlightError:
    """The Flight error for a Granary error; ``extra_info`` carries ``{code, message}``."""
    extra = json.dumps(exc.to_dict()).encode()
    if isinstance(exc, Unauthenticated):
        return flight.FlightUnauthenticatedError(exc.message, extra)
    if isinstance(exc, PermissionDenied):
        return flight.FlightUnauthorizedError(exc.message, extra)
    return flight.FlightServerError(exc.message, extra)


class _AuthMiddleware(flight.ServerMiddleware):
    """The call's API key; checked against the command's project once it is read."""

    def __init__(self, key: str) -> None:
        self.key = key


class _AuthFactory(flight.ServerMiddlewareFactory):
    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> _AuthMiddleware:
        values = headers.get("authorization") or []
        raw = values[0] if values else ""
        if isinstance(raw, bytes):
            raw = raw.decode(errors="replace")
        key = raw[7:].strip() if raw.lower().startswith("bearer ") else ""
        if not key:
            raise flight_error(Unauthenticated("missing API key: send 'authorization: Bearer <key>'"))
        return _AuthMiddleware(key)


class GranaryFlightServer(flight.FlightServerBase):
    def __init__(self, region: Region, location: str) -> None:
        super().__init__(location, middleware={"auth": _AuthFactory()})
        self.region = region

    # the two read verbs --------------------------------------------------------------
    def do_get(self, context: Any, ticket: flight.Ticket) -> flight.FlightDataStream:
        command, caller, limits = self._command(context, ticket.ticket)
        deadline = Deadline(limits.max_request_seconds, f"Flight {command.get('kind')}")
        answer = self._run(command, caller, limits, None, deadline)
        return flight.GeneratorStream(answer.schema, self._batches(answer, command["kind"], deadline))

    def do_exchange(
        self,
        context: Any,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.MetadataRecordBatchWriter,
    ) -> None:
        command, caller, limits = self._command(context, descriptor.command)
        try:
            spine = read_spine(reader, limits)
        except GranaryError as exc:  # over a limit: stop reading, the rest is never held
            raise flight_error(exc) from None
        except pa.ArrowException as exc:
            raise flight_error(InvalidInput(f"spine: not a valid Arrow stream: {exc}")) from exc
        # the clock starts once the spine is in: its size is bounded, not its upload time
        deadline = Deadline(limits.max_request_seconds, f"Flight {command.get('kind')}")
        answer = self._run(command, caller, limits, spine, deadline)
        writer.begin(answer.schema)
        for batch, metadata in self._batches(answer, command["kind"], deadline):
            writer.write_with_metadata(batch, metadata)

    def list_actions(self, context: Any) -> list[tuple[str, str]]:
        return [("health", "ok when the server answers")]

    def do_action(self, context: Any, action: flight.Action) -> Iterator[bytes]:
        if action.type == "health":
            return iter([b"ok"])
        raise flight_error(InvalidInput(f"unknown action {action.type!r}"))

    # plumbing -------------------------------------------------------------------------
    def _command(self, context: Any, raw: bytes) -> tuple[dict[str, Any], Principal, CostLimits]:
        """The command, its caller and the caller's cost limits; the command's size is
        checked against the region's body limit before parsing, then against the plan."""
        key: str = context.get_middleware("auth").key
        if len(raw) > self.region.settings.max_body_bytes:
            limit = self.region.settings.max_body_bytes
            raise flight_error(PayloadTooLarge(f"Flight command of {len(raw)} bytes is over {limit} bytes"))
        try:
            command = json.loads(raw)
        except ValueError:
            raise flight_error(InvalidInput("the ticket is not JSON")) from None
        if not isinstance(command, dict) or not isinstance(command.get("project"), str):
            raise flight_error(InvalidInput("the ticket must be an object with 'kind' and 'project'"))
        try:
            caller = self.region.auth.authenticate(key, command["project"], READ)
            limits = limits_for(caller, self.region.settings.operator_limits)
            check_spec_bytes(len(raw), limits, f"Flight command {command.get('kind')!r}")
        except GranaryError as exc:
            raise flight_error(exc) from None
        return command, caller, limits

    def _run(
        self,
        command: dict[str, Any],
        caller: Principal,
        limits: CostLimits,
        spine: pa.Table | None,
        deadline: Deadline,
    ) -> Answer:
        """Open the answer (its first part) under the call's deadline."""
        started = time.perf_counter()
        kind = str(command.get("kind"))
        try:
            with deadline.active():
                answer = run_command(self.region, caller, limits, command, spine)
        except GranaryError as exc:
            deadline.close()
            FLIGHT_LATENCY.labels(kind, exc.code).observe(time.perf_counter() - started)
            raise flight_error(exc) from None
        except Exception as exc:
            deadline.close()
            log.exception("flight command %s failed", kind)
            FLIGHT_LATENCY.labels(kind, "internal_error").observe(time.perf_counter() - started)
            raise flight_error(GranaryError(f"{kind}: {exc}")) from None
        answer.started = started
        return answer

    def _batches(
        self, answer: Answer, kind: str, deadline: Deadline
    ) -> Iterator[tuple[pa.RecordBatch, pa.Buffer]]:
        """The answer's batches as they are produced (under the call's deadline), each
        tagged with its part's name.

        A failure after streaming began (a file gone from the object store, a value
        DuckDB cannot cast) still ends the call as a Flight error with ``{code, message}``;
        a client that hangs up closes the generator, which closes the query.
        """
        outcome = "ok"
        tags: dict[str, pa.Buffer] = {}
        try:
            for name, batch in deadline.run(answer.batches(BATCH_ROWS)):
                tag = tags.get(name)
                if tag is None:
                    tag = tags[name] = pa.py_buffer(name.encode())
                yield batch, tag
        except GeneratorExit:
            outcome = "cancelled"
            raise
        except GranaryError as exc:
            outcome = exc.code
            raise flight_error(exc) from None
        except Exception as exc:
            outcome = "internal_error"
            log.exception("flight command %s failed while streaming", kind)
            # DuckDB's reader reports every failure as OSError; its text says what failed.
            raise flight_error(GranaryError(f"{kind}: failed while streaming the answer: {exc}")) from None
        finally:
            deadline.close()
            FLIGHT_LATENCY.labels(kind, outcome).observe(time.perf_counter() - answer.started)


def serve(region: Region, location: str) -> tuple[GranaryFlightServer, threading.Thread]:
    """Start serving in a daemon thread (tests and the combined dev entrypoint)."""
    server = GranaryFlightServer(region, location)
    thread = threading.Thread(target=server.serve, name="flight", daemon=True)
    thread.start()
    return server, thread
