"""The audit of refusals: who was refused what, on which site, and why — without a flood filling the database.

A refusal for lack of permission (403), for a site the caller holds no role
on (the 404 that hides it), or for an API token where a login is needed, is
an ``access.denied`` audit row. Rows are folded per window (a minute, on the
API's clock)::

    refusal ──▶ key (actor, method, route, site, reason)
                  │ first in this window ──▶ INSERT a row, count 1
                  │ again                ──▶ count += 1 in memory; the row is
                  │                          updated at most every ``update_every`` s,
                  ▼                          and when read (GET /audit) or at shutdown
              a caller's 21st key in one window folds into its "(other refusals)" key

So a flood of refusals writes at most ``per_actor + 1`` rows per user per
minute, whatever it varies (routes, made-up site ids). Only authenticated
callers get here: anonymous requests are refused 401 before any permission
is checked, and failed logins have their own audit and rate limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from openbms.db import StateEngine, write_audit

__all__ = ["ACTION", "Refusal", "Refusals"]

log = logging.getLogger(__name__)

ACTION = "access.denied"
_OTHER = "(other refusals)"


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused request: who, what (method and route), where (site), why, and the answer."""

    actor: str
    method: str
    route: str
    path: str
    site: str | None
    reason: str
    status: int
    permission: str | None = None
    via: str = "session"
    remote_addr: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.actor, self.method, self.route, self.site or "", self.reason)


@dataclass(slots=True)
class _Row:
    window: float
    details: dict[str, Any]
    row_id: int | None = None
    written: int = 0
    written_at: float = 0.0
    keys: set[tuple[str, ...]] = field(default_factory=set)


class Refusals:
    """Folds refusals into bounded audit rows (see the module docstring)."""

    def __init__(self, *, window: float = 60.0, per_actor: int = 20, update_every: float = 10.0) -> None:
        self.window = window
        self.per_actor = per_actor
        self.update_every = update_every
        self._rows: dict[tuple[str, ...], _Row] = {}
        self._actor_keys: dict[str, tuple[float, set[tuple[str, ...]]]] = {}
        #: Refusals seen since the start (a metric).
        self.count = 0

    def _window_of(self, now: float) -> float:
        return now - now % self.window

    def note(self, refusal: Refusal, now: float, at: float | None = None) -> tuple[list[_Row], _Row | None]:
        """Count ``refusal``: the rows to write now (ended windows, throttled updates), and a new one.

        ``now`` (the wall) runs the windows; ``at`` (the building's clock, as the row's ``ts``;
        ``now`` when not given) is what the row's ``first`` and ``last`` say."""
        at = now if at is None else at
        self.count += 1
        window = self._window_of(now)
        due = []
        for old in [k for k, r in self._rows.items() if r.window < window]:
            due.append(self._rows.pop(old))  # its window ended: its last count is written
        seen_window, keys = self._actor_keys.get(refusal.actor, (window, set()))
        if seen_window != window:
            keys = set()
        key: tuple[str, ...] = refusal.key
        if key not in keys and len(keys) >= self.per_actor:
            key = (refusal.actor, "*", _OTHER, "", _OTHER)
        keys.add(key)
        self._actor_keys[refusal.actor] = (window, keys)
        for actor in [a for a, (w, _k) in self._actor_keys.items() if w < window]:
            del self._actor_keys[actor]
        row = self._rows.get(key)
        if row is None:
            details: dict[str, Any] = {
                "method": refusal.method,
                "route": refusal.route,
                "path": refusal.path[:200],
                "site": refusal.site,
                "permission": refusal.permission,
                "reason": refusal.reason,
                "status": refusal.status,
                "via": refusal.via,
                "count": 1,
                "first": at,
                "last": at,
            }
            if key[2] == _OTHER:
                details.update(method="*", route=_OTHER, path="", site=None, permission=None,
                               reason=f"more than {self.per_actor} kinds of refusal in a minute")
            row = self._rows[key] = _Row(window, details)
            return due, row
        row.details["count"] += 1
        row.details["last"] = at
        if row.row_id is not None and now - row.written_at >= self.update_every:
            due.append(row)
        return due, None

    async def record(self, ctx: Any, refusal: Refusal) -> None:
        """Count ``refusal`` and write what is due (``ctx``: the API context); never raises."""
        now, at = ctx.now(), ctx.building_now()
        due, new = self.note(refusal, now, at)
        if not due and new is None:
            return
        try:
            await ctx.run(self.write, ctx.engine, due, new, refusal, now, at)
        except Exception as err:  # the audit must not turn a refusal into a 500
            log.warning("could not write the audit of a refusal: %s", err)

    async def flush(self, ctx: Any) -> None:
        """Write every count not written yet (before the audit log is read, and at shutdown)."""
        rows = self.pending()
        if rows:
            await ctx.run(self.write, ctx.engine, rows, None, None, ctx.now())

    def pending(self) -> list[_Row]:
        """Rows whose count changed since written."""
        return [r for r in self._rows.values() if r.row_id is not None and r.written != r.details["count"]]

    def write(self, engine: StateEngine, rows: list[_Row], new: _Row | None, refusal: Refusal | None,
              now: float, ts: float | None = None) -> None:
        """Update ``rows`` and insert ``new``, in one transaction (blocking: run it in a worker thread).

        ``now`` is the wall clock the counting windows run on; ``ts`` stamps a new row (the
        building's clock, as every record; ``now`` when not given)."""
        # Each row's details as of now: the event loop may count on while this thread writes.
        updates = [(row.row_id, row, dict(row.details)) for row in rows
                   if row.row_id is not None and row.written != row.details["count"]]
        entry: dict[str, Any] | None = None
        if new is not None and refusal is not None:
            target = (refusal.site or refusal.path[:200]) if new.details["route"] != _OTHER else ""
            entry = {"ts": now if ts is None else ts, "actor": refusal.actor[:200], "action": ACTION,
                     "target": target, "details": dict(new.details), "remote_addr": refusal.remote_addr}
        row_id = write_audit(engine, [(rid, details) for rid, _row, details in updates], entry)
        for _rid, row, details in updates:  # only once the transaction is committed
            row.written, row.written_at = details["count"], now
        if new is not None and entry is not None and row_id is not None:
            new.row_id = row_id
            new.written, new.written_at = entry["details"]["count"], now
