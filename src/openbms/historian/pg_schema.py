"""The PostgreSQL history schema and the SQL that maintains it (``historian/postgres.py``).

``samples`` is partitioned by time with native declarative RANGE
partitioning, one partition a week (Monday 00:00 UTC to Monday), each with
the primary key (pid, ts) and a BRIN index on ts, both declared on the parent
so every partition gets them. Weekly, not daily: the planner's cost grows
with the number of partitions a query may touch, and a year is 53 weekly
partitions but 366 daily ones; a week of 10 000 one-minute points is ~100 M
rows, which a drop removes at once. Times are epoch seconds as float8 (the
contract's floats, exact, as in SQLite); text values go in ``txt``.

A flush is one transaction: binary COPY into the temporary ``_stage``, then
one INSERT … ON CONFLICT from it (a resent sample that changes nothing
writes nothing; a corrected one replaces the stored row, as the contract
says), the dirty rollup hours and the latest values, all from ``_stage``.

Compaction. A week partition older than a setting is *compacted*: its rows
become one ``packed`` row per point and UTC day (the encoded time, value,
NULL and status arrays of ``pg_pack.py``, TOAST-compressed with lz4) in the
week's ``packed_YYYY_MM_DD`` partition, and the samples partition is emptied
(TRUNCATE; it stays, for late data). Invariant: a (point, day) is either
packed or has its rows in ``samples``, never both, and a rollup pass only
ever reads ``samples``: a flush whose samples (or the hours they make dirty)
reach a packed day first moves that day back to ``samples`` (*unpacks* it),
and compaction skips a week while rollup hours near it are dirty. A flush
that may reach compacted weeks holds the shared advisory lock COMPACT_LOCK,
compaction the exclusive one.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "PARTITION_SECONDS", "SCHEMA_VERSION", "packed_name", "partition_name", "partition_start",
]

SCHEMA_VERSION = 3  # 2: packed (compacted) history; 3: rollup_taken
HOUR = 3600
PARTITION_SECONDS = 7 * 86400
#: Weeks start on Monday 00:00 UTC: the epoch was a Thursday, four days after a Monday.
_MONDAY = MONDAY = 4 * 86400


def partition_start(ts: float) -> float:
    """The start of the weekly partition holding ``ts`` (a Monday 00:00 UTC, epoch seconds)."""
    return float((ts - _MONDAY) // PARTITION_SECONDS * PARTITION_SECONDS + _MONDAY)


def partition_name(start: float) -> str:
    """``samples_YYYY_MM_DD``: the partition of the week starting at ``start``."""
    return "samples_" + datetime.fromtimestamp(start, UTC).strftime("%Y_%m_%d")


def packed_name(start: float) -> str:
    """``packed_YYYY_MM_DD``: the compacted rows of the week starting at ``start``."""
    return "packed_" + datetime.fromtimestamp(start, UTC).strftime("%Y_%m_%d")


DDL = (
    """CREATE TABLE IF NOT EXISTS historian_meta (
        key text PRIMARY KEY,
        value text NOT NULL
    )""",
    # One row per point ever seen: the integer key samples use, its policies, and ``floor``:
    # the time before which its raw samples are past retention (hidden until their partition
    # is dropped).
    """CREATE TABLE IF NOT EXISTS series (
        pid serial PRIMARY KEY,
        point text NOT NULL UNIQUE,
        raw_days float8,
        rollup_days float8,
        tz text NOT NULL DEFAULT 'UTC',
        floor float8 NOT NULL DEFAULT '-Infinity'
    )""",
    """CREATE TABLE IF NOT EXISTS samples (
        pid int4 NOT NULL,
        ts float8 NOT NULL,
        value float8,
        status int2 NOT NULL,
        txt text,
        PRIMARY KEY (pid, ts)
    ) PARTITION BY RANGE (ts)""",
    "CREATE INDEX IF NOT EXISTS samples_ts_brin ON samples USING brin (ts)",
    # Compacted history: one row per point and UTC day [start, start + 1 day), n samples from
    # ``first`` to ``last``; the arrays are pg_pack.py's (nulls and status NULL when all are
    # non-NULL and ok, txt NULL when no value is text). Partitioned by week as samples is.
    """CREATE TABLE IF NOT EXISTS packed (
        pid int4 NOT NULL,
        start float8 NOT NULL,
        n int4 NOT NULL,
        first float8 NOT NULL,
        last float8 NOT NULL,
        t bytea NOT NULL,
        v bytea NOT NULL,
        nulls bytea,
        status bytea,
        txt text[],
        PRIMARY KEY (pid, start)
    ) PARTITION BY RANGE (start)""",
    """CREATE TABLE IF NOT EXISTS latest (
        pid int4 PRIMARY KEY,
        ts float8 NOT NULL,
        value float8,
        status int2 NOT NULL,
        txt text
    )""",
    # Hours whose rollups must be recomputed: marked by each flush, taken by the rollup pass.
    """CREATE TABLE IF NOT EXISTS rollup_dirty (
        pid int4 NOT NULL,
        start float8 NOT NULL,
        PRIMARY KEY (pid, start)
    )""",
    # Hours a rollup pass has taken out of rollup_dirty and recomputes a chunk a transaction
    # (a pass that dies leaves them here for the next one, of any process).
    """CREATE TABLE IF NOT EXISTS rollup_taken (
        pid int4 NOT NULL,
        start float8 NOT NULL,
        PRIMARY KEY (pid, start)
    )""",
    *(
        f"""CREATE TABLE IF NOT EXISTS rollup_{name} (
        pid int4 NOT NULL,
        start float8 NOT NULL,
        count int8 NOT NULL,
        min float8,
        max float8,
        sum float8,
        tw_sum float8,
        covered float8 NOT NULL,
        last float8,
        last_ts float8,
        PRIMARY KEY (pid, start)
    )"""
        for name in ("hour", "day")
    ),
)

#: Per connection: the staging table a flush copies into, and the rollup pass's work lists.
TEMP_DDL = (
    """CREATE TEMP TABLE IF NOT EXISTS _stage (
        pid int4, ts float8, value float8, status int2, txt text
    ) ON COMMIT DELETE ROWS""",
)
ROLLUP_TEMP_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS _todo (pid int4, start float8) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS _days (pid int4, start float8, stop float8) "
    "ON COMMIT DELETE ROWS",
)

COPY_STAGE = "COPY _stage (pid, ts, value, status, txt) FROM STDIN (FORMAT BINARY)"
# Straight into samples (a batch of new keys only: see PostgresHistorian._append). Arrays go
# as binary parameters (%b): 10 000 floats as text took 5 times as long to send.
COPY_SAMPLES = "COPY samples (pid, ts, value, status, txt) FROM STDIN (FORMAT BINARY)"
COPY_PLAIN = "COPY samples (pid, ts, value, status) FROM STDIN (FORMAT BINARY)"
MARK_DIRTY_ARRAYS = """
INSERT INTO rollup_dirty (pid, start) SELECT * FROM unnest(%b::int4[], %b::float8[])
ON CONFLICT DO NOTHING
"""
MERGE_LATEST_ARRAYS = """
INSERT INTO latest AS l (pid, ts, value, txt, status)
SELECT * FROM unnest(%b::int4[], %b::float8[], %b::float8[], %b::text[], %b::int2[])
ON CONFLICT (pid) DO UPDATE
SET ts = excluded.ts, value = excluded.value, status = excluded.status, txt = excluded.txt
WHERE excluded.ts >= l.ts
"""
COPY_TYPES = ("int4", "float8", "float8", "int2", "text")

STAGE_WEEKS = f"""
SELECT floor((ts - {_MONDAY}) / {PARTITION_SECONDS}) * {PARTITION_SECONDS} + {_MONDAY}, min(ts)
FROM _stage GROUP BY 1
"""

# Of two staged rows with the same (point, time) the later arrival wins: a fresh temporary
# table that is only appended to (COPY after the commit emptied it) keeps rows in arrival
# order, so the greatest ctid is the last one. Rows past their point's raw retention are not
# kept (%(cut)s: only when some point has a retention; they would corrupt their rollups).
MERGE = """
INSERT INTO samples AS h (pid, ts, value, status, txt)
SELECT DISTINCT ON (st.pid, st.ts) st.pid, st.ts, st.value, st.status, st.txt
FROM _stage st {join}
ORDER BY st.pid, st.ts, st.ctid DESC
ON CONFLICT (pid, ts) DO UPDATE
SET value = excluded.value, status = excluded.status, txt = excluded.txt
WHERE (h.value, h.status, h.txt) IS DISTINCT FROM (excluded.value, excluded.status, excluded.txt)
"""
# What a flush tries first: almost every batch holds only new (point, time) keys, and a plain
# INSERT costs about half of one ON CONFLICT (5 µs a row against 9 here). A batch that meets a
# stored key (a resend after an outage) fails on the primary key and is merged with MERGE.
INSERT_NEW = MERGE.split("ON CONFLICT")[0]
MERGE_RETENTION_JOIN = (
    "JOIN series s ON s.pid = st.pid "
    "WHERE s.raw_days IS NULL OR st.ts >= %(now)s - s.raw_days * 86400.0"
)

# A sample changes its own hour, and the next one when its value is held into it.
MARK_DIRTY = f"""
INSERT INTO rollup_dirty (pid, start)
SELECT DISTINCT pid, floor(ts / {HOUR}) * {HOUR} FROM _stage
UNION
SELECT DISTINCT pid, (floor(ts / {HOUR}) + 1) * {HOUR} FROM _stage
WHERE ts + %(hold)s > (floor(ts / {HOUR}) + 1) * {HOUR}
ON CONFLICT DO NOTHING
"""

MERGE_LATEST = """
INSERT INTO latest AS l (pid, ts, value, status, txt)
SELECT DISTINCT ON (pid) pid, ts, value, status, txt FROM _stage ORDER BY pid, ts DESC, ctid DESC
ON CONFLICT (pid) DO UPDATE
SET ts = excluded.ts, value = excluded.value, status = excluded.status, txt = excluded.txt
WHERE excluded.ts >= l.ts
"""

SPANS = "SELECT pid, min(ts) FROM _stage GROUP BY pid"

# ---------------------------------------------------------------------- compaction

DAY = 86400
#: Held shared by a flush that may reach compacted weeks, exclusive by compaction.
COMPACT_LOCK = "hashtext('openbms.compact')"
#: How far before a sample a packed day must be unpacked: the hours a sample makes dirty are
#: its own and the next, and a dirty hour's rollup reads from %(hold)s before it.
UNPACK_MARGIN = 2 * HOUR

# The packed days a flush's samples reach (with the rollup margin), taken out of packed.
UNPACK = f"""
WITH s AS (SELECT pid, min(ts) AS lo, max(ts) AS hi FROM _stage GROUP BY pid)
DELETE FROM packed p USING s
WHERE p.pid = s.pid AND p.start > s.lo - {DAY + UNPACK_MARGIN} - %(hold)s
    AND p.start < s.hi + {UNPACK_MARGIN}
