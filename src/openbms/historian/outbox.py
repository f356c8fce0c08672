"""The in-memory side that both history stores are built on: the ingest outbox and what the
writer keeps in memory on the way (latest values, the point index, change notes).

::

    ingest() ─▶ COV / disabled filter ─▶ outbox: references to published batches   (event loop)
       writer task: flush_count samples or flush_interval seconds ─▶ _commit(batch)  (the store's)
                    failed: batch back at the front, order kept, retried after a pause
                    past max_backlog: oldest batches dropped and counted
       stats(): counters and backlog, O(1)
    the store's writer ─▶ _last, _pids ─▶ last_values(), points()
                      ─▶ _note_changes(spans) ─▶ changed_since_last() of watched points

``OutboxStore`` is a base class, not a component a store holds: ``ingest`` is
the per-batch hot path and reads and writes a dozen counters that ``stats``,
the writer and the store's own code share, so keeping them on one object
keeps ``ingest`` free of a delegating call and of ``self._outbox.x`` look-ups.
A store supplies ``_commit`` (make one batch durable, on its own thread or
connection) and ``_between_writes`` (its maintenance, once a writer-loop turn),
and names itself in its log lines through a few class attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from openbms.historian.base import HistorianStats
from openbms.model.sample import Sample
from openbms.model.site import HistoryPolicy
from openbms.runtime.clock import Clock, WallClock

__all__ = ["STOP_ATTEMPTS", "OutboxStore"]

#: Failed writes a stop tries before it gives up on the samples still waiting
#: (a disk still full, a server gone).
STOP_ATTEMPTS = 3


class OutboxStore:
    """Ingest, filtering, the bounded outbox, the writer loop with its retry, ``stats``,
    latest values, the point list and change notes.

    The store fills ``_pids`` (point → number) and ``_last`` (newest sample per
    point) at start and from its writer, and calls ``_note_changes`` after each
    write or deletion. What a store sets: ``_log`` (its module's logger, so its log lines keep its
    name), ``_retry_on`` (the errors a failed write is kept and retried on),
    ``_falling_behind`` (who is not keeping up, for the drop line) and
    ``_write_where`` (what a write error is about, for ``last_error``).
    """

    _log: ClassVar[logging.Logger]
    _retry_on: ClassVar[tuple[type[BaseException], ...]]
    _falling_behind: ClassVar[str]
    _write_where: str

    def __init__(
        self, *, clock: Clock | None, flush_count: int, flush_interval: float, max_backlog: int,
        readonly: bool,
    ) -> None:
        self.clock: Clock = clock or WallClock()
        self.flush_count = flush_count
        self.flush_interval = flush_interval
        self.max_backlog = max_backlog
        self.readonly = readonly

        # Event-loop side. The outbox holds references to published batches.
        self._outbox: list[Sequence[Sample]] = []
        self._outbox_n = 0
        self._outbox_since: float | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._committed: asyncio.Event | None = None
        self._stopping = False
        self._writing = 0  # samples handed to the writer thread, not yet committed
        # COV state per filtered point: [deadband, max_interval, last value, last ts, last status]
        self._cov: dict[str, list[Any]] = {}
        self._disabled: frozenset[str] = frozenset()
        self._policies: dict[str, HistoryPolicy] = {}
        self._timezones: dict[str, str] = {}
        self._last_retention = 0.0  # monotonic time of the last retention pass

        # Failures, said once each way (STYLE habit 8) and counted; read by health checks.
        self._failing = False  # the writer's last commit failed
        self._maint_failing = False  # the store's last maintenance pass failed
        self._write_errors = 0
        self._maint_errors = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None  # the injected clock's time
        # Monotonic time the oldest sample not yet committed was accepted (None: nothing waits).
        self._pending_since: float | None = None
        self._dropping = False

        self._received = 0
        self._filtered = 0
        self._stored = 0
        self._dropped = 0
        self._flushes = 0
        self._late = 0

        # Kept by the store: its point numbers, loaded at start and extended by the writer, and
        # the newest sample committed per point (so a restarted system starts warm).
        self._pids: dict[str, int] = {}
        self._last: dict[str, Sample] = {}
        # Watched points → the oldest time a write changed since the watcher last asked
        # (-inf: anything may have changed); written by the store's threads, read on the loop.
        self._watched: dict[int, float | None] = {}
        self._watch_lock = threading.Lock()

    # ------------------------------------------------------------------ what a store supplies

    async def _commit(self, batch: list[Sequence[Sample]]) -> None:
        """Make ``batch`` durable; raise one of ``_retry_on`` to have it kept and retried.

        It may replace the batch's items in place (``batch[:] = …``): a retry then
        sends what it left there.
        """
        raise NotImplementedError

    async def _between_writes(self, final: bool) -> None:
        """The store's maintenance, once each writer-loop turn; ``final``: the loop ends now."""

    def _idle_timeout(self) -> float:
        """Seconds the writer loop sleeps when the outbox is empty."""
        return self.flush_interval

    def _error_text(self, err: BaseException) -> str:
        """One line that says what ``err`` was, for ``last_error`` and the log."""
        return str(err)

    def _write_failure_context(self) -> str:
        """More to say in the "writes failing" line, after the error (e.g. "; 0.0 MB free")."""
        return ""

    # ------------------------------------------------------------------ configuration

    def configure(
        self, policies: Mapping[str, HistoryPolicy], timezones: Mapping[str, str] | None = None
    ) -> None:
        """Set per-point history policies and, for daily rollups, each point's time zone."""
        self._policies = dict(policies)
        self._timezones = dict(timezones or {})
        self._disabled = frozenset(p for p, pol in policies.items() if not pol.enabled)
        cov: dict[str, list[Any]] = {}
        for point, pol in policies.items():
            if pol.enabled and (pol.deadband is not None or pol.max_interval is not None):
                old = self._cov.get(point)
                cov[point] = [pol.deadband, pol.max_interval, *(old[2:] if old else (None, None, None))]
        self._cov = cov
        self._last_retention = 0.0  # retention and time zones reach the series table soon

    # ------------------------------------------------------------------ hot path

    def ingest(self, samples: Sequence[Sample]) -> None:
        """Accept samples for storage. A bus callback: O(1) per batch when no point is filtered.

        The historian keeps a reference to ``samples``: callers must not mutate it afterwards.
        """
        n = len(samples)
        if not n:
            return
        self._received += n
        if self._cov or self._disabled:
            samples = self._filter(samples)
            self._filtered += n - len(samples)
            n = len(samples)
            if not n:
                return
        self._outbox.append(samples)
        self._outbox_n += n
        if self._outbox_since is None:
            self._outbox_since = time.monotonic()
            if self._pending_since is None:
                self._pending_since = self._outbox_since
        if self._outbox_n >= self.flush_count and self._wake is not None:
            self._wake.set()
        if self._outbox_n > self.max_backlog:
            self._drop_oldest()

    def _filter(self, samples: Sequence[Sample]) -> list[Sample]:
        """Apply COV deadband, max interval and disabled history to a batch."""
        cov = self._cov
        disabled = self._disabled
        out: list[Sample] = []
        append = out.append
        for s in samples:
            point = s[0]
            st = cov.get(point)
            if st is None:
                if point not in disabled:
                    append(s)
                continue
            deadband, max_interval, last_v, last_ts, last_status = st
            value = s[2]
            keep = (
                last_ts is None
                or s[3] is not last_status
                or (max_interval is not None and s[1] - last_ts >= max_interval)
                or value is None
                or last_v is None
                or deadband is None
                or not isinstance(value, int | float)
                or abs(value - last_v) > deadband
            )
            if keep:
                st[2] = value
                st[3] = s[1]
                st[4] = s[3]
                append(s)
        return out

    def _drop_oldest(self) -> None:
        while self._outbox_n > self.max_backlog and self._outbox:
            batch = self._outbox.pop(0)
            self._outbox_n -= len(batch)
            self._dropped += len(batch)
        if not self._dropping:  # said once, until a commit succeeds again
            self._dropping = True
            self._log.error(
                "history backlog above %d samples: %s is not keeping up; dropping the "
                "oldest (%d so far)%s",
                self.max_backlog, self._falling_behind, self._dropped,
                f"; last error: {self._last_error}" if self._last_error else "",
            )

    def stats(self) -> HistorianStats:
        """Counters, O(1). ``backlog`` is samples accepted but not yet committed,
        ``backlog_age`` how long the oldest of them has waited (seconds, 0 when none)."""
        since = self._pending_since
        return HistorianStats(
            received=self._received,
            filtered=self._filtered,
            stored=self._stored,
            backlog=self._outbox_n + self._writing,
            dropped=self._dropped,
            flushes=self._flushes,
            late=self._late,
            backlog_age=0.0 if since is None else max(0.0, time.monotonic() - since),
            write_errors=self._write_errors,
            maintenance_errors=self._maint_errors,
            failing=self._failing or self._maint_failing,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
        )

    def _note_error(self, where: str, err: BaseException) -> str:
        """Keep ``err`` as the last error; its one-line description."""
        text = f"{where}: {self._error_text(err)}"
        self._last_error = text
        self._last_error_at = self.clock.now()
        return text

    # ------------------------------------------------------------------ writer task

    async def wait_backlog(self, limit: int) -> None:
        """Wait until at most ``limit`` samples await their commit (backpressure for bulk loads)."""
        while self._outbox_n + self._writing > limit and self._committed is not None:
            self._committed.clear()
            if self._wake is not None:
                self._wake.set()
            await self._committed.wait()

    def _start_writer(self, name: str) -> None:
        """Start the writer task (the store's ``start``, once its files or connections are open)."""
        self._wake = asyncio.Event()
        self._committed = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._writer_loop(), name=name)

    async def _stop_writer(self) -> None:
        """Write everything accepted (or give up after STOP_ATTEMPTS failures), end the writer task."""
        self._stopping = True
        assert self._wake is not None
        self._wake.set()
        assert self._task is not None
        await self._task
        self._task = None

    async def _drain(self) -> None:
        """Commit everything accepted so far (what ``flush`` does before the store's own part)."""
        while self._outbox_n or self._writing:
            batch = self._take()
            if batch:
                await self._write(batch)
            else:
                await asyncio.sleep(0.001)

    def _take(self) -> list[Sequence[Sample]]:
        batch, self._outbox, self._outbox_n, self._outbox_since = self._outbox, [], 0, None
        self._writing += sum(len(b) for b in batch)
        return batch

    async def _write(self, batch: list[Sequence[Sample]]) -> None:
        n = sum(len(b) for b in batch)
        try:
            await self._commit(batch)
        except self._retry_on as err:
            # Keep the samples (at the front, order preserved) and retry after a pause.
            self._outbox[:0] = batch
            self._outbox_n += n
            self._outbox_since = self._pending_since or time.monotonic()
            self._write_errors += 1
            text = self._note_error(self._write_where, err)
            if not self._failing:
                self._failing = True
                self._log.error(
                    "history writes failing (%s%s): %d samples kept in memory, retried every "
                    "%g s, dropped past %d",
                    text, self._write_failure_context(), self._outbox_n + self._writing - n,
                    min(5.0, self.flush_interval), self.max_backlog,
                )
            self._writing -= n
            await asyncio.sleep(min(5.0, self.flush_interval))
        except BaseException:
            self._writing -= n
            raise
        else:
            self._writing -= n
            if self._failing:
                self._failing = False
                self._log.warning("history writes recovered after %d failed attempts in all",
                                  self._write_errors)
            self._stored += n
            self._flushes += 1
            self._dropping = False
            if not self._outbox_n and not self._writing:
                self._pending_since = None
            elif self._pending_since is not None:
                # The committed batch held the oldest samples; the outbox's first is next.
                self._pending_since = self._outbox_since or self._pending_since
            if self._committed is not None:
                self._committed.set()

    async def _writer_loop(self) -> None:
        assert self._wake is not None
        stop_failures = 0
        while True:
            since = self._outbox_since
            if since is None:
                timeout = self._idle_timeout()
            else:
                timeout = max(0.0, since + self.flush_interval - time.monotonic())
            if not self._stopping and self._outbox_n < self.flush_count:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
            due = self._outbox_since is not None and (
                self._outbox_n >= self.flush_count
                or time.monotonic() - self._outbox_since >= self.flush_interval
            )
            if (due or self._stopping) and self._outbox_n:
                errors = self._write_errors
                await self._write(self._take())
                if self._stopping and self._write_errors > errors:
                    stop_failures += 1
                    if stop_failures >= STOP_ATTEMPTS:
                        self._give_up()
            final = self._stopping and not self._outbox_n
            await self._between_writes(final)
            if final:
                return

    def _give_up(self) -> None:
        """Stopping while writes keep failing: count the rest as dropped, say so."""
        lost = self._outbox_n
        self._outbox, self._outbox_n, self._outbox_since, self._pending_since = [], 0, None, None
        self._dropped += lost
        self._log.error("history: stopping with %d samples that could not be written after %d "
                        "attempts (%s); they are lost", lost, STOP_ATTEMPTS, self._last_error)

    def _forget_latest(self, undo: Mapping[str, Sample | None], late: int) -> None:
        """A failed write: put back the latest values it replaced (``undo``) and the late count."""
        last = self._last
        for point, old in undo.items():
            if old is None:
                last.pop(point, None)
            else:
                last[point] = old
        self._late = late

    # ------------------------------------------------------------------ latest values, points

    async def last_values(self, points: Iterable[str] | None = None) -> dict[str, Sample]:
        """The latest sample of each point (of all points when ``points`` is None).

        Served from memory: the writer keeps the newest sample it committed per
        point, loaded from the ``latest`` table at start so a restart starts warm.
        """
        last = self._last
        if points is None:
            return dict(last)
        return {p: last[p] for p in points if p in last}

    def points(self) -> list[str]:
        """Every point with history."""
        return sorted(self._pids)

    # ------------------------------------------------------------------ change notes

    def _note_changes(self, spans: Iterable[tuple[int, float]]) -> None:
        """Tell watchers which points' stored samples changed, from which time on (the store's
        writing thread)."""
        if not self._watched:
            return
        with self._watch_lock:
            watched = self._watched
            for pid, first in spans:
                if pid in watched:
                    old = watched[pid]
                    watched[pid] = first if old is None else min(old, first)

    def watch(self, point: str) -> bool:
        """Start noting changes of ``point``'s stored samples (False: not stored here, or read-only).

        For a cache of recent samples kept above the historian: after ``watch``,
        ``changed_since_last`` tells whether anything was written or deleted since
        it was last asked, and from which time on.
        """
        pid = self._pids.get(point)
        if pid is None or self.readonly:
            return False
        with self._watch_lock:
            self._watched.setdefault(pid, None)  # already watched: its notes stay
        return True

    def unwatch(self, point: str) -> None:
        """Stop noting changes of ``point``."""
        pid = self._pids.get(point)
        if pid is not None:
            with self._watch_lock:
                self._watched.pop(pid, None)

    def changed_since_last(self, point: str) -> float | None:
        """The oldest sample time changed since the last call (-inf: any), or None for no change."""
        pid = self._pids.get(point)
        with self._watch_lock:
            if pid is None or pid not in self._watched:
                return -math.inf
            first = self._watched[pid]
            self._watched[pid] = None
        return first
