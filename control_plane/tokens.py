"""One-time tokens mailed to people: sign-up verification, invitations, password resets.

A token starts with a prefix naming its use (``gv_``, ``gi_``, ``gr_``), so one can never
stand in for another, and a command line never takes it for an option (a bare
``token_urlsafe`` starts with ``-`` once in 64 draws). Only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets

VERIFY, INVITE, RESET = "gv", "gi", "gr"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(kind: str) -> tuple[str, str]:
    """A fresh token of ``kind`` and the hash to store for it."""
    token = f"{kind}_{secrets.token_urlsafe(32)}"
    return token, token_hash(token)