RETURNING p.pid, p.t, p.v, p.nulls, p.status, p.txt
"""
UNPACK_TEMP_DDL = (
    """CREATE TEMP TABLE IF NOT EXISTS _unpacked (
        pid int4, ts float8, value float8, status int2, txt text
    ) ON COMMIT DELETE ROWS""",
)
COPY_UNPACKED = "COPY _unpacked (pid, ts, value, status, txt) FROM STDIN (FORMAT BINARY)"
# Rows of this flush win over the unpacked ones of the same (point, time).
INSERT_UNPACKED = """
INSERT INTO samples (pid, ts, value, status, txt) SELECT pid, ts, value, status, txt FROM _unpacked
ON CONFLICT (pid, ts) DO NOTHING
"""

# A week's rows, one row per point and UTC day, each array in time order as big-endian bytes.
PACK_WEEK = f"""
SELECT pid, floor(ts / {DAY}) * {DAY} AS day, count(*)::int4,
    string_agg(float8send(ts), ''::bytea ORDER BY ts),
    string_agg(float8send(coalesce(value, 0.0)), ''::bytea ORDER BY ts),
    CASE WHEN bool_or(value IS NULL) THEN
        string_agg(CASE WHEN value IS NULL THEN '\\x01'::bytea ELSE '\\x00'::bytea END,
                   ''::bytea ORDER BY ts) END,
    CASE WHEN bool_or(status <> %(ok)s) THEN string_agg(int2send(status), ''::bytea ORDER BY ts) END,
    CASE WHEN bool_or(txt IS NOT NULL) THEN array_agg(txt ORDER BY ts) END
