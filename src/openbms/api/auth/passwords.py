"""Passwords: Argon2id hashing with argon2-cffi, and the same time spent when the account does not exist.

No database, no request: the caller stores the hash (``openbms.db.accounts``).
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["Passwords"]


@functools.lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int, hash_len: int, salt_len: int,
                kind: Type) -> str:
    """A hash of a random password with these parameters: one per process and parameter set
    (hashing costs a quarter of a second of CPU; every API instance needs one)."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                            hash_len=hash_len, salt_len=salt_len, type=kind)
    return hasher.hash(secrets.token_urlsafe(16))


class Passwords:
    """Argon2id hashing with argon2-cffi; ``needs_rehash`` when the parameters changed."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        # Verified against when the account does not exist, so timing does not tell.
        h = self.hasher
        self._dummy = _dummy_hash(h.time_cost, h.memory_cost, h.parallelism, h.hash_len, h.salt_len, h.type)

    def hash(self, password: str) -> str:
        """A new Argon2id hash of ``password``."""
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: spend the same time, answer False)."""
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the current ones."""
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
