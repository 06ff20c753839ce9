"""Who is calling and what they may reach: one rule, used by every service."""

from __future__ import annotations

from dataclasses import dataclass

from granary.errors import PermissionDenied


@dataclass(frozen=True)
class Principal:
    """The caller an API key identifies: bound to exactly one project."""

    key_id: str
    project: str


def authorize(principal: Principal, project: str) -> None:
    """Refuse any project but the key's own; the message names neither secret nor owner."""
    if principal.project != project:
        raise PermissionDenied(
            f"API key {principal.key_id} is not allowed to access project '{project}'"
        )