FROM {{part}} WHERE pid >= %(lo)s AND pid < %(hi)s GROUP BY pid, day
"""
COPY_PACKED = ("COPY packed (pid, start, n, first, last, t, v, nulls, status, txt) "
               "FROM STDIN (FORMAT BINARY)")
PACKED_TYPES = ("int4", "float8", "int4", "float8", "float8", "bytea", "bytea", "bytea", "bytea",
                "text[]")
# Rollup hours whose recomputation would read the week (a dirty hour reads from hold before it).
DIRTY_NEAR = """SELECT EXISTS (SELECT 1 FROM rollup_dirty WHERE start > %(lo)s AND start < %(hi)s)
    OR EXISTS (SELECT 1 FROM rollup_taken WHERE start > %(lo)s AND start < %(hi)s)"""

PACKED_PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'packed'::regclass
"""
# One point's packed days that may hold samples in [%s, %s) (start bounds prune partitions).
PACKED_RANGE = f"""
SELECT t, v, nulls, status, txt FROM packed
WHERE pid = %(pid)s AND start > %(since)s - {DAY} AND start < %(until)s
    AND last >= %(since)s AND first < %(until)s
ORDER BY start
"""
PACKED_BEFORE = """
SELECT t, v, nulls, status, txt FROM packed
WHERE pid = %(pid)s AND first < %(ts)s AND last >= %(floor)s AND start < %(ts)s
ORDER BY start DESC LIMIT 1
"""
PACKED_COUNT = f"""
SELECT p.since, h.n, CASE WHEN h.first < p.since OR h.last >= %(until)s THEN h.t END
FROM unnest(%(pids)s::int4[], %(sinces)s::float8[]) AS p(pid, since)
JOIN packed h ON h.pid = p.pid AND h.start > p.since - {DAY} AND h.start < %(until)s
    AND h.last >= p.since AND h.first < %(until)s
"""

