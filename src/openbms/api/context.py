"""What every request handler reaches through ``request.app.state``: the API's context.

Two clocks, on purpose. ``building_now()`` is the runtime's clock (the one
clock of the building: in the accelerated demo and in co-simulation it runs
faster than the wall): audit rows, ranges and the ``now`` the API tells its
clients. ``now()`` is the wall (``ApiSettings.now``): what protects access —
token and session lifetimes, lockouts, rate limits, caches — stays in real
time, or a demo at 3600× would expire a 15-minute token in a quarter second.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from openbms.api.auth.passwords import Passwords
from openbms.api.history_tail import HistoryTails
from openbms.api.metrics import Metrics
from openbms.api.ratelimit import RateLimiter
from openbms.api.settings import ApiSettings
from openbms.db import StateEngine, record_audit, site_ids
from openbms.historian import Historian
from openbms.runtime.clock import clock_rate
from openbms.service.protocols import Services

if TYPE_CHECKING:  # the principal module reads the context: no import cycle at run time
    from openbms.api.auth.principal import Principal

__all__ = ["ApiContext", "client_addr", "get_context", "iso_time"]

T = TypeVar("T")

_SITES_TTL = 2.0
#: Audited actions after which a cached sign-in may be wrong.
_ACCESS_CHANGES = ("auth.logout", "auth.password_change", "auth.refresh_reuse", "token.revoke", "user.")


@dataclass(eq=False)
class ApiContext:
    """Settings, state database, password hasher, rate limiter, metrics, and the runtime if any."""

    settings: ApiSettings
    passwords: Passwords
    limiter: RateLimiter
    metrics: Metrics = field(default_factory=Metrics)
    runtime: Services | None = None
    state_engine: StateEngine | None = None
    secret: str = ""
    startup_error: BaseException | None = None
    #: token → (principal, monotonic expiry): a request's sign-in without the database,
    #: for ``settings.auth_cache_s`` seconds (emptied when the API changes access).
    principals: dict[str, tuple[Principal, float, float]] = field(default_factory=dict)
    #: bumped whenever ``principals`` is emptied for an access change: a sign-in read
    #: before the change is then not kept
    access_generation: int = 0
    _inflight: dict[Any, asyncio.Future[Any]] = field(default_factory=dict)
    _tails: HistoryTails | None = None
    _sites: frozenset[str] = frozenset()
    _sites_read_at: float = float("-inf")

    @property
    def engine(self) -> StateEngine:
        """The state database: the one given, else the runtime's (open once the runtime started)."""
        engine = self.state_engine or (self.runtime.state if self.runtime is not None else None)
        if engine is None:
            raise RuntimeError(
                "the API has no state database: pass engine= or state_url=, or start the runtime"
            )
        return engine

    def now(self) -> float:
        """The wall clock (``ApiSettings.now``): tokens, sessions, lockouts, rate limits, caches."""
        return self.settings.now()

    def building_now(self) -> float:
        """The runtime's clock when a runtime is attached, else the wall: what records are
        stamped with and what ranges are measured from."""
        return self.runtime.clock.now() if self.runtime is not None else self.settings.now()

    def building_rate(self) -> float:
        """Seconds of ``building_now`` per real second (1 without a runtime; see ``clock_rate``)."""
        return clock_rate(self.runtime.clock) if self.runtime is not None else 1.0

    def clock_fields(self) -> dict[str, Any]:
        """What the API tells clients of its clock (health, the WebSocket's ``clock`` message):
        ``now`` (ISO 8601 with the UTC offset), ``now_ts`` (epoch s) and ``clock_rate``."""
        now = self.building_now()
        return {"now": iso_time(now), "now_ts": now, "clock_rate": self.building_rate()}

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking (database, hashing) work in a worker thread."""
        return await run_in_threadpool(functools.partial(fn, *args, **kwargs))

    async def once(self, key: Any, fn: Callable[..., T], /, *args: Any) -> T:
        """``run(fn, *args)``, shared by every caller asking with ``key`` while it runs.

        When a cache expires under load, fifty requests in flight would otherwise
        all read the same rows at once, each in a worker thread of its own.
        """
        pending = self._inflight.get(key)
        if pending is None:
            pending = self._inflight[key] = asyncio.ensure_future(self.run(fn, *args))
            pending.add_done_callback(lambda _f: self._inflight.pop(key, None))
        return await asyncio.shield(pending)

    def history_tails(self, historian: Historian) -> HistoryTails:
        """The cache of recent raw history over ``historian`` (a new one when the historian changed)."""
        tails = self._tails
        if tails is None or tails.historian is not historian:
            if tails is not None:
                tails.clear()
            budget = int(self.settings.history_cache_mb * (1 << 20))
            tails = self._tails = HistoryTails(historian, budget_bytes=budget)
        return tails

    async def close(self) -> None:
        """Release what the context holds (at the app's shutdown)."""
        if self._tails is not None:
            await self._tails.close()
            self._tails = None

    def forget_principals(self) -> None:
        """Empty the sign-in cache (and have sign-ins being read now not kept)."""
        self.principals.clear()
        self.access_generation += 1

    async def audit(
        self,
        actor: str,
        action: str,
        target: str = "",
        details: dict[str, Any] | None = None,
        remote_addr: str | None = None,
    ) -> None:
        """Append to the audit log, stamped by the building's clock (a change of who may do what
        also empties the sign-in cache)."""
        if action.startswith(_ACCESS_CHANGES):
            self.forget_principals()
        await self.run(
            record_audit, self.engine, actor[:200], action, target[:200], details, remote_addr,
            self.building_now(),
        )

    async def site_exists(self, site_id: str) -> bool:
        """Whether the state database knows ``site_id`` (read at most every 2 s)."""
        now = self.now()
        if site_id in self._sites and now - self._sites_read_at <= _SITES_TTL:
            return True
        asked = time.monotonic()
        while True:
            # A read that began before this request may predate the site: then read again.
            names, began = await self.once("sites", self._read_sites)
            if site_id in names or began >= asked:
                break
        self._sites = frozenset(names)
        self._sites_read_at = now
        return site_id in self._sites

    def forget_sites(self) -> None:
        """Re-read the site list on the next check (call after creating or deleting a site)."""
        self._sites_read_at = float("-inf")

    def _read_sites(self) -> tuple[list[str], float]:
        """The site ids, and when (monotonic) the read began."""
        began = time.monotonic()
        return site_ids(self.engine), began


def iso_time(ts: float) -> str:
    """Epoch seconds as ISO 8601 in UTC with its offset (``+00:00``), to the millisecond."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def get_context(conn: HTTPConnection) -> ApiContext:
    """The context of the app serving ``conn``."""
    ctx: ApiContext = conn.app.state.openbms
    return ctx


def client_addr(conn: HTTPConnection) -> str | None:
    """The client's address (behind a proxy, run uvicorn with --proxy-headers to get the real one)."""
    return conn.client.host if conn.client else None
