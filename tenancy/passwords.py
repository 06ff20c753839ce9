"""Password hashing with Argon2id.

Passwords, unlike API keys, are short and guessable, so they get a slow, memory-hard
hash. The defaults are argon2-cffi's (RFC 9106 low-memory profile: 3 passes over
64 MiB, 4 lanes, ~0.1-0.7 s per hash depending on the CPU); services may tune them
through their settings, tests lower them. Hashes made with other parameters keep
verifying: the parameters are stored in the hash itself.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from granary_core.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024


def check_policy(password: str) -> None:
    """Refuse passwords too short to resist guessing, or absurdly long ones (hashing cost)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password: must be at least {MIN_LENGTH} characters, got {len(password)}")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password: must be at most {MAX_LENGTH} characters")


class Passwords:
    """Hash and verify passwords with one set of Argon2id parameters."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)

    def hash(self, password: str) -> str:
        check_policy(password)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash (key-only user) never matches."""
        if not stored_hash:
            # Spend the same time as a real check so a missing account is not observable.
            self._hasher.hash("x" * MIN_LENGTH)
            return False
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
