"""The online store seam: the newest row per primary key, for low-latency lookups.

One store object serves one project (its keys start with the project); a region opens
one per server and gives each project ``for_project``, which shares the server's
connections. ``ping``, ``count``, ``stored_keys`` and ``drop_project`` are what the
region's health check, usage reports and project deletion ask, so nothing outside an
adapter speaks the store's own protocol.

The engine calls ``write`` after every insert into an online-enabled group (and
restores the offline table if it raises), ``remove`` for ``remove_rows`` and ``drop``
when a group is deleted. Serving asks for the rows of many keys of many groups with
``get_rows``, which an adapter must answer in one round trip to its server, whatever
the number of keys and groups: that is what keeps a batch of feature vectors cheap.

Rules every adapter keeps (tests/online/test_conformance.py checks them on each):

- An older event never overwrites a newer one, whatever the order of inserts and even
  with concurrent writers; an equal event time replaces (as offline upserts do).
- A row becomes visible whole: never some features of one insert and some of another.
- A group's ``ttl_seconds`` hides rows whose event time (or write time, for groups
  without event time) is older than ``ttl_seconds`` before the moment of reading.
- Server errors surface as :class:`granary_core.errors.BackendUnavailable`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from granary_core.specs import FeatureGroupInfo


class OnlineRows(Protocol):
    """Rows for the keys asked for, in the same order, decoded on demand.

    Three decodings of the same rows: ``arrays`` (columnar, for transformations and
    Arrow results), ``objects`` (Python values of many rows as one matrix) and ``pylist``
    (Python values of a few rows: building arrays costs microseconds per column, more
    than decoding one row). All give the reader's columns in its order, and must give
    equal values (tests check it).
    """

    @property
    def complete(self) -> bool:
        """True when every key has a row (cheaper than ``found.all()`` for a few keys)."""
        ...

    @property
    def found(self) -> np.ndarray:
        """bool per key: False where the store has no (live) row."""
        ...

    def arrays(self) -> list[pa.Array]:
        """One array per column; missing rows are null."""
        ...

    def objects(
        self, columns: tuple[int, ...] | None = None, out: np.ndarray | None = None, place: Any = None
    ) -> np.ndarray:
        """A (keys x columns) object matrix of Python values; missing rows all None.
        Only the reader's columns at ``columns`` (default all), in that order; put in
        ``out`` at columns ``place`` when given (else a new matrix)."""
        ...

    def pylist(self, columns: tuple[int, ...] | None = None) -> list[list[Any] | None]:
        """One list of values per key, None where missing (only the reader's columns at
        ``columns``, default all)."""
        ...


class GroupReader(Protocol):
    """A prepared lookup of one group's rows: key encoding and decoding, made once."""

    info: FeatureGroupInfo
    columns: list[str]

    def keys(
        self, columns: Sequence[Sequence[Any]], names: Sequence[str], memo: dict[Any, Any] | None = None
    ) -> list[Hashable]:
        """The store keys of many primary key values, one list per key column (in
        ``info.primary_key`` order), e.g. ``[[1, 2, 3]]`` for three entries. Readers of one
        request share ``memo`` (what is common to groups keyed by the same entry names).

        Raises InvalidInput naming ``names`` (the caller's names for the key columns)
        when a value has the wrong type.
        """
        ...


class OnlineStore(Protocol):
    def write(self, info: FeatureGroupInfo, table: pa.Table, overwrite: bool = False) -> None:
        """Upsert the newest row per primary key of ``table``; ``overwrite`` replaces all rows."""
        ...

    def remove(self, info: FeatureGroupInfo, keys: pa.Table) -> None:
        """Delete stored rows whose primary key and event time match a row of ``keys``."""
        ...

    def drop(self, info: FeatureGroupInfo) -> None:
        """Delete every row of the group."""
        ...

    def read_all(self, info: FeatureGroupInfo) -> pa.Table:
        """Every live row of the group, with the group's schema."""
        ...

    def reader(self, info: FeatureGroupInfo, columns: list[str] | None = None) -> GroupReader:
        """Prepare lookups of ``columns`` (default all) of the group."""
        ...

    def get_rows(self, requests: Sequence[tuple[GroupReader, list[Hashable]]]) -> list[OnlineRows]:
        """Rows for the keys of each request, all fetched in one round trip."""
        ...

    # the project as a whole: health, usage and deletion ----------------------------------
    def for_project(self, project: str) -> OnlineStore:
        """The same server and connections, keyed under ``project`` instead."""
        ...

    def ping(self) -> None:
        """Return when the server answers; raise BackendUnavailable naming it otherwise."""
        ...

    def count(self) -> int:
        """How many rows the project stores, in all its groups (expired ones the server
        has not freed yet included: they still take space)."""
        ...

    def stored_keys(self, limit: int) -> list[str]:
        """At most ``limit`` of the project's stored keys, to show what is left of it."""
        ...

    def drop_project(self) -> None:
        """Delete every row of the project, in all its groups."""
        ...

    def holds(self, mark: str) -> bool:
        """Whether ``mark`` (stored by :meth:`set_mark`) is still there: False once the
        store lost what it held (a server restarted without persistence), so whoever
        wrote it knows to write everything again."""
        ...

    def set_mark(self, mark: str) -> None:
        """Store ``mark`` (outside every project's keys)."""
        ...

    def close(self) -> None:
        """Release the server's connections (a ``for_project`` view leaves them to its
        parent, which owns them)."""
        ...
