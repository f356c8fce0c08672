"""What the PostgreSQL store does beyond the contract: weekly partitions (created ahead, on
demand for old data, each with its primary key and BRIN index), retention by dropping
partitions, floors kept across a restart, values SQLite keeps that float8 cannot, and
recovery from a dropped connection. The contract itself: test_conformance.py."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from openbms.errors import HistorianError
from openbms.historian import open_historian
from openbms.historian.pg_schema import (
    PARTITION_SECONDS,
    ROLLUP_HOURS,
    partition_name,
    partition_start,
)
from openbms.historian.postgres import PostgresHistorian
from openbms.model import HistoryPolicy, Sample
from openbms.runtime.clock import ManualClock
from tests.historian.conftest import fresh_postgres_database

DAY = 86400.0
#: Monday 2024-04-01 00:00 UTC: the start of a weekly partition.
MONDAY = 1_711_929_600.0


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    return fresh_postgres_database(postgres_url)


def _partitions(url: str) -> dict[str, list[str]]:
    """Each partition of samples → the definitions of its indexes, straight from the catalogue."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, i.indexdef FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
            "LEFT JOIN pg_indexes i ON i.tablename = c.relname "
            "WHERE h.inhparent = 'samples'::regclass ORDER BY 1, 2").fetchall()
    out: dict[str, list[str]] = {}
    for name, index in rows:
        out.setdefault(name, []).append(index)
    return out


def test_weeks_start_on_monday_utc():
    assert partition_start(MONDAY) == MONDAY
    assert partition_start(MONDAY + 7 * DAY - 0.001) == MONDAY
    assert partition_start(MONDAY - 0.001) == MONDAY - 7 * DAY
    assert partition_name(MONDAY) == "samples_2024_04_01"


async def test_partitions_are_created_ahead_each_with_its_primary_key_and_brin(pg_url):
    clock = ManualClock(MONDAY + 3 * DAY)
    async with open_historian(pg_url, clock=clock, partitions_ahead=2) as h:
        assert isinstance(h, PostgresHistorian)
        assert h.partitions == [MONDAY, MONDAY + PARTITION_SECONDS, MONDAY + 2 * PARTITION_SECONDS]
        parts = _partitions(pg_url)
        assert sorted(parts) == ["samples_2024_04_01", "samples_2024_04_08", "samples_2024_04_15"]
        for name, indexes in parts.items():
            assert any(f"ON public.{name} USING btree (pid, ts)" in i and "UNIQUE" in i
                       for i in indexes), indexes
            assert any(f"ON public.{name} USING brin (ts)" in i for i in indexes), indexes
        # A sample years back, and one far ahead: their weeks are made when they are written.
        h.ingest([Sample("s/e/a", MONDAY - 400 * DAY, 1.0), Sample("s/e/a", MONDAY + 60 * DAY, 2.0),
                  Sample("s/e/a", MONDAY + 3 * DAY, 3.0)])
        await h.flush()
        assert [s.value for s in await h.raw("s/e/a", 0, 2e9)] == [1.0, 3.0, 2.0]
        assert len(_partitions(pg_url)) == 5 == len(h.partitions)


async def test_retention_drops_whole_partitions_once_every_point_is_past_them(pg_url):
    clock = ManualClock(MONDAY + 35 * DAY)
    h = open_historian(pg_url, clock=clock, partitions_ahead=0)
    async with h:
        h.configure({"s/e/a": HistoryPolicy(raw_days=14), "s/e/b": HistoryPolicy(raw_days=7)})
        for p in ("s/e/a", "s/e/b"):  # six weeks, a sample an hour
            h.ingest([Sample(p, MONDAY + i * 3600.0, float(i)) for i in range(36 * 24)])
        await h.flush()
        assert len(h.partitions) == 6
        await h.apply_retention()
        # The longest retention (14 days) decides what goes: weeks ending before now - 14 days.
        cutoff = clock.now() - 14 * DAY
        kept = [s for s in h.partitions]
        assert kept == [MONDAY + w * PARTITION_SECONDS for w in range(3, 6)]
        assert all(start + PARTITION_SECONDS > cutoff for start in kept)
        assert len(_partitions(pg_url)) == 3
        a = await h.raw("s/e/a", 0, 2e9)
        assert a[0].ts == clock.now() - 14 * DAY and a[-1].ts == MONDAY + (36 * 24 - 1) * 3600.0
        # s/e/b's older rows share partitions with s/e/a's: they are hidden, not deleted.
        b = await h.raw("s/e/b", 0, 2e9)
        assert b[0].ts == clock.now() - 7 * DAY
        assert await h.count(["s/e/a", "s/e/b"], 0, 2e9) == len(a) + len(b)
        assert await h.last_before("s/e/b", clock.now() - 7 * DAY) is None
    # The floors are kept in the database: a restart before configure() still hides the rows.
    async with open_historian(pg_url, clock=clock) as again:
        assert (await again.raw("s/e/b", 0, 2e9))[0].ts == clock.now() - 7 * DAY
        assert [c async for c in again.iter_raw(["s/e/b"], 0, clock.now() - 7 * DAY)] == []


