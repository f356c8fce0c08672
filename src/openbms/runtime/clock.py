"""Time is injected: everything that reads the clock or sleeps takes a Clock.

``WallClock`` is real time. ``ManualClock`` only moves when told to, so tests
of schedules, overrides, alarm delays and rollups run in milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "WallClock"]


class Clock(Protocol):
    """A source of time: ``now()`` is seconds since the Unix epoch, UTC."""

    def now(self) -> float:
        """The current time."""
        ...

    def monotonic(self) -> float:
        """A clock for durations that never jumps backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""
        ...


class WallClock:
    """Real time."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when ``advance`` or ``set`` is called.

    Sleepers wake, in deadline order, as the clock passes their deadline.
    ``advance`` yields to the event loop after each wake so that woken tasks
    run before time moves on, as they would in real time.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    @property
    def sleepers(self) -> int:
        """How many tasks are asleep on this clock (cancelled ones excluded)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking sleepers on the way."""
        await self.set(self._now + seconds)

    async def set(self, when: float) -> None:
        """Move time forward to ``when`` (never backwards), waking sleepers on the way."""
        if when < self._now:
            raise ValueError("a ManualClock never goes backwards")
        while self._sleepers and self._sleepers[0][0] <= when:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not fut.done():
                fut.set_result(None)
                for _ in range(5):  # let the woken task and what it awaits run
                    await asyncio.sleep(0)
        self._now = when
        for _ in range(5):
            await asyncio.sleep(0)
