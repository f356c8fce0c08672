"""The store-and-forward outbox: a durable FIFO of outgoing MQTT messages, one SQLite file a site.

::

    put(topic, payload, qos, retain, key, props) (the event loop: a list append, never disk)
         │
         ▼ pending (memory) ──writer task──▶ one transaction a batch, in the outbox's thread
                                              DATA/mqtt-outbox-{site}.db (WAL)  ── durable ──▶ queued
                                                   │   over max_mb / older than max_age:
                                                   │   the oldest rows deleted, counted by reason
                                                   ▼
    take(after, n) ◀── the link's drain (in order) ── publish QoS 1 ── PUBACK ──▶ done(seq): deleted

Every message gets a sequence number when it is put; rows are read back in
that order, and a row is deleted only once the broker acknowledged it
(``done``). A message is *queued* when the transaction holding it has
committed: ``flush()`` waits for that, and ``stats().queued`` counts only such
messages. What a ``kill -9`` can lose is what was put since the last commit:
the writer commits as soon as the previous commit is done, so that is the
messages of one write (a few milliseconds; ``flush()`` returns once they are
safe). The journal is SQLite's WAL with ``synchronous=NORMAL``: a committed
transaction survives the process being killed; a power cut may lose the last
ones. A message resent after a crash (sent, but its PUBACK not yet recorded)
carries the same key, so a receiver that de-duplicates by key counts it once.

Bounds: the payloads, topics and keys of the queued rows stay under
``max_mb`` and no row is older than ``max_age`` (the injected clock's
seconds); past either the oldest rows are deleted first and counted in
``dropped`` by reason (``size``, ``age``; ``memory`` when more than
more than ``max_pending_mb`` of messages wait for the disk), with a WARNING at most once a
minute. All SQLite work runs in one thread of the outbox's own; nothing on the
event loop waits for the disk. A batch's rows and the deletions its bounds call for
commit in one transaction, or none of them does (and the batch is tried again).

A row may carry MQTT v5 properties (``props``: their wire encoding, opaque here;
a command response's correlation data). The file's schema is versioned
(``PRAGMA user_version``): a file of an earlier version is migrated in place
when it opens (version 1, without ``props``, gets the column, NULL in its
rows), keeping its rows. ``next_number(name)`` keeps small counters in the same
file (the Sparkplug B ``bdSeq`` of the bridge: a restart goes on from it).

One process at a time: ``open`` takes an exclusive lock on ``{file}.lock`` (which
holds the owner's pid) and refuses, naming the file and that pid, while another
process (or another ``Outbox`` of this one) has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from openbms.errors import DriverError
from openbms.model.mqtt import OutboxSettings
from openbms.runtime.clock import Clock

__all__ = ["Message", "Outbox", "OutboxStats", "outbox_path"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Bytes a row counts besides its topic, payload and key (the row's other columns).
ROW_OVERHEAD = 32
#: Seconds between WARNINGs about dropped messages.
WARN_EVERY = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    props BLOB
)
"""
_COUNTERS = "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
#: The file's schema (``PRAGMA user_version``): 1 had no ``props`` column (0: a new file).
SCHEMA_VERSION = 2


def outbox_path(data_dir: Path, site: str) -> Path:
    """The outbox file of ``site`` in the data folder."""
    return Path(data_dir) / f"mqtt-outbox-{site}.db"


class Message(NamedTuple):
    """One outgoing message; ``seq`` is its place in the outbox."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    key: str
    created: float
    props: bytes | None = None  # MQTT v5 properties, encoded (a response's correlation data)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counters for health and metrics (all O(1))."""

    queued: int  # on disk, not yet acknowledged by the broker
    pending: int  # put, not yet on disk
    bytes: int  # of the queued messages (topic, payload, key and a row's overhead)
    dropped: dict[str, int]  # by reason: size, age, memory
    written: int  # messages committed to disk since open
    sent: int  # messages acknowledged and deleted since open
    last_error: str | None  # the last disk error, None once a write succeeds again
    rejected: int = 0  # messages the broker would not take, deleted unsent (``reject``)


