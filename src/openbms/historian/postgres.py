"""The PostgreSQL history store: binary COPY from the outbox, samples partitioned by week.

It implements the store contract, ``Historian`` in ``historian/base.py``;
open it through ``open_historian("postgresql://USER@HOST/DB")``
(``historian/factory.py``). The schema and its SQL are in ``pg_schema.py``.

Flow of a sample::

    ingest() ─▶ outbox (batches, in memory)
       writer thread ─▶ one transaction: COPY (binary) ─▶ _stage ─▶ samples_YYYY_MM_DD (ON CONFLICT),
                        rollup_dirty, latest; COMMIT                    (durable and visible here)
                        partitions: created a few weeks ahead, and for any week a batch reaches
                        retention: per-point floors, whole partitions dropped
       rollup thread ─▶ rollup_dirty ─▶ rollup_hour ─▶ rollup_day
       queries       ─▶ one async connection; export through a server-side cursor

``ingest`` runs on the event loop and only appends a reference to the batch,
as in SQLite; the writer thread turns samples into COPY rows (no model, no
connection per sample). A crash loses at most the outbox (one flush interval).

Retention. Raw samples are never deleted row by row: a partition is dropped
when every point's raw retention has passed its end. Points keep different
retentions: a point whose retention is shorter than its neighbours' gets a
*floor* (now − its retention, moved at each retention pass) below which every
query and rollup ignores its rows; they go physically with their partition.
A point with no raw retention keeps every partition (nothing is dropped).
Rollups are small tables keyed by (point, bucket) and are trimmed by DELETE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np

from openbms.errors import HistorianError
from openbms.historian import pg_schema as sql
from openbms.historian.base import ROLLUP_FIELDS, RawRow, Rollup, RollupSeries
from openbms.historian.outbox import OutboxStore
from openbms.model.sample import STATUS_CODES, STATUSES, Sample
from openbms.runtime.clock import Clock

try:  # the ``postgres`` extra: SQLite users need nothing of it
    import psycopg
except ImportError:  # pragma: no cover - checked by the factory, which says what to install
    psycopg = None  # type: ignore[assignment]

__all__ = ["PostgresHistorian"]

log = logging.getLogger(__name__)

_HOUR = sql.HOUR
_NEG_INF = -math.inf
_STATUS_OK = STATUS_CODES["ok"]


def _row_value(value: Any) -> tuple[Any, str | None]:
    """(float8 column, txt column) for a value the fast path could not copy as it is."""
    if value is None or isinstance(value, bool):
        return value, None
    if isinstance(value, int | float):
        try:
            return float(value), None
        except OverflowError:
            return None, str(value)
    return None, str(value)


class PostgresHistorian(OutboxStore):
    """The PostgreSQL history store in the database ``conninfo`` names (libpq URL or DSN).

    ``flush_count`` samples or ``flush_interval`` seconds, whichever comes
    first, make one COPY transaction. ``rollup_interval`` paces rollup passes
    (a query of a point with new samples brings its own rollups up to date
    first), ``retention_interval`` retention passes. ``partitions_ahead``
    weekly partitions are kept created beyond the current one, so the writer
    rarely creates one itself (creating one locks the parent table briefly).
    ``max_hold`` (≤ 1 hour) bounds how long a value counts in time-weighted
    means; ``max_backlog`` bounds the outbox: past it the oldest batches are
    dropped and counted (``stats().dropped``). ``connect_timeout`` is whole
    seconds for each connection. The injected clock gives "now" for retention and
    partitions ahead; cadences run on monotonic time. The outbox is ``OutboxStore``'s.
    """

    _log = log
    _retry_on = (psycopg.Error, OSError) if psycopg is not None else (OSError,)
    _falling_behind = "PostgreSQL"
    _write_where = "PostgreSQL history"

    def __init__(
        self,
        conninfo: str,
        *,
        clock: Clock | None = None,
        flush_count: int = 50_000,
        flush_interval: float = 1.0,
        rollup_interval: float = 60.0,
        retention_interval: float = 3600.0,
        partitions_ahead: int = 2,
        max_hold: float = 900.0,
        max_backlog: int = 2_000_000,
        connect_timeout: int = 10,
        readonly: bool = False,
    ) -> None:
        if not 0 < max_hold <= _HOUR:
            raise ValueError("max_hold must be in (0, 3600] seconds")
        if partitions_ahead < 0:
            raise ValueError("partitions_ahead must be 0 or more")
        if psycopg is None:
            raise ValueError("the psycopg driver is not installed (pip install 'openbms[postgres]')")
        super().__init__(clock=clock, flush_count=flush_count, flush_interval=flush_interval,
                         max_backlog=max_backlog, readonly=readonly)
        self.conninfo = conninfo
        self.rollup_interval = rollup_interval
        self.retention_interval = retention_interval
        self.partitions_ahead = partitions_ahead
        self.max_hold = max_hold
        self.connect_timeout = connect_timeout
        self._maint: asyncio.Future[None] | None = None  # the rollup thread's running pass

        # The writer thread owns _w (COPY, partitions, retention), the rollup thread _m;
        # queries use the async connection _r.
        self._wexec = ThreadPoolExecutor(1, thread_name_prefix="pg-historian-writer")
        self._mexec = ThreadPoolExecutor(1, thread_name_prefix="pg-historian-rollups")
        self._w: Any = None
        self._closed = False
        self._m: Any = None
        self._r: Any = None
        self._floor: dict[int, float] = {}  # retention floors of points that have one
        self._partitions: set[float] = set()  # week starts of existing partitions
        self._any_retention = False
        self._dirty_pids: set[int] = set()
        self._passes = 0
        self._last_rollup = 0.0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect, create or check the schema, load the point index and latest values,
        create this week's partitions and those ahead, start the writer."""
        loop = asyncio.get_running_loop()
        try:
            if not self.readonly:
                await loop.run_in_executor(self._wexec, self._open_writer)
                await loop.run_in_executor(self._mexec, self._open_rollups)
            self._r = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=self.connect_timeout)
            await self._load()
        except psycopg.Error as err:
            await self._close_all()
            raise HistorianError(f"cannot open the PostgreSQL history: {_say(err)}") from None
        except BaseException:  # a schema newer than this openbms, a cancellation
            await self._close_all()
            raise
        if self.readonly:
            return
        self._start_writer("pg-historian-writer")

    async def stop(self) -> None:
        """Flush everything accepted, bring rollups up to date, close the connections."""
        if self._task is None:
            await self._close_all()
            return
        await self._stop_writer()
        if self._maint is not None:
            with contextlib.suppress(psycopg.Error):
                await self._maint
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._mexec, _again_if_dropped, self._rollup_pass, None)
        except psycopg.Error as err:
            log.error("history: closing before the last rollup pass (%s); the next start's "
                      "passes catch up", _say(err))
        await self._close_all()

    async def _close_all(self) -> None:
        if self._closed:  # a second stop, or a stop after a failed start
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._wexec, self._close, "_w")
        await loop.run_in_executor(self._mexec, self._close, "_m")
        for ex in (self._wexec, self._mexec):
            ex.shutdown(wait=True)
        if self._r is not None:
            with contextlib.suppress(psycopg.Error):
                await self._r.close()
            self._r = None

    def _close(self, attr: str) -> None:
        conn = getattr(self, attr)
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()
            setattr(self, attr, None)

    async def __aenter__(self) -> PostgresHistorian:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def partitions(self) -> list[float]:
        """Start times of the weekly partitions that exist, oldest first (for tests and tools)."""
        return sorted(self._partitions)

    def _error_text(self, err: BaseException) -> str:
        return _say(err)  # never the connection string: it may hold a password

    # ------------------------------------------------------------------ writer task

    async def flush(self) -> None:
        """Commit everything accepted so far: queries see it once this returns."""
        if self._task is None:
            raise HistorianError("the historian is not running (or is read-only)")
        await self._drain()

    async def _commit(self, batch: list[Sequence[Sample]]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._wexec, self._copy, batch)

    async def _between_writes(self, final: bool) -> None:
        if not final:
            await self._housekeeping()
            self._kick_rollups()

    async def _housekeeping(self) -> None:
        """Retention and partitions ahead, on the writer thread (the one that changes partitions)."""
        if time.monotonic() - self._last_retention < self.retention_interval:
            return
        self._last_retention = time.monotonic()
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._wexec, _again_if_dropped, self._retention)
        except psycopg.Error as err:
            # Tried again within seconds, not at the next interval (an hour by default).
            self._last_retention -= max(0.0, self.retention_interval - 5.0)
            self._maintenance_failed(err)
        else:
            self._maintenance_ok()

    def _kick_rollups(self) -> None:
        if self._maint is not None and not self._maint.done():
            return
        if time.monotonic() - self._last_rollup < self.rollup_interval:
            return
        self._last_rollup = time.monotonic()
        loop = asyncio.get_running_loop()
        self._maint = loop.run_in_executor(self._mexec, _again_if_dropped, self._rollup_pass, None)
        self._maint.add_done_callback(self._rollups_done)

    def _rollups_done(self, fut: Future[None] | asyncio.Future[None]) -> None:
        if fut.cancelled():
            return
        err = fut.exception()
        if err is None:
            self._maintenance_ok()
        else:
            self._maintenance_failed(err)

    def _maintenance_ok(self) -> None:
        if self._maint_failing:
            self._maint_failing = False
            log.warning("history maintenance (rollups, retention, partitions) recovered after %d "
                        "failed passes in all", self._maint_errors)

    def _maintenance_failed(self, err: BaseException) -> None:
        self._maint_errors += 1
        text = self._note_error("PostgreSQL history maintenance", err)
        if not self._maint_failing:
            self._maint_failing = True
            log.error("history maintenance failing (%s): rollups or retention are behind; retried",
                      text)

    # ------------------------------------------------------------------ connections

    def _connect(self) -> Any:
        return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=self.connect_timeout)

    def _writer(self) -> Any:
        """The writer thread's connection, made again after the server dropped it."""
        if self._w is None or self._w.closed or self._w.broken:
            self._close("_w")
            self._w = self._connect()
            for ddl in sql.TEMP_DDL:
                self._w.execute(ddl)
        return self._w

    def _rollup_conn(self) -> Any:
        if self._m is None or self._m.closed or self._m.broken:
            self._close("_m")
            self._m = self._connect()
            for ddl in sql.ROLLUP_TEMP_DDL:
                self._m.execute(ddl)
        return self._m

    def _open_writer(self) -> None:
        """Writer thread: create or check the schema, create the partitions due now."""
        db = self._connect()
        self._w = db
        with db.transaction():
            # One process creates or upgrades the schema at a time.
            db.execute("SELECT pg_advisory_xact_lock(hashtext('openbms.historian'))")
            for ddl in sql.DDL:
                db.execute(ddl)
            row = db.execute("SELECT value FROM historian_meta WHERE key = 'schema'").fetchone()
            version = int(row[0]) if row else sql.SCHEMA_VERSION
            if version > sql.SCHEMA_VERSION:
                raise HistorianError(
                    f"history schema version {version} is newer than this openbms "
                    f"({sql.SCHEMA_VERSION}); upgrade openbms")
            db.execute("INSERT INTO historian_meta VALUES ('schema', %s) ON CONFLICT DO NOTHING",
                       (str(sql.SCHEMA_VERSION),))
        for ddl in sql.TEMP_DDL:
            db.execute(ddl)
        self._load_partitions(db)
        with db.transaction():
            self._ensure_partitions(db, self._ahead())

    def _open_rollups(self) -> None:
        self._rollup_conn()

    async def _load(self) -> None:
        """The point index, retention floors and latest values, from the database."""
        r = self._r
        self._pids.clear()
        self._floor.clear()
        names: dict[int, str] = {}
        async with r.cursor() as cur:
            await cur.execute("SELECT pid, point, floor, raw_days FROM series")
            for pid, point, floor, raw_days in await cur.fetchall():
                self._pids[point] = pid
                names[pid] = point
                if floor != _NEG_INF:
                    self._floor[pid] = floor
                self._any_retention = self._any_retention or raw_days is not None
            await cur.execute("SELECT pid, ts, value, status, txt FROM latest")
            for pid, ts, value, status, txt in await cur.fetchall():
                point = names.get(pid)
                if point is not None:
                    self._last[point] = Sample(point, ts, txt if txt is not None else value,
                                               STATUSES[status])

    # ------------------------------------------------------------------ writer thread

    def _ahead(self) -> list[float]:
        """This week's partition and ``partitions_ahead`` more."""
        first = sql.partition_start(self.clock.now())
        return [first + i * sql.PARTITION_SECONDS for i in range(self.partitions_ahead + 1)]

    def _load_partitions(self, db: Any) -> None:
        self._partitions.clear()
        for (name,) in db.execute(sql.PARTITIONS).fetchall():
            with contextlib.suppress(ValueError):
                self._partitions.add(_partition_start_of(name))

    def _ensure_partitions(self, db: Any, starts: Iterable[float]) -> None:
        """Create the weekly partitions of ``starts`` that do not exist (in the current
        transaction when there is one)."""
        for start in sorted(set(starts) - self._partitions):
            name = sql.partition_name(start)
            # Another process (a second ingest worker) may create the same one: one at a time.
            db.execute("SELECT pg_advisory_xact_lock(hashtext('openbms.partitions'))")
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF samples "
                f"FOR VALUES FROM ({start!r}) TO ({start + sql.PARTITION_SECONDS!r})")
            self._partitions.add(start)

    def _rows(self, samples: Sequence[Sample], undo: dict[str, Sample | None]) -> list[tuple[Any, ...]]:
        """COPY rows of samples; keeps the latest-value mirror, noting in ``undo`` what each
        point's entry was before this transaction. Numbers new points first (committed at once)."""
        pids = self._pids
        codes = STATUS_CODES
        last = self._last
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        for s in samples:
            point = s[0]
            try:
                pid = pids[point]
            except KeyError:
                self._number({x[0] for x in samples if x[0] not in pids})
                pid = pids[point]
            cur = last.get(point)
            if cur is None or s[1] >= cur[1]:
                if point not in undo:
                    undo[point] = cur
                last[point] = s
            else:
                self._late += 1
            value = s[2]
            if value.__class__ is float or value is None:
                append((pid, s[1], value, codes[s[3]], None))
            else:
                number, text = _row_value(value)
                append((pid, s[1], number, codes[s[3]], text))
        return rows

    def _number(self, points: set[str]) -> None:
        """Give new points their numbers (one statement, committed at once: a number is never
        taken back, so a failed write that follows leaves nothing to undo)."""
        names = sorted(points)
        pols = [self._policies.get(p) for p in names]
        got = self._writer().execute(sql.NUMBER, (
            names,
            [pol.raw_days if pol else None for pol in pols],
            [pol.rollup_days if pol else None for pol in pols],
            [self._timezones.get(p, "UTC") for p in names],
        )).fetchall()
        for pid, point, floor in got:
            self._pids[point] = pid
            if floor != _NEG_INF:
                self._floor[pid] = floor
        if any(pol is not None and pol.raw_days is not None for pol in pols):
            self._any_retention = True

    def _copy(self, batch: list[Sequence[Sample]]) -> None:
        """One transaction: COPY the batch into _stage, then merge it into samples, mark the
        rollup hours it changes and keep the latest values."""
        db = self._writer()
        undo: dict[str, Sample | None] = {}
        late = self._late
        try:
            row_lists = [self._rows(samples, undo) for samples in batch]
            params = {"now": self.clock.now(), "hold": self.max_hold}
            with db.transaction(), db.cursor() as cur:
                with cur.copy(sql.COPY_STAGE) as copy:
                    copy.set_types(sql.COPY_TYPES)
                    write = copy.write_row
                    for rows in row_lists:
                        for row in rows:
                            write(row)
                weeks = [w for (w,) in cur.execute(sql.STAGE_WEEKS).fetchall()]
                if not self._partitions.issuperset(weeks):
                    self._ensure_partitions(cur, weeks)
                join = sql.MERGE_RETENTION_JOIN if self._any_retention else ""
                try:
                    with db.transaction():  # a savepoint: a failed INSERT leaves the COPY
                        cur.execute(sql.INSERT_NEW.format(join=join), params)
                except psycopg.errors.UniqueViolation:
                    cur.execute(sql.MERGE.format(join=join), params)
                cur.execute(sql.MARK_DIRTY, params)
                cur.execute(sql.MERGE_LATEST)
                spans = cur.execute(sql.SPANS).fetchall()
        except BaseException:
            self._forget_latest(undo, late)
            raise
        self._dirty_pids.update(pid for pid, _first in spans)
        self._note_changes(spans)

    def _retention(self) -> None:
        """Write policies into series, move each point's floor, drop the partitions every point's
        raw retention has passed, trim rollups, and create the partitions due ahead."""
        db = self._writer()
        now = self.clock.now()
        rows = []
        for point, pid in list(self._pids.items()):
            pol = self._policies.get(point)
            rows.append((pol.raw_days if pol else None, pol.rollup_days if pol else None,
                         self._timezones.get(point, "UTC"), pid))
        with db.transaction(), db.cursor() as cur:
            cur.executemany("UPDATE series SET raw_days = %s, rollup_days = %s, tz = %s "
                            "WHERE pid = %s", rows)
            cur.execute("UPDATE series SET floor = CASE WHEN raw_days IS NULL THEN '-Infinity' "
                        "ELSE %s - raw_days * 86400.0 END", (now,))
            floors = cur.execute("SELECT pid, floor, raw_days FROM series").fetchall()
            longest = cur.execute(
                "SELECT bool_or(raw_days IS NULL), max(raw_days) FROM series").fetchone()
            for rollup in ("hour", "day"):
                cur.execute(sql.ROLLUP_RETENTION.format(rollup=rollup), {"now": now})
        self._floor = {pid: floor for pid, floor, _raw in floors if floor != _NEG_INF}
        self._any_retention = any(raw is not None for _p, _f, raw in floors)
        keep_all, days = longest
        if not keep_all and days is not None:
            cutoff = now - days * 86400.0
            for start in sorted(self._partitions):
                if start + sql.PARTITION_SECONDS <= cutoff:
                    # A partition no point may keep anything of: dropped whole, never DELETEd.
                    db.execute(f"DROP TABLE IF EXISTS {sql.partition_name(start)}")
                    self._partitions.discard(start)
        with db.transaction():
            self._ensure_partitions(db, self._ahead())
        self._note_changes([(pid, _NEG_INF) for pid, _f, raw in floors if raw is not None])

    # ------------------------------------------------------------------ rollup thread

    def _rollup_pass(self, pid: int | None) -> None:
        """Recompute the rollups of dirty hours (of one point, or of all), and their days."""
        db = self._rollup_conn()
        where, args = ("WHERE pid = %(pid)s", {"pid": pid}) if pid is not None else ("", {})
        self._passes += 1
        taken = set(self._dirty_pids) if pid is None else {pid}
        self._dirty_pids.difference_update(taken)
        try:
            with db.transaction(), db.cursor() as cur:
                cur.execute(sql.TAKE_DIRTY.format(where=where), args)
                if cur.rowcount:
                    cur.execute("ANALYZE _todo")  # no autovacuum for temporary tables
                    cur.execute(sql.ROLLUP_HOURS, {"hold": self.max_hold})
                    cur.execute(sql.DAYS_OF_TODO)
                    cur.execute("ANALYZE _days")
                    cur.execute(sql.ROLLUP_DAYS)
        except BaseException:
            self._dirty_pids.update(taken)  # rolled back: their hours are still marked
            raise
        finally:
            self._passes -= 1

    # ------------------------------------------------------------------ maintenance on demand

    async def apply_retention(self) -> None:
        """Apply retention now (it also runs every ``retention_interval``)."""
        await self.flush()
        self._last_retention = time.monotonic()
        await self._maintain(self._wexec, self._retention)

    async def refresh_rollups(self) -> None:
        """Bring every rollup up to date now (it also runs every ``rollup_interval``)."""
        await self.flush()
        await self._maintain(self._mexec, self._rollup_pass, None)

    async def _maintain(self, executor: ThreadPoolExecutor, fn: Callable[..., None], *args: Any) -> None:
        """Run a maintenance pass now for a caller: a database failure is a HistorianError."""
        try:
            await asyncio.get_running_loop().run_in_executor(executor, _again_if_dropped, fn, *args)
        except psycopg.Error as err:
            raise HistorianError(f"history maintenance failed: {_say(err)}") from err

    # ------------------------------------------------------------------ queries

    async def _fetch(self, query: str, args: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        """Rows of a query on the query connection, made again (once) when the server dropped it."""
        if self._r is None:
            raise HistorianError("the historian is not running")
        for attempt in (1, 2):
            try:
                if self._r.closed or self._r.broken:
                    self._r = await psycopg.AsyncConnection.connect(
                        self.conninfo, autocommit=True, connect_timeout=self.connect_timeout)
                async with self._r.cursor() as cur:
                    await cur.execute(query, args)
                    rows: list[Any] = await cur.fetchall()
                    return rows
            except psycopg.OperationalError as err:
                if attempt == 2 or not (self._r.closed or self._r.broken):
                    raise HistorianError(f"history query failed: {_say(err)}") from err
            except psycopg.Error as err:
                raise HistorianError(f"history query failed: {_say(err)}") from err
        raise AssertionError("unreachable")  # pragma: no cover

    def _since(self, pid: int, since: float) -> float:
        """``since``, raised to the point's retention floor."""
        floor = self._floor.get(pid)
        return since if floor is None or floor <= since else floor

    async def raw(self, point: str, since: float, until: float) -> list[Sample]:
        """Stored samples of one point with ``since <= ts < until``, in time order."""
        statuses = STATUSES
        return [Sample(point, ts, v, statuses[st])
                for ts, v, st in await self.raw_rows(point, since, until)]

    async def raw_rows(self, point: str, since: float, until: float,
                       limit: int | None = None) -> list[RawRow]:
        """Like :meth:`raw` but plain ``(ts, value, status code)`` rows, at most ``limit``."""
        pid = self._pids.get(point)
        if pid is None:
            return []
        query = ("SELECT ts, value, txt, status FROM samples "
                 "WHERE pid = %s AND ts >= %s AND ts < %s ORDER BY ts")
        args: tuple[Any, ...] = (pid, self._since(pid, since), until)
        if limit is not None:
            query += " LIMIT %s"
            args += (limit,)
        return [(ts, txt if txt is not None else v, st)
                for ts, v, txt, st in await self._fetch(query, args)]

    async def last_before(self, point: str, ts: float) -> RawRow | None:
        """The newest ``(ts, value, status code)`` row of ``point`` before ``ts``, or None."""
        pid = self._pids.get(point)
        if pid is None:
            return None
        rows = await self._fetch(
            "SELECT ts, value, txt, status FROM samples WHERE pid = %s AND ts < %s AND ts >= %s "
            "ORDER BY ts DESC LIMIT 1", (pid, ts, self._since(pid, _NEG_INF)))
        if not rows:
            return None
        t, v, txt, st = rows[0]
        return (t, txt if txt is not None else v, st)

    async def rollups(self, point: str, rollup: Rollup, since: float, until: float) -> RollupSeries:
        """Rollups of one point whose bucket starts in ``[since, until)``, brought up to date first."""
        if rollup not in ("hour", "day"):
            raise ValueError(f"rollup must be 'hour' or 'day', not {rollup!r}")
        pid = self._pids.get(point)
        if pid is None:
            return RollupSeries(point)
        if not self.readonly and (pid in self._dirty_pids or self._passes):
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._mexec, _again_if_dropped, self._rollup_pass, pid)
            except psycopg.Error as err:
                raise HistorianError(f"history rollups failed: {_say(err)}") from err
        rows = await self._fetch(sql.ROLLUP_PACKED.format(rollup=rollup), (pid, since, until))
        blob = rows[0][0] or b""
        array = np.frombuffer(blob, dtype=">f8").astype("<f8").reshape(-1, len(ROLLUP_FIELDS))
        return RollupSeries(point, array)

    async def iter_raw(
        self, points: Sequence[str], since: float, until: float, chunk: int = 10_000
    ) -> AsyncIterator[list[Sample]]:
        """Samples of several points over a range, point by point, for export: read through a
        server-side cursor on a connection of its own, ``chunk`` rows at a time."""
        wanted = [(p, self._pids[p]) for p in points if p in self._pids]
        if not wanted:
            return
        statuses = STATUSES
        conn = await psycopg.AsyncConnection.connect(
            self.conninfo, connect_timeout=self.connect_timeout)
        try:
            async with conn.transaction():
                for point, pid in wanted:
                    async with conn.cursor(name="openbms_export") as cur:
                        await cur.execute(
                            "SELECT ts, value, txt, status FROM samples "
                            "WHERE pid = %s AND ts >= %s AND ts < %s ORDER BY ts",
                            (pid, self._since(pid, since), until))
                        while rows := await cur.fetchmany(chunk):
                            yield [Sample(point, ts, txt if txt is not None else v, statuses[st])
                                   for ts, v, txt, st in rows]
        finally:
            await conn.close()

    async def count(self, points: Sequence[str], since: float, until: float) -> int:
        """How many stored samples the points have in a range (to size a progress bar)."""
        pids = [self._pids[p] for p in points if p in self._pids]
        if not pids:
            return 0
        rows = await self._fetch(
            "SELECT count(*) FROM unnest(%s::int4[], %s::float8[]) AS p(pid, since) "
            "JOIN samples h ON h.pid = p.pid AND h.ts >= p.since AND h.ts < %s",
            (pids, [self._since(pid, since) for pid in pids], until))
        return int(rows[0][0])


def _again_if_dropped(fn: Callable[..., None], *args: Any) -> None:
    """``fn(*args)``, run once more when it failed on a connection the server had dropped
    (a server restart, an administrator's terminate): the second run connects again."""
    try:
        fn(*args)
    except psycopg.OperationalError:
        fn(*args)


def _partition_start_of(name: str) -> float:
    """The week start a partition's name ``samples_YYYY_MM_DD`` stands for."""
    return datetime.strptime(name.removeprefix("samples_"), "%Y_%m_%d").replace(
        tzinfo=UTC).timestamp()


def _say(err: BaseException) -> str:
    """An error's first line, without the connection string (it may hold a password)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text
