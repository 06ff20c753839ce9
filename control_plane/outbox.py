"""The region outbox: region work that committed project changes promised, delivered later.

Creating or deleting a project commits the project row and an :class:`OutboxEntry` in
one transaction and answers; nothing in a request waits for a region. The
:class:`Dispatcher` then delivers each entry to the region's admin API, retries with
backoff while the region refuses or is unreachable, and records the outcome on the
project (``provisioning`` → ``ready``, ``deleting`` → row removed, or ``failed`` with
``last_error``). Entries are rows, so a restart loses none.

Several dispatchers (one per control plane process) may run: each claims an entry with
``FOR UPDATE SKIP LOCKED``, and a project's entries go one at a time, oldest first, so a
delete never overtakes the provisioning it undoes. Project rows are only ever changed
by conditional updates (``WHERE status = ...``), never locked across a region call: a
user's DELETE that lands mid-delivery wins over a late ``ready``.

A failover adds a third kind: a **fence** for the region the project was taken from.
That region is dark when the entry is written; the entry is tried every
``fence_retry_seconds`` for as long as it takes, so the moment the region answers
again it stops taking the project's writes under its old epoch (a client whose routing
is as stale as the region's could otherwise still write there). A project's entries
wait for each other per region only: a fence waiting for a dark region holds up
nothing in the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Select, delete, exists, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from control_plane.models import OutboxEntry, Project
from control_plane.regions import Regions
from granary_core.errors import BackendUnavailable, GranaryError, NotFound

log = logging.getLogger(__name__)

PROVISION = "provision"
DELETE = "delete"
FENCE = "fence"
#: The project status an entry's action moves a project out of (a fence moves none).
_WAITING_STATUS = {PROVISION: "provisioning", DELETE: "deleting"}

#: How long a region's mirror may go on copying a topic whose source was just deleted
#: (a few of MirrorMaker's topic refreshes, one second each in Granary's regions).
MIRROR_SETTLE_SECONDS = 3.0


class Dispatcher:
    """Delivers outbox entries to regions; ``run_until_idle`` in tests, ``run`` in the app.

    Args:
        sessions: the control plane database.
        regions: the region clients (their admin APIs).
        clock: seconds since the epoch; the backoff schedule is kept on it, so tests step it.
        max_attempts: failed deliveries before the project is marked ``failed``.
        backoff_seconds: wait after the first failure; doubles with each further one.
        max_backoff_seconds: the longest wait between two attempts.
        fence_retry_seconds: the wait between two attempts of a fence, which never gives up.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        regions: Regions,
        *,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 12,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        fence_retry_seconds: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._regions = regions
        self._clock = clock
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.fence_retry_seconds = fence_retry_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    # ------------------------------------------------------------------ writing
    def enqueue(self, session: Session, project: Project, action: str, region: str | None = None) -> None:
        """Add the entry to ``session``'s transaction: it exists iff that transaction commits.
        ``region``: where it goes, when not the project's region (a fence)."""
        session.add(
            OutboxEntry(
                project_id=project.id,
                region=region or project.region,
                action=action,
                next_attempt_at=self.now(),
            )
        )

    def notify(self) -> None:
        """Wake the background loop now (after a commit), instead of at its next poll."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    # ------------------------------------------------------------------ delivering
    def deliver_one(self) -> bool:
        """Deliver the oldest due entry no other dispatcher holds; False when none is due."""
        now = self.now()
        with self._sessions() as session, session.begin():
            entry = session.scalars(self._due(now).limit(1).with_for_update(skip_locked=True)).first()
            if entry is None:
                return False
            try:
                self._deliver(session, entry)
            except GranaryError as exc:
                self._failed(session, entry, exc.message, now)
            else:
                entry.done_at, entry.outcome, entry.last_error = now, "done", None
        return True

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Deliver until no entry is due, waiting out entries another dispatcher is delivering."""
        deadline = time.monotonic() + timeout
        while True:
            if self.deliver_one():
                continue
            with self._sessions() as session:
                if session.scalars(self._due(self.now()).limit(1)).first() is None:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"outbox still has due entries after {timeout}s")
            time.sleep(0.05)

    async def run(self, poll_seconds: float) -> None:
        """The app's background loop: deliver while entries are due, then sleep until
        notified or ``poll_seconds`` pass (retries come due by time, not by notice)."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while True:
            try:
                busy = await run_in_threadpool(self.deliver_one)
            except Exception:  # the database is down, or a bug: log, keep the loop alive
                log.exception("region outbox: delivery failed")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll_seconds)
                self._wake.clear()

    # ------------------------------------------------------------------ internals
    def now(self) -> dt.datetime:
        """The dispatcher's time, in which entries come due."""
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    @staticmethod
    def _due(now: dt.datetime) -> Select[tuple[OutboxEntry]]:
        """Undone entries whose time has come and that no older undone entry of the same
        project in the same region is ahead of."""
        earlier = aliased(OutboxEntry)
        ahead = exists().where(
            earlier.project_id == OutboxEntry.project_id,
            earlier.region == OutboxEntry.region,
            earlier.done_at.is_(None),
            earlier.id < OutboxEntry.id,
        )
        return (
            select(OutboxEntry)
            .where(OutboxEntry.done_at.is_(None), OutboxEntry.next_attempt_at <= now, ~ahead)
            .order_by(OutboxEntry.id)
        )

    def _deliver(self, session: Session, entry: OutboxEntry) -> None:
        project = session.get(Project, entry.project_id)
        if project is None:  # deleted already (by a tenant deletion, or an earlier entry)
            return
        if entry.action == PROVISION:
            layout = self._regions.get(entry.region).provision_project(project.metadata_scope)
            where = Project.id == project.id
            session.execute(
                update(Project)
                .where(where)
                .values(
                    kafka_topic_prefix=layout.group_topic_prefix,
                    redis_key_prefix=layout.online_key_prefix,
                    s3_prefixes=list(layout.object_prefixes),
                    last_error=None,
                )
            )
            provisioning = Project.status == "provisioning"
            session.execute(update(Project).where(where, provisioning).values(status="ready"))
        elif entry.action == DELETE:
            clean_region(self._regions, project)
            session.execute(delete(Project).where(Project.id == project.id, Project.status == "deleting"))
        elif entry.action == FENCE:
            if project.region != entry.region:  # moved back there since: nothing to fence
                fenced = self._regions.get(entry.region).fence(project.metadata_scope, project.epoch)
                log.info(
                    "region outbox: fenced project %s in %s",
                    project.id,
                    entry.region,
                    extra={"region": entry.region, "fenced_epoch": fenced, "epoch": project.epoch},
                )
        else:
            raise ValueError(f"region outbox entry {entry.id}: unknown action {entry.action!r}")

    def _failed(self, session: Session, entry: OutboxEntry, message: str, now: dt.datetime) -> None:
        entry.attempts += 1
        entry.last_error = message
        if entry.action == FENCE:  # the region is still dark: ask again soon, for as long as it takes
            entry.next_attempt_at = now + dt.timedelta(seconds=self.fence_retry_seconds)
            return
        waiting = Project.status == _WAITING_STATUS[entry.action]
        changes: dict[str, str] = {"last_error": message}
        if entry.attempts >= self.max_attempts:
            entry.done_at, entry.outcome = now, "failed"
            changes["status"] = "failed"
        else:
            wait = min(self.backoff_seconds * 2 ** (entry.attempts - 1), self.max_backoff_seconds)
            entry.next_attempt_at = now + dt.timedelta(seconds=wait)
        session.execute(update(Project).where(Project.id == entry.project_id, waiting).values(**changes))
        log.warning(
            "region outbox: %s of project %s failed",
            entry.action,
            entry.project_id,
            extra={"attempts": entry.attempts, "region": entry.region, "error": message},
        )


