"""In-process publish/subscribe of samples and events, batch-first and never blocking.

``publish`` is synchronous: it hands a batch to callback subscribers inline
and queues it for queue subscribers, and never awaits. A subscriber matching
every point (``"*"``) receives the published batch object itself, so the
historian and the current-value cache cost O(1) per batch on the bus. Other
subscribers are routed by a per-point cache of matching subscriptions: one
dict lookup per sample.

A queue subscriber that falls behind never slows publishing: past ``maxlen``
queued samples it switches to coalescing, keeping only the newest sample per
point, and counts every sample it dropped. Once it catches up it queues again.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openbms.model.sample import Sample

__all__ = ["Bus", "BusStats", "CallbackSubscription", "EventSubscription", "Subscription"]

log = logging.getLogger(__name__)

Patterns = str | Iterable[str]


def _patterns(patterns: Patterns) -> tuple[str, ...]:
    pats = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    if not pats:
        raise ValueError("a subscription needs at least one pattern")
    return pats


_GLOB = frozenset("*?[")


class _Matcher:
    """Glob patterns on point ids; '*' alone matches everything.

    Patterns without a glob character are point ids, looked up in a set: a subscriber of a
    thousand points (the alarm engine, a site's rules) costs one lookup a point, not a
    thousand fnmatch calls (at 100 000 points that was minutes of the event loop).
    """

    __slots__ = ("exact", "globs", "patterns", "wildcard")

    def __init__(self, patterns: Patterns) -> None:
        self.patterns = _patterns(patterns)
        self.wildcard = "*" in self.patterns
        self.exact = frozenset(p for p in self.patterns if not _GLOB.intersection(p))
        self.globs = tuple(p for p in self.patterns if _GLOB.intersection(p))

    def matches(self, point: str) -> bool:
        return (self.wildcard or point in self.exact
                or any(fnmatch.fnmatchcase(point, p) for p in self.globs))


class CallbackSubscription:
    """Calls ``fn(batch)`` inline on publish. ``fn`` must be fast and must not block."""

    def __init__(self, bus: Bus, patterns: Patterns, fn: Callable[[Sequence[Sample]], None],
                 name: str) -> None:
        self._bus = bus
        self.matcher = _Matcher(patterns)
        self.fn = fn
        self.name = name
        self.delivered = 0
        self.errors = 0
        self._last_error_log = 0.0

    def _deliver(self, batch: Sequence[Sample]) -> None:
        try:
            self.fn(batch)
            self.delivered += len(batch)
        except Exception:
            self.errors += 1
            now = time.monotonic()
            if now - self._last_error_log > 60:  # once a minute at most, not per batch
                self._last_error_log = now
                log.exception("bus subscriber %r failed (%d errors so far)", self.name, self.errors)

    def close(self) -> None:
        """Unsubscribe."""
        self._bus._remove(self)


class Subscription:
    """A bounded queue of samples, consumed with ``await get()`` or ``async for batch in sub``."""

    def __init__(self, bus: Bus, patterns: Patterns, maxlen: int, name: str) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self._bus = bus
        self.matcher = _Matcher(patterns)
        self.maxlen = maxlen
        self.name = name
        self.delivered = 0
        self.dropped = 0
        self._queue: deque[Sample] = deque()
        self._coalesced: dict[str, Sample] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        """Samples waiting (queued plus coalesced)."""
        return len(self._queue) + len(self._coalesced)

    @property
    def coalescing(self) -> bool:
        """True while the subscriber is behind and only the newest value per point is kept."""
        return bool(self._coalesced)

    def _deliver(self, samples: Iterable[Sample]) -> None:
        queue = self._queue
        coalesced = self._coalesced
        for s in samples:
            if coalesced or len(queue) >= self.maxlen:
                old = coalesced.get(s[0])
                if old is None:
                    coalesced[s[0]] = s
                elif s[1] >= old[1]:  # a late sample never replaces a newer one
                    coalesced[s[0]] = s
                    self.dropped += 1
                else:
                    self.dropped += 1
            else:
                queue.append(s)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def get_nowait(self) -> list[Sample]:
        """Everything waiting, oldest first (coalesced newest values last); may be empty."""
        out = list(self._queue)
        self._queue.clear()
        if self._coalesced:
            # Points already queued keep their order: the coalesced value is newer.
            out.extend(self._coalesced.values())
            self._coalesced.clear()
        self.delivered += len(out)
        return out

    async def get(self) -> list[Sample]:
        """Wait for samples and return all that are waiting."""
        while not len(self):
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.get_nowait()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> list[Sample]:
        return await self.get()

    def close(self) -> None:
        """Unsubscribe; a waiting consumer's iteration ends."""
        self._closed = True
        self._bus._remove(self)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventSubscription:
    """A bounded queue of ``(topic, payload)`` events; the oldest are dropped first, counted."""

    def __init__(self, bus: Bus, pattern: str, maxlen: int) -> None:
        self._bus = bus
        self.pattern = pattern
        self.dropped = 0
        self._queue: deque[tuple[str, dict[str, Any]]] = deque(maxlen=maxlen)
        self._event = asyncio.Event()

    def _deliver(self, topic: str, payload: dict[str, Any]) -> None:
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append((topic, payload))
        self._event.set()

    async def get(self) -> tuple[str, dict[str, Any]]:
        """The next event."""
        while not self._queue:
            self._event.clear()
            await self._event.wait()
        return self._queue.popleft()

    def close(self) -> None:
        """Unsubscribe."""
        self._bus._remove_event(self)


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counters for metrics."""

    published: int
    events: int
    subscribers: dict[str, dict[str, int]]


class Bus:
    """Samples and events, in process."""

    def __init__(self) -> None:
        self._wild_cb: list[CallbackSubscription] = []
        self._wild_q: list[Subscription] = []
        self._pattern_subs: list[CallbackSubscription | Subscription] = []
        self._routes: dict[str, tuple[CallbackSubscription | Subscription, ...]] = {}
        self._event_subs: list[EventSubscription] = []
        self.published = 0
        self.events = 0

    # ------------------------------------------------------------------ subscribing

    def subscribe_callback(
        self, patterns: Patterns, fn: Callable[[Sequence[Sample]], None], name: str = ""
    ) -> CallbackSubscription:
        """Call ``fn(batch)`` inline with the matching samples of every publish."""
        sub = CallbackSubscription(self, patterns, fn, name or getattr(fn, "__qualname__", "callback"))
        self._add(sub)
        return sub

    def subscribe(self, patterns: Patterns, maxlen: int = 10_000, name: str = "") -> Subscription:
        """A bounded queue of matching samples (coalesced per point when it is full)."""
        sub = Subscription(self, patterns, maxlen, name or "queue")
        self._add(sub)
        return sub

    def subscribe_events(self, pattern: str = "*", maxlen: int = 1000) -> EventSubscription:
        """A bounded queue of events whose topic matches ``pattern``."""
        sub = EventSubscription(self, pattern, maxlen)
        self._event_subs.append(sub)
        return sub

    def _add(self, sub: CallbackSubscription | Subscription) -> None:
        if sub.matcher.wildcard:
            if isinstance(sub, CallbackSubscription):
                self._wild_cb.append(sub)
            else:
                self._wild_q.append(sub)
        else:
            self._pattern_subs.append(sub)
            self._routes.clear()

    def _remove(self, sub: CallbackSubscription | Subscription) -> None:
        for lst in (self._wild_cb, self._wild_q, self._pattern_subs):
            if sub in lst:
                lst.remove(sub)  # type: ignore[arg-type]
        self._routes.clear()

    def _remove_event(self, sub: EventSubscription) -> None:
        if sub in self._event_subs:
            self._event_subs.remove(sub)

    # ------------------------------------------------------------------ publishing

    def publish(self, samples: Sequence[Sample]) -> None:
        """Deliver a batch. Never blocks; the batch must not be mutated afterwards."""
        if not samples:
            return
        self.published += len(samples)
        for cb in self._wild_cb:
            cb._deliver(samples)
        for q in self._wild_q:
            q._deliver(samples)
        if self._pattern_subs:
            self._route(samples)

    def _route(self, samples: Sequence[Sample]) -> None:
        routes = self._routes
        per_sub: dict[int, tuple[CallbackSubscription | Subscription, list[Sample]]] = {}
        for s in samples:
            subs = routes.get(s[0])
            if subs is None:
                subs = routes[s[0]] = tuple(
                    x for x in self._pattern_subs if x.matcher.matches(s[0])
                )
            for sub in subs:
                entry = per_sub.get(id(sub))
                if entry is None:
                    per_sub[id(sub)] = (sub, [s])
                else:
                    entry[1].append(s)
        for sub, batch in per_sub.values():
            sub._deliver(batch)

    def publish_event(self, topic: str, payload: dict[str, Any]) -> None:
        """Deliver an event (alarm, command status…) to matching event subscribers."""
        self.events += 1
        for sub in self._event_subs:
            if fnmatch.fnmatchcase(topic, sub.pattern):
                sub._deliver(topic, payload)

    def stats(self) -> BusStats:
        """Published counts and, per subscriber, delivered/dropped/errors."""
        subs: dict[str, dict[str, int]] = {}
        for sub in (*self._wild_cb, *self._wild_q, *self._pattern_subs):
            if isinstance(sub, CallbackSubscription):
                subs[sub.name] = {"delivered": sub.delivered, "errors": sub.errors}
            else:
                subs[sub.name] = {"delivered": sub.delivered, "dropped": sub.dropped,
                                  "waiting": len(sub)}
        return BusStats(self.published, self.events, subs)
