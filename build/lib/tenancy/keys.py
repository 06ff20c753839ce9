"""API key format and hashing.

A key is ``gk_<key id>_<secret>``: the key id (public, 12 hex chars) finds the stored
record with one indexed lookup, the secret (32 bytes, urlsafe base64) is what proves
possession. Only SHA-256 of the whole key is stored: keys are long random strings, so
a fast hash is safe here (no dictionary to attack), and it keeps checks cheap on the
hot path of every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "gk"


def generate_key() -> tuple[str, str]:
    """A new key as (key id, full plaintext key); the plaintext is shown once."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    """The key id part, or None when the text is not shaped like a Granary key."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)
