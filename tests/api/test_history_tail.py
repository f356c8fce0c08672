"""The cache of recent raw history: every answer is what a database read gives, as samples come and go."""

from __future__ import annotations

import asyncio
import math

import orjson
import pytest

from openbms.api.history_tail import HistoryTails
from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import HistoryPolicy, Sample
from openbms.model.sample import STATUSES
from openbms.runtime.clock import ManualClock

T0 = 1_700_000_000.0
P = "s/e/a"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + 86400)


async def _db(h: SQLiteHistorian, point: str, since: float, until: float) -> list[dict[str, object]]:
    rows = await h.raw_rows(point, since, until)
    return [{"ts": ts, "value": v, "status": STATUSES[st]} for ts, v, st in rows]


async def _same(tails: HistoryTails, h: SQLiteHistorian, point: str, since: float, until: float) -> int:
    got = await tails.samples(point, since, until)
    assert got is not None
    body, n = got
    expected = await _db(h, point, since, until)
    assert orjson.loads(body) == expected
    assert n == len(expected)
    return n


async def test_answers_equal_database_reads_as_samples_arrive(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i * 60, 20 + i / 10, "ok") for i in range(100)])
        await h.flush()
        tails = HistoryTails(h)
        assert await _same(tails, h, P, T0, T0 + 86400) == 100
        assert tails.loads == 1
        for window in [(T0 + 600, T0 + 1200), (T0 + 599.5, T0 + 600), (T0, T0 + 0.5), (T0 + 1e5, T0 + 2e5)]:
            await _same(tails, h, P, *window)
        assert tails.loads == 1  # all from the tail

        # Newer samples are appended, and the first request after the merge sees them.
        h.ingest([Sample(P, T0 + 6000 + i, float(i), "stale" if i % 2 else "ok") for i in range(5)])
        await h.flush()
        assert await _same(tails, h, P, T0, T0 + 86400) == 105
        assert tails.loads == 1 and tails.refreshes == 1

        # A late sample (older than the newest) reloads the tail.
        h.ingest([Sample(P, T0 + 30, None, "offline")])
        await h.flush()
        assert await _same(tails, h, P, T0, T0 + 86400) == 106
        assert await _same(tails, h, P, T0 + 29, T0 + 31) == 1
        assert tails.refreshes == 2
        await tails.close()


async def test_an_earlier_since_reloads_and_a_later_one_is_served(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i * 60, float(i)) for i in range(200)])
        await h.flush()
        tails = HistoryTails(h)
        await _same(tails, h, P, T0 + 6000, math.inf)
        await _same(tails, h, P, T0 + 9000, math.inf)
        assert tails.loads == 1
        await _same(tails, h, P, T0, math.inf)  # before the tail's start: read again from there
        assert tails.loads == 2 and len(tails) == 1
        await _same(tails, h, P, T0 + 6000, math.inf)
        assert tails.loads == 2
        await tails.close()


async def test_retention_deletes_reach_the_tail(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.configure({P: HistoryPolicy(raw_days=0.5)})
        h.ingest([Sample(P, T0 + 43200 + i * 3600, float(i)) for i in range(12)])  # the day's second half
        await h.flush()
        tails = HistoryTails(h)
        assert await _same(tails, h, P, 0, math.inf) == 12
        await clock.advance(6 * 3600)  # six of them are now older than half a day
        await h.apply_retention()
        assert await _same(tails, h, P, 0, math.inf) == 6
        await tails.close()


async def test_points_not_kept_fall_back_to_the_database(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i, float(i)) for i in range(50)])
        await h.flush()
        small = HistoryTails(h, max_rows=10)
        assert await small.samples(P, T0, math.inf) is None  # more than max_rows since T0
        assert await small.samples("s/e/never-stored", T0, math.inf) is None
        assert len(small) == 0
        assert await HistoryTails(h, budget_bytes=0).samples(P, T0, math.inf) is None
        # A store that does not note changes (read-only beside its owner) gets no tails.
        async with SQLiteHistorian(tmp_path / "h.db", clock=clock, readonly=True) as reader:
            assert await HistoryTails(reader).samples(P, T0, math.inf) is None