class Outbox:
    """A durable FIFO of messages in ``path`` (SQLite), bounded by ``settings``.

    ``open`` before use, ``close`` after; ``put`` from the event loop only.
    """

    def __init__(self, path: Path, settings: OutboxSettings, clock: Clock, *, name: str = "",
                 max_pending_mb: float = 64.0, mirror_mb: float = 32.0) -> None:
        self.path = Path(path)
        self.settings = settings
        self.clock = clock
        self.name = name or self.path.stem
        self.max_bytes = int(settings.max_mb * 1_000_000)
        self.max_pending = int(max_pending_mb * 1_000_000)  # bytes waiting for the disk
        self._pending_bytes = 0
        self._mirror_max = int(mirror_mb * 1_000_000)
        self._pool: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None
        self._lock: int | None = None  # the lock file's descriptor while open
        self._pending: deque[Message] = deque()
        self._next = 1  # the next sequence number
        self._durable = 0  # every seq up to this one is committed (or was dropped)
        self._acked = 0  # every seq up to this one was acknowledged and deleted
        self._queued = 0
        self._bytes = 0
        # The newest committed messages, contiguous by seq, so the drain need not read them back.
        self._mirror: deque[Message] = deque()
        self._mirror_bytes = 0
        self._wake = asyncio.Event()
        self._written_event = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._disk_bytes = 0  # the outbox thread's own count of the bytes on disk
        self.dropped = {"size": 0, "age": 0, "memory": 0}
        self._dropped_logged = 0
        self._last_warn = -WARN_EVERY
        self.written = 0
        self.sent = 0
        self.rejected = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Open (or create) the file, count what an earlier run left in it, start the writer."""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"outbox {self.name}")
        try:
            first, last, count, size = await self._run(self._open)
        except (sqlite3.Error, OSError, DriverError) as err:
            self._pool.shutdown(wait=False)
            self._pool = None
            self._unlock()
            if isinstance(err, DriverError):
                raise
            why = err.strerror or str(err) if isinstance(err, OSError) else str(err)
            raise DriverError(f"mqtt outbox {self.path}: cannot open it: {why}") from None
        self._acked = first - 1 if count else last
        self._durable, self._next = last, last + 1
        self._queued, self._bytes = count, size
        if count:
            log.info("mqtt outbox %s: %d messages (%.1f MB) left from the last run, to be sent",
                     self.name, count, size / 1e6)
        self._writer = asyncio.create_task(self._write_loop(), name=f"mqtt outbox {self.name}")

    def _open(self) -> tuple[int, int, int, int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # Big rows (a device's batch is kilobytes): 16 KB pages, and a checkpoint (its fsync) every
        # 64 MB of journal rather than SQLite's 4 MB; measured twice the messages a second.
        db.execute("PRAGMA page_size=16384")  # a new file only
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=4096")
        db.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
        self._migrate(db)
        self._db = db
        first, last, count, size = db.execute(
            "SELECT min(seq), max(seq), count(*), sum(size) FROM outbox").fetchone()
        self._disk_bytes = size or 0
        return (first or 1), (last or 0), count, (size or 0)

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Create the tables, or bring a file of an earlier version up to this one, in place."""
        with _transaction(db):
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DriverError(
                    f"mqtt outbox {self.path}: written by a newer openbms (schema {version}, this "
                    f"one knows up to {SCHEMA_VERSION}); upgrade openbms or move the file away")
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                                "'outbox'").fetchone()
            if exists is None:
                db.execute(_SCHEMA)
            else:
                columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
                if "props" not in columns:  # version 1: its rows keep, without properties
                    db.execute("ALTER TABLE outbox ADD COLUMN props BLOB")
            db.execute(_COUNTERS)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _take_lock(self) -> None:
        """The exclusive lock on ``{file}.lock`` (flock: per open file, so a second ``Outbox`` of
        this process is refused as another process is); DriverError while someone has it."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DriverError(
                f"mqtt outbox {self.path}: another process (pid {owner}) has it open: two openbms "
                "processes cannot share one data folder (each would send and delete the other's "
                "messages); stop the other one or give this one its own --data folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock = fd

    def _unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    async def close(self) -> None:
        """Write what is pending, stop the writer and close the file. Safe to call twice."""
        if self._writer is not None:
            # Not cancelled: a write under way finishes, then what is pending is written.
            self._closing = True
            self._wake.set()
            await self._writer
            self._writer = None
        if self._pool is not None:
            db = self._db
            if db is not None:
                await self._run(db.close)
            self._db = None
            self._pool.shutdown(wait=True)
            self._pool = None
        self._unlock()

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        assert self._pool is not None, "the outbox is not open"
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # ------------------------------------------------------------------ putting (the event loop)

    def put(self, topic: str, payload: bytes, qos: int, retain: bool, key: str,
            props: bytes | None = None) -> None:
        """Queue a message; it is on disk within one write (see ``flush``). Never blocks."""
        pending = self._pending
        self._pending_bytes += len(payload)
        while self._pending_bytes > self.max_pending and pending:  # the disk cannot keep up
            self._pending_bytes -= len(pending.popleft().payload)  # the oldest waiting go
            self.dropped["memory"] += 1
            self._warn_dropped()
        pending.append(Message(self._next, topic, payload, qos, retain, key, self.clock.now(),
                               props))
        self._next += 1
        self._wake.set()

    async def flush(self) -> None:
        """Wait until every message put so far is on disk (or was dropped)."""
        target = self._next - 1
        while self._durable < target:
            if self._writer is None or self._writer.done():
                raise DriverError(f"mqtt outbox {self.name}: closed with messages not written")
            self._written_event.clear()
            await self._written_event.wait()

    # ------------------------------------------------------------------ the writer

    async def _write_loop(self) -> None:
        age_every = min(60.0, max(0.05, self.settings.max_age / 10))
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), age_every)
            self._wake.clear()
            try:
                if self._pending:
                    await self._write_pending()
                else:
                    await self._apply(await self._run(self._expire, self.clock.now()))
            except sqlite3.Error as err:
                if self._closing:
                    log.error("mqtt outbox %s: cannot write to %s (%s) while closing: %d "
                              "messages lost", self.name, self.path, err, len(self._pending))
                    return
                if self.last_error is None:
                    log.warning("mqtt outbox %s: cannot write to %s (%s); %d messages wait in "
                                "memory, retrying", self.name, self.path, err, len(self._pending))
                self.last_error = str(err)
                await asyncio.sleep(1.0)
                self._wake.set()
            if self._closing and not self._pending:
                return

    async def _write_pending(self) -> None:
        while self._pending:
            batch = list(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            try:
                dropped = await self._run(self._write, batch, self.clock.now())
            except BaseException:
                self._pending.extendleft(reversed(batch))  # written next time, still first
                self._pending_bytes = sum(len(m.payload) for m in self._pending)
                raise
            # Only now are they queued (committed); a put made meanwhile waits for the next write.
            if self.last_error is not None:
                log.warning("mqtt outbox %s: writing to %s works again", self.name, self.path)
                self.last_error = None
            self.written += len(batch)
            self._queued += len(batch)
            self._bytes += sum(_size(m) for m in batch)
            self._durable = batch[-1].seq
            self._mirror_add(batch)
            await self._apply(dropped)
            self._written_event.set()

    def _write(self, batch: list[Message], now: float) -> tuple[tuple[str, int, int, int], ...]:
        """Insert ``batch`` and enforce the bounds, in one transaction (the outbox's thread): if a
        deletion fails the rows are not committed either, and the batch can be written again
        (committed rows and a failed deletion put it back with sequence numbers already taken)."""
        db = self._db
        assert db is not None
        added = sum(_size(m) for m in batch)
        with _transaction(db):
            db.executemany(
                "INSERT INTO outbox (seq, created, topic, payload, qos, retain, key, size, props) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(m.seq, m.created, m.topic, m.payload, m.qos, int(m.retain), m.key, _size(m),
                  m.props) for m in batch])
            dropped = self._purge_size(self._disk_bytes + added)
            dropped += self._purge_age(now)
        self._disk_bytes += added - sum(size for _r, _u, _c, size in dropped)
        return dropped

    def _expire(self, now: float) -> tuple[tuple[str, int, int, int], ...]:
        """Delete the rows older than ``max_age``, in a transaction of its own."""
        db = self._db
        assert db is not None
        with _transaction(db):
            dropped = self._purge_age(now)
        self._disk_bytes -= sum(size for _r, _u, _c, size in dropped)
        return dropped

    def _purge_size(self, disk_bytes: int) -> tuple[tuple[str, int, int, int], ...]:
        """Delete the oldest rows while the queued bytes (``disk_bytes``) are over ``max_bytes``
        (in the caller's transaction)."""
        db = self._db
        assert db is not None
        excess = disk_bytes - self.max_bytes
        if excess <= 0:
            return ()
        upto, count, size = 0, 0, 0
        for seq, row_size in db.execute("SELECT seq, size FROM outbox ORDER BY seq"):
            if size >= excess:
                break
            upto, count, size = seq, count + 1, size + row_size
        if not count:
            return ()
        db.execute("DELETE FROM outbox WHERE seq <= ?", (upto,))
        return (("size", upto, count, size),)

    def _purge_age(self, now: float) -> tuple[tuple[str, int, int, int], ...]:
        """Delete the rows older than ``max_age`` (in the caller's transaction)."""
        db = self._db
        assert db is not None
        cutoff = now - self.settings.max_age
        upto, count, size = db.execute(
            "SELECT max(seq), count(*), sum(size) FROM outbox WHERE created < ?",
            (cutoff,)).fetchone()
        if not count:
            return ()
        db.execute("DELETE FROM outbox WHERE seq <= ?", (upto,))
        return (("age", upto, count, size or 0),)

    async def _apply(self, dropped: Iterable[tuple[str, int, int, int]]) -> None:
        """Count rows the writer deleted for a bound, and forget them."""
        for reason, upto, count, size in dropped:
            self.dropped[reason] += count
            self._queued -= count
            self._bytes -= size
            self._acked = max(self._acked, upto)
            self._mirror_drop(upto)
            self._warn_dropped()

    def _warn_dropped(self) -> None:
        total = sum(self.dropped.values())
        now = time.monotonic()
        if total > self._dropped_logged and now - self._last_warn >= WARN_EVERY:
            self._last_warn = now
            log.warning("mqtt outbox %s: %d messages dropped so far, oldest first (%s): the "
                        "broker has been away longer than the outbox holds (max_mb %g, max_age "
                        "%g s)", self.name, total,
                        ", ".join(f"{k} {v}" for k, v in self.dropped.items() if v),
                        self.settings.max_mb, self.settings.max_age)
            self._dropped_logged = total

    # ------------------------------------------------------------------ the mirror

    def _mirror_add(self, batch: list[Message]) -> None:
        mirror = self._mirror
        if mirror and mirror[-1].seq + 1 != batch[0].seq:
            mirror.clear()  # not contiguous (a drop in between): start again
            self._mirror_bytes = 0
        mirror.extend(batch)
        self._mirror_bytes += sum(len(m.payload) for m in batch)
        while self._mirror_bytes > self._mirror_max and mirror:
            self._mirror_bytes -= len(mirror.popleft().payload)

    def _mirror_drop(self, upto: int) -> None:
        mirror = self._mirror
        while mirror and mirror[0].seq <= upto:
            self._mirror_bytes -= len(mirror.popleft().payload)

    # ------------------------------------------------------------------ draining

    def available(self, after: int) -> bool:
        """Whether a queued message comes after ``after``."""
        return self._durable > max(after, self._acked)

    async def wait(self, after: int) -> None:
        """Wait until a queued message comes after ``after``."""
        while not self.available(after):
            self._written_event.clear()
            await self._written_event.wait()

    async def take(self, after: int, limit: int) -> list[Message]:
        """Up to ``limit`` queued messages after ``after``, in order (from memory when it can)."""
        after = max(after, self._acked)
        mirror = self._mirror
        if mirror and mirror[0].seq <= after + 1:
            start = after + 1 - mirror[0].seq
            return list(islice(mirror, start, start + limit))
        if not self.available(after):
            return []
        return await self._run(self._read, after, min(limit, self._durable - after))

    def _read(self, after: int, limit: int) -> list[Message]:
        db = self._db
        assert db is not None
        return [Message(seq, topic, bytes(payload), qos, bool(retain), key, created,
                        None if props is None else bytes(props))
                for seq, topic, payload, qos, retain, key, created, props in db.execute(
                    "SELECT seq, topic, payload, qos, retain, key, created, props FROM outbox "
                    "WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit))]

    async def done(self, upto: int) -> None:
        """The broker acknowledged every message up to ``upto``: delete them."""
        if upto > self._acked:
            # Shielded: a cancelled caller (a lost connection) must not leave the counts behind.
            await asyncio.shield(self._done(upto))

    async def reject(self, seq: int) -> None:
        """The broker will not take message ``seq``, the oldest left (the link found it so):
        delete it unsent, counted in ``rejected``."""
        if seq > self._acked:
            await asyncio.shield(self._done(seq, rejected=True))

    async def _done(self, upto: int, *, rejected: bool = False) -> None:
        count, size = await self._run(self._delete, upto)
        self._acked = max(self._acked, upto)
        self._queued -= count
        self._bytes -= size
        if rejected:
            self.rejected += count
        else:
            self.sent += count
        self._mirror_drop(upto)

    def _delete(self, upto: int) -> tuple[int, int]:
        db = self._db
        assert db is not None
        with _transaction(db):
            count, size = db.execute("SELECT count(*), sum(size) FROM outbox WHERE seq <= ?",
                                     (upto,)).fetchone()
            db.execute("DELETE FROM outbox WHERE seq <= ?", (upto,))
        self._disk_bytes -= size or 0
        return count, size or 0

    # ------------------------------------------------------------------ counters

    async def next_number(self, name: str, modulo: int = 256) -> int:
        """The counter ``name`` kept in the file (0 the first time), advanced by one (mod
        ``modulo``) for the next call, committed before it is returned: a restart goes on
        from it."""
        return await self._run(self._next_number, name, modulo)

    def _next_number(self, name: str, modulo: int) -> int:
        db = self._db
        assert db is not None
        with _transaction(db):
            row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            value = 0 if row is None else row[0] % modulo
            db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)",
                       (name, (value + 1) % modulo))
        return value

    # ------------------------------------------------------------------ figures

    @property
    def last_seq(self) -> int:
        """The sequence number of the last message put (0: none yet)."""
        return self._next - 1

    @property
    def queued(self) -> int:
        """Messages on disk not yet acknowledged."""
        return self._queued

    def stats(self) -> OutboxStats:
        """The counters, for health and metrics."""
        return OutboxStats(self._queued, len(self._pending), self._bytes, dict(self.dropped),
                           self.written, self.sent, self.last_error, self.rejected)


def _size(m: Message) -> int:
    return len(m.topic) + len(m.payload) + len(m.key) + ROW_OVERHEAD + (
        len(m.props) if m.props else 0)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
