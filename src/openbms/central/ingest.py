"""The central's ingest: the edges' messages into the PostgreSQL historian and the centre's tables.

::

    broker ─▶ SharedSubscriber (drivers/mqtt/ingest.py) ─▶ CentralIngest.handle(topic, payload)
                 $share/{group}/{prefix}/+/+/+     samples ─▶ historian.ingest (outbox, binary COPY)
                 $share/{group}/{prefix}/+/alarms    ┐
                 $share/{group}/{prefix}/+/commands  ├ events, configurations ─▶ queue ─▶ writer
                 {prefix}/+/config (every worker)    ┘   task ─▶ CentralStore (batched, idempotent)
                 {prefix}/+/status (every worker)  ─▶ online (the command dispatcher's)

``handle`` runs on the event loop for every message and never waits: samples
go to the historian's outbox (a resend of the same (point, time) stores
nothing new), events and configurations to a queue the writer task empties.
A message that cannot be read is counted by kind and logged once per kind;
the process keeps running. Nothing per sample is logged or built as a model.

``handle`` returns a receipt for a message whose samples or events are not yet
durable; the connection acknowledges the message (PUBACK) once the receipt
says ``durable()``. Both queues are first in, first out, so a position in each
is enough::

    samples: position = the history's accepted count (stored + dropped + backlog) after ingest
             durable when stored + dropped reaches it          (a history with ``stats()``)
    events:  position = events queued so far; durable when written + dropped reaches it

Samples given to a sink that is not a history (a running system's bus, which
feeds its own historian) and configurations (retained: the broker sends them
again at the next start) are acknowledged on receipt. Samples the history
dropped (past its ``max_backlog``, counted and logged there) are acknowledged
too: they are lost either way, and holding them would stop the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import orjson

from openbms.central.decode import (
    BadMessage,
    Event,
    SiteDocument,
    decode_batch,
    decode_event,
    decode_point,
    decode_site_document,
)
from openbms.central.store import CentralStore
from openbms.errors import HistorianError
from openbms.historian.base import HistorianStats
from openbms.model.sample import Sample
from openbms.runtime.clock import Clock

__all__ = ["CentralIngest", "SampleSink", "topic_filters"]

log = logging.getLogger(__name__)

#: Events and configurations waiting for the store at most; past it the oldest are dropped.
MAX_PENDING = 100_000
_EVENT_KINDS = {"alarms": "alarm", "commands": "command"}


class SampleSink(Protocol):
    """Where samples go (the historian's ``ingest``)."""

    def ingest(self, samples: Sequence[Sample]) -> None: ...


class _History(SampleSink, Protocol):
    """A sink that says what it has committed (a historian): messages are acknowledged after it."""

    def stats(self) -> HistorianStats: ...


class _Receipt:
    """A message's place in the samples' and the events' queues (0: nothing in that one)."""

    __slots__ = ("events", "ingest", "samples")

    def __init__(self, ingest: CentralIngest, samples: int, events: int) -> None:
        self.ingest = ingest
        self.samples = samples
        self.events = events

    def durable(self) -> bool:
        """Whether the message's samples and events are committed (or dropped and counted)."""
        ingest = self.ingest
        if self.events and ingest._events_done < self.events:
            return False
        if self.samples:
            history = ingest._history
            assert history is not None
            st = history.stats()
            return st.stored + st.dropped >= self.samples
        return True


def topic_filters(prefix: str, group: str) -> tuple[list[str], list[str]]:
    """(shared filters, plain filters) of the bridges under ``prefix`` for an ingest ``group``:
    samples and events are split among the group's workers, configurations and statuses
    (retained) reach all."""
    share = f"$share/{group}/{prefix}"
    return ([f"{share}/+/+/+", f"{share}/+/alarms", f"{share}/+/commands"],
            [f"{prefix}/+/config", f"{prefix}/+/status"])


class CentralIngest:
    """Decodes the bridges' messages under ``prefix`` and stores them."""

    def __init__(self, sink: SampleSink, store: CentralStore, clock: Clock,
                 prefix: str = "openbms", *, newest_every: float = 5.0) -> None:
        self.sink = sink
        self.store = store
        self.clock = clock
        self.prefix = prefix
        self._skip = len(prefix.split("/"))
        self.samples = 0  # samples handed to the historian
        self.refused = 0  # samples of another site's points under a site's topic: not stored
        self.events = 0
        self.configs = 0  # configuration versions kept (newer than the stored one)
        self.bad: Counter[str] = Counter()  # messages not taken, by kind
        self.dropped = 0  # events and configurations dropped past MAX_PENDING
        self.store_errors = 0
        self.sites_seen: dict[str, float] = {}  # site → the centre's clock at its last message
        self.newest: dict[str, float] = {}  # site → the time of its newest sample received
        self.online: dict[str, bool] = {}  # site → its edge's last status
        #: Called with a site whose edge came online (the command dispatcher looks at once).
        self.on_online: Callable[[str], None] | None = None
        self._pending: list[Event | SiteDocument] = []
        #: The sink when it says what it committed (acknowledgements wait for it), else None.
        self._history: _History | None = (
            cast(_History, sink) if callable(getattr(sink, "stats", None)) else None)
        self._events_queued = 0  # events ever queued (a receipt's position)
        self._events_done = 0  # events written or dropped
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        #: Seconds between writes of each site's newest sample time (``central_newest``).
        self.newest_every = newest_every
        self._newest_kept: dict[str, float] = {}  # what was written of ``newest``
        self._newest_task: asyncio.Task[None] | None = None
        self._newest_failing = False

    # ------------------------------------------------------------------ per message

    def handle(self, topic: str, payload: bytes) -> _Receipt | None:
        """Take one message (its topic under ``prefix``); never raises for a bad message.

        A receipt when what it carried is not yet durable (its acknowledgement waits for
        ``durable()``), None when nothing is left to wait for."""
        levels = topic.split("/")[self._skip:]
        receipt = None
        try:
            if len(levels) == 3:
                site, second, third = levels
                if second == "devices":
                    samples, refused = decode_batch(site, payload, topic)
                    self.refused += refused
                else:
                    samples = [decode_point(site, second, third, payload, topic)]
                if samples:
                    self.sink.ingest(samples)
                    self.samples += len(samples)
                    # Received now: a time ahead of the centre's clock (an edge's clock running
                    # fast) counts as now, or the site would look current after its edge died.
                    newest = min(max(s[1] for s in samples), self.clock.now())
                    if newest > self.newest.get(site, 0.0):
                        self.newest[site] = newest
                    history = self._history
                    if history is not None:
                        st = history.stats()
                        receipt = _Receipt(self, st.stored + st.dropped + st.backlog, 0)
            elif len(levels) == 2 and levels[1] in _EVENT_KINDS:
                self._queue(decode_event(levels[0], _EVENT_KINDS[levels[1]], payload, topic))
                self.events += 1
                self._events_queued += 1
                receipt = _Receipt(self, 0, self._events_queued)
            elif len(levels) == 2 and levels[1] == "status":
                self._status(levels[0], payload, topic)
            elif len(levels) == 2 and levels[1] == "config":
                if not payload:  # a retained configuration cleared: the site is kept as it was
                    return None
                self._queue(decode_site_document(levels[0], payload, topic))
            else:
                raise BadMessage("topic", f"{topic}: not a topic of an openbms bridge under "
                                 f"{self.prefix}/")
        except BadMessage as err:
            self._bad(err)
            return None
        self.sites_seen[levels[0]] = self.clock.now()
        return receipt

    def _status(self, site: str, payload: bytes, topic: str) -> None:
        """An edge's bridge status (retained; its Last Will says offline)."""
        if not payload:
            return
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise BadMessage("json", f"{topic}: not JSON") from None
        status = doc.get("status") if isinstance(doc, dict) else None
        if status not in ("online", "offline"):
            raise BadMessage("shape", f"{topic}: expected {{\"status\": \"online\" or \"offline\"}}")
        was = self.online.get(site)
        self.online[site] = status == "online"
        if self.online[site] and not was and self.on_online is not None:
            self.on_online(site)

    def is_online(self, site: str) -> bool:
        """Whether the edge of ``site`` said it is online (and has not gone offline since)."""
        return self.online.get(site, False)

    def _bad(self, err: BadMessage) -> None:
        self.bad[err.kind] += 1
        if self.bad[err.kind] == 1:
            log.warning("central: a message refused (%s); messages refused for %s are counted in "
                        "health, not logged again", err, err.kind)

    def _queue(self, item: Event | SiteDocument) -> None:
        pending = self._pending
        pending.append(item)
        if len(pending) > MAX_PENDING:
            gone = pending.pop(0)
            self.dropped += 1
            if isinstance(gone, Event):  # lost and counted: its acknowledgement may go
                self._events_done += 1
        self._wake.set()

    # ------------------------------------------------------------------ the writer task

    async def start(self) -> None:
        """Start the writer tasks: events and configurations, and each site's newest time."""
        if self._task is None:
            self._task = asyncio.create_task(self._writer(), name="central store writer")
        if self._newest_task is None:
            self._newest_task = asyncio.create_task(self._newest_forever(),
                                                    name="central newest times")

    async def write_newest(self) -> None:
        """Write the sites' newest sample times that moved since the last write."""
        kept = self._newest_kept
        moved = {site: ts for site, ts in self.newest.items() if ts > kept.get(site, -1.0)}
        if moved:
            await self.store.put_newest(moved, now=self.clock.now())
            kept.update(moved)

    async def _newest_forever(self) -> None:
        while True:
            await asyncio.sleep(self.newest_every)
            try:
                await self.write_newest()
            except HistorianError as err:
                if not self._newest_failing:
                    log.warning("central: the sites' newest sample times cannot be written (%s); "
                                "tried again every %g s (the lag shown lags)", err,
                                self.newest_every)
                self._newest_failing = True
            else:
                self._newest_failing = False

    async def stop(self) -> None:
        """Write what is queued (one attempt), then stop the writer tasks."""
        newest, self._newest_task = self._newest_task, None
        if newest is not None:
            newest.cancel()
            await asyncio.gather(newest, return_exceptions=True)
            with contextlib.suppress(HistorianError):
                await self.write_newest()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self._write()
        except HistorianError as err:
            log.error("central: %d alarm or command changes and configurations could not be "
                      "stored at the stop (%s): they are lost (a configuration comes again, "
                      "retained, at the next start)", len(self._pending), err)

    async def flush(self) -> None:
        """Write what is queued now (for tests and a clean stop); a HistorianError when it fails."""
        await self._write()

    async def _writer(self) -> None:
        pause = 0.5
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._write()
            except HistorianError as err:
                self.store_errors += 1
                if not self._failing:
                    self._failing = True
                    log.error("central: cannot store events and configurations (%s); kept and "
                              "retried", err)
                self._wake.set()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            if self._failing:
                self._failing = False
                log.warning("central: storing events and configurations again")
            pause = 0.5

    async def _write(self) -> None:
        items, self._pending = self._pending, []
        if not items:
            return
        events = [i for i in items if isinstance(i, Event)]
        docs = [i for i in items if isinstance(i, SiteDocument)]
        now = self.clock.now()
        try:
            await self.store.put_events(events, now)
            self._events_done += len(events)
            events = []
            while docs:
                if await self.store.put_site(docs[0], now):
                    self.configs += 1
                docs.pop(0)
        except BaseException:
            self._pending[:0] = [*events, *docs]  # kept, in order, before what came meanwhile
            raise

    def lag(self) -> dict[str, float]:
        """Per site, how far behind the centre is: seconds from its newest sample received to
        the centre's clock (an edge cut off, or a backlog still draining, shows here)."""
        now = self.clock.now()
        return {site: max(0.0, now - ts) for site, ts in sorted(self.newest.items())}

    def health(self) -> dict[str, Any]:
        """Counters of what was taken, refused and queued, and each site's lag."""
        lag = self.lag()
        return {"samples": self.samples, "refused": self.refused, "events": self.events,
                "configs": self.configs, "bad": dict(self.bad), "pending": len(self._pending),
                "dropped": self.dropped, "store_errors": self.store_errors,
                "sites": len(self.sites_seen), "lag_s": lag,
                "lag_max_s": max(lag.values(), default=0.0)}
