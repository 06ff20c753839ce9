"""Ids for everything a region creates: UUIDv7, as 36-character strings.

Several regions create catalog rows (projects, groups, views, datasets) that logical
replication copies into each other, and PostgreSQL does not replicate sequences: a
SERIAL key made in one region collides with one made in another. A UUIDv7 is unique
without coordination and sorts by creation time, so an index on it stays append-only
and "newest first" still orders by id.
"""

from __future__ import annotations

import uuid6

#: Length of an id's text form (``8-4-4-4-12`` hex digits): the width of id columns.
ID_LENGTH = 36


def new_id() -> str:
    """A fresh UUIDv7, monotonic within this process."""
    return str(uuid6.uuid7())
