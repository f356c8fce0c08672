"""PostgreSQL compaction: old weeks become a packed row per point and day, queries read both
forms, late data unpacks a day, retention drops packed weeks, and the storage it saves.
The whole contract with compaction forced on: ``postgres-compacted`` in test_conformance.py."""

from __future__ import annotations

import asyncio
import math
import time

import numpy as np
import psycopg
import pytest

from openbms.errors import HistorianError
from openbms.historian import open_historian
from openbms.historian.pg_pack import decode_times, decode_values, encode_times, encode_values
from openbms.historian.pg_schema import partition_start
from openbms.historian.postgres import PostgresHistorian
from openbms.model import HistoryPolicy, Sample
from openbms.runtime.clock import ManualClock
from tests.historian.conftest import fresh_postgres_database

DAY = 86400.0
HOUR = 3600.0
#: Monday 2024-04-01 00:00 UTC: the start of a weekly partition.
MONDAY = 1_711_929_600.0


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    return fresh_postgres_database(postgres_url)


def _sql(url: str, query: str, *args: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(query, args)
        return cur.fetchall() if cur.description else []


def _week(points: tuple[str, ...], start: float, days: int = 7, step: float = 60.0) -> list[Sample]:
    """One sample a ``step`` for ``days``; a NULL offline sample, a text one and a stale one."""
    out = []
    for p in points:
        for i in range(int(days * DAY / step)):
            ts = start + i * step
            if i == 100:
                out.append(Sample(p, ts, None, "offline"))
            elif i == 200:
                out.append(Sample(p, ts, "occupied", "overridden"))
            else:
                out.append(Sample(p, ts, round(20.0 + math.sin(i / 500.0) + (i % 7) * 0.01, 2),
                                  "stale" if i == 300 else "ok"))
    return out


# ---------------------------------------------------------------------- the encoding


@pytest.mark.parametrize("values", [
    [20.5, 20.51, 20.49, -3.25, 0.0, 1e6],                     # decimal
    [float(np.float32(21.3)), float(np.float32(-0.1)), 3.5],  # a BACnet REAL
    [21.300000000000001, 1 / 3, 2.0**-1074, 1e308],            # float64
    [math.nan, math.inf, -math.inf, -0.0, 1.0],                # special values
    [-0.0], [], [7.0],
])
def test_packed_values_come_back_bit_for_bit(values):
    a = np.array(values, dtype=np.float64)
    back = decode_values(encode_values(a))
    assert back.dtype == np.float64 and back.view(np.uint64).tolist() == a.view(np.uint64).tolist()


@pytest.mark.parametrize("times", [
    [MONDAY + i * 60.0 for i in range(1440)],
    [MONDAY + 0.001, MONDAY + 0.5, MONDAY + 3599.999],
    [MONDAY + 1 / 3, MONDAY + 2 / 3],                          # not whole milliseconds
    [MONDAY], [],
])
def test_packed_times_come_back_exactly(times):
    ts = np.array(times, dtype=np.float64)
    assert decode_times(encode_times(ts)).tolist() == ts.tolist()


def test_a_minute_series_encodes_to_a_few_bytes_a_sample_before_compression():
    ts = MONDAY + np.arange(1440) * 60.0
    values = np.round(21 + np.cumsum(np.random.default_rng(3).normal(0, 0.02, 1440)), 2)
    assert len(encode_times(ts)) < 1440 * 4 + 16
    encoded = encode_values(values)
    assert encoded[:2] == b"D\x02" and len(encoded) == 2 + 1440 * 4  # 4-byte differences, not 8


# ---------------------------------------------------------------------- compaction


async def test_compaction_packs_old_weeks_a_row_per_point_and_day_and_queries_read_the_same(pg_url):
    clock = ManualClock(MONDAY + 20 * DAY)
    points = ("s/e/a", "s/e/b")
    samples = _week(points, MONDAY, days=14)
    async with open_historian(pg_url, clock=clock) as h:
        assert isinstance(h, PostgresHistorian)
        h.ingest(samples)
        await h.refresh_rollups()
        before_raw = {p: await h.raw(p, 0, 2e9) for p in points}
        before_hours = (await h.rollups("s/e/a", "hour", 0, 2e9)).array.copy()
        probe = MONDAY + 3 * DAY + 30.0
        before_last = await h.last_before("s/e/a", probe)

        # The default: weeks that ended 7 days ago. Now is day 20: the first week only.
        packed = await h.compact()
        assert packed == 2 * 7 * 1440
        assert _sql(pg_url, "SELECT count(*) FROM samples_2024_04_01") == [(0,)]
        assert _sql(pg_url, "SELECT count(*), sum(n) FROM packed_2024_04_01") == [(14, packed)]
        assert _sql(pg_url, "SELECT count(*) FROM samples_2024_04_08") == [(2 * 7 * 1440,)]
        assert await h.compact() == 0  # idempotent: nothing left to do

        for p in points:
            assert await h.raw(p, 0, 2e9) == before_raw[p]
            assert await h.raw(p, MONDAY + DAY + 30, MONDAY + 8 * DAY) == [
                s for s in before_raw[p] if MONDAY + DAY + 30 <= s.ts < MONDAY + 8 * DAY]
        rows = await h.raw_rows("s/e/a", MONDAY + 50 * 60.0, math.inf, 60)
        assert [r[0] for r in rows] == [s.ts for s in before_raw["s/e/a"][50:110]]
        assert rows[50] == (MONDAY + 100 * 60.0, None, 3)  # the offline NULL
        assert (await h.raw("s/e/a", MONDAY + 200 * 60.0, MONDAY + 201 * 60.0))[0].value == "occupied"
        assert await h.last_before("s/e/a", probe) == before_last
        assert await h.last_before("s/e/a", MONDAY + 7 * DAY + 1) == (
            MONDAY + 7 * DAY, before_raw["s/e/a"][7 * 1440].value, 0)  # raw, after the packed
        assert await h.last_before("s/e/a", MONDAY + 7 * DAY) == (
            MONDAY + 7 * DAY - 60.0, before_raw["s/e/a"][7 * 1440 - 1].value, 0)
        assert await h.count(list(points), MONDAY + 0.5 * DAY, MONDAY + 9 * DAY) == sum(
            1 for s in samples if MONDAY + 0.5 * DAY <= s.ts < MONDAY + 9 * DAY)
        exported = [s async for chunk in h.iter_raw(list(points), 0, 2e9, chunk=5000)
                    for s in chunk]
        assert exported == before_raw["s/e/a"] + before_raw["s/e/b"]
        assert np.array_equal((await h.rollups("s/e/a", "hour", 0, 2e9)).array, before_hours,
                              equal_nan=True)
    # Across a restart, and for a reader beside the owner.
    async with open_historian(pg_url, clock=clock, readonly=True) as reader:
        assert await reader.raw("s/e/b", 0, 2e9) == before_raw["s/e/b"]


async def test_a_late_sample_for_a_packed_day_unpacks_it_replaces_and_corrects_rollups(pg_url):
    clock = ManualClock(MONDAY + 20 * DAY)
    async with open_historian(pg_url, clock=clock) as h:
        h.ingest([Sample("s/e/a", MONDAY + i * 60.0, 1.0) for i in range(3 * 1440)])
        await h.refresh_rollups()
        assert await h.compact(MONDAY + 7 * DAY) == 3 * 1440
        # A resend of a packed sample writes nothing new; a corrected one replaces it.
        h.ingest([Sample("s/e/a", MONDAY + DAY + 600.0, 1.0),
                  Sample("s/e/a", MONDAY + DAY + 660.0, 100.0, "fault")])
        await h.refresh_rollups()
        raw = await h.raw("s/e/a", 0, 2e9)
        assert len(raw) == 3 * 1440
        assert raw[1440 + 11] == Sample("s/e/a", MONDAY + DAY + 660.0, 100.0, "fault")
        assert sum(s.value != 1.0 for s in raw) == 1
        hour = (await h.rollups("s/e/a", "hour", MONDAY + DAY, MONDAY + DAY + HOUR)).rows()[0]
        assert (hour.count, hour.max) == (60, 100.0)
        # The day went back to samples (and the last hour of the day before, which its rollups
        # read from); the other day stays packed.
        days = [d for (d,) in _sql(pg_url, "SELECT start FROM packed ORDER BY start")]
        assert MONDAY + DAY not in days and MONDAY + 2 * DAY in days
        # A new sample in an empty day is stored raw; compacting again packs all of it.
        h.ingest([Sample("s/e/a", MONDAY + 5 * DAY, 5.0)])
        await h.flush()
        await h.compact(MONDAY + 7 * DAY)
        assert _sql(pg_url, "SELECT count(*) FROM samples_2024_04_01") == [(0,)]
        assert await h.raw("s/e/a", 0, 2e9) == [*raw, Sample("s/e/a", MONDAY + 5 * DAY, 5.0)]


async def test_a_failed_compaction_leaves_the_week_as_it_was_and_a_later_one_completes(pg_url):
    clock = ManualClock(MONDAY + 20 * DAY)
    async with open_historian(pg_url, clock=clock) as h:
        assert isinstance(h, PostgresHistorian)
        h.ingest([Sample("s/e/a", MONDAY + i * 60.0, float(i % 90)) for i in range(2 * 1440)])
        await h.refresh_rollups()
        stored = await h.raw("s/e/a", 0, 2e9)
        h.ingest([Sample("s/e/a", MONDAY + 8 * DAY, 1.0)])  # the week after: not compacted
        await h.flush()
        # A packed row already there for the first day: packing that day fails on its key.
        with psycopg.connect(pg_url) as conn:
            conn.execute(f"CREATE TABLE packed_2024_04_01 PARTITION OF packed "
                         f"FOR VALUES FROM ({MONDAY}) TO ({MONDAY + 7 * DAY})")
            conn.execute("INSERT INTO packed VALUES (1, %s, 1, %s, %s, %s, %s)",
                         (MONDAY, MONDAY + 1, MONDAY + 1, encode_times(np.array([MONDAY + 1.0])),
                          encode_values(np.array([5.0]))))
        with pytest.raises(HistorianError, match="compaction failed: duplicate key"):
            await h.compact(MONDAY + 7 * DAY)
        assert _sql(pg_url, "SELECT count(*) FROM samples_2024_04_01") == [(2 * 1440,)]
        assert _sql(pg_url, "SELECT count(*) FROM packed") == [(1,)]  # nothing added
        _sql(pg_url, "DELETE FROM packed")
        assert await h.compact(MONDAY + 7 * DAY) == 2 * 1440
        assert await h.raw("s/e/a", 0, MONDAY + 7 * DAY) == stored


async def test_compaction_runs_in_the_background_and_retention_drops_packed_weeks(pg_url):
    clock = ManualClock(MONDAY + 30 * DAY)
    async with open_historian(pg_url, clock=clock, rollup_interval=0.0, compact_interval=0.0,
                              flush_interval=0.05, partitions_ahead=0) as h:
        h.ingest([Sample("s/e/a", MONDAY + i * HOUR, float(i)) for i in range(30 * 24)])
        await h.flush()
        for i in range(600):  # the writer kicks a background pass between its writes
            h.ingest([Sample("s/e/b", clock.now() + i, 1.0)])
            if _sql(pg_url, "SELECT count(*) FROM packed")[0][0] >= 21:
                break
            await asyncio.sleep(0.1)
        # Weeks that ended 7 days before day 30: the first three (21 days), packed.
        assert _sql(pg_url, "SELECT count(*), sum(n) FROM packed") == [(21, 21 * 24)]
        h.configure({"s/e/a": HistoryPolicy(raw_days=14), "s/e/b": HistoryPolicy(raw_days=14)})
        await h.apply_retention()
        tables = {t for (t,) in _sql(pg_url, "SELECT tablename FROM pg_tables "
                                             "WHERE tablename LIKE 'packed\\_%%'")}
        assert tables == {"packed_2024_04_15"}  # the weeks that ended before day 16 are gone
        kept = await h.raw("s/e/a", 0, 2e9)
        assert kept[0].ts == clock.now() - 14 * DAY and len(kept) == 14 * 24
        assert await h.count(["s/e/a"], 0, 2e9) == 14 * 24


async def test_compacted_storage_of_a_minute_temperature_is_under_8_bytes_a_sample(pg_url):
    clock = ManualClock(MONDAY + 30 * DAY)
    rng = np.random.default_rng(5)
    n = 7 * 1440
    temp = np.round(21 + 2 * np.sin(np.arange(n) * 2 * np.pi / 1440) + rng.normal(0, 0.05, n), 2)
    async with open_historian(pg_url, clock=clock) as h:
        for p in ("s/z1/temp", "s/z2/temp"):
            h.ingest([Sample(p, MONDAY + i * 60.0, float(v)) for i, v in enumerate(temp)])
        await h.flush()
        raw = _sql(pg_url, "SELECT pg_total_relation_size('samples_2024_04_01')")[0][0] / (2 * n)
        await h.compact()
        packed = _sql(pg_url, "SELECT pg_total_relation_size('packed_2024_04_01')")[0][0] / (2 * n)
    assert raw > 50
    assert packed < 8, f"{packed:.1f} bytes a sample compacted ({raw:.1f} raw)"


def test_history_compact_command_compacts_the_weeks_that_ended_long_enough_ago(pg_url):
    from typer.testing import CliRunner

    from openbms.cli.main import app

    now = time.time()
    this_week = partition_start(now)

    async def write() -> None:
        async with open_historian(pg_url, clock=ManualClock(now)) as h:
            h.ingest([Sample("s/e/a", this_week - 21 * DAY + i * HOUR, float(i))
                      for i in range(21 * 24)])

    asyncio.run(write())
    result = CliRunner().invoke(app, ["history-compact", "--history-url", pg_url,
                                      "--older-than", "7"])
    assert result.exit_code == 0, result.output
    # Three weeks before this one; the last of them ended less than 7 days ago: two packed.
    assert f"compacted {14 * 24} samples" in result.output
    assert _sql(pg_url, "SELECT count(*), sum(n) FROM packed") == [(14, 14 * 24)]
    bad = CliRunner().invoke(app, ["history-compact", "--history-url", "sqlite:///x.db"])
    assert bad.exit_code == 1 and "PostgreSQL" in bad.output
