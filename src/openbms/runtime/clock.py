"""Time is injected: everything that reads the clock or sleeps takes a Clock.

``WallClock`` is real time. ``ManualClock`` only moves when told to, so tests
of schedules, overrides, alarm delays and rollups run in milliseconds. The
demo's ``AcceleratedClock`` (``openbms.sim.building.live``) runs ``speed`` times
faster than the wall.

``clock_rate`` says how many of a clock's seconds pass per real second (1 for
the wall, the demo's speed, 0 for a clock moved by hand), so that a client
told the time once can follow it between messages.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "Paced", "WallClock", "clock_rate"]


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


@runtime_checkable
class Paced(Protocol):
    """A clock that says how fast it runs: ``speed`` of its seconds per real second."""

    @property
    def speed(self) -> float:
        """Seconds of this clock per second of the wall (0: it moves only when told to)."""
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
    run before time moves on, as they would in real time. Its rate is 0:
    between two moves, no time passes.
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


def clock_rate(clock: Clock) -> float:
    """How many of ``clock``'s seconds pass per real second: 0 for a ``ManualClock``, a
    ``Paced`` clock's ``speed``, else 1.0 (real time)."""
    if isinstance(clock, ManualClock):
        return 0.0
    if isinstance(clock, Paced):
        speed = clock.speed
        if isinstance(speed, int | float) and math.isfinite(speed) and speed >= 0:
            return float(speed)
    return 1.0
