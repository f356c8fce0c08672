"""The centre's own schedules and logic programs, commanding the edges through the command queue.

::

    a central schedule's new value ─┐        (ScheduleRunner, as at an edge)
    a central program's output ─────┴─▶ CentralWriter.command / release (the arbiter's calls)
        ─▶ writable at its edge (the configuration it published)? priority 9 to 16?
                                                   no: CommandError at once (as the arbiter's)
        ─▶ held per (point, priority): at most one command each ``min_interval_s``; a newer
           value meanwhile replaces the one waiting (the latest wins), sent once it has passed
        ─▶ CommandQueue.submit(supersede=True, duration_s=lease_s): a command of the same
           point, priority and requester still queued (its edge offline) is superseded
        ─▶ the Dispatcher sends it when the edge is online ─▶ the edge's arbiter, limits, audit
    renewal: every held value is queued again each ``lease_s / 2``

A command from the centre's schedules and programs is a timed override at the edge, of
``lease_s`` (15 minutes unless told), renewed while the centre holds it. An edge that stops
hearing from the centre (the centre stopped or failed, the WAN cut) falls back to its own control
within ``lease_s``, and a slot the centre forgot (a schedule deleted while the edge was away) is
never held for good: the edge keeps control authority. A value the queue could not take (the
database away) stays held and is queued at the next tick, so a schedule's transition is not lost.

What the centre sends is recorded: each command is a row of ``central_commands`` (its
``requested_by`` is ``schedule:ID`` or ``program:ID``), and the edge records what it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openbms.central.commands import MIN_PRIORITY, CommandQueue
from openbms.errors import CommandError, OpenBMSError
from openbms.model.sample import Value
from openbms.runtime.clock import Clock

__all__ = ["DEFAULT_LEASE_S", "DEFAULT_MIN_INTERVAL_S", "CentralWriter", "Queued"]

log = logging.getLogger(__name__)

#: Seconds a central schedule's or program's command holds at the edge unless renewed.
DEFAULT_LEASE_S = 900.0
#: The least seconds between two commands of one point and priority from the centre.
DEFAULT_MIN_INTERVAL_S = 60.0
#: Seconds a command waits in the queue for its edge (a newer one supersedes it before).
DEFAULT_QUEUE_S = 600.0


def _plain(value: Value) -> bool:
    """A value an edge's arbiter may take: a finite number, true/false, or text (a state label;
    the edge checks which)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, bool | int | str)


@dataclass(frozen=True, slots=True)
class Queued:
    """What ``command`` and ``release`` answer: taken for the edge (``status`` never ``failed``:
    the edge's answer is in the centre's command list)."""

    point: str
    priority: int
    status: str = "pending"
    error: str = ""


@dataclass(slots=True)
class _Held:
    value: Value  # None with ``release``
    release: bool
    requested_by: str
    reason: str
    sent_at: float | None = None  # when it was last queued (None: never)
    waiting: bool = True  # changed since it was last queued


