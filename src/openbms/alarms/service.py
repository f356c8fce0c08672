"""One site's alarms in the running process: engine, notifications, history and snapshots.

The engine is fed from the bus and ticked every second. Each alarm event is
published on the bus (topic ``alarm``, for WebSocket clients), handed to the
notifier, and appended to the ``alarm_events`` table by a writer task in
batches, so the engine never waits on the database. The engine's state
(active alarms, acknowledgements, shelving, notes) is saved every minute
and at stop, and restored at start, so a restart neither forgets an active
alarm nor raises it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from openbms.alarms.engine import AlarmEngine, AlarmEvent, PointText
from openbms.alarms.notify import Notifier
from openbms.db import load_state, save_state
from openbms.db.schema import alarm_events
from openbms.model.alarm import AlarmRule, NotificationsConfig
from openbms.runtime.bus import Bus
from openbms.runtime.clock import Clock

__all__ = ["AlarmService", "alarm_history"]

log = logging.getLogger(__name__)


class AlarmService:
    """The alarms of one site, wired to the bus, the state database and the notifiers.

    ``texts`` (``point_texts(site)``) lets messages name points and round values as people read them.
    """

    def __init__(self, site: str, rules: Sequence[AlarmRule], notifications: NotificationsConfig,
                 clock: Clock, bus: Bus, state: sa.Engine, snapshot_every: float = 60.0, *,
                 texts: Mapping[str, PointText] | None = None) -> None:
        self.site = site
        self.clock = clock
        self.bus = bus
        self.state = state
        self.snapshot_every = snapshot_every
        self.engine = AlarmEngine(list(rules), clock, on_event=self._on_event, texts=texts)
        self.notifier = Notifier.from_config(notifications, clock=clock)
        self._pending: list[AlarmEvent] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._history: asyncio.Task[None] | None = None
        self._stopping = False
        self._sub: Any = None
        self.written = 0

    @property
    def key(self) -> str:
        return f"alarms:{self.site}"

    async def start(self) -> None:
        """Restore the engine's state, then run it, the notifier and the history writer."""
        state = await asyncio.to_thread(load_state, self.state, self.key)
        if state:
            try:
                self.engine.restore(state)
            except Exception as err:  # a snapshot of an older format must not stop the site
                log.warning("alarms of %s: the saved state could not be restored (%s); starting "
                            "fresh", self.site, err)
        await self.notifier.start()
        if self.engine.points:
            self._sub = self.bus.subscribe_callback(sorted(self.engine.points), self.engine.feed,
                                                    name=f"alarms {self.site}")
        self._stopping = False
        self._history = asyncio.create_task(self._writer(), name=f"alarm history {self.site}")
        self._tasks = [asyncio.create_task(self.engine.run(1.0), name=f"alarms {self.site}"),
                       asyncio.create_task(self._snapshots(), name=f"alarm state {self.site}")]

    async def stop(self) -> None:
        """Stop, write what is pending, save the state."""
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        # The history writer ends on its own after its flush: cancelled in the middle of one, the
        # events it took were written by a thread nobody waited for (or, failing, lost).
        history, self._history = self._history, None
        if history is not None:
            self._stopping = True
            self._wake.set()
            await asyncio.gather(history, return_exceptions=True)
        await self._flush()
        await self._save()
        await self.notifier.stop()

    # ------------------------------------------------------------------ events

    def _on_event(self, event: AlarmEvent) -> None:
        self._pending.append(event)
        self._wake.set()
        payload = event.to_dict()
        payload["site"] = self.site
        self.bus.publish_event("alarm", payload)
        self.notifier.submit(event)

    async def _writer(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        events, self._pending = self._pending, []
        if not events:
            return
        rows = [{"alarm_id": e.alarm_id, "rule_id": e.rule_id, "site_id": self.site,
                 "point_id": e.point or "", "ts": e.ts, "action": e.action,
                 "from_state": e.from_state, "to_state": e.to_state, "value": e.value,
                 "message": e.message or "", "who": e.who or "", "note": e.note or "",
                 "priority": e.priority, "alarm_class": e.alarm_class or "",
                 "shelved": e.shelved, "flap_count": e.flap_count} for e in events]
        try:
            await asyncio.to_thread(_insert, self.state, rows)
            self.written += len(rows)
        except sa.exc.SQLAlchemyError as err:
            self._pending[:0] = events  # kept for the next try, in order
            log.warning("alarms of %s: %d events not written yet: %s", self.site, len(events), err)

    async def _snapshots(self) -> None:
        while True:
            await self.clock.sleep(self.snapshot_every)
            await self._save()

    async def _save(self) -> None:
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            await asyncio.to_thread(save_state, self.state, self.key, self.engine.snapshot(),
                                    self.clock.now())


def _insert(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(alarm_events.insert(), rows)


def alarm_history(engine: sa.Engine, site: str | None = None, alarm_id: str | None = None,
                  limit: int = 100, before: float | None = None, *, action: str | None = None,
                  since: float | None = None, after: tuple[float, int] | None = None,
                  oldest_first: bool = False) -> list[dict[str, Any]]:
    """Stored alarm events, newest first (by time, then id; ``oldest_first``: the other way):
    optionally one site's, one alarm's, one action's, from ``since`` (included) to ``before``
    (excluded), or after the (ts, id) ``after`` of a previous page."""
    c = alarm_events.c
    q = sa.select(alarm_events).order_by(*((c.ts, c.id) if oldest_first
                                           else (c.ts.desc(), c.id.desc())))
    if site is not None:
        q = q.where(c.site_id == site)
    if alarm_id is not None:
        q = q.where(c.alarm_id == alarm_id)
    if action is not None:
        q = q.where(c.action == action)
    if since is not None:
        q = q.where(c.ts >= since)
    if before is not None:
        q = q.where(c.ts < before)
    if after is not None:
        ts, event_id = after
        q = q.where(sa.or_(c.ts > ts, sa.and_(c.ts == ts, c.id > event_id)) if oldest_first
                    else sa.or_(c.ts < ts, sa.and_(c.ts == ts, c.id < event_id)))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q.limit(limit))]
