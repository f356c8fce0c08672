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
                     ─▶ compaction: samples_W ─▶ packed_W (a row per point and day), samples_W emptied
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

Compaction. Every ``compact_interval`` the rollup thread compacts the week
partitions that ended ``compact_after_days`` ago: each point's day becomes
one ``packed`` row of encoded arrays (``pg_pack.py``), in one transaction per
week (interrupted, it leaves the week as it was; run again, it finds nothing
left to do). Queries read both forms and merge them; a late sample for a
packed day moves that day back to ``samples`` first (see ``pg_schema.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
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
from openbms.historian.pg_pack import decode_times, decode_values, encode_times, encode_values
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
_HOUR_OFFSET = 2**31  # added to epoch hours so (pid << 32) + hour is a key of both
_PACK_ROWS = 1_000_000  # rows a compaction query aggregates at a time (memory: ~30 MB)


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
    dropped and counted (``stats().dropped``). Week partitions that ended
    ``compact_after_days`` ago (None: never) are compacted every
    ``compact_interval`` seconds. ``connect_timeout`` is whole
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
        compact_after_days: float | None = 7.0,
        compact_interval: float = 3600.0,
        connect_timeout: int = 10,
        readonly: bool = False,
        rollup_chunk: int = 5_000,
    ) -> None:
        if not 0 < max_hold <= _HOUR:
            raise ValueError("max_hold must be in (0, 3600] seconds")
        if partitions_ahead < 0:
            raise ValueError("partitions_ahead must be 0 or more")
        if compact_after_days is not None and not compact_after_days >= 0:
            raise ValueError("compact_after_days must be 0 or more (or None: never compact)")
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
        self.compact_after_days = compact_after_days
        self.compact_interval = compact_interval
        if rollup_chunk < 1:
            raise ValueError("rollup_chunk must be 1 or more")
        #: Dirty hours recomputed a transaction (a pass is as many transactions as it needs).
        self.rollup_chunk = rollup_chunk
        self._last_compact = time.monotonic()  # the first pass an interval after the start
        # The end of the newest compacted week this store knows of (compaction of weeks that
        # are not over yet only happens when asked for: compact(math.inf)).
        self._packed_until = _NEG_INF
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
        self._min_raw_days = math.inf  # the shortest raw retention in series
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
        self._maint = loop.run_in_executor(self._mexec, _again_if_dropped, self._background_pass)
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
            for ddl in (*sql.TEMP_DDL, *sql.UNPACK_TEMP_DDL):
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
            # Upgraded in place (2 added packed, 3 rollup_taken): an older openbms then refuses it.
            db.execute("INSERT INTO historian_meta VALUES ('schema', %s) ON CONFLICT (key) "
                       "DO UPDATE SET value = excluded.value", (str(sql.SCHEMA_VERSION),))
        for ddl in (*sql.TEMP_DDL, *sql.UNPACK_TEMP_DDL):
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
                if raw_days is not None:
                    self._min_raw_days = min(self._min_raw_days, raw_days)
            await cur.execute("SELECT value FROM historian_meta WHERE key = 'packed_until'")
            row = await cur.fetchone()
            if row is not None:
                self._packed_until = max(self._packed_until, float(row[0]))
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
        days = [pol.raw_days for pol in pols if pol is not None and pol.raw_days is not None]
        if days:
            self._any_retention = True
            self._min_raw_days = min(self._min_raw_days, *days)

    def _copy(self, batch: list[Sequence[Sample]]) -> None:
        """One transaction: the batch appended straight to samples when it can be (see
        ``_append``), else COPY'd into _stage and merged into samples; the rollup hours it
        changes marked and the latest values kept."""
        db = self._writer()
        undo: dict[str, Sample | None] = {}
        late = self._late
        try:
            rows = [row for samples in batch for row in self._rows(samples, undo)]
            params = {"now": self.clock.now(), "hold": self.max_hold}
            with db.transaction(), db.cursor() as cur:
                spans = self._append(db, cur, rows, undo, params) if rows else None
                if spans is None:
                    spans = self._merge(db, cur, rows, params)
        except BaseException:
            self._forget_latest(undo, late)
            raise
        self._dirty_pids.update(pid for pid, _first in spans)
        self._note_changes(spans)

    def _append(self, db: Any, cur: Any, rows: list[tuple[Any, ...]], undo: Mapping[str, Any],
                params: Mapping[str, Any]) -> list[tuple[int, float]] | None:
        """The common case, about twice as fast as the merge: a batch of new (point, time) keys,
        none near packed days or past a retention, COPY'd straight into samples; the dirty
        hours, latest values and spans computed here from its columns. None (and nothing done)
        when the batch is not such a batch: the COPY fails on the primary key when it meets a
        stored key (a resend, a correction, two of one key in the batch)."""
        pid_col, ts_col, value_col, code_col, txt_col = zip(*rows, strict=True)
        ts = np.array(ts_col, dtype=np.float64)
        lo = float(ts.min())
        if lo - sql.UNPACK_MARGIN - self.max_hold < self._packed_bound():
            return None
        if self._any_retention and lo < params["now"] - self._min_raw_days * 86400.0:
            return None
        weeks = np.unique(np.floor((ts - sql.MONDAY) / sql.PARTITION_SECONDS)).tolist()
        week_starts = [w * sql.PARTITION_SECONDS + sql.MONDAY for w in weeks]
        if not self._partitions.issuperset(week_starts):
            self._ensure_partitions(cur, week_starts)
        pid = np.array(pid_col, dtype=np.int64)
        plain = txt_col.count(None) == len(txt_col) and None not in value_col
        try:
            with db.transaction():  # a savepoint: the merge follows a failed COPY
                if plain:  # the COPY data made by numpy, not row by row
                    with cur.copy(sql.COPY_PLAIN) as copy:
                        copy.write(_binary_copy(pid, ts, value_col, code_col))
                else:
                    with cur.copy(sql.COPY_SAMPLES) as copy:
                        copy.set_types(sql.COPY_TYPES)
                        for row in rows:
                            copy.write_row(row)
        except psycopg.errors.UniqueViolation:
            return None
        # Dirty hours: each sample's own, and the next when its value is held into it.
        hour = np.floor(ts / _HOUR).astype(np.int64) + _HOUR_OFFSET
        key = pid << 32
        held = ts + self.max_hold > (hour - _HOUR_OFFSET + 1) * _HOUR
        keys = np.unique(np.concatenate([key + hour, (key + hour + 1)[held]]))
        starts = ((keys & 0xFFFFFFFF) - _HOUR_OFFSET).astype(np.float64) * _HOUR
        cur.execute(sql.MARK_DIRTY_ARRAYS, ((keys >> 32).tolist(), starts.tolist()))
        latest = [self._last[point] for point in undo]
        if latest:
            pids = self._pids
            numbers, texts = zip(*(_row_value(s[2]) for s in latest), strict=True)
            cur.execute(sql.MERGE_LATEST_ARRAYS, (
                [pids[s[0]] for s in latest], [s[1] for s in latest],
                [None if x is None else float(x) for x in numbers], list(texts),
                [STATUS_CODES[s[3]] for s in latest]))
        order = np.lexsort((ts, pid))
        first_pids, first = np.unique(pid[order], return_index=True)
        return list(zip(first_pids.tolist(), ts[order][first].tolist(), strict=True))

    def _merge(self, db: Any, cur: Any, rows: list[tuple[Any, ...]],
               params: Mapping[str, Any]) -> list[tuple[int, float]]:
        """Any batch: COPY into _stage, merged into samples (a corrected sample replaces, a
        resend writes nothing), packed days it reaches unpacked; the spans of its points."""
        with cur.copy(sql.COPY_STAGE) as copy:
            copy.set_types(sql.COPY_TYPES)
            write = copy.write_row
            for row in rows:
                write(row)
        stage_weeks = cur.execute(sql.STAGE_WEEKS).fetchall()
        weeks = [w for w, _lo in stage_weeks]
        if not self._partitions.issuperset(weeks):
            self._ensure_partitions(cur, weeks)
        lo = min((first for _w, first in stage_weeks), default=math.inf)
        # Packed days lie before _packed_bound(): only a batch reaching them (or the
        # hours its rollups read) unpacks, and waits for a compaction in progress.
        reach = lo - sql.UNPACK_MARGIN - self.max_hold < self._packed_bound()
        if reach:
            cur.execute(f"SELECT pg_advisory_xact_lock_shared({sql.COMPACT_LOCK})")
        join = sql.MERGE_RETENTION_JOIN if self._any_retention else ""
        try:
            with db.transaction():  # a savepoint: a failed INSERT leaves the COPY
                cur.execute(sql.INSERT_NEW.format(join=join), params)
        except psycopg.errors.UniqueViolation:
            cur.execute(sql.MERGE.format(join=join), params)
        cur.execute(sql.MARK_DIRTY, params)
        cur.execute(sql.MERGE_LATEST)
        if reach:
            self._unpack(cur, params)
        spans: list[tuple[int, float]] = cur.execute(sql.SPANS).fetchall()
        return spans

    def _packed_bound(self) -> float:
        """No packed day reaches this time: the current week is only ever compacted on request."""
        return max(sql.partition_start(self.clock.now()), self._packed_until)

    def _unpack(self, cur: Any, params: Mapping[str, Any]) -> None:
        """Move the packed days this flush's samples reach back into samples (its own rows win)."""
        got = cur.execute(sql.UNPACK, params, binary=True).fetchall()
        if not got:
            return
        rows: list[tuple[Any, ...]] = []
        for pid, t, v, nulls, status, txt in got:
            ts, values, codes = _decode(t, v, nulls, status, txt)
            rows.extend(zip([pid] * len(values), ts.tolist(), values, codes,
                            txt if txt is not None else [None] * len(values), strict=True))
        self._ensure_partitions(cur, {sql.partition_start(r[1]) for r in rows})
        with cur.copy(sql.COPY_UNPACKED) as copy:
            copy.set_types(sql.COPY_TYPES)
            for pid, ts1, value, code, text in rows:
                copy.write_row((pid, ts1, None if text is not None else value, code, text))
        cur.execute(sql.INSERT_UNPACKED)

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
        self._min_raw_days = min((raw for _p, _f, raw in floors if raw is not None), default=math.inf)
        keep_all, days = longest
        if not keep_all and days is not None:
            cutoff = now - days * 86400.0
            for start in sorted(self._partitions):
                if start + sql.PARTITION_SECONDS <= cutoff:
                    # A partition no point may keep anything of: dropped whole, never DELETEd.
                    db.execute(f"DROP TABLE IF EXISTS {sql.partition_name(start)}, "
                               f"{sql.packed_name(start)}")
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
            with db.transaction():
                db.execute(sql.MOVE_DIRTY.format(where=where), args)
            row = db.execute(sql.COUNT_DIRTY.format(where=where), args).fetchone()
            lock = "FOR UPDATE" if pid is not None else "FOR UPDATE SKIP LOCKED"
            take = sql.TAKE_DIRTY.format(where=where, lock=lock)
            # The hours taken now, a chunk a transaction (those marked meanwhile: the next pass).
            for _chunk in range(-(-(row[0] if row else 0) // self.rollup_chunk)):
                with db.transaction(), db.cursor() as cur:
                    cur.execute(take, {**args, "limit": self.rollup_chunk})
                    if not cur.rowcount:
                        break
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

    # ------------------------------------------------------------------ compaction (rollup thread)

    def _background_pass(self) -> None:
        """The rollup thread's periodic work: rollups, then compaction when it is due."""
        self._rollup_pass(None)
        if (self.compact_after_days is not None
                and time.monotonic() - self._last_compact >= self.compact_interval):
            self._last_compact = time.monotonic()
            self._compact_pass(self.clock.now() - self.compact_after_days * 86400.0, None)

    def _compact_pass(self, before: float, progress: Callable[[int, int], None] | None) -> int:
        """Compact every week partition that ends by ``before`` and holds rows; the samples packed.

        Rollups are brought up to date first: a week near dirty rollup hours is skipped
        (their recomputation reads raw samples), and taken at the next pass."""
        self._rollup_pass(None)
        db = self._rollup_conn()
        starts = sorted(_partition_start_of(name) for (name,) in db.execute(sql.PARTITIONS).fetchall()
                        if name.startswith("samples_"))
        due = [w for w in starts if w + sql.PARTITION_SECONDS <= before]
        packed = 0
        for i, week in enumerate(due):
            name = sql.partition_name(week)
            row = db.execute(f"SELECT EXISTS (SELECT 1 FROM {name})").fetchone()
            if row is not None and row[0]:
                packed += self._compact_week(db, week)
            if progress is not None:
                progress(i + 1, len(due))
        return packed

    def _compact_week(self, db: Any, week: float) -> int:
        """One week's rows into packed rows, in one transaction; the samples packed (0: skipped)."""
        name, end = sql.partition_name(week), week + sql.PARTITION_SECONDS
        packed = 0
        self._packed_until = max(self._packed_until, end)  # flushes from now on take the lock
        with db.transaction(), db.cursor(binary=True) as cur:
            cur.execute(f"SELECT pg_advisory_xact_lock({sql.COMPACT_LOCK})")
            # Writers that did not take the advisory lock (a week not over yet) wait here.
            cur.execute(f"LOCK TABLE {name} IN SHARE MODE")
            near = cur.execute(sql.DIRTY_NEAR, {"lo": week - _HOUR, "hi": end + self.max_hold}).fetchone()
            if near is not None and near[0]:
                return 0
            pname = sql.packed_name(week)
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('openbms.partitions'))")
            if cur.execute("SELECT to_regclass(%s) IS NULL", (pname,)).fetchone()[0]:
                cur.execute(f"CREATE TABLE {pname} PARTITION OF packed "
                            f"FOR VALUES FROM ({week!r}) TO ({end!r}) WITH (toast_tuple_target = 128)")
                cur.execute(f"ALTER TABLE {pname} ALTER t SET COMPRESSION lz4, "
                            "ALTER v SET COMPRESSION lz4, ALTER nulls SET COMPRESSION lz4, "
                            "ALTER status SET COMPRESSION lz4, ALTER txt SET COMPRESSION lz4")
            lo, hi = cur.execute(f"SELECT min(pid), max(pid) FROM {name}").fetchone()
            if lo is None:  # emptied meanwhile (another process compacted it)
                return 0
            query = sql.PACK_WEEK.format(part=name)
            # Points a query at a time: about _PACK_ROWS rows (a week of 1 s data is 604 800).
            rows_est = cur.execute("SELECT reltuples FROM pg_class WHERE relname = %s",
                                   (name,)).fetchone()[0]
            if not rows_est or rows_est <= 0:
                rows_est = cur.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            step = max(1, int(_PACK_ROWS * (hi - lo + 1) / max(1.0, float(rows_est))))
            for first in range(lo, hi + 1, step):
                rows = cur.execute(query, {"ok": _STATUS_OK, "lo": first,
                                           "hi": first + step}).fetchall()
                with cur.copy(sql.COPY_PACKED) as copy:
                    copy.set_types(sql.PACKED_TYPES)
                    for pid, day, n, t, v, nulls, status, txt in rows:
                        ts = np.frombuffer(t, dtype=">f8")
                        copy.write_row((pid, day, n, float(ts[0]), float(ts[-1]), encode_times(ts),
                                        encode_values(np.frombuffer(v, dtype=">f8")),
                                        nulls, status, txt))
                        packed += n
            cur.execute(f"TRUNCATE {name}")
            cur.execute("INSERT INTO historian_meta VALUES ('packed_until', %s) ON CONFLICT (key) "
                        "DO UPDATE SET value = greatest(historian_meta.value::float8, "
                        "excluded.value::float8)::text", (repr(end),))
        return packed

    async def compact(self, before: float | None = None,
                      progress: Callable[[int, int], None] | None = None) -> int:
        """Compact the week partitions that end by ``before`` now (default: ``compact_after_days``
        ago; ``math.inf``: every week, this one too); the samples packed. What is stored is
        compacted: call ``flush()`` first for what was just ingested. ``progress(done, total)``
        is called (on another thread) after each week."""
        if self.readonly:
            raise HistorianError("a read-only historian does not compact")
        if before is None:
            if self.compact_after_days is None:
                return 0
            before = self.clock.now() - self.compact_after_days * 86400.0
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._mexec, self._compact_pass, before, progress)
        except psycopg.Error as err:
            raise HistorianError(f"history compaction failed: {_say(err)}") from err

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

    async def _fetch(self, query: str, args: Sequence[Any] | Mapping[str, Any],
                     binary: bool = False) -> list[Any]:
        """Rows of a query on the query connection, made again (once) when the server dropped it."""
        if self._r is None:
            raise HistorianError("the historian is not running")
        for attempt in (1, 2):
            try:
                if self._r.closed or self._r.broken:
                    self._r = await psycopg.AsyncConnection.connect(
                        self.conninfo, autocommit=True, connect_timeout=self.connect_timeout)
                async with self._r.cursor(binary=binary) as cur:
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
        rows: list[RawRow] = [(ts, txt if txt is not None else v, st)
                              for ts, v, txt, st in await self._fetch(query, args)]
        if args[1] < self._packed_bound():
            packed = await self._packed(pid, args[1], until)
            if packed:
                rows = list(heapq.merge(rows, packed, key=_ts))[:limit]
        return rows

    async def _packed(self, pid: int, since: float, until: float) -> list[RawRow]:
        """The rows of one point's packed days in ``[since, until)`` (``since`` past its floor)."""
        got = await self._fetch(sql.PACKED_RANGE, {"pid": pid, "since": since, "until": until},
                                binary=True)
        return _packed_rows(got, since, until)

    async def last_before(self, point: str, ts: float) -> RawRow | None:
        """The newest ``(ts, value, status code)`` row of ``point`` before ``ts``, or None."""
        pid = self._pids.get(point)
        if pid is None:
            return None
        floor = self._since(pid, _NEG_INF)
        rows = await self._fetch(
            "SELECT ts, value, txt, status FROM samples WHERE pid = %s AND ts < %s AND ts >= %s "
            "ORDER BY ts DESC LIMIT 1", (pid, ts, floor))
        found: RawRow | None = None
        if rows:
            t, v, txt, st = rows[0]
            found = (t, txt if txt is not None else v, st)
        bound = self._packed_bound()
        if found is None or found[0] < bound:  # a packed day may hold a newer one
            got = await self._fetch(sql.PACKED_BEFORE, {"pid": pid, "ts": ts, "floor": floor},
                                    binary=True)
            packed = _packed_rows(got, floor, ts)
            if packed and (found is None or packed[-1][0] > found[0]):
                found = packed[-1]
        return found

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
                    lo = self._since(pid, since)
                    buckets: list[Any] = []
                    if lo < self._packed_bound():
                        async with conn.cursor(binary=True) as bcur:
                            await bcur.execute(sql.PACKED_RANGE,
                                               {"pid": pid, "since": lo, "until": until})
                            buckets = await bcur.fetchall()
                    async with conn.cursor(name="openbms_export") as cur:
                        await cur.execute(
                            "SELECT ts, value, txt, status FROM samples "
                            "WHERE pid = %s AND ts >= %s AND ts < %s ORDER BY ts",
                            (pid, lo, until))
                        if not buckets:
                            while rows := await cur.fetchmany(chunk):
                                yield [Sample(point, ts, txt if txt is not None else v,
                                              statuses[st]) for ts, v, txt, st in rows]
                            continue
                        # Packed days and raw rows, merged in time order, chunk by chunk.
                        packed = (row for b in buckets for row in _packed_rows([b], lo, until))
                        out: list[Sample] = []
                        nxt = next(packed, None)
                        while rows := await cur.fetchmany(chunk):
                            for ts, v, txt, st in rows:
                                while nxt is not None and nxt[0] < ts:
                                    out.append(Sample(point, nxt[0], nxt[1], statuses[nxt[2]]))
                                    nxt = next(packed, None)
                                out.append(Sample(point, ts, txt if txt is not None else v,
                                                  statuses[st]))
                            while len(out) >= chunk:
                                yield out[:chunk]
                                out = out[chunk:]
                        while nxt is not None:
                            out.append(Sample(point, nxt[0], nxt[1], statuses[nxt[2]]))
                            nxt = next(packed, None)
                            if len(out) >= chunk:
                                yield out
                                out = []
                        if out:
                            yield out
        finally:
            await conn.close()

    async def count(self, points: Sequence[str], since: float, until: float) -> int:
        """How many stored samples the points have in a range (to size a progress bar)."""
        pids = [self._pids[p] for p in points if p in self._pids]
        if not pids:
            return 0
        sinces = [self._since(pid, since) for pid in pids]
        rows = await self._fetch(
            "SELECT count(*) FROM unnest(%s::int4[], %s::float8[]) AS p(pid, since) "
            "JOIN samples h ON h.pid = p.pid AND h.ts >= p.since AND h.ts < %s",
            (pids, sinces, until))
        n = int(rows[0][0])
        if min(sinces) < self._packed_bound():
            for lo, count, t in await self._fetch(
                    sql.PACKED_COUNT, {"pids": pids, "sinces": sinces, "until": until}, binary=True):
                if t is None:  # the whole day is in the range
                    n += count
                else:
                    ts = decode_times(t)
                    n += int(np.count_nonzero((ts >= lo) & (ts < until)))
        return n