class CentralWriter:
    """The target of the centre's schedules and programs (module docstring).

    ``writable(point)`` says whether the point's edge lets it be written (its published
    configuration); ``poke`` wakes the dispatcher after a command is queued.
    """

    #: The most urgent priority it commands at (1 to 8 stay the edges').
    min_priority = MIN_PRIORITY

    def __init__(self, queue: CommandQueue, clock: Clock, writable: Callable[[str], bool], *,
                 lease_s: float = DEFAULT_LEASE_S, min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
                 queue_s: float = DEFAULT_QUEUE_S, tick_s: float = 1.0,
                 poke: Callable[[], None] | None = None,
                 problems: Callable[[], list[str]] | None = None) -> None:
        if not (math.isfinite(lease_s) and lease_s >= 60):
            raise ValueError(f"lease {lease_s!r} s: expected 60 s or more, finite")
        if not 0 <= min_interval_s <= lease_s / 2:
            raise ValueError(f"minimum interval {min_interval_s!r} s: expected 0 to half the "
                             f"lease ({lease_s / 2:g} s)")
        self.queue = queue
        self.clock = clock
        self.writable = writable
        self.lease_s = lease_s
        self.min_interval_s = min_interval_s
        self.queue_s = queue_s
        self.tick_s = tick_s
        self.poke = poke
        self._held: dict[tuple[str, int], _Held] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._failing = False
        self._last_error = ""
        #: What else the health tells (the centre's own files of the sites that do not run).
        self.problems = problems
        #: Commands queued, renewals among them, and values that waited for the interval.
        self.queued = 0
        self.renewed = 0
        self.coalesced = 0

    # ------------------------------------------------------------------ the arbiter's calls

    async def command(self, point: str, value: Value, priority: int | None = None, *,
                      source: str = "logic", requested_by: str = "", reason: str = "") -> Queued:
        """Hold ``value`` on ``point`` at ``priority`` for its edge; CommandError when the edge
        does not let the point be written or the priority is one of the edge's own."""
        return self._hold(point, priority, value, False, requested_by, reason)

    async def release(self, point: str, priority: int | None = None, *, source: str = "logic",
                      requested_by: str = "", reason: str = "") -> Queued:
        """Release the centre's slot of ``point`` at ``priority`` at its edge."""
        return self._hold(point, priority, None, True, requested_by, reason)

    def holder(self, point: str, priority: int) -> str | None:
        """Who holds ``point`` at ``priority`` from the centre (``schedule:ID``…); None: nobody
        (a release is kept, sent or not, so the interval holds for the next value too)."""
        held = self._held.get((point, priority))
        return None if held is None or held.release else held.requested_by

    def _hold(self, point: str, priority: int | None, value: Value, release: bool,
              requested_by: str, reason: str) -> Queued:
        # ``source`` (the arbiter's argument) is not kept: ``requested_by`` says schedule:ID or
        # program:ID, at the centre and in the edge's audit reason.
        if priority is None:
            raise CommandError(f"{point}: a command from the centre names its priority "
                               f"({MIN_PRIORITY} to 16)", field="priority")
        if not MIN_PRIORITY <= priority <= 16:
            raise CommandError(f"{point}: priority {priority}: a command from the centre is "
                               f"{MIN_PRIORITY} to 16; 1 to {MIN_PRIORITY - 1} stay the edge's "
                               "(life safety, its own operators)", field="priority")
        key = (point, priority)
        if not self.writable(point):
            if release:  # the edge holds no slot of it any more: nothing to hold or renew
                self._held.pop(key, None)
                return Queued(point, priority)
            raise CommandError(f"{point}: not writable at its edge (its published configuration)")
        if not release and not _plain(value):
            raise CommandError(f"{point}: {value!r}: expected a finite number, true/false or a "
                               "state label", field="value")
        old = self._held.get(key)
        if old is not None and old.release == release and old.value == value \
                and type(old.value) is type(value) and old.requested_by == requested_by:
            return Queued(point, priority)  # held already: renewed in time
        if old is not None and old.waiting:
            self.coalesced += 1
        self._held[key] = _Held(value, release, requested_by, reason,
                                sent_at=None if old is None else old.sent_at)
        self._wake.set()
        return Queued(point, priority)

    # ------------------------------------------------------------------ sending

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="central supervision")

    async def stop(self, *, last_s: float = 5.0) -> None:
        """Stop sending, after one last pass of what is due (``last_s`` at most: the releases made
        while stopping); what is held stays at the edges until its lease ends."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            try:
                async with asyncio.timeout(last_s):
                    await self.send_due()
            except (OpenBMSError, TimeoutError) as err:
                log.warning("central schedules and programs: the last commands were not queued at "
                            "the stop (%s); the edges' leases end them", err or "no time left")

    async def _loop(self) -> None:
        while True:
            try:
                await self.send_due()
            except OpenBMSError as err:  # the database away: what is held waits, and is sent later
                if not self._failing:
                    log.error("central schedules and programs: commands cannot be queued (%s); "
                              "tried again every %g s", err, self.tick_s)
                self._failing = True
            except Exception as err:  # a defect: said, and the loop goes on (health says so)
                if not self._failing:
                    log.exception("central schedules and programs: commands cannot be queued")
                self._failing = True
                self._last_error = f"{type(err).__name__}: {err}"
            else:
                if self._failing:
                    log.warning("central schedules and programs: commands are queued again")
                self._failing, self._last_error = False, ""
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_s)

    async def send_due(self) -> int:
        """Queue every held value that is due (changed, past the interval; or due for renewal);
        how many were queued. A HistorianError leaves the rest held."""
        sent = 0
        for key, held in list(self._held.items()):
            now = self.clock.now()
            last = held.sent_at
            if not self.writable(key[0]):
                # The edge no longer lets it be written (a new configuration): it holds no slot
                # of it, and a value renewed now would come back if it ever did again.
                if not held.release:
                    log.warning("central: %s is no longer writable at its edge: %s's value at "
                                "priority %d is dropped", key[0], held.requested_by, key[1])
                del self._held[key]
                continue
            if held.waiting:
                if last is not None and now < last + self.min_interval_s:
                    continue
            elif held.release or last is None or now < last + self.lease_s / 2:
                continue
            point, priority = key
            renewal = not held.waiting
            # Marked sent before the await: a newer value held meanwhile waits the interval.
            before = held.sent_at, held.waiting
            held.sent_at, held.waiting = now, False
            try:
                await self.queue.submit(
                    point.split("/", 1)[0], point, held.value, now=now,
                    expires_s=min(self.queue_s, self.lease_s / 2), priority=priority,
                    release=held.release, reason=held.reason, requested_by=held.requested_by,
                    duration_s=None if held.release else self.lease_s, supersede=True)
            except BaseException:
                held.sent_at, held.waiting = before
                raise
            sent += 1
            self.queued += 1
            self.renewed += renewal
        if sent and self.poke is not None:
            self.poke()
        return sent

    def health(self) -> dict[str, Any]:
        """A health component: degraded while commands cannot be queued; the values held, the
        commands queued (renewals among them) and the values that waited for the interval."""
        problems = list(self.problems()) if self.problems is not None else []
        out: dict[str, Any] = {"status": "degraded" if self._failing or problems else "ok",
                               "reasons": problems,
                               "held": sum(not h.release for h in self._held.values()),
                               "queued": self.queued, "renewed": self.renewed,
                               "coalesced": self.coalesced}
        if self._failing:
            out["reasons"].insert(0, "the centre's schedules and programs cannot queue their "
                                     f"commands ({self._last_error or 'the database'}): their "
                                     "values are held and tried again")
        return out

