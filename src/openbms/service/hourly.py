"""An hourly job of the runtime: run at start, then a few minutes past every hour of its clock.

::

    start ─▶ run_once(at) ─▶ sleep to the next hour + run_after_s ─▶ run_once(at) ─▶ …
    stop  ─▶ cancel the wait; a run in progress ends after the piece in hand (shielded)

The load forecasts (``service/forecasts.py``) and anomaly detection
(``service/anomalies.py``) are such jobs. A failure is logged once, with its
traceback, and its recovery once (``failed``/``works``, by what failed), so a
database that is away for a day is not a warning every hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Generic, TypeVar

from openbms.runtime.clock import Clock

__all__ = ["HOUR", "HourlyJob"]

HOUR = 3600.0

R = TypeVar("R")


class HourlyJob(Generic[R]):
    """Runs ``run_once`` at start, then ``run_after_s`` past every hour of ``clock``, in a task.

    A subclass gives ``run_once(at)`` (``at`` from ``run_at(now)``: the clock's time, or a
    whole hour), and calls ``failed``/``works`` for the parts that may fail on their own.
    """

    def __init__(self, name: str, clock: Clock, run_after_s: float, log: logging.Logger) -> None:
        self._name = name
        self._clock = clock
        self._run_after_s = run_after_s
        self._log = log
        self._task: asyncio.Task[None] | None = None
        self._current: asyncio.Future[R] | None = None  # the run in progress
        self._stopping = False
        self._failing: set[str] = set()
        #: The last run's summary (None before the first).
        self.last_run: R | None = None

    async def run_once(self, at: float) -> R:
        """One run at ``at``."""
        raise NotImplementedError

    def run_at(self, now: float) -> float:
        """The time a run started at ``now`` is for (default: ``now``)."""
        return now

    async def start(self) -> None:
        """Run at once, then every hour, in a task."""
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        """Stop the task; a run in progress ends after its piece in hand (its worker thread still
        uses the database and the historian, which stop after this). Safe to call twice."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        current, self._current = self._current, None
        if current is not None and not current.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await current

    async def _loop(self) -> None:
        while True:
            self._current = asyncio.ensure_future(self.run_once(self.run_at(self._clock.now())))
            try:
                # Shielded: a stop waits for the run (see ``stop``) instead of leaving its thread behind.
                self.last_run = await asyncio.shield(self._current)
            except Exception:
                self.failed(self._name)
            else:
                self.works(self._name)
            now = self._clock.now()
            await self._clock.sleep(max(math.floor(now / HOUR) * HOUR + HOUR + self._run_after_s - now, 1.0))

    def failed(self, what: str) -> None:
        """Log a failure once (the exception being handled), until it works again."""
        if what not in self._failing:
            self._failing.add(what)
            self._log.warning("%s failed: retried every hour", what, exc_info=True)

    def works(self, what: str) -> None:
        """``what`` works (again): say so once after a failure."""
        if what in self._failing:
            self._failing.discard(what)
            self._log.info("%s works again", what)
