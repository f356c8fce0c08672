"""The embedded history store: SQLite in WAL mode, a writer thread and a merger thread.

It implements the store contract, ``Historian`` in ``historian/base.py``;
open it through ``open_historian("sqlite:///PATH")`` (``historian/factory.py``).

Flow of a sample::

    ingest() ─▶ outbox (batches, in memory)
       writer thread ─▶ FILE.inbox: INSERT INTO inbox, COMMIT          (durable here)
       merger thread ─▶ FILE: inbox ─sorted─▶ history, latest, rollup_dirty; then clear inbox
                        rollup pass: rollup_dirty ─▶ rollup_hour ─▶ rollup_day

``ingest`` runs on the event loop and only appends a reference to the batch.
A sample is durable once its inbox commit returns; a crash loses at most the
outbox, i.e. one flush interval. The inbox is a separate file so that
appending to it never waits for a merge: the merger reads it through ATTACH
(WAL readers do not block writers) and writes only the main file. Merged
rows are deleted from the inbox in a second transaction; a crash between the
two leaves rows that are merged again at the next start, which changes
nothing (merges are idempotent). History queries read the main file: what is
committed becomes visible within ``merge_interval`` (``flush()`` forces it).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import os
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from openbms.errors import HistorianError
from openbms.historian import schema
from openbms.historian.base import ROLLUP_FIELDS, RawRow, Rollup, RollupSeries
from openbms.historian.outbox import OutboxStore
from openbms.model.sample import STATUS_CODES, STATUSES, Sample
from openbms.runtime.clock import Clock

__all__ = ["SQLiteHistorian"]

log = logging.getLogger(__name__)

_HOUR = schema.HOUR
#: 16 KiB pages: fewer, fuller B-tree pages per point; measured best for the merge.
PAGE_SIZE = 16384
#: Fold the WAL back every ~16 MiB, so readers never walk a long WAL.
CHECKPOINT_PAGES = 1000
_T = TypeVar("_T")


def _storable(sample: Sample) -> Sample:
    """``sample`` with a value SQLite can store: an integer beyond 64 bits as a float, anything
    but a number, text or None as its text."""
    value = sample[2]
    if isinstance(value, bool) or value is None or isinstance(value, float | str):
        return sample
    if isinstance(value, int):
        return sample if -(2**63) <= value < 2**63 else sample._replace(value=float(value))
    return sample._replace(value=str(value))


class SQLiteHistorian(OutboxStore):
    """The SQLite history store, in ``path`` and ``path.inbox``; its outbox is ``OutboxStore``'s.

    ``flush_count`` samples or ``flush_interval`` seconds, whichever comes
    first, make one inbox commit. ``merge_rows`` rows or ``merge_interval``
    seconds make one merge into history. ``max_hold`` (≤ 1 hour) bounds how
    long a value counts in time-weighted means after its timestamp when no
    newer sample came. ``max_backlog`` bounds the outbox: past it, the oldest
    batches are dropped and counted (``stats().dropped``), which only happens
    when the disk cannot keep up for a long time. ``cache_mb`` is SQLite's
    page cache for merges (queries get half of it).

    Flush and merge cadences run on real monotonic time (they pace I/O); the
    injected clock gives "now" for retention.
    """

    _log = log
    _retry_on = (sqlite3.Error,)
    _falling_behind = "the disk"

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock | None = None,
        flush_count: int = 50_000,
        flush_interval: float = 1.0,
        merge_rows: int = 500_000,
        merge_interval: float = 1.0,
        rollup_interval: float = 60.0,
        retention_interval: float = 3600.0,
        max_hold: float = 900.0,
        max_backlog: int = 2_000_000,
        synchronous: str = "NORMAL",
        cache_mb: int = 32,
        readonly: bool = False,
    ) -> None:
        if not 0 < max_hold <= _HOUR:
            raise ValueError("max_hold must be in (0, 3600] seconds")
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        super().__init__(clock=clock, flush_count=flush_count, flush_interval=flush_interval,
                         max_backlog=max_backlog, readonly=readonly)
        self.path = Path(path)
        self.inbox_path = self.path.with_name(self.path.name + ".inbox")
        self._write_where = self.inbox_path.name
        self.merge_rows = merge_rows
        self.merge_interval = merge_interval
        self.rollup_interval = rollup_interval
        self.retention_interval = retention_interval
        self.max_hold = max_hold
        self.synchronous = synchronous.upper()
        self.cache_mb = cache_mb
        self._lock_fd: int | None = None
        self._maint: asyncio.Future[None] | None = None  # the merger thread's running pass

        # One thread per connection: the writer appends to the inbox file, the
        # merger owns the main file, the reader answers queries.
        self._wexec = ThreadPoolExecutor(1, thread_name_prefix="historian-writer")
        self._mexec = ThreadPoolExecutor(1, thread_name_prefix="historian-merger")
        self._rexec = ThreadPoolExecutor(1, thread_name_prefix="historian-reader")
        self._w: sqlite3.Connection | None = None
        self._m: sqlite3.Connection | None = None
        self._r: sqlite3.Connection | None = None
        self._names: dict[int, str] = {}
        self._next_pid = 1
        self._first_unsaved = 1  # the first point number not yet committed to new_series
        # Points whose rollups may be stale: set by merges, cleared by rollup passes. A query
        # of a clean point skips the trip to the merger thread.
        self._dirty_pids: set[int] = set()
        self._passes = 0  # rollup passes running in the merger thread
        self._appended = 0  # rows the writer put in the inbox (writer thread only)
        self._merged = 0  # rows the merger took out of it (merger thread only)
        self._last_merge = 0.0
        self._last_rollup = 0.0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open (or create) the files, merge what a crash left in the inbox, start the writer.

        One process owns a history file at a time (a lock file beside it); a
        second one gets HistorianError, or opens it ``readonly`` for queries.
        """
        loop = asyncio.get_running_loop()
        if self.readonly:
            try:
                await loop.run_in_executor(self._rexec, self._open_readonly)
            except sqlite3.Error as err:
                await self._close_all()
                raise HistorianError(f"cannot read history database {self.path}: {err}") from err
            return
        self._lock()
        try:
            await loop.run_in_executor(self._mexec, self._open_merger)
            await loop.run_in_executor(self._wexec, self._open_writer)
            await loop.run_in_executor(self._rexec, self._open_reader)
        except sqlite3.Error as err:
            await self._close_all()
            raise HistorianError(f"cannot open history database {self.path}: {err}") from err
        self._start_writer("historian-writer")

    async def stop(self) -> None:
        """Flush everything accepted, bring rollups up to date, close the files."""
        if self.readonly:
            await self._close_all()
            return
        if self._task is None:
            return
        await self._stop_writer()
        if self._maint is not None:
            with contextlib.suppress(sqlite3.Error):
                await self._maint
        await self._close_all()

    async def _close_all(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._wexec, self._close_writer)
        await loop.run_in_executor(self._mexec, self._close_merger)
        await loop.run_in_executor(self._rexec, self._close_reader)
        for ex in (self._wexec, self._mexec, self._rexec):
            ex.shutdown(wait=True)
        self._unlock()

    def _lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise HistorianError(
                f"history database {self.path} is in use by another openbms process "
                f"(pid {holder}); stop it, or open the history read-only"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _open_readonly(self) -> None:
        """Reader only, for queries while another process owns the file."""
        if not self.path.exists():
            raise sqlite3.OperationalError("no such file")
        self._r = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        self._r.execute("PRAGMA mmap_size=268435456")
        for pid, point in self._r.execute("SELECT pid, point FROM series"):
            self._pids[point] = pid
            self._names[pid] = point
        for pid, ts, value, status in self._r.execute("SELECT pid, ts, value, status FROM latest"):
            point = self._names[pid]
            self._last[point] = Sample(point, ts, value, STATUSES[status])

    async def __aenter__(self) -> SQLiteHistorian:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _free_space(self) -> str:
        """Free space of the data folder, for a failure's log line (not on the hot path)."""
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError as err:
            return f"free space unknown: {err}"
        return f"{free / 1e6:.1f} MB free in {self.path.parent}"

    # ------------------------------------------------------------------ writer task

    async def flush(self) -> None:
        """Commit everything accepted so far and merge it, so queries see it."""
        if self._task is None:
            raise HistorianError("the historian is not running (or is read-only)")
        await self._drain()
        await asyncio.get_running_loop().run_in_executor(self._mexec, self._merge)

    async def _commit(self, batch: list[Sequence[Sample]]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._wexec, self._write_inbox, batch)
        except (OverflowError, TypeError, ValueError):
            # A value SQLite cannot store (an integer beyond 64 bits from a device, an
            # object): the transaction was rolled back; store such values as floats (or
            # text) and the rest as they are, rather than lose the batch or the writer.
            # In place, so that a retry after a failure sends the storable values.
            batch[:] = [[_storable(s) for s in samples] for samples in batch]
            await loop.run_in_executor(self._wexec, self._write_inbox, batch)

    def _idle_timeout(self) -> float:
        return self.merge_interval  # the loop also paces merges

    async def _between_writes(self, final: bool) -> None:
        self._kick_maintenance()  # also on the last turn: a stop forces the final merge

    def _write_failure_context(self) -> str:
        return f"; {self._free_space()}"

    def _kick_maintenance(self) -> None:
        """Start merge/rollup/retention work on the merger thread unless some is running."""
        if self._maint is not None and not self._maint.done():
            return
        loop = asyncio.get_running_loop()
        self._maint = loop.run_in_executor(self._mexec, self._maintain, self._stopping)
        self._maint.add_done_callback(self._maintenance_done)

    def _maintenance_done(self, fut: Future[None] | asyncio.Future[None]) -> None:
        """On the event loop: count a failed pass; say the first failure and the recovery once."""
        if fut.cancelled():
            return
        err = fut.exception()
        if err is None:
            if self._maint_failing:
                self._maint_failing = False
                log.warning("history maintenance (merges, rollups, retention) recovered after %d "
                            "failed passes in all", self._maint_errors)
            return
        self._maint_errors += 1
        text = self._note_error(self.path.name, err)
        if not self._maint_failing:
            self._maint_failing = True
            log.error("history maintenance failing (%s; %s): committed samples wait in %s and "
                      "queries do not see them yet; retried every %g s",
                      text, self._free_space(), self.inbox_path.name, self.merge_interval)

    # ------------------------------------------------------------------ connections

    def _connect(self, path: Path, cache_mb: int) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only takes effect when the file is new
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        return db

    def _open_merger(self) -> None:
        """Merger thread: create or check the main file, attach the inbox, recover."""
        db = self._m = self._connect(self.path, self.cache_mb)
        db.create_function("pack_rollup", 9, schema.pack_rollup, deterministic=True)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > schema.SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"history schema version {version} is newer than this openbms "
                f"({schema.SCHEMA_VERSION}); upgrade openbms"
            )
        db.execute("BEGIN IMMEDIATE")
        for ddl in schema.MAIN_DDL:
            db.execute(ddl)
        db.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION}")
        db.execute("COMMIT")
        db.execute("ATTACH DATABASE ? AS ib", (str(self.inbox_path),))
        db.execute("PRAGMA ib.journal_mode=WAL")
        db.execute(f"PRAGMA ib.synchronous={self.synchronous}")
        db.execute("BEGIN IMMEDIATE")
        for ddl in schema.INBOX_DDL:
            db.execute(ddl.replace("IF NOT EXISTS ", "IF NOT EXISTS ib.", 1))
        db.execute("COMMIT")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS _todo (pid INTEGER, start REAL)")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS _days (pid INTEGER, start REAL, stop REAL)")
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _span "
            "(pid INTEGER PRIMARY KEY, first REAL, newest REAL, value, status INTEGER)"
        )
        left = db.execute("SELECT count(*) FROM ib.inbox").fetchone()[0]
        if left:
            log.warning("merging %d samples left in the inbox by an unclean stop", left)
        self._merge()
        if left:
            self._rollup_pass(None)
        for pid, point in db.execute("SELECT pid, point FROM series"):
            self._pids[point] = pid
            self._names[pid] = point
        self._next_pid = self._first_unsaved = max(self._names, default=0) + 1
        for pid, ts, value, status in db.execute("SELECT pid, ts, value, status FROM latest"):
            point = self._names[pid]
            self._last[point] = Sample(point, ts, value, STATUSES[status])

    def _open_writer(self) -> None:
        self._w = self._connect(self.inbox_path, 2)  # appends only: the cache barely matters

    def _open_reader(self) -> None:
        self._r = self._connect(self.path, max(4, self.cache_mb // 2))
        self._r.execute("PRAGMA query_only=ON")
        self._r.execute("PRAGMA mmap_size=268435456")  # reads map pages instead of copying them

    def _close_writer(self) -> None:
        if self._w is not None:
            self._w.close()
            self._w = None

    def _close_merger(self) -> None:
        if self._m is not None:
            try:
                self._merge()
                self._rollup_pass(None)
                self._m.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")
                self._m.execute("PRAGMA ib.wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as err:
                # What the inbox holds is durable: the next start merges it (a disk still full).
                log.error("history: closing before merging everything (%s: %s); the next start "
                          "merges the rest", self.path.name, err)
            self._m.close()
            self._m = None

    def _close_reader(self) -> None:
        if self._r is not None:
            self._r.close()
            self._r = None

    # ------------------------------------------------------------------ writer thread

    def _pid_rows(self, samples: Sequence[Sample], new: list[tuple[Any, ...]],
                  undo: dict[str, Sample | None]) -> list[tuple[Any, ...]]:
        """Inbox rows of samples; numbers new points into ``new``; keeps the latest-value mirror,
        noting in ``undo`` what each point's entry was before this transaction."""
        pids = self._pids
        codes = STATUS_CODES
        last = self._last
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        for s in samples:
            point = s[0]
            pid = pids.get(point)
            if pid is None:
                pid = self._number(point, new)
            cur = last.get(point)
            if cur is None or s[1] >= cur[1]:
                if point not in undo:
                    undo[point] = cur
                last[point] = s
            else:
                self._late += 1
            append((pid, s[1], s[2], codes[s[3]]))
        return rows

    def _number(self, point: str, new: list[tuple[Any, ...]]) -> int:
        pid = self._next_pid
        self._next_pid += 1
        pol = self._policies.get(point)
        new.append((
            pid, point, pol.raw_days if pol else None, pol.rollup_days if pol else None,
            self._timezones.get(point, "UTC"),
        ))
        self._pids[point] = pid
        self._names[pid] = point
        return pid

    def _write_inbox(self, batch: list[Sequence[Sample]]) -> None:
        db = self._w
        assert db is not None
        new: list[tuple[Any, ...]] = []
        undo: dict[str, Sample | None] = {}
        late = self._late
        n = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for samples in batch:
                # Rows as a list, one published batch at a time: a generator would make
                # executemany re-take the GIL per row (a convoy with the busy event loop),
                # and one list for the whole outbox would double its memory.
                rows = self._pid_rows(samples, new, undo)
                if new:
                    db.executemany("INSERT OR IGNORE INTO new_series VALUES (?, ?, ?, ?, ?)", new)
                    new.clear()
                db.executemany("INSERT INTO inbox VALUES (?, ?, ?, ?)", rows)
                n += len(rows)
            db.execute("COMMIT")
        except BaseException:
            # Undone before the rollback (which cannot fail, but order says what matters): points
            # numbered in this transaction are numbered again on the retry, so their series rows
            # are written with it; the latest-value mirror and the late count forget this attempt.
            for point in [p for p, pid in self._pids.items() if pid >= self._first_unsaved]:
                self._names.pop(self._pids.pop(point), None)
            self._next_pid = self._first_unsaved
            self._forget_latest(undo, late)
            _rollback(db)
            raise
        self._first_unsaved = self._next_pid
        self._appended += n

    # ------------------------------------------------------------------ merger thread

    def _maintain(self, force: bool) -> None:
        """Periodic work on the merger thread: merge, rollups, retention, policies."""
        now = time.monotonic()
        pending = self._appended - self._merged
        if pending and (
            force or pending >= self.merge_rows or now - self._last_merge >= self.merge_interval
        ):
            self._merge()
        if force or now - self._last_rollup >= self.rollup_interval:
            self._rollup_pass(None)
            self._last_rollup = now
        if now - self._last_retention >= self.retention_interval:
            self._sync_series()
            self._apply_retention()
            self._last_retention = now

    def _merge(self) -> None:
        """Move committed inbox rows into history, then take them out of the inbox."""
        db = self._m
        assert db is not None
        self._last_merge = time.monotonic()
        hi = db.execute("SELECT max(rowid) FROM ib.inbox").fetchone()[0]
        if hi is None:
            return
        params = {"hi": hi, "now": self.clock.now(), "hold": self.max_hold, "span": 6 * _HOUR}
        # Deferred: only the main file is written here, so the writer keeps appending.
        db.execute("BEGIN")
        try:
            db.execute(schema.COPY_SERIES)
            retention = db.execute(
                "SELECT 1 FROM series WHERE raw_days IS NOT NULL LIMIT 1").fetchone()
            db.execute(schema.MERGE_HISTORY if retention else schema.MERGE_HISTORY_ALL, params)
            db.execute("DELETE FROM _span")
            db.execute(schema.SPAN, params)
            db.execute(schema.MARK_DIRTY, params)
            if db.execute(schema.WIDE_SPANS, params).fetchone():
                db.execute(schema.MARK_DIRTY_SPREAD, params)
            db.execute(schema.MERGE_LATEST, params)
            db.execute("COMMIT")
            spans = db.execute("SELECT pid, first FROM _span").fetchall()
            self._dirty_pids.update(pid for pid, _first in spans)
            self._note_changes(spans)
        except BaseException:
            _rollback(db)
            raise
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute("DELETE FROM ib.inbox WHERE rowid <= ?", (hi,)).rowcount
            db.execute("DELETE FROM ib.new_series WHERE pid IN (SELECT pid FROM main.series)")
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._merged += n

    def _rollup_pass(self, pid: int | None) -> None:
        """Recompute the rollups of dirty buckets (of one point, or of all)."""
        db = self._m
        assert db is not None
        where, args = ("WHERE pid = ?", (pid,)) if pid is not None else ("", ())
        # Cleared before the pass: a merge racing with it marks the point again. While a pass
        # runs, a rollup query waits for it (``rollups``): the point is no longer dirty, but
        # its buckets are not written yet.
        self._passes += 1
        if pid is None:
            self._dirty_pids.clear()
        else:
            self._dirty_pids.discard(pid)
        try:
            self._rollup_transaction(db, where, args)
        finally:
            self._passes -= 1
        if pid is None:
            # Readers pay for every page still in the WAL: fold it back after each full pass.
            db.execute("PRAGMA main.wal_checkpoint(PASSIVE)")

    def _rollup_transaction(self, db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> None:
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM _todo")
            db.execute(f"INSERT INTO _todo SELECT pid, start FROM rollup_dirty {where}", args)
            if db.execute("SELECT count(*) FROM _todo").fetchone()[0]:
                db.execute(schema.ROLLUP_HOURS, {"hold": self.max_hold})
                db.execute("DELETE FROM _days")
                db.executemany("INSERT INTO _days VALUES (?, ?, ?)", self._days_of_todo(db))
                db.execute(schema.ROLLUP_DAYS)
                db.execute(f"DELETE FROM rollup_dirty {where}", args)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    def _days_of_todo(self, db: sqlite3.Connection) -> list[tuple[int, float, float]]:
        """The local days (in each point's time zone) that the dirty hours fall in."""
        tz_of = dict(db.execute("SELECT pid, tz FROM series WHERE pid IN (SELECT pid FROM _todo)"))
        days: set[tuple[int, float, float]] = set()
        zones: dict[str, ZoneInfo] = {}
        for pid, start in db.execute("SELECT pid, start FROM _todo"):
            name = tz_of.get(pid, "UTC")
            tz = zones.get(name) or zones.setdefault(name, ZoneInfo(name))
            days.add((pid, *local_day(start, tz)))
        return list(days)

    def _sync_series(self) -> None:
        """Write each point's retention and time zone into the series table."""
        db = self._m
        assert db is not None
        rows = []
        for point, pid in list(self._pids.items()):
            pol = self._policies.get(point)
            rows.append((
                pol.raw_days if pol else None,
                pol.rollup_days if pol else None,
                self._timezones.get(point, "UTC"),
                pid,
            ))
        db.execute("BEGIN")
        try:
            db.executemany("UPDATE series SET raw_days = ?, rollup_days = ?, tz = ? WHERE pid = ?",
                           rows)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    def _apply_retention(self) -> None:
        """Delete raw samples and rollups older than each point's retention."""
        db = self._m
        assert db is not None
        now = self.clock.now()
        cutoffs = db.execute(
            "SELECT pid, raw_days, rollup_days FROM series "
            "WHERE raw_days IS NOT NULL OR rollup_days IS NOT NULL"
        ).fetchall()
        db.execute("BEGIN")
        try:
            for pid, raw_days, rollup_days in cutoffs:
                # Per point, so each delete is a range scan of the primary key.
                if raw_days is not None:
                    db.execute(
                        "DELETE FROM history WHERE pid = ? AND ts < ?", (pid, now - raw_days * 86400)
                    )
                if rollup_days is not None:
                    for table in ("rollup_hour", "rollup_day"):
                        db.execute(
                            f"DELETE FROM {table} WHERE pid = ? AND start < ?",
                            (pid, now - rollup_days * 86400),
                        )
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._note_changes([(pid, -math.inf) for pid, raw_days, _r in cutoffs if raw_days is not None])

    async def apply_retention(self) -> None:
        """Apply retention now (it also runs every ``retention_interval``)."""
        loop = asyncio.get_running_loop()
        await self.flush()
        await loop.run_in_executor(self._mexec, self._sync_series)
        await loop.run_in_executor(self._mexec, self._apply_retention)

    async def refresh_rollups(self) -> None:
        """Bring every rollup up to date now (it also runs every ``rollup_interval``)."""
        await self.flush()
        await asyncio.get_running_loop().run_in_executor(self._mexec, self._rollup_pass, None)

    # ------------------------------------------------------------------ queries

    async def _read(self, fn: Callable[..., _T], *args: object) -> _T:
        if self._r is None:
            raise HistorianError("the historian is not running")
        return await asyncio.get_running_loop().run_in_executor(self._rexec, fn, *args)

    def _pid(self, point: str) -> int | None:
        return self._pids.get(point)

    async def raw(self, point: str, since: float, until: float) -> list[Sample]:
        """Stored samples of one point with ``since <= ts < until``, in time order."""
        pid = self._pid(point)
        if pid is None:
            return []
        rows = await self._read(
            self._fetch,
            "SELECT ts, value, status FROM history WHERE pid = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (pid, since, until),
        )
        statuses = STATUSES
        return [Sample(point, ts, v, statuses[st]) for ts, v, st in rows]

    async def raw_rows(self, point: str, since: float, until: float,
                       limit: int | None = None) -> list[RawRow]:
        """Like :meth:`raw` but plain ``(ts, value, status code)`` rows (``STATUSES[code]``),
        at most ``limit`` of them: for answers built straight from the rows."""
        pid = self._pid(point)
        if pid is None:
            return []
        sql = "SELECT ts, value, status FROM history WHERE pid = ? AND ts >= ? AND ts < ? ORDER BY ts"
        args: tuple[Any, ...] = (pid, since, until)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        return await self._read(self._fetch, sql, args)

    async def last_before(self, point: str, ts: float) -> RawRow | None:
        """The newest ``(ts, value, status code)`` row of ``point`` before ``ts``, or None."""
        pid = self._pid(point)
        if pid is None:
            return None
        rows = await self._read(
            self._fetch,
            "SELECT ts, value, status FROM history WHERE pid = ? AND ts < ? ORDER BY ts DESC LIMIT 1",
            (pid, ts),
        )
        return rows[0] if rows else None

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        assert self._r is not None
        return self._r.execute(sql, args).fetchall()

    async def rollups(
        self, point: str, rollup: Rollup, since: float, until: float
    ) -> RollupSeries:
        """Rollups of one point whose bucket starts in ``[since, until)``, brought up to date first."""
        if rollup not in ("hour", "day"):
            raise ValueError(f"rollup must be 'hour' or 'day', not {rollup!r}")
        pid = self._pid(point)
        if pid is None:
            return RollupSeries(point)
        # Read-only: as fresh as the owner's last rollup pass.
        if not self.readonly and (pid in self._dirty_pids or self._passes):
            await asyncio.get_running_loop().run_in_executor(self._mexec, self._rollup_pass, pid)
        blob = await self._read(
            self._fetch_packed,
            f"SELECT packed FROM rollup_{rollup} WHERE pid = ? AND start >= ? AND start < ? "
            "ORDER BY start",
            (pid, since, until),
        )
        array = np.frombuffer(blob, dtype="<f8").reshape(-1, len(ROLLUP_FIELDS))
        return RollupSeries(point, array)

    def _fetch_packed(self, sql: str, args: Sequence[Any]) -> bytes:
        assert self._r is not None
        return b"".join([row[0] for row in self._r.execute(sql, args)])

    async def iter_raw(
        self, points: Sequence[str], since: float, until: float, chunk: int = 10_000
    ) -> AsyncIterator[list[Sample]]:
        """Yield lists of samples of several points over a range, point by point, for export."""
        for point in points:
            pid = self._pid(point)
            if pid is None:
                continue
            start = since
            while True:
                rows = await self._read(
                    self._fetch,
                    "SELECT ts, value, status FROM history WHERE pid = ? AND ts >= ? AND ts < ? "
                    "ORDER BY ts LIMIT ?",
                    (pid, start, until, chunk),
                )
                if not rows:
                    break
                yield [Sample(point, ts, v, STATUSES[st]) for ts, v, st in rows]
                if len(rows) < chunk:
                    break
                start = math.nextafter(rows[-1][0], math.inf)

    async def count(self, points: Sequence[str], since: float, until: float) -> int:
        """How many stored samples the points have in a range (to size a progress bar)."""
        pids = [p for p in (self._pid(x) for x in points) if p is not None]
        if not pids:
            return 0
        marks = ",".join("?" * len(pids))
        rows = await self._read(
            self._fetch,
            f"SELECT count(*) FROM history WHERE pid IN ({marks}) AND ts >= ? AND ts < ?",
            (*pids, since, until),
        )
        return int(rows[0][0])


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already done it.

    On SQLITE_FULL, SQLITE_IOERR and a few others SQLite rolls the transaction
    back itself; a second ROLLBACK would fail with "cannot rollback - no
    transaction is active" and hide the real error, which is re-raised instead.
    """
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def local_day(ts: float, tz: ZoneInfo) -> tuple[float, float]:
    """The local day containing ``ts``, as UTC epoch seconds ``[midnight, next midnight)``."""
    local = datetime.fromtimestamp(ts, tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Adding a day to an aware datetime keeps wall time: the next local midnight, 23–25 h on.
    nxt = (midnight + timedelta(days=1)).replace(tzinfo=tz)
    return midnight.timestamp(), nxt.timestamp()
