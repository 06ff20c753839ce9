"""The drill's workload: clients of one tenant writing and reading through the SDK
(logged in at the control plane, so they follow the routing like a user's code), each
operation logged with its start, end, result, region and epoch (:class:`~chaos.checks.Op`).

Bounded: each client stops after ``max_ops`` operations or when stopped."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from chaos.checks import Op

UNKNOWN_OUTCOME = "may or may not have taken effect"


def rows(keys: list[int]) -> pd.DataFrame:
    """One row per key: its spend is the key, its event time the key's second of 2026."""
    return pd.DataFrame(
        {
            "user": keys,
            "ts": pd.to_datetime(["2026-01-01"] * len(keys), utc=True) + pd.to_timedelta(keys, unit="s"),
            "spend": [float(k) for k in keys],
        }
    )


@dataclass
class Clock:
    """The drill's clock: seconds since it started, and the wall time it started at."""

    started: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return time.monotonic() - self.started

    def from_wall(self, epoch_seconds: float) -> float:
        return epoch_seconds - self.wall


class Workload:
    """``writers`` writing clients and one online and one offline reader.

    Args:
        connect: a new feature store handle (its own SDK client) of the drill's tenant.
        regions: data plane URL -> region name, to log where a write was acknowledged.
        first_key: keys written are first_key, first_key + 1, ... (unique per write).
        seeded: keys written before the workload starts, which the online reader reads.
    """

    def __init__(
        self,
        connect: Callable[[], object],
        regions: dict[str, str],
        clock: Clock,
        writers: int = 2,
        first_key: int = 1000,
        seeded: tuple[int, ...] = tuple(range(10)),
        max_ops: int = 3000,
        write_pause_s: float = 0.02,
        online_pause_s: float = 0.05,
        offline_pause_s: float = 0.5,
    ) -> None:
        self._connect, self._regions, self.clock = connect, regions, clock
        self._writers, self._max_ops = writers, max_ops
        self._pauses = {"write": write_pause_s, "online": online_pause_s, "offline": offline_pause_s}
        self._next_key = first_key
        self._seeded = seeded
        self._key_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ops: list[Op] = []
        self._ops_lock = threading.Lock()
        #: (start, end) on the drill's clock of each time this process stood still.
        self.pauses: list[tuple[float, float]] = []

    # lifecycle --------------------------------------------------------------------
    def start(self) -> Workload:
        targets = [self._write] * self._writers + [self._read_online, self._read_offline, self._watch]
        self._threads = [
            threading.Thread(target=t, daemon=True, name=f"drill-{i}") for i, t in enumerate(targets)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Op]:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)
        return self.ops

    def acknowledged(self) -> list[int]:
        with self._ops_lock:
            return [op.key for op in self.ops if op.kind == "write" and op.ok]

    def wait_for_writes(self, n: int, timeout: float = 120.0) -> None:
        """Until ``n`` more writes are acknowledged than now (bounded)."""
        target = len(self.acknowledged()) + n
        deadline = time.monotonic() + timeout
        while len(self.acknowledged()) < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the workload did not get {n} writes acknowledged within {timeout:.0f} s")
            time.sleep(0.05)

    def _watch(self, tick_s: float = 0.05, late_s: float = 0.25) -> None:
        """Note when this process stood still (a ``tick_s`` sleep woke more than ``late_s``
        late: a garbage collection, a starved machine): the clients could not measure the
        service then, and the availability checks leave that time out."""
        while not self._stop.is_set():
            before = self.clock()
            time.sleep(tick_s)
            woke = self.clock()
            if woke - before > tick_s + late_s:
                self.pauses.append((before + tick_s, woke))

    # clients ----------------------------------------------------------------------
    def _log(self, op: Op) -> None:
        with self._ops_lock:
            self.ops.append(op)

    def _client(self):
        """The tenant's group and view through a client of its own (retried: the drill may
        have started the client during an outage)."""
        while not self._stop.is_set():
            try:
                fs = self._connect()
                return fs, fs.get_feature_group("spend", 1), fs.get_feature_view("spend_view", 1)
            except Exception:
                time.sleep(0.2)
        return None

    def write_once(self, key: int) -> Op:
        """One write of ``key`` by a client that logs in now (its routing fresh from the
        control plane), logged like the writers' own."""
        start = self.clock()
        try:
            fs = self._connect()
            group = fs.get_feature_group("spend", 1)
            group.insert(rows([key]), wait=False)
        except Exception as exc:
            op = Op("write", start, self.clock(), False, key, error=_kind(exc), unknown=_indefinite(exc))
        else:
            backend = group._backend
            region = self._regions.get(backend.host.rstrip("/"))
            op = Op("write", start, self.clock(), True, key, region=region, epoch=backend.epoch)
        self._log(op)
        return op

    def _write(self) -> None:
        client = self._client()
        if client is None:
            return
        _, group, _ = client
        backend = group._backend
        for _ in range(self._max_ops):
            if self._stop.is_set():
                return
            with self._key_lock:
                key, self._next_key = self._next_key, self._next_key + 1
            start = self.clock()
            try:
                group.insert(rows([key]), wait=False)
            except Exception as exc:
                self._log(
                    Op("write", start, self.clock(), False, key, error=_kind(exc), unknown=_indefinite(exc))
                )
            else:
                region = self._regions.get(backend.host.rstrip("/"))
                self._log(Op("write", start, self.clock(), True, key, region=region, epoch=backend.epoch))
            time.sleep(self._pauses["write"])

    def _read_online(self) -> None:
        client = self._client()
        if client is None:
            return
        _, _, view = client
        with contextlib.suppress(Exception):
            view.init_serving()
        for n in range(self._max_ops):
            if self._stop.is_set():
                return
            key = self._seeded[n % len(self._seeded)]  # written before the drill: always online
            start = self.clock()
            try:
                view.get_feature_vector({"user": key})
            except Exception as exc:
                self._log(Op("online", start, self.clock(), False, key, error=_kind(exc)))
            else:
                self._log(Op("online", start, self.clock(), True, key))
            time.sleep(self._pauses["online"])

    def _read_offline(self) -> None:
        client = self._client()
        if client is None:
            return
        _, group, _ = client
        for _ in range(self._max_ops):
            if self._stop.is_set():
                return
            start = self.clock()
            try:
                group.read()
            except Exception as exc:
                self._log(Op("offline", start, self.clock(), False, error=_kind(exc)))
            else:
                self._log(Op("offline", start, self.clock(), True))
            time.sleep(self._pauses["offline"])


def _indefinite(exc: Exception) -> bool:
    """Whether a failed write may still have taken effect (Jepsen's "info"): a call cut
    mid-way, or a server error (5xx) answered after the write may have reached Kafka.
    Only a refusal (4xx: invalid, moved, fenced, over quota...) is known not to have."""
    status = getattr(exc, "status", 500)
    return UNKNOWN_OUTCOME in str(exc) or not isinstance(status, int) or status >= 500


def _kind(exc: Exception) -> str:
    """An error's kind for the report: its Granary code, else its class."""
    return getattr(exc, "code", None) or type(exc).__name__
