"""Tenancy tables, with their own SQLAlchemy metadata and Alembic history.

They live in the region's metadata database beside the feature-store tables but are
migrated separately (version table ``tenancy_alembic_version``) so the control plane
can own and grow them without touching the data plane's migrations.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from granary_core.sqltypes import UTCDateTime, utcnow


class TenancyBase(DeclarativeBase):
    pass


class ApiKeyRecord(TenancyBase):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
