"""Rollups kept incrementally must equal a brute-force computation from the raw samples."""

from __future__ import annotations

import math
import random
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from openbms.historian.sqlite import SQLiteHistorian, local_day
from openbms.model import HistoryPolicy, Sample
from openbms.runtime.clock import ManualClock

HOUR = 3600.0
HOLD = 900.0
T0 = 1_711_670_400.0  # 2024-03-29 00:00 UTC: the London spring-forward weekend follows


def aggregate(samples: list[tuple[float, float | None]], start: float, stop: float, hold: float):
    """Brute force: aggregates of a sorted (ts, value) series over [start, stop).

    Each value holds until the next sample, at most ``hold`` seconds, clipped to
    the bucket; the last sample before the bucket (within ``hold``) carries in.
    A None value holds nothing.
    """
    own = [(t, v) for t, v in samples if start <= t < stop]
    before = [(t, v) for t, v in samples if start - hold <= t < start]
    carry = before[-1:] if before else []
    seq = carry + own
    tw_sum = 0.0
    covered = 0.0
    for i, (t, v) in enumerate(seq):
        nxt = seq[i + 1][0] if i + 1 < len(seq) else stop
        s0, s1 = max(t, start), min(nxt, t + hold, stop)
        if v is not None and s1 > s0:
            tw_sum += v * (s1 - s0)
            covered += s1 - s0
    values = [v for _, v in own if v is not None]
    return {
        "count": len(values),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "mean": sum(values) / len(values) if values else None,
        "tw_mean": tw_sum / covered if covered else None,
        "covered": covered,
        "last": own[-1][1] if own else None,
        "last_ts": own[-1][0] if own else None,
    }


def expected_hours(series: list[tuple[float, float | None]], hold: float) -> dict[float, dict]:
    """Buckets that exist: those with own samples, or reached by a held value."""
    starts = set()
    for t, _ in series:
        b = math.floor(t / HOUR) * HOUR
        starts.add(b)
        if t + hold > b + HOUR:
            starts.add(b + HOUR)
    return {b: aggregate(series, b, b + HOUR, hold) for b in sorted(starts)}


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_rows_match(rows, expected: dict[float, dict]) -> None:
    got = {r.start: r for r in rows}
    assert sorted(got) == sorted(expected)
    for start, exp in expected.items():
        row = got[start]
        for key, want in exp.items():
            assert close(getattr(row, key), want), (start, key, getattr(row, key), want)


def random_series(rng: random.Random, n: int) -> list[tuple[float, float | None]]:
    """Irregular samples with bursts, gaps longer than the hold, and offline (None) values."""
    t = T0 + rng.uniform(0, 600)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.05:
            t += rng.uniform(HOLD, 3 * HOUR)  # a gap: the value must stop counting
        elif r < 0.5:
            t += rng.uniform(1, 30)
        else:
            t += rng.uniform(30, 600)
        value = None if rng.random() < 0.04 else round(rng.gauss(20, 5), 3)
        out.append((t, value))
    return out


async def _historian(tmp_path: Path, clock: ManualClock, **kw) -> SQLiteHistorian:
    h = SQLiteHistorian(tmp_path / "h.db", clock=clock, max_hold=HOLD, **kw)
    await h.start()
    return h


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_hourly_rollups_equal_brute_force_with_gaps_and_out_of_order_data(tmp_path, seed):
    rng = random.Random(seed)
    clock = ManualClock(T0 + 30 * 86400)
    h = await _historian(tmp_path, clock)
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


async def test_daily_rollups_follow_local_days_across_dst(tmp_path):
    rng = random.Random(7)
    tz = ZoneInfo("Europe/London")
    clock = ManualClock(T0 + 30 * 86400)
    h = await _historian(tmp_path, clock)
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


async def test_late_sample_corrects_rollups_already_computed(tmp_path):
    clock = ManualClock(T0 + 86400)
    h = await _historian(tmp_path, clock)
    series = [(T0 + i * 60.0, float(i)) for i in range(120)]
    h.ingest([Sample("s/e/a", t, v) for t, v in series])
    await h.flush()
    before = (await h.rollups("s/e/a", "hour", T0, T0 + 2 * HOUR)).rows()
    assert before[0].max == 59.0
    late = (T0 + 30.5 * 60, 1000.0)
    h.ingest([Sample("s/e/a", *late)])
    await h.flush()
    after = (await h.rollups("s/e/a", "hour", T0, T0 + 2 * HOUR)).rows()
    assert_rows_match(after, {b: e for b, e in expected_hours(sorted([*series, late]), HOLD).items()
                              if b < T0 + 2 * HOUR})
    assert after[0].max == 1000.0 and after[0].count == 61
    assert h.stats().late == 1
    await h.stop()


async def test_duplicate_writes_are_idempotent(tmp_path):
    clock = ManualClock(T0 + 86400)
    h = await _historian(tmp_path, clock)
    batch = [Sample("s/e/a", T0 + i, float(i)) for i in range(100)]
    for _ in range(3):
        h.ingest(list(batch))
        await h.flush()
    assert await h.raw("s/e/a", T0, T0 + 1000) == batch
    rows = (await h.rollups("s/e/a", "hour", T0, T0 + HOUR)).rows()
    assert rows[0].count == 100
    await h.stop()


async def test_retention_deletes_old_raw_and_rollups_per_point(tmp_path):
    clock = ManualClock(T0 + 10 * 86400)
    h = await _historian(tmp_path, clock)
    h.configure({"s/e/short": HistoryPolicy(raw_days=2, rollup_days=5)})
    for p in ("s/e/short", "s/e/keep"):
        h.ingest([Sample(p, T0 + i * 3600.0, float(i)) for i in range(10 * 24)])
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
    h.ingest([Sample("s/e/short", T0 + 5.0, 99.0)])
    await h.flush()
    assert all(s.ts != T0 + 5.0 for s in await h.raw("s/e/short", 0, 2e9))
    await h.stop()
