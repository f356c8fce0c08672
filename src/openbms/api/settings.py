"""The API's settings: token lifetimes, lockout, rate limits, the secret, TLS, proxies, the clock.

Everything that reads the time reads ``now``, so tests move the clock instead
of sleeping. ``now`` is the wall: what protects access (token and session
lifetimes, lockouts, rate limits) runs in real time even when the building's
clock (the runtime's, ``ApiContext.building_now``) runs faster, as in the
accelerated demo.
"""

from __future__ import annotations

import ipaddress
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

    ``trusted_proxies`` are the addresses (or networks) of reverse proxies whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; with none (the
    default) those headers are ignored, so no client can choose the address
    that rate limits and the audit see. ``tls_cert`` and ``tls_key`` (PEM
    files, both or neither) make the API serve HTTPS itself, with
    ``Strict-Transport-Security: max-age=hsts_max_age`` on every answer.
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
    trusted_proxies: tuple[str, ...] = ()
    tls_cert: str | None = None
    tls_key: str | None = None
    #: Seconds browsers keep to HTTPS after an answer over TLS (0: no Strict-Transport-Security).
    hsts_max_age: int = 365 * 86400
    #: The largest request body (bytes), counted as it streams: 413 beyond; programs may be larger.
    max_body_bytes: int = 1 << 20
    max_program_body_bytes: int = 2 << 20
    #: The largest WebSocket frame uvicorn buffers (bytes); the protocol's own limit is 64 KiB a message.
    ws_max_frame_bytes: int = 128 << 10
    #: The wall clock of access (tokens, sessions, lockouts, rate limits); records use the runtime's.
    now: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        proxies = tuple(p.strip() for p in self.trusted_proxies if p.strip())
        for proxy in proxies:
            if proxy == "*":
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {proxy!r} is not an address or a network: expected e.g. "
                    "127.0.0.1, 10.0.0.0/8 or ::1 (or * for any, only behind a firewall)"
                ) from None
        object.__setattr__(self, "trusted_proxies", proxies)
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("certificate", "key") if self.tls_cert else ("key", "certificate")
            raise ValueError(f"TLS needs a certificate and a key: the {given} is set but not the {missing}")
        for what, path in (("certificate", self.tls_cert), ("key", self.tls_key)):
            if path is not None and not os.path.isfile(path):
                raise ValueError(f"the TLS {what} file {path} does not exist (expected a PEM file)")
        if self.hsts_max_age < 0:
            raise ValueError(f"hsts_max_age must be 0 or more seconds, not {self.hsts_max_age}")
        for name in ("max_body_bytes", "max_program_body_bytes", "ws_max_frame_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 1 << 30:
                raise ValueError(f"{name} must be a number of bytes from 1024 to 1 GiB, not {value!r}")

    @property
    def tls(self) -> bool:
        """Whether the API serves HTTPS itself."""
        return self.tls_cert is not None

    @classmethod
    def from_env(cls, **overrides: object) -> ApiSettings:
        """Settings from the environment, with overrides.

        OPENBMS_SECRET_KEY, OPENBMS_HISTORY_CACHE_MB, OPENBMS_TRUSTED_PROXIES
        (comma-separated addresses or networks), OPENBMS_TLS_CERT and OPENBMS_TLS_KEY.
        """
        values: dict[str, object] = {}
        if os.environ.get("OPENBMS_SECRET_KEY"):
            values["secret_key"] = os.environ["OPENBMS_SECRET_KEY"]
        proxies = os.environ.get("OPENBMS_TRUSTED_PROXIES", "").strip()
        if proxies:
            values["trusted_proxies"] = tuple(p for p in proxies.split(",") if p.strip())
        for name, key in (("OPENBMS_TLS_CERT", "tls_cert"), ("OPENBMS_TLS_KEY", "tls_key")):
            if os.environ.get(name, "").strip():
                values[key] = os.environ[name].strip()
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