NUMBER = """
INSERT INTO series AS s (point, raw_days, rollup_days, tz)
SELECT * FROM unnest(%s::text[], %s::float8[], %s::float8[], %s::text[])
ON CONFLICT (point) DO UPDATE SET point = s.point
RETURNING pid, point, floor
"""

# A rollup pass first moves the dirty hours (of one point, or all) to rollup_taken, in a short
# transaction of its own: a flush marking one of those hours again waits only for that (a mark
# waits for a transaction that deleted its key to end). It used to take them at the start of the
# one transaction that recomputed them all, and every flush waited for the whole pass (15-35 s
# for 100 000 points: the centre's ingest stalls). Taking them in chunks from rollup_dirty was
# not enough: a flush marking every point's hour met one chunk after another.
MOVE_DIRTY = """
WITH d AS (DELETE FROM rollup_dirty {where} RETURNING pid, start)
INSERT INTO rollup_taken SELECT pid, start FROM d ON CONFLICT DO NOTHING
"""
# Then a chunk of the taken hours a transaction into _todo (key order: a point's hours stay
# together). {lock}: SKIP LOCKED for the background pass (another process's pass takes other
# chunks meanwhile); a plain FOR UPDATE for one point's pass before a read (it waits for a
# chunk being recomputed, so that the read sees it done).
TAKE_DIRTY = """
WITH d AS (
    DELETE FROM rollup_taken WHERE (pid, start) IN (
        SELECT pid, start FROM rollup_taken {where} ORDER BY pid, start
        LIMIT %(limit)s {lock})
    RETURNING pid, start)
INSERT INTO _todo SELECT pid, start FROM d
"""
COUNT_DIRTY = "SELECT count(*) FROM rollup_taken {where}"

# Recompute hourly rollups for the buckets in _todo, exactly as SQLite does (schema.py's
# ROLLUP_HOURS): each value holds from its time until the next sample, at most %(hold)s
# seconds, clipped to the bucket; the last value before the bucket is carried in; a NULL
# value holds nothing. Samples before a point's retention floor are not there.
# Dirty hours are read as islands of consecutive hours, each island one range scan of its
# point's primary key (LATERAL … OFFSET 0: a subquery the planner may not flatten, pruned to
# the island's partitions at run time); a sample's own hour and the hour it is carried into
# come from that one scan. Left to the planner, the join hashed every sample of a point
# against every dirty hour (two weeks of one point: 2.4 s); one scan per hour paid run-time
# pruning per hour (a year of one point: 12 s; with islands, well under one).
ROLLUP_HOURS = f"""
WITH t AS (
    SELECT pid, start, start - {HOUR} * row_number() OVER (PARTITION BY pid ORDER BY start) AS g
    FROM _todo
),
islands AS (SELECT pid, min(start) AS lo, max(start) AS hi FROM t GROUP BY pid, g),
scan AS (
    SELECT i.pid, i.lo, i.hi, x.ts, x.value, floor(x.ts / {HOUR}) * {HOUR} AS hb,
        lead(x.ts) OVER (PARTITION BY i.pid, i.lo ORDER BY x.ts) AS nxt
    FROM islands i JOIN series s ON s.pid = i.pid
    CROSS JOIN LATERAL (
        SELECT x.ts, x.value FROM samples x
        WHERE x.pid = i.pid AND x.ts >= greatest(i.lo - %(hold)s, s.floor) AND x.ts < i.hi + {HOUR}
        OFFSET 0) x
),
rows AS (
    SELECT pid, hb AS b, ts, value, 0 AS carry FROM scan WHERE ts >= lo
    UNION ALL
    -- the last sample of an hour is carried into the next (when that one is dirty, within hold)
    SELECT pid, hb + {HOUR}, ts, value, 1 FROM scan
    WHERE hb + {HOUR} >= lo AND hb + {HOUR} <= hi AND ts >= hb + {HOUR} - %(hold)s
        AND (nxt IS NULL OR nxt >= hb + {HOUR})
),
w AS (
    SELECT pid, b, ts, value, carry,
        lead(ts) OVER (PARTITION BY pid, b ORDER BY ts) AS nts,
        last_value(value) OVER (PARTITION BY pid, b ORDER BY ts
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS lv
    FROM rows
),
seg AS (
    SELECT pid, b, ts, value, carry, lv,
        greatest(ts, b) AS s0,
        least(coalesce(nts, b + {HOUR}), ts + %(hold)s, b + {HOUR}) AS s1
    FROM w
)
INSERT INTO rollup_hour AS r (pid, start, count, min, max, sum, tw_sum, covered, last, last_ts)
SELECT pid, b,
    count(value) FILTER (WHERE carry = 0),
    min(value) FILTER (WHERE carry = 0),
    max(value) FILTER (WHERE carry = 0),
    sum(value) FILTER (WHERE carry = 0),
    sum(value * (s1 - s0)) FILTER (WHERE value IS NOT NULL AND s1 > s0),
    coalesce(sum(s1 - s0) FILTER (WHERE value IS NOT NULL AND s1 > s0), 0.0),
    max(lv) FILTER (WHERE carry = 0),
    max(ts) FILTER (WHERE carry = 0)
FROM seg GROUP BY pid, b
ON CONFLICT (pid, start) DO UPDATE SET count = excluded.count, min = excluded.min,
    max = excluded.max, sum = excluded.sum, tw_sum = excluded.tw_sum,
    covered = excluded.covered, last = excluded.last, last_ts = excluded.last_ts
"""

