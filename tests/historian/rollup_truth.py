"""Brute-force rollups from raw samples: the oracle every store's incremental rollups must equal."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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


def local_day(ts: float, tz: ZoneInfo) -> tuple[float, float]:
    """The local day containing ``ts`` as UTC epoch seconds ``[midnight, next midnight)``."""
    midnight = datetime.fromtimestamp(ts, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    nxt = datetime.combine(midnight.date() + timedelta(days=1), midnight.time(), tz)
    return midnight.timestamp(), nxt.timestamp()


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_rows_match(rows: list[Any], expected: dict[float, dict]) -> None:
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
