"""The SQLite store's own behaviour: its outbox bound, crashes, its inbox, bad files, the owner lock.

What every store must do is in ``test_conformance.py``, which runs against SQLite too.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from openbms.errors import HistorianError
from openbms.historian import Historian
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample
from openbms.runtime.clock import ManualClock

T0 = 1_700_000_000.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + 86400)


def test_sqlite_store_implements_the_historian_contract(tmp_path):
    _: Historian = SQLiteHistorian(tmp_path / "h.db")  # mypy checks the structure here
    assert isinstance(_, Historian)  # and every member is there at run time


async def test_backlog_beyond_its_bound_drops_oldest_and_counts(tmp_path, clock):
    h = SQLiteHistorian(tmp_path / "h.db", clock=clock, max_backlog=1000, flush_count=10**9)
    # Not started: nothing drains, so the outbox must enforce its bound by itself.
    for i in range(30):
        h.ingest([Sample("s/e/a", T0 + i * 100 + j, 1.0) for j in range(100)])
    st = h.stats()
    assert st.backlog <= 1000
    assert st.dropped == 3000 - st.backlog


def test_kill_9_loses_at_most_the_unflushed_outbox_and_the_file_opens_clean(tmp_path):
    path = tmp_path / "crash.db"
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("ingest_child.py")), str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    committed = 0
    commits = 0
    assert child.stdout is not None
    try:
        for line in child.stdout:
            committed = int(line.split()[1])
            commits += 1
            if commits >= 25:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert commits >= 25, "the child stopped reporting commits"
    db = sqlite3.connect(path)
    db.execute("ATTACH DATABASE ? AS ib", (f"{path}.inbox",))
    assert db.execute("PRAGMA main.integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA ib.integrity_check").fetchone()[0] == "ok"
    # A crash between a merge and the inbox clean-up leaves rows in both: UNION, not UNION ALL.
    raw_ts = [r[0] for r in db.execute(
        "SELECT ts FROM history UNION SELECT ts FROM ib.inbox ORDER BY 1")]
    db.close()
    # Every commit reported is there, and what is there is a prefix with no holes.
    assert len(raw_ts) >= committed
    assert raw_ts == [T0 + i for i in range(len(raw_ts))]


async def test_reopen_after_kill_merges_the_inbox(tmp_path, clock):
    path = tmp_path / "h.db"
    async with SQLiteHistorian(path, clock=clock) as h:
        h.ingest([Sample("s/e/a", T0, 1.0)])
    db = sqlite3.connect(f"{path}.inbox")  # what a crash between commit and merge leaves
    db.execute("INSERT INTO inbox VALUES (1, ?, 2.0, 0)", (T0 + 1,))
    db.commit()
    db.close()
    async with SQLiteHistorian(path, clock=clock) as h:
        assert [s.value for s in await h.raw("s/e/a", 0, 2e9)] == [1.0, 2.0]


async def test_a_file_that_is_not_a_database_gives_a_clear_error_and_is_left_alone(tmp_path):
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not a database" * 100)
    h = SQLiteHistorian(path)
    with pytest.raises(HistorianError, match="cannot open history database"):
        await h.start()
    assert path.read_bytes() == b"this is not a database" * 100


async def test_a_second_owner_is_refused_and_a_read_only_reader_sees_committed_data(tmp_path, clock):
    path = tmp_path / "h.db"
    async with SQLiteHistorian(path, clock=clock) as owner:
        owner.ingest([Sample("s/e/a", T0 + i, float(i)) for i in range(10)])
        await owner.flush()
        with pytest.raises(HistorianError, match="in use by another openbms process"):
            await SQLiteHistorian(path, clock=clock).start()
        async with SQLiteHistorian(path, clock=clock, readonly=True) as reader:
            assert len(await reader.raw("s/e/a", 0, 2e9)) == 10
            assert (await reader.last_values())["s/e/a"].value == 9.0
    async with SQLiteHistorian(path, clock=clock) as again:  # the lock went with the owner
        assert len(await again.raw("s/e/a", 0, 2e9)) == 10


async def test_a_rollup_query_during_a_rollup_pass_waits_for_it_not_reading_empty_buckets(tmp_path, clock):
    """The periodic pass clears the dirty marks before it writes; a query in between must wait for it."""
    import asyncio
    import threading

    from openbms.historian import schema

    class Gate:
        """The merger's connection, held at the hourly rollup statement until ``go`` is set."""

        def __init__(self, db: sqlite3.Connection) -> None:
            self.db, self.entered, self.go = db, threading.Event(), threading.Event()

        def execute(self, sql, *args):
            if sql is schema.ROLLUP_HOURS:
                self.entered.set()
                self.go.wait(30)
            return self.db.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.db, name)

    async with SQLiteHistorian(tmp_path / "h.db", clock=clock, rollup_interval=3600) as h:
        h.ingest([Sample("p", T0 + 60 * i, float(i)) for i in range(120)])
        await h.flush()
        gate = h._m = Gate(h._m)
        loop = asyncio.get_running_loop()
        periodic = loop.run_in_executor(h._mexec, h._rollup_pass, None)  # as the store's own cadence runs it
        assert await asyncio.to_thread(gate.entered.wait, 30)
        query = asyncio.create_task(h.rollups("p", "hour", T0 - 3600, T0 + 3 * 3600))
        await asyncio.sleep(0.3)  # before the fix the query answered here, from unwritten buckets
        gate.go.set()
        await periodic
        series = await query
        h._m = gate.db
    assert [int(c) for c in series.count] == [sum(1 for i in range(120) if s <= T0 + 60 * i < s + 3600)
                                              for s in series.start]
    assert sum(series.count) == 120


async def test_a_value_sqlite_cannot_store_is_kept_as_a_float_and_the_writer_goes_on(tmp_path, clock):
    # Before: an integer beyond 64 bits (a device's, through the MQTT driver) raised OverflowError
    # in the writer, which died: nothing after it was stored and stop() raised.
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample("s/e/a", T0, 10**20), Sample("s/e/b", T0, 5)])
        await h.flush()
        h.ingest([Sample("s/e/a", T0 + 1, 12.5)])
        await h.flush()
        assert [(s.value, type(s.value)) for s in await h.raw("s/e/a", 0, 2e9)] == [
            (1e20, float), (12.5, float)]
        assert [s.value for s in await h.raw("s/e/b", 0, 2e9)] == [5]


async def test_a_late_sample_marks_its_own_hours_for_rollup_not_every_hour_since(tmp_path, clock):
    # Before: every hour from a merge's oldest sample to its newest was marked, so one sample
    # stamped a year back (a device's own clock, through MQTT) made 8 760 hours of rollup work.
    year = 365 * 86400
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock, rollup_interval=3600) as h:
        h.ingest([Sample("s/e/a", T0 - year + 10, 1.0), Sample("s/e/a", T0, 2.0)])
        await h.flush()
        db = sqlite3.connect(tmp_path / "h.db")
        try:
            hours = [row[0] for row in db.execute("SELECT start FROM rollup_dirty ORDER BY start")]
        finally:
            db.close()
        late, now = (T0 - year + 10) // 3600 * 3600, T0 // 3600 * 3600
        assert hours[0] == late and hours[-1] in (now, now + 3600) and len(hours) <= 4
        # The late sample's hour is rolled up from it.
        assert list((await h.rollups("s/e/a", "hour", late, late + 3600)).tw_mean) == [1.0]