def _decode(t: bytes, v: bytes, nulls: bytes | None, status: bytes | None,
            txt: list[str | None] | None) -> tuple[np.ndarray, list[Any], list[int]]:
    """A packed row's times, values (None where NULL, text not put in) and status codes."""
    ts = decode_times(t)
    values: list[Any] = decode_values(v).tolist()
    if nulls is not None:
        for i in np.flatnonzero(np.frombuffer(nulls, dtype=np.uint8)).tolist():
            values[i] = None
    codes = (np.frombuffer(status, dtype=">i2").tolist() if status is not None
             else [_STATUS_OK] * len(values))
    return ts, values, codes


def _packed_rows(got: Iterable[Sequence[Any]], since: float, until: float) -> list[RawRow]:
    """RawRows of packed rows ``(t, v, nulls, status, txt)`` with ``since <= ts < until``."""
    out: list[RawRow] = []
    for t, v, nulls, status, txt in got:
        ts, values, codes = _decode(t, v, nulls, status, txt)
        if txt is not None:
            values = [x if x is not None else y for x, y in zip(txt, values, strict=True)]
        lo, hi = np.searchsorted(ts, [since, until]).tolist()
        out.extend(zip(ts[lo:hi].tolist(), values[lo:hi], codes[lo:hi], strict=True))
    return out


_COPY_ROW = np.dtype([("fields", ">i2"), ("pid_len", ">i4"), ("pid", ">i4"), ("ts_len", ">i4"),
                      ("ts", ">f8"), ("value_len", ">i4"), ("value", ">f8"),
                      ("status_len", ">i4"), ("status", ">i2")])
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"


def _binary_copy(pid: np.ndarray, ts: np.ndarray, values: Sequence[Any], codes: Sequence[int]) -> bytes:
    """PostgreSQL's binary COPY data of (pid int4, ts float8, value float8, status int2) rows,
    made by numpy in one go (no value may be None)."""
    out = np.empty(len(ts), dtype=_COPY_ROW)
    out["fields"] = 4
    out["pid_len"], out["ts_len"], out["value_len"], out["status_len"] = 4, 8, 8, 2
    # In primary-key order: a point's samples of the batch go into one index page together.
    order = np.lexsort((ts, pid))
    out["pid"] = pid[order]
    out["ts"] = ts[order]
    out["value"] = np.array(values, dtype=np.float64)[order]
    out["status"] = np.array(codes, dtype=np.int16)[order]
    return _COPY_HEADER + out.tobytes() + _COPY_TRAILER


def _ts(row: RawRow) -> float:
    return row[0]


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
