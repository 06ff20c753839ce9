"""Unit of work: one transaction per write, rolled back unless ``commit()`` is called.

Work that must follow a successful commit (mail, access announcements) is registered
with :meth:`UnitOfWork.after_commit` and runs only once the rows are durable; its
failures propagate to the caller, so nothing is dropped silently. Region work is not
done after commit but promised inside it (:meth:`UnitOfWork.enqueue`, the outbox):
a region that is slow or dark holds no request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from control_plane.access_events import ACCESS_ACTIONS
from control_plane.models import AuditEvent, Project
from control_plane.outbox import Dispatcher
from granary_core.errors import BackendUnavailable


class UnitOfWork:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        on_access_change: Callable[[str | None], Any] | None = None,
        outbox: Dispatcher | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._on_access_change = on_access_change
        self._after: list[Callable[[], Any]] = []
        self.committed = False
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self._after = []
        self.committed = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if not self.committed:
                self.session.rollback()
        finally:
            self.session.close()

    def after_commit(self, fn: Callable[[], Any]) -> None:
        self._after.append(fn)

    def audit(self, event: AuditEvent) -> None:
        """Record a mutation in the same transaction as the mutation itself.

        A change of access (see ``ACCESS_ACTIONS``) is announced to the data planes
        once the transaction commits.
        """
        self.session.add(event)
        if self._on_access_change is not None and event.action in ACCESS_ACTIONS:
            notify, tenant_id = self._on_access_change, event.tenant_id
            self._after.append(lambda: notify(tenant_id))

    def enqueue(self, project: Project, action: str, region: str | None = None) -> None:
        """Promise region work (``outbox.PROVISION``, ``DELETE`` or ``FENCE`` of ``region``)
        in this transaction; the dispatcher is woken once it commits."""
        if self._outbox is None:
            raise RuntimeError("this unit of work has no outbox: build it with outbox=")
        self._outbox.enqueue(self.session, project, action, region)
        self._after.append(self._outbox.notify)

    def commit(self) -> None:
        try:
            self.session.commit()
        except OperationalError as exc:
            raise BackendUnavailable(f"control plane database: commit failed: {exc.orig}") from exc
        self.committed = True
        pending, self._after = self._after, []
        for fn in pending:
            fn()

    def rollback(self) -> None:
        self.session.rollback()