async def test_eviction_keeps_the_budget_and_the_least_recently_used_goes_first(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        points = [f"s/e/p{i}" for i in range(5)]
        h.ingest([Sample(p, T0 + i, float(i)) for p in points for i in range(100)])
        await h.flush()
        probe = HistoryTails(h)
        await probe.samples(points[0], T0, math.inf)
        one = probe.nbytes
        await probe.close()

        tails = HistoryTails(h, budget_bytes=int(one * 2.5))
        for p in points[:3]:
            await _same(tails, h, p, T0, math.inf)
        assert len(tails) == 2 and tails.nbytes <= tails.budget_bytes
        await _same(tails, h, points[1], T0, math.inf)  # p1 used: p2 is now the least recent
        await _same(tails, h, points[3], T0, math.inf)
        assert len(tails) == 2
        loads = tails.loads
        await _same(tails, h, points[1], T0, math.inf)
        assert tails.loads == loads  # still kept
        await _same(tails, h, points[2], T0, math.inf)
        assert tails.loads == loads + 1  # was evicted
        # An evicted point is no longer watched: its changes are not noted.
        assert h.changed_since_last(points[0]) == -math.inf
        await tails.close()


async def test_concurrent_requests_share_one_load_and_one_refresh(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i, float(i)) for i in range(1000)])
        await h.flush()
        tails = HistoryTails(h)
        answers = await asyncio.gather(*(tails.samples(P, T0, math.inf) for _ in range(20)))
        assert tails.loads == 1
        assert {a[1] for a in answers if a is not None} == {1000}
        h.ingest([Sample(P, T0 + 2000 + i, float(i)) for i in range(10)])
        await h.flush()
        answers = await asyncio.gather(*(tails.samples(P, T0, math.inf) for _ in range(20)))
        assert tails.refreshes == 1
        assert {a[1] for a in answers if a is not None} == {1010}
        await _same(tails, h, P, T0, math.inf)
        await tails.close()


async def test_the_tail_keeps_at_most_max_rows_of_the_newest(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i, float(i)) for i in range(80)])
        await h.flush()
        tails = HistoryTails(h, max_rows=100)
        await _same(tails, h, P, T0, math.inf)
        h.ingest([Sample(P, T0 + 80 + i, float(i)) for i in range(40)])
        await h.flush()
        # 120 rows > 100: the oldest are dropped; what remains is still exact from its new start.
        got = await tails.samples(P, T0 + 100, math.inf)
        assert got is not None and orjson.loads(got[0]) == await _db(h, P, T0 + 100, math.inf)
        assert await tails.samples(P, T0, math.inf) is None  # 120 rows from T0: more than a tail holds
        await tails.close()


# ---------------------------------------------------------------------- races and limits (from a review)


async def test_a_refresh_that_cuts_the_tail_leaves_the_waiting_request_to_the_database(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i, float(i)) for i in range(90)])
        await h.flush()
        tails = HistoryTails(h, max_rows=100)
        assert await _same(tails, h, P, T0, math.inf) == 90
        h.ingest([Sample(P, T0 + 90 + i, float(i)) for i in range(20)])  # 110 > max_rows: the tail is cut
        await h.flush()
        assert await tails.samples(P, T0, math.inf) is None  # not what the cut tail holds
        await _same(tails, h, P, T0 + 60, math.inf)
        await tails.close()


