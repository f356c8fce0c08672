"""The SQLite history schema and the SQL that maintains it.

History is append-only and keyed by (point, time). Samples first land in an
append-only ``inbox`` (a rowid table: an insert is an append, the cheapest
write SQLite has); a merge moves them, sorted, into ``history``, a
``WITHOUT ROWID`` table clustered by (pid, ts), so that one point's range is a
contiguous read. Measured on the 2-core machine with 10 000 points: direct
inserts into ``history`` reach ~150 k samples/s end to end, inbox + sorted
merge ~250 k/s, because the merge is one SQL statement that runs without the
GIL while Python keeps producing (see docs/historian.md).
"""

from __future__ import annotations

import math
import struct

__all__ = ["INBOX_DDL", "MAIN_DDL", "SCHEMA_VERSION", "pack_rollup"]

SCHEMA_VERSION = 1

_PACK = struct.Struct("<9d")


def _f(x: object) -> float:
    if x is None:
        return math.nan
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan  # a text value has no place in numeric rollups


def pack_rollup(*fields: object) -> bytes:
    """A rollup row as nine little-endian doubles (None → NaN), for one-blob-per-row reads.

    Registered as the SQL function ``pack_rollup``: queries then fetch one
    blob per bucket and make a numpy array of them, instead of building nine
    Python objects per bucket (measured: ~20 ms → ~5 ms for a year of hours).
    """
    return _PACK.pack(*map(_f, fields))

HOUR = 3600

#: The inbox file: appended to by the writer thread only.
INBOX_DDL = (
    """CREATE TABLE IF NOT EXISTS inbox (
        pid INTEGER NOT NULL,
        ts REAL NOT NULL,
        value,
        status INTEGER NOT NULL
    )""",
    # Points the writer has numbered but the merger has not copied into series yet.
    """CREATE TABLE IF NOT EXISTS new_series (
        pid INTEGER PRIMARY KEY,
        point TEXT NOT NULL,
        raw_days REAL,
        rollup_days REAL,
        tz TEXT NOT NULL
    )""",
)

#: The main file: written by the merger thread only.
MAIN_DDL = (
    # One row per point ever seen: the integer key history uses, and the point's policies.
    """CREATE TABLE IF NOT EXISTS series (
        pid INTEGER PRIMARY KEY,
        point TEXT NOT NULL UNIQUE,
        raw_days REAL,
        rollup_days REAL,
        tz TEXT NOT NULL DEFAULT 'UTC'
    )""",
    """CREATE TABLE IF NOT EXISTS history (
        pid INTEGER NOT NULL,
        ts REAL NOT NULL,
        value,
        status INTEGER NOT NULL,
        PRIMARY KEY (pid, ts)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS latest (
        pid INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        value,
        status INTEGER NOT NULL
    )""",
    # Buckets whose rollups must be recomputed: filled by the merge, emptied by the rollup pass.
    """CREATE TABLE IF NOT EXISTS rollup_dirty (
        pid INTEGER NOT NULL,
        start REAL NOT NULL,
        PRIMARY KEY (pid, start)
    ) WITHOUT ROWID""",
    *(
        f"""CREATE TABLE IF NOT EXISTS rollup_{name} (
        pid INTEGER NOT NULL,
        start REAL NOT NULL,
        count INTEGER NOT NULL,
        min REAL,
        max REAL,
        sum REAL,
        tw_sum REAL,
        covered REAL NOT NULL,
        last,
        last_ts REAL,
        packed BLOB NOT NULL,
        PRIMARY KEY (pid, start)
    ) WITHOUT ROWID"""
        for name in ("hour", "day")
    ),
)

# Move inbox rows up to a rowid into history, sorted so B-tree inserts stay local
# (of two samples with the same point and time, the later arrival wins).
# Rows older than their point's raw retention are not kept (they would be deleted
# at the next retention pass, after corrupting the rollups they touched).
MERGE_HISTORY = """
INSERT OR REPLACE INTO history (pid, ts, value, status)
SELECT i.pid, i.ts, i.value, i.status
FROM inbox i JOIN series s ON s.pid = i.pid
WHERE i.rowid <= :hi AND (s.raw_days IS NULL OR i.ts >= :now - s.raw_days * 86400.0)
ORDER BY i.pid, i.ts, i.rowid
"""

# The same without the retention filter, when no point has raw retention: the join
# costs a lookup per row.
MERGE_HISTORY_ALL = """
INSERT OR REPLACE INTO history (pid, ts, value, status)
SELECT pid, ts, value, status FROM inbox WHERE rowid <= :hi ORDER BY pid, ts, rowid
"""

COPY_SERIES = """
INSERT OR IGNORE INTO series (pid, point, raw_days, rollup_days, tz)
SELECT pid, point, raw_days, rollup_days, tz FROM new_series
"""

# One pass over the merged inbox rows per point: their time span and newest row
# (SQLite returns the bare columns of the row that holds max(ts)).
SPAN = """
INSERT INTO _span (pid, first, newest, value, status)
SELECT pid, min(ts), max(ts), value, status FROM inbox WHERE rowid <= :hi GROUP BY pid
"""

