"""The history store contract (``openbms.historian.Historian``): what every store must do.

Each test runs once per store in ``conftest.STORES`` (SQLite and PostgreSQL) and uses
only the contract, through ``open_historian``: writes, latest values (also
after a restart), raw queries, streaming export, counts, rollups (checked
against brute force, late samples included), change notes, retention,
stats, and a stop that flushes. A store's own internals (SQLite's inbox, its
lock file, a full disk) are tested beside the store (``test_sqlite.py``, ``test_postgres.py``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from zoneinfo import ZoneInfo

import pytest

from openbms.historian import Historian
from openbms.historian.export import export_history
from openbms.model import HistoryPolicy, Sample
from openbms.model.sample import STATUS_CODES
from openbms.runtime.clock import ManualClock
from tests.historian.conftest import OpenStore
from tests.historian.rollup_truth import (
    HOLD,
    HOUR,
    aggregate,
    assert_rows_match,
    expected_hours,
    local_day,
    random_series,
)
from tests.historian.rollup_truth import T0 as ROLLUP_T0

T0 = 1_700_000_000.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + 86400)


async def _started(open_store: OpenStore, clock: ManualClock) -> Historian:
    h = open_store(clock, max_hold=HOLD)
    await h.start()
    return h


# ---------------------------------------------------------------------- the contract itself


async def test_the_store_is_a_historian_and_starts_and_stops(open_store, clock):
    h: Historian = open_store(clock)
    assert isinstance(h, Historian)
    assert h.max_backlog > 0
    async with h as same:
        assert same is h
        h.ingest([Sample("s/e/a", T0, 1.0)])
        await h.flush()
        assert await h.raw("s/e/a", 0, 2e9) == [Sample("s/e/a", T0, 1.0)]


# ---------------------------------------------------------------------- writes and raw queries


async def test_round_trip_keeps_values_statuses_and_order(open_store, clock):
    async with open_store(clock) as h:
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


async def test_raw_rows_are_plain_rows_with_status_codes_up_to_a_limit(open_store, clock):
    async with open_store(clock) as h:
        samples = [Sample("s/e/a", T0 + i, float(i), "stale" if i % 3 else "ok") for i in range(20)]
        h.ingest(samples)
        await h.flush()
        rows = await h.raw_rows("s/e/a", T0 + 5, T0 + 15)
        assert rows == [(s.ts, s.value, STATUS_CODES[s.status]) for s in samples[5:15]]
        assert await h.raw_rows("s/e/a", T0 + 5, math.inf, 4) == rows[:4]
        assert await h.raw_rows("s/e/a", T0, T0 + 20, 0) == []
        assert await h.raw_rows("s/e/unknown", 0, math.inf, 10) == []


async def test_last_before_is_the_newest_row_strictly_before_a_time(open_store, clock):
    async with open_store(clock) as h:
        samples = [Sample("s/e/a", T0 + 10 * i, float(i), "stale" if i % 2 else "ok") for i in range(10)]
        h.ingest([*samples, Sample("s/e/b", T0 + 95, 7.0)])
        await h.flush()
        assert await h.last_before("s/e/a", T0 + 45) == (T0 + 40, 4.0, STATUS_CODES["ok"])
        assert await h.last_before("s/e/a", T0 + 50) == (T0 + 40, 4.0, STATUS_CODES["ok"])  # before, not at
        assert await h.last_before("s/e/a", T0 + 51) == (T0 + 50, 5.0, STATUS_CODES["stale"])
        assert await h.last_before("s/e/a", math.inf) == (T0 + 90, 9.0, STATUS_CODES["stale"])
        assert await h.last_before("s/e/a", T0) is None
        assert await h.last_before("s/e/unknown", math.inf) is None


async def test_iter_raw_streams_points_in_the_order_given_in_chunks_and_count_agrees(open_store, clock):
    async with open_store(clock) as h:
        a = [Sample("s/e/a", T0 + i, float(i)) for i in range(23)]
        b = [Sample("s/e/b", T0 + i * 2, -float(i)) for i in range(10)]
        h.ingest(b + a)
        await h.flush()
        order = ["s/e/b", "s/e/unknown", "s/e/a"]
        chunks = [chunk async for chunk in h.iter_raw(order, T0, T0 + 20, chunk=7)]
        assert all(0 < len(c) <= 7 for c in chunks)
        assert all(len({s.point for s in c}) == 1 for c in chunks)  # a chunk holds one point
        streamed = [s for c in chunks for s in c]
        expected = [s for s in b if s.ts < T0 + 20] + a[:20]
        assert streamed == expected
        assert await h.count(order, T0, T0 + 20) == len(expected) == 30
        assert await h.count(["s/e/a"], T0 + 20, T0 + 20) == 0
        assert await h.count(["s/e/unknown"], 0, 2e9) == 0
        assert [c async for c in h.iter_raw(["s/e/unknown"], 0, 2e9)] == []


async def test_duplicate_writes_are_idempotent(open_store):
    clock = ManualClock(ROLLUP_T0 + 86400)
    h = await _started(open_store, clock)
    batch = [Sample("s/e/a", ROLLUP_T0 + i, float(i)) for i in range(100)]
    for _ in range(3):
        h.ingest(list(batch))
        await h.flush()
    assert await h.raw("s/e/a", ROLLUP_T0, ROLLUP_T0 + 1000) == batch
    rows = (await h.rollups("s/e/a", "hour", ROLLUP_T0, ROLLUP_T0 + HOUR)).rows()
    assert rows[0].count == 100
    await h.stop()


async def test_cov_deadband_and_max_interval_decide_what_is_stored(open_store, clock):
    async with open_store(clock) as h:
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


# ---------------------------------------------------------------------- latest values, restarts


async def test_last_values_are_the_latest_by_time_for_the_points_asked(open_store, clock):
    async with open_store(clock) as h:
        h.ingest([Sample("s/e/a", T0 + 10, 1.0), Sample("s/e/b", T0 + 5, 2.0)])
        await h.flush()
        h.ingest([Sample("s/e/a", T0 + 3, 99.0)])  # late: stored, but not the latest
        await h.flush()
        assert (await h.last_values())["s/e/a"] == Sample("s/e/a", T0 + 10, 1.0)
        assert await h.last_values(["s/e/b", "s/e/unknown"]) == {"s/e/b": Sample("s/e/b", T0 + 5, 2.0)}
        assert await h.last_values([]) == {}
        assert [s.value for s in await h.raw("s/e/a", 0, 2e9)] == [99.0, 1.0]
        assert h.points() == ["s/e/a", "s/e/b"]


async def test_restart_keeps_everything_flushed_and_last_values_start_warm(open_store, clock):
    samples = [Sample(f"s/e/p{i % 7}", T0 + i, float(i)) for i in range(1000)]
    async with open_store(clock) as h:
        h.ingest(samples)  # stop() must flush what was accepted, without an explicit flush
    async with open_store(clock) as h:
        last = await h.last_values()
        assert len(last) == 7
        assert h.points() == sorted(last)
        stored = []
        for p in sorted(last):
            stored += await h.raw(p, 0, 2e9)
        assert sorted(stored) == sorted(samples)
        assert (await h.rollups("s/e/p0", "hour", 0, 2e9)).count[0] == len(samples[::7])


# ---------------------------------------------------------------------- export (streaming)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
async def test_export_formats_parse_back(open_store, tmp_path, clock, fmt):
    async with open_store(clock) as h:
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


async def test_rollup_export_has_aggregate_columns(open_store, clock):
    async with open_store(clock) as h:
        h.ingest([Sample("s/e/a", T0 + i * 60, float(i)) for i in range(120)])
        await h.flush()
        buf = io.StringIO()
        n = await export_history(h, ["s/e/a"], 0, 2e9, buf, "csv", rollup="hour")
        rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
        assert n == len(rows) >= 2
        assert float(rows[0]["count"]) > 0 and "tw_mean" in rows[0]


# ---------------------------------------------------------------------- rollups


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_hourly_rollups_equal_brute_force_with_gaps_and_out_of_order_data(open_store, seed):
    rng = random.Random(seed)
    clock = ManualClock(ROLLUP_T0 + 30 * 86400)
    h = await _started(open_store, clock)
    truth: dict[str, list[tuple[float, float | None]]] = {}
    samples = []
    for p in ("s/e/a", "s/e/b", "s/e/c"):
        series = random_series(rng, 400)
        truth[p] = series
        samples += [Sample(p, t, v, "ok" if v is not None else "offline") for t, v in series]
    rng.shuffle(samples)  # late and out-of-order arrival, across several merges and rollup passes
    for i in range(0, len(samples), 97):
        h.ingest(samples[i : i + 97])
        if i % 291 == 0:
            await h.refresh_rollups()
    await h.flush()
    for p, series in truth.items():
        rows = (await h.rollups(p, "hour", 0, 2e9)).rows()
        assert_rows_match(rows, expected_hours(series, HOLD))
    await h.stop()


async def test_daily_rollups_follow_local_days_across_dst(open_store):
    rng = random.Random(7)
    tz = ZoneInfo("Europe/London")
    clock = ManualClock(ROLLUP_T0 + 30 * 86400)
    h = await _started(open_store, clock)
    h.configure({}, timezones={"s/e/a": "Europe/London"})
    series = random_series(rng, 1500)
    h.ingest([Sample("s/e/a", t, v, "ok") for t, v in series])
    await h.flush()
    rows = (await h.rollups("s/e/a", "day", 0, 2e9)).rows()
    hours = expected_hours(series, HOLD)
    days = sorted({local_day(b, tz) for b in hours})
    assert any(stop - start == 23 * HOUR for start, stop in days), "the data must span spring-forward"
    expected = {start: aggregate(series, start, stop, HOLD) for start, stop in days}
    assert_rows_match(rows, expected)
    await h.stop()


async def test_late_sample_corrects_rollups_already_computed(open_store):
    clock = ManualClock(ROLLUP_T0 + 86400)
    h = await _started(open_store, clock)
    t0 = ROLLUP_T0
    series = [(t0 + i * 60.0, float(i)) for i in range(120)]
    h.ingest([Sample("s/e/a", t, v) for t, v in series])
    await h.flush()
    before = (await h.rollups("s/e/a", "hour", t0, t0 + 2 * HOUR)).rows()
    assert before[0].max == 59.0
    late = (t0 + 30.5 * 60, 1000.0)
    h.ingest([Sample("s/e/a", *late)])
    await h.flush()
    after = (await h.rollups("s/e/a", "hour", t0, t0 + 2 * HOUR)).rows()
    assert_rows_match(after, {b: e for b, e in expected_hours(sorted([*series, late]), HOLD).items()
                              if b < t0 + 2 * HOUR})
    assert after[0].max == 1000.0 and after[0].count == 61
    assert h.stats().late == 1
    await h.stop()


async def test_rollups_of_a_point_never_stored_are_empty_and_a_bad_rollup_is_refused(open_store, clock):
    async with open_store(clock) as h:
        h.ingest([Sample("s/e/a", T0, 1.0)])
        await h.flush()
        assert len(await h.rollups("s/e/unknown", "hour", 0, 2e9)) == 0
        with pytest.raises(ValueError, match="'hour' or 'day'"):
            await h.rollups("s/e/a", "week", 0, 2e9)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- retention


async def test_retention_deletes_old_raw_and_rollups_per_point(open_store):
    clock = ManualClock(ROLLUP_T0 + 10 * 86400)
    h = await _started(open_store, clock)
    h.configure({"s/e/short": HistoryPolicy(raw_days=2, rollup_days=5)})
    for p in ("s/e/short", "s/e/keep"):
        h.ingest([Sample(p, ROLLUP_T0 + i * 3600.0, float(i)) for i in range(10 * 24)])
    await h.refresh_rollups()
    await h.apply_retention()
    cutoff_raw = clock.now() - 2 * 86400
    short = await h.raw("s/e/short", 0, 2e9)
    assert short and min(s.ts for s in short) >= cutoff_raw
    assert len(await h.raw("s/e/keep", 0, 2e9)) == 240
    hours = (await h.rollups("s/e/short", "hour", 0, 2e9)).rows()
    assert hours and min(r.start for r in hours) >= clock.now() - 5 * 86400
    assert len(await h.rollups("s/e/keep", "hour", 0, 2e9)) >= 240
    # A sample older than the raw retention is not stored (it would corrupt its rollup).
    h.ingest([Sample("s/e/short", ROLLUP_T0 + 5.0, 99.0)])
    await h.flush()
    assert all(s.ts != ROLLUP_T0 + 5.0 for s in await h.raw("s/e/short", 0, 2e9))
    await h.stop()


# ---------------------------------------------------------------------- change notes


async def test_change_notes_tell_a_watcher_what_changed_and_from_when(open_store, clock):
    async with open_store(clock) as h:
        assert h.watch("s/e/a") is False  # nothing stored yet: nothing to watch
        h.ingest([Sample("s/e/a", T0 + i, float(i)) for i in range(10)])
        await h.flush()
        assert h.watch("s/e/a") is True
        assert h.changed_since_last("s/e/a") is None  # nothing since it started watching

        h.ingest([Sample("s/e/a", T0 + 20, 1.0), Sample("s/e/a", T0 + 21, 2.0)])
        await h.flush()
        assert h.changed_since_last("s/e/a") == T0 + 20  # newer samples, from the first
        assert h.changed_since_last("s/e/a") is None  # said once

        h.ingest([Sample("s/e/a", T0 + 30, 1.0)])
        await h.flush()
        h.ingest([Sample("s/e/a", T0 + 4.5, 1.0)])  # late: the watcher must reload from there
        await h.flush()
        assert h.changed_since_last("s/e/a") == T0 + 4.5  # the oldest change of both

        h.configure({"s/e/a": HistoryPolicy(raw_days=1)})
        await clock.advance(3 * 86400)
        await h.apply_retention()
        assert h.changed_since_last("s/e/a") == -math.inf  # deleted: anything may have changed

        assert h.changed_since_last("s/e/b") == -math.inf  # not watched: assume anything
        h.unwatch("s/e/a")
        h.unwatch("s/e/never-stored")  # harmless
        assert h.changed_since_last("s/e/a") == -math.inf


# ---------------------------------------------------------------------- stats and backpressure


async def test_stats_count_what_was_received_stored_and_still_waiting(open_store, clock):
    h = open_store(clock)
    assert h.stats().received == 0
    async with h:
        h.ingest([Sample("s/e/a", T0 + i, float(i)) for i in range(300)])
        h.ingest([])
        st = h.stats()
        assert st.received == 300
        assert st.stored + st.backlog == 300
        await h.wait_backlog(0)
        await h.flush()
        st = h.stats()
        assert (st.received, st.stored, st.backlog, st.backlog_age, st.dropped) == (300, 300, 0, 0.0, 0)
        assert st.flushes >= 1 and not st.failing and st.write_errors == 0
        assert await h.count(["s/e/a"], 0, 2e9) == 300
