"""The remote backend: the same Backend seam, spoken over REST and Arrow Flight.

Metadata operations and writes go to the region's REST API (httpx); every bulk read
(feature group reads, query results, training data) comes back over Arrow Flight as
record batches. Errors are re-raised by their stable code (``error_from_dict``), so a
notebook catches the same exception classes as embedded.

Only two endpoints are ever contacted: ``host`` and the Flight URI the host names in
``GET /api/v1/whoami`` (plus, when ``host`` is the control plane, look-ups of where the
project is written: at login, and again when a write is refused because the project
moved to another region, which is then used instead).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
import pyarrow.flight as flight
from tenacity import (
    Retrying,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from granary_core import wire
from granary_core.errors import (
    BackendUnavailable,
    GranaryError,
    InvalidInput,
    NotFound,
    WrongRegion,
    error_from_dict,
)
from granary_core.specs import (
    CommitInfo,
    DeploymentInfo,
    FeatureGroupInfo,
    FeatureViewInfo,
    ModelInfo,
    TrainingDatasetInfo,
)

API = "/api/v1"
SPINE_BATCH_ROWS = 64 * 1024  # rows per uploaded spine batch


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        raise error_from_dict(body)
    if response.status_code == 404:
        raise NotFound(f"{response.request.url} does not exist here (is it a Granary data plane?)")
    raise GranaryError(f"HTTP {response.status_code} from {response.request.url}: {response.text[:300]}")


def _flight_error(exc: flight.FlightError) -> GranaryError:
    extra = getattr(exc, "extra_info", b"") or b""
    try:
        body = json.loads(extra)
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        return error_from_dict(body)
    if isinstance(exc, flight.FlightUnavailableError):
        return BackendUnavailable(f"Arrow Flight server unavailable: {exc}")
    return GranaryError(f"Arrow Flight call failed: {exc}")


def connect(host: str, api_key: str, project: str | None = None) -> RemoteBackend:
    """The project's backend, whether ``host`` is a region's data plane or the control plane.

    A control plane (it has no ``/api/v1/whoami``) is asked where the project lives,
    its directory of regions answering with the data plane's URL and the project's name
    there; the data plane is then used directly.
    """
    try:
        return RemoteBackend(host, api_key, project)
    except NotFound:
        pass
    from granary.cloud import ControlPlaneClient

    if project is None:
        raise InvalidInput(f"{host} is a control plane: name the project, login(host, api_key, project=...)")

    def route() -> Route:
        with ControlPlaneClient(host, api_key) as control_plane:
            found = control_plane.get_project(project)
        if not found.get("data_plane_url"):
            raise NotFound(
                f"project '{project}' is in region '{found.get('region')}', which has no public URL"
            )
        return Route(found["data_plane_url"], found["metadata_scope"], found.get("epoch"))

    first = route()
    return RemoteBackend(first.host, api_key, first.project, epoch=first.epoch, reroute=route)


class Unreachable(BackendUnavailable):
    """No connection could be made: nothing reached the region, so a call is safe to send
    again, to it or to the region the project moved to."""


@dataclass(frozen=True)
class Route:
    """Where a project is written now, as the control plane says."""

    host: str
    project: str
    epoch: int | None


class RemoteBackend:
    def __init__(
        self,
        host: str,
        api_key: str,
        project: str | None = None,
        timeout: float = 300.0,
        transport: httpx.BaseTransport | None = None,
        epoch: int | None = None,
        reroute: Callable[[], Route] | None = None,
        reroute_seconds: float = 120.0,
    ) -> None:
        """``epoch`` is the routing epoch the caller's routing holds for the project: the
        region refuses writes under another (``Fenced``). None sends none.

        ``reroute`` asks where the project is written now (the control plane): a write
        refused with ``Moved`` or ``Fenced``, or a call to a region that cannot be
        reached, is sent again to the region it names, waiting up to ``reroute_seconds``
        while a move (or a failover) is under way. Without it those errors are raised.
        Nothing refused so was written, so sending it again is safe.
        """
        self._api_key, self._timeout, self._transport = api_key, timeout, transport
        self._reroute, self._reroute_seconds = reroute, reroute_seconds
        self._open(host, project, epoch)

    def _open(self, host: str, project: str | None, epoch: int | None) -> None:
        self.host = host.rstrip("/")
        if "://" not in self.host:
            self.host = f"http://{self.host}"
        self.epoch = epoch
        headers = {"authorization": f"Bearer {self._api_key}"}
        if epoch is not None:
            headers["x-granary-epoch"] = str(epoch)
        self._http = httpx.Client(
            base_url=self.host, headers=headers, timeout=self._timeout, transport=self._transport
        )
        who = self._call_here("GET", f"{API}/whoami", params={"project": project} if project else None)
        self.project_name: str = who["project"]
        self.flight_uri: str = who["flight_uri"]
        self._flight = flight.FlightClient(self.flight_uri)
        self._options = flight.FlightCallOptions(
            headers=[(b"authorization", f"Bearer {self._api_key}".encode())], timeout=self._timeout
        )

    def _follow(self) -> None:
        """Ask where the project is written now, and talk to that region from here on."""
        assert self._reroute is not None
        route = self._reroute()
        if (route.host.rstrip("/"), route.epoch) == (self.host, self.epoch):
            return  # not moved yet (a switchover is draining): the caller waits and asks again
        self.close()
        self._open(route.host, route.project, route.epoch)

    def __repr__(self) -> str:
        return f"RemoteBackend(host={self.host!r}, project={self.project_name!r})"

    def close(self) -> None:
        self._http.close()
        self._flight.close()

    # transport ----------------------------------------------------------------------
    @retry(
        retry=retry_if_exception_type((httpx.ConnectError, httpx.ConnectTimeout)),
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        reraise=True,
    )
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call, tried again (up to 4 times in ~0.7 s) while no connection can be made:
        then nothing reached the server, so even an insert is safe to send again. A call
        that failed once sent is not repeated, since the server may have acted on it."""
        return self._http.request(method, path, **kwargs)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`_call_here`, following the project to its new home when it moved."""
        return self._following(lambda: self._call_here(method, path, **kwargs))

    def _following(self, call: Callable[[], Any]) -> Any:
        """``call()``; when it was refused because the project moved, or its region could
        not be reached, ask where the project is written now and call again there, for
        up to ``reroute_seconds`` (with ``reroute`` only)."""
        try:
            return call()
        except (WrongRegion, Unreachable):
            if self._reroute is None:
                raise
        following = Retrying(
            retry=retry_if_exception_type((WrongRegion, Unreachable)),
            stop=stop_after_delay(self._reroute_seconds),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        )
        for attempt in following:
            with attempt:
                self._follow()
                return call()
        raise AssertionError("unreachable: tenacity reraises")

    def _call_here(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._send(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Unreachable(f"cannot reach {self.host}: {exc}") from exc
        except httpx.TransportError as exc:
            if method == "GET":  # a read: safe to send again, there or to the new home
                raise Unreachable(f"GET {path}: the connection to {self.host} failed: {exc!r}") from exc
            raise BackendUnavailable(
                f"{method} {path}: the connection to {self.host} failed during the call ({exc!r}); "
                "it may or may not have taken effect (an insert is an upsert: sending it again is safe)"
            ) from exc
        _raise_for(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _project(self, *parts: Any) -> str:
        return "/".join([f"{API}/projects/{self.project_name}", *[str(p) for p in parts]])

    def _fetch(self, kind: str, spine: pa.Table | None = None, **fields: Any) -> dict[str, pa.Table]:
        """Run a Flight command; returns its parts (split name -> table, or "" -> table).
        Every command is a read, so a region that cannot be reached is left for the
        project's home now, as REST calls are (Flight included: it is that region's)."""
        return self._following(lambda: self._fetch_here(kind, spine, **fields))

    def _fetch_here(self, kind: str, spine: pa.Table | None = None, **fields: Any) -> dict[str, pa.Table]:
        try:
            reader, writer = self._start(kind, spine, fields)
            with writer or contextlib.nullcontext():
                return self._parts(reader)
        except flight.FlightError as exc:
            raise self._translate(exc) from None

    def _stream(self, kind: str, spine: pa.Table | None = None, **fields: Any) -> pa.RecordBatchReader:
        """A Flight command's batches as they arrive (one part), so the client holds one
        batch at a time; a region that cannot be reached when the call starts is left as
        for :meth:`_fetch`. Errors of the server's while streaming are raised by the reader."""
        return self._following(lambda: self._stream_here(kind, spine, **fields))

    def _stream_here(self, kind: str, spine: pa.Table | None, **fields: Any) -> pa.RecordBatchReader:
        try:
            reader, writer = self._start(kind, spine, fields)
            schema = reader.schema  # the server's first message: planning errors come here
        except flight.FlightError as exc:
            raise self._translate(exc) from None

        def batches() -> Iterator[pa.RecordBatch]:
            with writer or contextlib.nullcontext():
                while True:
                    try:
                        chunk = reader.read_chunk()
                    except StopIteration:
                        return
                    except flight.FlightError as exc:
                        raise self._translate(exc) from None
                    yield chunk.data

        return pa.RecordBatchReader.from_batches(schema, batches())

    def _start(self, kind: str, spine: pa.Table | None, fields: dict[str, Any]) -> tuple[Any, Any]:
        """Start a Flight command: its reader, and the writer that sent the spine (None
        without one), which the caller closes once it has read the answer."""
        command = json.dumps(wire.to_jsonable({"kind": kind, "project": self.project_name, **fields}))
        if spine is None:
            return self._flight.do_get(flight.Ticket(command.encode()), self._options), None
        descriptor = flight.FlightDescriptor.for_command(command.encode())
        writer, reader = self._flight.do_exchange(descriptor, self._options)
        try:
            writer.begin(spine.schema)
            try:
                # in batches, so a server that refuses the spine (over a limit)
                # stops reading after one; it ended the call, and the read says why
                writer.write_table(spine, max_chunksize=SPINE_BATCH_ROWS)
                writer.done_writing()
            except (flight.FlightError, OSError):
                pass
        except BaseException:
            writer.close()
            raise
        return reader, writer

    def _translate(self, exc: flight.FlightError) -> Exception:
        """The SDK's error for a Flight error; a server that gave no answer of its own
        (those carry a code) could not be reached."""
        error = _flight_error(exc)
        if isinstance(exc, flight.FlightUnavailableError) and type(error) is BackendUnavailable:
            return Unreachable(f"cannot reach the Arrow Flight server {self.flight_uri}: {exc}")
        return error

    @staticmethod
    def _parts(reader: Any) -> dict[str, pa.Table]:
        batches: dict[str, list[pa.RecordBatch]] = {}
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            name = chunk.app_metadata.to_pybytes().decode() if chunk.app_metadata is not None else ""
            batches.setdefault(name, []).append(chunk.data)
        schema = reader.schema
        return {name: pa.Table.from_batches(b, schema=schema) for name, b in batches.items()}

    def _arrow(self, table: pa.Table, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "content": wire.table_to_ipc(table, params),
            "headers": {"content-type": wire.ARROW_STREAM},
        }

    # feature groups -----------------------------------------------------------------
    def create_feature_group(self, **fields: Any) -> FeatureGroupInfo:
        return wire.group_info(self._call("POST", self._project("feature-groups"), json=fields))

    def get_feature_group(self, name: str, version: int | None = None) -> FeatureGroupInfo:
        params = {} if version is None else {"version": version}
        return wire.group_info(self._call("GET", self._project("feature-groups", name), params=params))

    def list_feature_groups(self, name: str | None = None) -> list[FeatureGroupInfo]:
        params = {} if name is None else {"name": name}
        return [wire.group_info(g) for g in self._call("GET", self._project("feature-groups"), params=params)]

    def update_feature_group(self, name: str, version: int, changes: dict[str, Any]) -> FeatureGroupInfo:
        path = self._project("feature-groups", name, "versions", version)
        return wire.group_info(self._call("PATCH", path, json=wire.to_jsonable(changes)))

    def validation_reports(self, name: str, version: int, limit: int | None = None) -> list[dict[str, Any]]:
        path = self._project("feature-groups", name, "versions", version, "validation-reports")
        return self._call("GET", path, params={} if limit is None else {"limit": limit})

    def commit_statistics(
        self, name: str, version: int, commit_time: dt.datetime | None = None
    ) -> dict[str, Any] | None:
        path = self._project("feature-groups", name, "versions", version, "statistics")
        params = {} if commit_time is None else {"commit_time": commit_time.isoformat()}
        return self._call("GET", path, params=params)

    def compute_statistics(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        columns: list[str] | None = None,
    ) -> dict[str, Any] | None:
        """Computed and stored by the data plane, next to the rows: only the statistics
        travel. Sending it again after a failed connection is safe (it stores the same)."""
        path = self._project("feature-groups", name, "versions", version, "statistics")
        moment = None if wallclock_time is None else wallclock_time.isoformat()
        return self._call("POST", path, json={"wallclock_time": moment, "columns": columns})

    def delete_feature_group(self, name: str, version: int) -> None:
        self._call("DELETE", self._project("feature-groups", name, "versions", version))

    def connection(self) -> tuple[str, str, str]:
        """``(host, api_key, project)``: what another process (a Spark executor) needs
        to open this project as this caller, at the region it is written in now."""
        return self.host, self._api_key, self.project_name

    def insert(
        self, name: str, version: int, table: pa.Table, overwrite: bool = False, wait: bool = True
    ) -> CommitInfo | None:
        """Send the rows; with ``wait`` return the commit once they are visible, else None
        as soon as the region's Kafka acknowledged them."""
        body = self._call(
            "POST",
            self._project("feature-groups", name, "versions", version, "rows"),
            params={"overwrite": overwrite, "wait": wait},
            **self._arrow(table),
        )
        return wire.commit_info(body) if wait else None

    def remove_rows(self, name: str, version: int, table: pa.Table) -> CommitInfo:
        path = self._project("feature-groups", name, "versions", version, "rows", "delete")
        return wire.commit_info(self._call("POST", path, **self._arrow(table)))

    def compact(self, name: str, version: int, wait: bool = True) -> CommitInfo | None:
        path = self._project("feature-groups", name, "versions", version, "compact")
        body = self._call("POST", path, params={"wait": wait})
        return wire.commit_info(body) if wait else None

    def commit_details(self, name: str, version: int, limit: int | None = None) -> list[CommitInfo]:
        params = {} if limit is None else {"limit": limit}
        path = self._project("feature-groups", name, "versions", version, "commits")
        return [wire.commit_info(c) for c in self._call("GET", path, params=params)]

    def read(
        self,
        name: str,
        version: int,
        wallclock_time: dt.datetime | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
    ) -> pa.Table:
        parts = self._fetch(
            "read",
            name=name,
            version=version,
            wallclock_time=wallclock_time,
            start_time=start_time,
            end_time=end_time,
        )
        return parts[""]

    def read_online(self, name: str, version: int) -> pa.Table:
        return self._fetch("read_online", name=name, version=version)[""]

    # queries ------------------------------------------------------------------------
    def run_query(
        self,
        spec: dict[str, Any],
        spine: pa.Table | None = None,
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        include_keys: bool = False,
    ) -> pa.Table:
        parts = self._fetch(
            "query",
            spine,
            query=spec,
            start_time=start_time,
            end_time=end_time,
            include_keys=include_keys,
        )
        return parts[""]

    def query_sql(self, spec: dict[str, Any]) -> str:
        return self._call("POST", self._project("queries", "sql"), json={"query": spec})["sql"]

    # feature views ------------------------------------------------------------------
    def create_feature_view(self, **fields: Any) -> FeatureViewInfo:
        return wire.view_info(self._call("POST", self._project("feature-views"), json=fields))

    def get_feature_view(self, name: str, version: int | None = None) -> FeatureViewInfo:
        params = {} if version is None else {"version": version}
        return wire.view_info(self._call("GET", self._project("feature-views", name), params=params))

    def list_feature_views(self, name: str | None = None) -> list[FeatureViewInfo]:
        params = {} if name is None else {"name": name}
        return [wire.view_info(v) for v in self._call("GET", self._project("feature-views"), params=params)]

    def delete_feature_view(self, name: str, version: int) -> None:
        self._call("DELETE", self._project("feature-views", name, "versions", version))

    def feature_view_schema(self, name: str, version: int) -> list[tuple[str, str]]:
        columns = self._call("GET", self._project("feature-views", name, "versions", version, "schema"))
        return [(c["name"], c["type"]) for c in columns]

    # feature vectors ----------------------------------------------------------------
    def init_serving(self, name: str, version: int) -> dict[str, Any]:
        return self._call("POST", self._project("feature-views", name, "versions", version, "serving"))

    def get_feature_vectors(
        self, name: str, version: int, entries: list[dict[str, Any]], allow_missing: bool = False
    ) -> pa.Table:
        path = self._project("feature-views", name, "versions", version, "vectors")
        body = {"entries": wire.to_jsonable(entries), "allow_missing": allow_missing}

        def read() -> pa.Table:
            try:
                response = self._http.post(path, json=body, headers={"accept": wire.ARROW_STREAM})
            except httpx.TransportError as exc:  # a read: safe to send again
                raise Unreachable(f"cannot reach {self.host}: {exc}") from exc
            _raise_for(response)
            return wire.ipc_to_table(response.content, "feature vectors")[0]

        return self._following(read)

    # training data ------------------------------------------------------------------
    def training_splits(
        self,
        name: str,
        version: int,
        options: dict[str, Any],
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> dict[str, pa.Table]:
        return self._fetch(
            "training_splits",
            spine,
            name=name,
            version=version,
            options=options,
            start_time=start_time,
            end_time=end_time,
        )

    def training_batches(
        self,
        name: str,
        version: int,
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> pa.RecordBatchReader:
        """The view's training data (no split) as the data plane streams it over Flight."""
        return self._stream(
            "training_splits",
            spine,
            name=name,
            version=version,
            options={},
            start_time=start_time,
            end_time=end_time,
        )

    def read_training_splits(
        self,
        name: str,
        version: int,
        options: dict[str, Any],
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
    ) -> tuple[TrainingDatasetInfo, dict[str, pa.Table]]:
        """The data plane records the version (its statistics from its own read), then
        the rows stream here: the query runs twice, once there and once for Flight."""
        info = self.create_training_dataset(name, version, "memory", options, start_time, end_time, spine, "")
        return info, self.training_splits(name, version, options, start_time, end_time, spine)

    def create_training_dataset(
        self,
        name: str,
        version: int,
        data_format: str,
        options: dict[str, Any],
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        spine: pa.Table | None,
        description: str,
    ) -> TrainingDatasetInfo:
        params = {
            "data_format": data_format,
            "options": options,
            "start_time": start_time,
            "end_time": end_time,
            "description": description,
        }
        path = self._project("feature-views", name, "versions", version, "training-datasets")
        if spine is None:
            body = self._call("POST", path, json=wire.to_jsonable(params))
        else:
            body = self._call("POST", path, **self._arrow(spine, params))
        return wire.training_dataset_info(body)

    def get_training_dataset(
        self, name: str, version: int, td_version: int
    ) -> tuple[TrainingDatasetInfo, dict[str, pa.Table]]:
        path = self._project("feature-views", name, "versions", version, "training-datasets", td_version)
        info = wire.training_dataset_info(self._call("GET", path))
        tables = self._fetch("training_dataset", name=name, version=version, td_version=td_version)
        return info, tables

    def list_training_datasets(self, name: str, version: int) -> list[TrainingDatasetInfo]:
        path = self._project("feature-views", name, "versions", version, "training-datasets")
        return [wire.training_dataset_info(t) for t in self._call("GET", path)]

    def delete_training_dataset(self, name: str, version: int, td_version: int) -> None:
        path = self._project("feature-views", name, "versions", version, "training-datasets", td_version)
        self._call("DELETE", path)

    # model registry -------------------------------------------------------------------
    def create_model(self, **fields: Any) -> ModelInfo:
        return wire.model_info(self._call("POST", self._project("models"), json=wire.to_jsonable(fields)))

    def put_model_file(self, name: str, version: int, path: str, data: bytes) -> ModelInfo:
        """One artifact as the raw body; the server checks it against the manifest's SHA-256.
        The path travels as one escaped segment, so '/' and '..' reach the server's check
        as written instead of being resolved by the URL."""
        body = self._call(
            "PUT",
            self._project("models", name, "versions", version, "files", quote(path, safe="")),
            content=data,
            headers={"content-type": "application/octet-stream"},
        )
        return wire.model_info(body)

    def read_model_file(self, name: str, version: int, path: str) -> bytes:
        try:
            path = self._project("models", name, "versions", version, "files", quote(path, safe=""))
            response = self._send("GET", path)
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"cannot reach {self.host}: {exc}") from exc
        _raise_for(response)
        return response.content

    def get_model(self, name: str, version: int | None = None) -> ModelInfo:
        params = {} if version is None else {"version": version}
        return wire.model_info(self._call("GET", self._project("models", name), params=params))

    def list_models(
        self,
        name: str | None = None,
        feature_view: str | None = None,
        feature_view_version: int | None = None,
    ) -> list[ModelInfo]:
        given = {"name": name, "feature_view": feature_view, "feature_view_version": feature_view_version}
        params = {k: v for k, v in given.items() if v is not None}
        return [wire.model_info(m) for m in self._call("GET", self._project("models"), params=params)]

    def delete_model(self, name: str, version: int) -> None:
        self._call("DELETE", self._project("models", name, "versions", version))

    # model deployments ----------------------------------------------------------------
    def create_deployment(self, **fields: Any) -> DeploymentInfo:
        return wire.deployment_info(self._call("POST", self._project("deployments"), json=fields))

    def get_deployment(self, name: str) -> DeploymentInfo:
        return wire.deployment_info(self._call("GET", self._project("deployments", name)))

    def list_deployments(self) -> list[DeploymentInfo]:
        return [wire.deployment_info(d) for d in self._call("GET", self._project("deployments"))]

    def start_deployment(self, name: str) -> DeploymentInfo:
        return wire.deployment_info(self._call("POST", self._project("deployments", name, "start")))

    def stop_deployment(self, name: str) -> DeploymentInfo:
        return wire.deployment_info(self._call("POST", self._project("deployments", name, "stop")))

    def delete_deployment(self, name: str) -> None:
        self._call("DELETE", self._project("deployments", name))

    def deployment_logs(self, name: str, tail: int) -> str:
        return self._call("GET", self._project("deployments", name, "logs"), params={"tail": tail})

    def predict(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", self._project("deployments", name, "predict"), json=wire.to_jsonable(body))