# A new sample changes its own hour, and the next hour when its value is held
# into it (it may be the value carried in at the next hour's start); a hold is at
# most an hour, so no other hour. For a point whose merged samples span at most
# :span seconds (nearly always: a merge holds a second or so of samples), every
# hour from its first to its newest sample is marked, from the one-row-a-point
# _span; a point with a wider span (a late sample among current ones) gets only
# its samples' own hours (MARK_DIRTY_SPREAD), not every hour since: one sample
# stamped years back marked each hour from then to now.
MARK_DIRTY = f"""
WITH RECURSIVE hours (pid, start, stop) AS (
    SELECT pid, CAST(first / {HOUR} AS INTEGER) * {HOUR},
        CASE WHEN newest + :hold > (CAST(newest / {HOUR} AS INTEGER) + 1) * {HOUR}
            THEN (CAST(newest / {HOUR} AS INTEGER) + 1) * {HOUR}
            ELSE CAST(newest / {HOUR} AS INTEGER) * {HOUR} END
    FROM _span WHERE newest - first <= :span
    UNION ALL
    SELECT pid, start + {HOUR}, stop FROM hours WHERE start < stop
)
INSERT OR IGNORE INTO rollup_dirty (pid, start) SELECT pid, start FROM hours
"""

WIDE_SPANS = "SELECT 1 FROM _span WHERE newest - first > :span LIMIT 1"

MARK_DIRTY_SPREAD = f"""
INSERT OR IGNORE INTO rollup_dirty (pid, start)
SELECT DISTINCT i.pid, CAST(i.ts / {HOUR} AS INTEGER) * {HOUR}
FROM inbox i JOIN _span s ON s.pid = i.pid AND s.newest - s.first > :span WHERE i.rowid <= :hi
UNION
SELECT DISTINCT i.pid, (CAST(i.ts / {HOUR} AS INTEGER) + 1) * {HOUR}
FROM inbox i JOIN _span s ON s.pid = i.pid AND s.newest - s.first > :span
WHERE i.rowid <= :hi AND i.ts + :hold > (CAST(i.ts / {HOUR} AS INTEGER) + 1) * {HOUR}
"""

MERGE_LATEST = """
INSERT INTO latest (pid, ts, value, status)
SELECT pid, newest, value, status FROM _span WHERE true
ON CONFLICT (pid) DO UPDATE SET ts = excluded.ts, value = excluded.value, status = excluded.status
WHERE excluded.ts >= latest.ts
"""

CLEAR_INBOX = "DELETE FROM inbox WHERE rowid <= :hi"

# Recompute hourly rollups for the buckets in the temp table _todo(pid, start).
# Each value holds from its timestamp until the next sample, for at most :hold
# seconds, clipped to the bucket; the last value before the bucket is carried in.
# A NULL value (offline, fault) holds nothing: it ends the previous value's hold.
ROLLUP_HOURS = f"""
WITH rows AS (
    SELECT d.pid, d.start AS b, h.ts, h.value, 0 AS carry
    FROM _todo d JOIN history h ON h.pid = d.pid AND h.ts >= d.start AND h.ts < d.start + {HOUR}
    UNION ALL
    SELECT d.pid, d.start, c.ts, c.value, 1
    FROM _todo d JOIN history c ON c.pid = d.pid AND c.ts = (
        SELECT max(ts) FROM history
        WHERE pid = d.pid AND ts < d.start AND ts >= d.start - :hold)
),
w AS (
    SELECT pid, b, ts, value, carry,
        LEAD(ts) OVER (PARTITION BY pid, b ORDER BY ts) AS nts,
        LAST_VALUE(value) OVER (PARTITION BY pid, b ORDER BY ts
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS lv
    FROM rows
),
seg AS (
    SELECT pid, b, ts, value, carry, lv,
        MAX(ts, b) AS s0,
        MIN(COALESCE(nts, b + {HOUR}), ts + :hold, b + {HOUR}) AS s1
    FROM w
),
agg AS (
    SELECT pid, b,
        count(value) FILTER (WHERE carry = 0) AS n,
        min(value) FILTER (WHERE carry = 0) AS mn,
        max(value) FILTER (WHERE carry = 0) AS mx,
        sum(value) FILTER (WHERE carry = 0) AS total,
        sum(value * (s1 - s0)) FILTER (WHERE value IS NOT NULL AND s1 > s0) AS tw,
        coalesce(sum(s1 - s0) FILTER (WHERE value IS NOT NULL AND s1 > s0), 0.0) AS cov,
        max(lv) FILTER (WHERE carry = 0) AS lst,
        max(ts) FILTER (WHERE carry = 0) AS lts
    FROM seg GROUP BY pid, b
)
INSERT OR REPLACE INTO rollup_hour
    (pid, start, count, min, max, sum, tw_sum, covered, last, last_ts, packed)
SELECT pid, b, n, mn, mx, total, tw, cov, lst, lts,
    pack_rollup(b, n, mn, mx, total / n, tw / cov, cov, lst, lts)
FROM agg
"""

# Recompute daily rollups from hourly ones for the days in _days(pid, start, stop);
# a day is local midnight to midnight in the point's time zone (23 or 25 hours across DST).
ROLLUP_DAYS = """
WITH agg AS (
    SELECT d.pid, d.start,
        coalesce(sum(h.count), 0) AS n, min(h.min) AS mn, max(h.max) AS mx, sum(h.sum) AS total,
        sum(h.tw_sum) AS tw, coalesce(sum(h.covered), 0.0) AS cov,
        (SELECT x.last FROM rollup_hour x
         WHERE x.pid = d.pid AND x.start >= d.start AND x.start < d.stop AND x.count > 0
         ORDER BY x.start DESC LIMIT 1) AS lst,
        max(h.last_ts) AS lts
    FROM _days d JOIN rollup_hour h ON h.pid = d.pid AND h.start >= d.start AND h.start < d.stop
    GROUP BY d.pid, d.start
)
INSERT OR REPLACE INTO rollup_day
    (pid, start, count, min, max, sum, tw_sum, covered, last, last_ts, packed)
SELECT pid, start, n, mn, mx, total, tw, cov, lst, lts,
    pack_rollup(start, n, mn, mx, total / n, tw / cov, cov, lst, lts)
FROM agg
"""