async def test_a_point_without_retention_keeps_every_partition(pg_url):
    clock = ManualClock(MONDAY + 35 * DAY)
    async with open_historian(pg_url, clock=clock, partitions_ahead=0) as h:
        h.configure({"s/e/a": HistoryPolicy(raw_days=7)})
        for p in ("s/e/a", "s/e/forever"):
            h.ingest([Sample(p, MONDAY + i * 3600.0, float(i)) for i in range(30 * 24)])
        await h.apply_retention()
        assert len(h.partitions) == 6
        assert len(await h.raw("s/e/forever", 0, 2e9)) == 30 * 24


async def test_a_later_sample_of_the_same_point_and_time_replaces_the_earlier(pg_url):
    clock = ManualClock(MONDAY + DAY)
    async with open_historian(pg_url, clock=clock) as h:
        h.ingest([Sample("s/e/a", MONDAY, 1.0), Sample("s/e/a", MONDAY, 2.0, "stale")])
        h.ingest([Sample("s/e/a", MONDAY + 1, 5.0)])
        await h.flush()
        h.ingest([Sample("s/e/a", MONDAY + 1, 6.0)])
        await h.flush()
        assert await h.raw("s/e/a", 0, 2e9) == [Sample("s/e/a", MONDAY, 2.0, "stale"),
                                               Sample("s/e/a", MONDAY + 1, 6.0)]
        assert (await h.rollups("s/e/a", "hour", 0, 2e9)).rows()[0].count == 2


async def test_text_and_huge_integers_are_kept_as_sqlite_keeps_them(pg_url):
    clock = ManualClock(MONDAY + DAY)
    async with open_historian(pg_url, clock=clock) as h:
        h.ingest([Sample("s/e/mode", MONDAY, "occupied"), Sample("s/e/n", MONDAY, 7),
                  Sample("s/e/big", MONDAY, 10**400)])
        await h.flush()
        assert (await h.raw("s/e/mode", 0, 2e9))[0].value == "occupied"
        assert (await h.raw("s/e/n", 0, 2e9))[0].value == 7
        assert (await h.raw("s/e/big", 0, 2e9))[0].value == str(10**400)
    async with open_historian(pg_url, clock=clock) as h:
        assert (await h.last_values(["s/e/mode"]))["s/e/mode"].value == "occupied"


