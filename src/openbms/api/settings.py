"""The API's settings: token lifetimes, lockout, rate limits, the secret, and the clock.

Everything that reads the time reads ``now``, so tests move the clock instead
of sleeping.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ApiSettings", "Rate"]


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket: ``burst`` requests at once, refilled at ``per_minute`` a minute."""

    burst: int
    per_minute: float


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """How the API authenticates, limits and times things.

    ``secret_key`` signs access tokens (HS256). None means: $OPENBMS_SECRET_KEY,
    else a random key kept in the state database so restarts keep sessions.
    """

    secret_key: str | None = None
    algorithm: str = "HS256"
    issuer: str = "openbms"
    access_ttl: float = 15 * 60
    refresh_ttl: float = 7 * 86400
    password_min_length: int = 10
    lockout_failures: int = 5
    lockout_window: float = 15 * 60
    lockout_duration: float = 15 * 60
    login_rate_ip: Rate = Rate(burst=20, per_minute=20)
    login_rate_account: Rate = Rate(burst=10, per_minute=10)
    write_rate_user: Rate = Rate(burst=60, per_minute=600)
    write_rate_ip: Rate = Rate(burst=120, per_minute=1200)
    api_token_max_days: int = 3650
    #: Seconds a token's sign-in (user, session, grants) is reused without the database.
    auth_cache_s: float = 2.0
    #: Memory for recent raw history kept encoded for trend requests (0: none); see history_tail.
    history_cache_mb: float = 64.0
    docs: bool = True
    now: Callable[[], float] = field(default=time.time, compare=False)

    @classmethod
    def from_env(cls, **overrides: object) -> ApiSettings:
        """Settings from the environment (OPENBMS_SECRET_KEY, OPENBMS_HISTORY_CACHE_MB), with overrides."""
        values: dict[str, object] = {}
        if os.environ.get("OPENBMS_SECRET_KEY"):
            values["secret_key"] = os.environ["OPENBMS_SECRET_KEY"]
        cache = os.environ.get("OPENBMS_HISTORY_CACHE_MB", "").strip()
        if cache:
            try:
                values["history_cache_mb"] = float(cache)
            except ValueError:
                raise ValueError(
                    f"OPENBMS_HISTORY_CACHE_MB must be a number of megabytes (0 for none), not {cache!r}"
                ) from None
            if not values["history_cache_mb"] >= 0:  # type: ignore[operator]
                raise ValueError(f"OPENBMS_HISTORY_CACHE_MB must be 0 or more, not {cache!r}")
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