# The local days (in each point's time zone, 23 or 25 hours across DST) the dirty hours fall in.
DAYS_OF_TODO = """
INSERT INTO _days (pid, start, stop)
SELECT DISTINCT t.pid,
    extract(epoch FROM (m.midnight AT TIME ZONE s.tz))::float8,
    extract(epoch FROM ((m.midnight + interval '1 day') AT TIME ZONE s.tz))::float8
FROM _todo t JOIN series s ON s.pid = t.pid
CROSS JOIN LATERAL (
    SELECT date_trunc('day', to_timestamp(t.start) AT TIME ZONE s.tz) AS midnight) m
"""

ROLLUP_DAYS = """
INSERT INTO rollup_day AS r (pid, start, count, min, max, sum, tw_sum, covered, last, last_ts)
SELECT d.pid, d.start,
    coalesce(sum(h.count), 0), min(h.min), max(h.max), sum(h.sum), sum(h.tw_sum),
    coalesce(sum(h.covered), 0.0),
    (SELECT x.last FROM rollup_hour x
     WHERE x.pid = d.pid AND x.start >= d.start AND x.start < d.stop AND x.count > 0
     ORDER BY x.start DESC LIMIT 1),
    max(h.last_ts)
FROM _days d CROSS JOIN LATERAL (
    SELECT * FROM rollup_hour x WHERE x.pid = d.pid AND x.start >= d.start AND x.start < d.stop
    OFFSET 0) h
GROUP BY d.pid, d.start, d.stop
ON CONFLICT (pid, start) DO UPDATE SET count = excluded.count, min = excluded.min,
    max = excluded.max, sum = excluded.sum, tw_sum = excluded.tw_sum,
    covered = excluded.covered, last = excluded.last, last_ts = excluded.last_ts
"""

# Rollups of one point as one bytea of big-endian doubles in ROLLUP_FIELDS order (NULL → NaN):
# one value to fetch however many buckets, made into a numpy array without a Python row each.
ROLLUP_PACKED = """
SELECT string_agg(
    float8send(start) || float8send(count::float8)
    || float8send(coalesce(min, 'NaN')) || float8send(coalesce(max, 'NaN'))
    || float8send(coalesce(sum / nullif(count, 0), 'NaN'))
    || float8send(coalesce(tw_sum / nullif(covered, 0), 'NaN'))
    || float8send(covered)
    || float8send(coalesce(last, 'NaN')) || float8send(coalesce(last_ts, 'NaN')),
    ''::bytea ORDER BY start)
FROM rollup_{rollup} WHERE pid = %s AND start >= %s AND start < %s
"""

PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'samples'::regclass
"""

ROLLUP_RETENTION = """
DELETE FROM rollup_{rollup} r USING series s
WHERE s.pid = r.pid AND s.rollup_days IS NOT NULL AND r.start < %(now)s - s.rollup_days * 86400.0
"""
