"""The SQLite historian on a real full disk: the cause is said once, nothing is lost, it recovers.

The data folder is a small tmpfs filled to the last byte (tests/fixtures/small_disk.py),
so the failures are SQLite's own SQLITE_FULL, not a simulation.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest

from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample
from openbms.runtime.clock import ManualClock
from tests.fixtures.small_disk import small_disk
from tests.fixtures.waiting import eventually

T0 = 1_700_000_000.0
LOGGER = "openbms.historian.sqlite"


def _messages(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= level]


async def test_a_full_disk_is_logged_once_with_its_cause_counted_and_recovers_without_loss(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(T0 + 86400)
    with small_disk(tmp_path / "disk", "8m") as disk:
        path = disk.path / "h.db"
        h = SQLiteHistorian(path, clock=clock, flush_interval=0.02, merge_interval=0.02)
        await h.start()
        try:
            before = [Sample("s/e/old", T0 + i, float(i)) for i in range(100)]
            h.ingest(before)
            await h.flush()
            assert h.stats().write_errors == 0 and h.stats().last_error is None

            disk.fill()
            # New points are numbered inside the failing transaction; enough rows to need new pages.
            during = [Sample(f"s/e/new{i % 50}", T0 + 1000 + i, float(i)) for i in range(60_000)]
            for k in range(0, len(during), 1000):
                h.ingest(during[k:k + 1000])
            await eventually(lambda: h.stats().write_errors >= 3, "three failed history writes")

            st = h.stats()
            assert st.failing
            assert st.last_error is not None and "database or disk is full" in st.last_error
            assert st.stored == len(before) and st.backlog == len(during) and st.dropped == 0
            assert st.backlog_age > 0
            assert st.late == 0  # retries of the same samples are not "late"
            logged = _messages(caplog)
            assert not any("cannot rollback" in m for m in logged), logged
            writes = [m for m in logged if m.startswith("history writes failing")]
            assert len(writes) == 1, logged  # once, however many retries
            assert "database or disk is full" in writes[0] and str(disk.path) in writes[0]
            # Merges and rollups fail on a full disk too: said once as well, with the same cause.
            others = [m for m in logged if m not in writes]
            assert len(others) <= 1 and all("database or disk is full" in m for m in others), logged

            disk.free()
            await eventually(lambda: h.stats().backlog == 0 and not h.stats().failing,
                             "the backlog written and merges working after space returned")
            st = h.stats()
            assert not st.failing and st.stored == len(before) + len(during)
            assert st.backlog_age == 0
            assert st.last_error is not None  # the last error stays readable after recovery
            recovered = [m for m in _messages(caplog, logging.INFO)
                         if m.startswith("history writes recovered")]
            assert len(recovered) == 1, _messages(caplog, logging.INFO)
            await h.flush()
            assert len(await h.raw("s/e/new7", 0, 2e9)) == len(during) // 50
        finally:
            await h.stop()

        # The points first numbered while the disk was full are known after a restart too.
        async with SQLiteHistorian(path, clock=clock) as again:
            assert set(again.points()) == {"s/e/old", *(f"s/e/new{i}" for i in range(50))}
            for i in range(50):
                assert len(await again.raw(f"s/e/new{i}", 0, 2e9)) == len(during) // 50
        db = sqlite3.connect(path)
        orphans = db.execute(
            "SELECT count(*) FROM history WHERE pid NOT IN (SELECT pid FROM series)").fetchone()[0]
        db.close()
        assert orphans == 0


async def test_a_failing_merge_is_logged_once_and_its_recovery_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = ManualClock(T0 + 86400)
    with small_disk(tmp_path / "disk", "8m") as disk:
        h = SQLiteHistorian(disk.path / "h.db", clock=clock, flush_interval=0.02, merge_interval=0.02)
        await h.start()
        try:
            h.ingest([Sample("s/e/a", T0 + i, float(i)) for i in range(100)])
            await h.flush()
            disk.fill()
            # Small batches fit the inbox's existing WAL pages now and then; the merges cannot.
            for k in range(200):
                h.ingest([Sample("s/e/a", T0 + 1000 + k * 100 + i, float(i)) for i in range(100)])
                await clock.advance(0)  # yields to the loop
            await eventually(lambda: h.stats().maintenance_errors >= 3 or h.stats().write_errors >= 3,
                             "failed history work")
            logged = [m for m in _messages(caplog) if "database or disk is full" in m]
            assert len(logged) <= 2, logged  # at most once for the writer and once for the merger
            assert not any("cannot rollback" in m for m in _messages(caplog))
            disk.free()
            await eventually(lambda: h.stats().backlog == 0 and not h.stats().failing,
                             "writes and merges working again")
            await h.flush()
            assert len(await h.raw("s/e/a", 0, 2e9)) == 100 + 200 * 100
        finally:
            await h.stop()