async def test_more_new_samples_than_a_tail_holds_drop_it(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i, float(i)) for i in range(50)])
        await h.flush()
        tails = HistoryTails(h, max_rows=100)
        await _same(tails, h, P, T0, math.inf)
        h.ingest([Sample(P, T0 + 50 + i, float(i)) for i in range(200)])  # one merge of 200
        await h.flush()
        assert await tails.samples(P, T0 + 200, math.inf) is None
        assert len(tails) == 0 and h.changed_since_last(P) == -math.inf  # dropped, unwatched
        assert await _same(tails, h, P, T0 + 200, math.inf) == 50  # loaded afresh from there
        await tails.close()


async def test_requests_during_a_reload_wait_for_it_and_miss_no_change(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i * 60, float(i)) for i in range(100)])
        await h.flush()
        tails = HistoryTails(h)
        await _same(tails, h, P, T0 + 3000, math.inf)  # a tail from T0 + 3000
        real, gate = h.raw_rows, asyncio.Event()

        async def gated(point, since, until, limit=None):
            rows = await real(point, since, until, limit)
            if since == T0:
                await gate.wait()  # the reload has read, and is installed later
            return rows

        h.raw_rows = gated  # type: ignore[method-assign]
        reload = asyncio.create_task(tails.samples(P, T0, math.inf))
        await asyncio.sleep(0.05)
        h.ingest([Sample(P, T0 + 4000.5, 99.0, "ok")])  # a late sample inside both spans, after that read
        await h.flush()
        meanwhile = asyncio.create_task(tails.samples(P, T0 + 3000, math.inf))
        await asyncio.sleep(0.05)
        assert not meanwhile.done()  # waits for the reload instead of taking the change from the old tail
        gate.set()
        await reload
        await meanwhile
        h.raw_rows = real  # type: ignore[method-assign]
        assert await _same(tails, h, P, T0, math.inf) == 101
        await tails.close()


async def test_a_tail_evicted_while_its_replacement_loads_is_not_replaced_unwatched(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(p, T0 + i, float(i)) for p in ("s/e/a", "s/e/b") for i in range(100)])
        await h.flush()
        probe = HistoryTails(h)
        await probe.samples("s/e/a", T0 + 50, math.inf)
        half = probe.nbytes
        await probe.close()
        tails = HistoryTails(h, budget_bytes=int(half * 1.5))
        await tails.samples("s/e/a", T0 + 50, math.inf)
        real, gate = h.raw_rows, asyncio.Event()

        async def gated(point, since, until, limit=None):
            rows = await real(point, since, until, limit)
            if point == "s/e/a" and since == T0:
                await gate.wait()
            return rows

        h.raw_rows = gated  # type: ignore[method-assign]
        reload = asyncio.create_task(tails.samples("s/e/a", T0, math.inf))
        await asyncio.sleep(0.05)
        await _same(tails, h, "s/e/b", T0 + 50, math.inf)  # evicts a's tail (and unwatches a)
        gate.set()
        assert await reload is None  # the reload cannot trust what it read: the database answers
        h.raw_rows = real  # type: ignore[method-assign]
        await _same(tails, h, "s/e/a", T0, math.inf)
        refreshes = tails.refreshes
        for _ in range(5):
            await _same(tails, h, "s/e/a", T0, math.inf)
        assert tails.refreshes == refreshes  # watched: no change, no re-read
        await tails.close()


async def test_a_point_too_long_to_keep_is_not_read_again_on_every_request(tmp_path, clock):
    async with SQLiteHistorian(tmp_path / "h.db", clock=clock) as h:
        h.ingest([Sample(P, T0 + i, float(i)) for i in range(2000)])
        await h.flush()
        tails = HistoryTails(h, max_rows=1000)
        real, read = h.raw_rows, []

        async def counting(point, since, until, limit=None):
            rows = await real(point, since, until, limit)
            read.append(len(rows))
            return rows

        h.raw_rows = counting  # type: ignore[method-assign]
        for _ in range(3):
            assert await tails.samples(P, T0, T0 + 10) is None
        assert read == [1001]  # tried once, then remembered
        assert await _same(tails, h, P, T0 + 1500, math.inf) == 500  # a later since still fits
        await tails.close()
