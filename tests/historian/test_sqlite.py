"""The SQLite historian: round trips, restarts, COV, export, crashes and bad files."""

from __future__ import annotations

import csv
import io
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from openbms.errors import HistorianError
from openbms.historian.export import export_history
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import HistoryPolicy, Sample
from openbms.runtime.clock import ManualClock

T0 = 1_700_000_000.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + 86400)


async def test_round_trip_keeps_values_statuses_and_order(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        samples = [Sample("s/e/a", T0 + i, i * 0.5, "ok") for i in range(50)]
        samples.append(Sample("s/e/a", T0 + 60, None, "offline"))
        samples.append(Sample("s/e/b", T0 + 1, True, "overridden"))
        h.ingest(samples)
        await h.flush()
        assert await h.raw("s/e/a", T0, T0 + 100) == samples[:51]
        assert await h.raw("s/e/a", T0 + 10, T0 + 20) == samples[10:20]
        b = await h.raw("s/e/b", 0, 2e9)
        assert b == [Sample("s/e/b", T0 + 1, 1, "overridden")]  # booleans come back as 0/1
        last = await h.last_values()
        assert last["s/e/a"] == samples[50]
        assert await h.raw("s/e/unknown", 0, 2e9) == []


async def test_restart_keeps_everything_flushed_and_last_values_start_warm(tmp_path, clock):
    path = tmp_path / "h.db"
    samples = [Sample(f"s/e/p{i % 7}", T0 + i, float(i)) for i in range(1000)]
    async with SQLiteHistorian(path, clock=clock) as h:
        h.ingest(samples)  # stop() must flush what was accepted, without an explicit flush
    async with SQLiteHistorian(path, clock=clock) as h:
        last = await h.last_values()
        assert len(last) == 7
        stored = []
        for p in sorted(last):
            stored += await h.raw(p, 0, 2e9)
        assert sorted(stored) == sorted(samples)
        assert (await h.rollups("s/e/p0", "hour", 0, 2e9)).count[0] == len(samples[::7])


async def test_cov_deadband_and_max_interval_decide_what_is_stored(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.configure({
            "s/e/temp": HistoryPolicy(deadband=0.5, max_interval=60),
            "s/e/off": HistoryPolicy(enabled=False),
        })
        values = [20.0, 20.2, 20.4, 20.6, 20.7, 21.2, 21.0, 21.0, 21.0]
        h.ingest([Sample("s/e/temp", T0 + i * 10, v) for i, v in enumerate(values)])
        h.ingest([Sample("s/e/temp", T0 + 200, 21.0)])  # no change, but max_interval passed
        h.ingest([Sample("s/e/temp", T0 + 210, 21.0, "fault")])  # a status change is kept
        h.ingest([Sample("s/e/off", T0, 1.0)])
        await h.flush()
        kept = [(s.ts - T0, s.value, s.status) for s in await h.raw("s/e/temp", 0, 2e9)]
        assert kept == [
            (0, 20.0, "ok"),
            (30, 20.6, "ok"),  # first change beyond 0.5 from 20.0
            (50, 21.2, "ok"),
            (200, 21.0, "ok"),
            (210, 21.0, "fault"),
        ]
        assert await h.raw("s/e/off", 0, 2e9) == []
        st = h.stats()
        assert st.received == 12 and st.filtered == 7 and st.stored == 5


async def test_backlog_beyond_its_bound_drops_oldest_and_counts(tmp_path, clock):
    h = SQLiteHistorian(tmp_path / "h.db", clock=clock, max_backlog=1000, flush_count=10**9)
    # Not started: nothing drains, so the outbox must enforce its bound by itself.
    for i in range(30):
        h.ingest([Sample("s/e/a", T0 + i * 100 + j, 1.0) for j in range(100)])
    st = h.stats()
    assert st.backlog <= 1000
    assert st.dropped == 3000 - st.backlog


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
async def test_export_formats_parse_back(tmp_path, clock, fmt):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        samples = [Sample(p, T0 + i * 60, float(i), "ok") for p in ("s/e/a", "s/e/b")
                   for i in range(30)]
        samples.append(Sample("s/e/a", T0 + 30 * 60, None, "offline"))
        h.ingest(samples)
        await h.flush()
        out = tmp_path / f"x.{fmt}"
        seen = []
        n = await export_history(h, ["s/e/a", "s/e/b"], T0, T0 + 86400, out, fmt,
                                 progress=seen.append)
        assert n == len(samples) == sum(seen)
        if fmt == "csv":
            with out.open() as fh:
                rows = list(csv.DictReader(fh))
            back = [(r["point"], float(r["ts"]), float(r["value"]) if r["value"] else None,
                     r["status"]) for r in rows]
            assert rows[0]["time"] == "2023-11-14T22:13:20Z"
        elif fmt == "jsonl":
            rows = [json.loads(line) for line in out.read_text().splitlines()]
            back = [(r["point"], r["ts"], r["value"], r["status"]) for r in rows]
        else:
            import pyarrow.parquet as pq
            rows = pq.read_table(out).to_pylist()
            back = [(r["point"], r["ts"], r["value"], r["status"]) for r in rows]
        assert sorted(back, key=lambda r: (r[0], r[1])) == sorted(
            (tuple(s) for s in samples), key=lambda r: (r[0], r[1]))


async def test_rollup_export_has_aggregate_columns(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample("s/e/a", T0 + i * 60, float(i)) for i in range(120)])
        await h.flush()
        buf = io.StringIO()
        n = await export_history(h, ["s/e/a"], 0, 2e9, buf, "csv", rollup="hour")
        rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
        assert n == len(rows) >= 2
        assert float(rows[0]["count"]) > 0 and "tw_mean" in rows[0]


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