def clean_region(regions: Regions, project: Project) -> None:
    """Remove the project from its home region and its standbys, and verify that nothing
    of it is left in any of them.

    The home goes first: its answer names the project's groups, which a standby's
    replicated catalog may no longer name by the time it is asked. Where there are
    standbys, each region is asked twice, :data:`MIRROR_SETTLE_SECONDS` apart: a mirror that was copying a
    topic from a region not yet cleaned can make its copy again until it sees the source
    gone. Failures, and residue found by the check, raise ``BackendUnavailable`` naming
    what is left; trying again finishes the job (every step is idempotent).
    """
    names = [project.region, *(project.standbys or ())]
    try:
        clients = [regions.get(name) for name in names]
    except NotFound as exc:
        raise BackendUnavailable(f"project '{project.name}': {exc.message}") from exc
    scope = project.metadata_scope
    home, standbys = clients[0], clients[1:]
    group_ids = home.delete_project(scope)
    for standby in standbys:
        group_ids = sorted({*group_ids, *standby.delete_project(scope, group_ids, copy=True)})
    if standbys:
        time.sleep(MIRROR_SETTLE_SECONDS)
        for client in clients:
            client.delete_project(scope, group_ids, copy=client is not home)
    for name, client in zip(names, clients, strict=True):
        residue = client.residue(scope, group_ids)
        if not residue.empty():
            raise BackendUnavailable(
                f"project '{project.name}': region '{name}' still holds {residue}; "
                "it stays 'deleting' and the deletion is tried again"
            )