async def test_a_dropped_connection_is_made_again_and_nothing_accepted_is_lost(pg_url):
    clock = ManualClock(MONDAY + DAY)
    async with open_historian(pg_url, clock=clock, flush_interval=0.05) as h:
        h.ingest([Sample("s/e/a", MONDAY + i, float(i)) for i in range(100)])
        await h.flush()
        assert len(await h.rollups("s/e/a", "hour", 0, 2e9)) == 1
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
        assert killed >= 3  # the writer's, the rollups', the queries'
        h.ingest([Sample("s/e/a", MONDAY + 100 + i, float(i)) for i in range(100)])
        await h.flush()
        assert h.stats().write_errors == 1 and not h.stats().failing
        assert len(await h.raw("s/e/a", 0, 2e9)) == 200
        assert (await h.rollups("s/e/a", "hour", 0, 2e9)).rows()[0].count == 200
        assert h.stats().stored == 200


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def test_a_rollup_pass_reads_each_run_of_dirty_hours_in_one_scan(pg_url):
    # Two weeks of one-minute samples of one point, one run of 337 dirty hours. The pass
    # first hashed every sample against every dirty hour (6.7 M rows thrown away by the join:
    # 2.4 s), then scanned once per hour (337 loops, pruning partitions each time).
    clock = ManualClock(MONDAY + 15 * DAY)
    async with open_historian(pg_url, clock=clock, rollup_interval=1e9) as h:
        h.ingest([Sample("s/e/a", MONDAY + m * 60.0, float(m % 60)) for m in range(14 * 1440)])
        await h.flush()
        with psycopg.connect(pg_url) as conn:
            conn.execute("CREATE TEMP TABLE _todo (pid int4, start float8)")
            hours = conn.execute("INSERT INTO _todo SELECT pid, start FROM rollup_dirty").rowcount
            assert hours == 14 * 24 + 1
            conn.execute("ANALYZE _todo")
            plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + ROLLUP_HOURS,
                                {"hold": 900.0}).fetchone()[0][0]["Plan"]
            conn.rollback()
        nodes = list(_nodes(plan))
        scans = [n for n in nodes if n.get("Relation Name", "").startswith("samples_")]
        assert scans and max(n["Actual Loops"] for n in scans) == 1
        assert sum(n.get("Rows Removed by Join Filter", 0) for n in nodes) < 14 * 1440
        assert len(await h.rollups("s/e/a", "hour", 0, 2e9)) == hours


async def test_hours_a_dead_rollup_pass_had_taken_are_recomputed_by_the_next(pg_url):
    """A pass moves the dirty hours to rollup_taken in a short transaction (a flush marking one
    again waits only for that), then recomputes them a chunk a transaction: hours left there by
    a pass that died are recomputed by the next one, and a flush meanwhile is never kept waiting."""
    clock = ManualClock(MONDAY + 2 * DAY)
    async with open_historian(pg_url, clock=clock, rollup_interval=1e9, rollup_chunk=3) as h:
        h.ingest([Sample("s/e/a", MONDAY + m * 60.0, float(m % 60)) for m in range(10 * 60)])
        await h.flush()
        with psycopg.connect(pg_url, autocommit=True) as conn:  # a pass that died after its move
            moved = conn.execute("WITH d AS (DELETE FROM rollup_dirty RETURNING pid, start) "
                                 "INSERT INTO rollup_taken SELECT pid, start FROM d").rowcount
            assert moved == 11  # the ten hours and the one their last sample is carried into
            # a flush now marks hours as usual (rollup_dirty is free)
            h.ingest([Sample("s/e/a", MONDAY + 10 * 3600.0 + 30.0, 7.0)])
            await h.flush()
            await h.refresh_rollups()
            left = conn.execute("SELECT (SELECT count(*) FROM rollup_dirty), "
                                "(SELECT count(*) FROM rollup_taken)").fetchone()
        assert left == (0, 0)
        hours = await h.rollups("s/e/a", "hour", 0, 2e9)
        assert len(hours) == 11 and list(hours.count) == [60] * 10 + [1]


async def test_readonly_opens_beside_the_owner_for_queries_only(pg_url):
    clock = ManualClock(MONDAY + DAY)
    async with open_historian(pg_url, clock=clock) as owner:
        owner.ingest([Sample("s/e/a", MONDAY + i * 60.0, float(i)) for i in range(90)])
        await owner.refresh_rollups()
        async with open_historian(pg_url, clock=clock, readonly=True) as reader:
            assert len(await reader.raw("s/e/a", 0, 2e9)) == 90
            assert (await reader.last_values())["s/e/a"].value == 89.0
            assert [r.count for r in (await reader.rollups("s/e/a", "hour", 0, 2e9)).rows()] == [60, 30]
            assert reader.watch("s/e/a") is False
            with pytest.raises(HistorianError, match="not running"):
                await reader.flush()


async def test_stop_twice_and_stop_after_a_failed_start_are_harmless(pg_url):
    clock = ManualClock(MONDAY + DAY)
    h = open_historian(pg_url, clock=clock)
    await h.start()
    await h.stop()
    await h.stop()
    from tests.fixtures.services import free_port

    bad = open_historian(f"postgresql://postgres@127.0.0.1:{free_port()}/none", connect_timeout=5)
    with pytest.raises(HistorianError):
        await bad.start()
    await bad.stop()
