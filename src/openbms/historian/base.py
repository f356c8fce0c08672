"""The history store contract: everything its callers use, and nothing a store keeps to itself.

::

    bus ──ingest()──▶ store ◀── flush(), wait_backlog()           writes (ingest never blocks)
                        ├──▶ last_values(), points()              latest values, the point index
                        ├──▶ raw(), raw_rows(), count()            raw queries
                        ├──▶ iter_raw()                            streaming export, chunk by chunk
                        ├──▶ rollups(), refresh_rollups()          hourly and daily rollups
                        ├──▶ watch(), changed_since_last()         change notes for caches above it
                        ├──▶ apply_retention()                     per-point retention
                        └──▶ stats()                               O(1) counters for health and metrics

A store is chosen by :func:`openbms.historian.open_historian` from a URL;
``SQLiteHistorian`` (``historian/sqlite.py``) and ``PostgresHistorian``
(``historian/postgres.py``) are the two today. Every store
passes the same conformance suite (``tests/historian/test_conformance.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, Self, runtime_checkable

import numpy as np

from openbms.model.sample import Sample, Value
from openbms.model.site import HistoryPolicy

__all__ = ["Historian", "HistorianStats", "RawRow", "Rollup", "RollupRow", "RollupSeries"]

Rollup = Literal["hour", "day"]

#: One stored sample as a plain row: ``(ts, value, status code)``; ``STATUSES[code]`` is the status.
RawRow = tuple[float, Value, int]


@dataclass(frozen=True, slots=True)
class RollupRow:
    """Aggregates of one point over one bucket ``[start, start + width)``.

    ``mean`` is the plain mean of the samples in the bucket; ``tw_mean`` the
    time-weighted mean, each value held until the next sample (or for at most
    the historian's ``max_hold`` seconds), including the value carried in from
    before the bucket. ``covered`` is the seconds that ``tw_mean`` covers.
    """

    point: str
    start: float
    count: int
    min: float | None
    max: float | None
    mean: float | None
    tw_mean: float | None
    covered: float
    last: float | None
    last_ts: float | None


#: The fields of a rollup row, in the order RollupSeries keeps them.
ROLLUP_FIELDS = ("start", "count", "min", "max", "mean", "tw_mean", "covered", "last", "last_ts")


class RollupSeries:
    """Rollups of one point in bucket order, as one float64 array with a row per bucket.

    Columns follow ``ROLLUP_FIELDS``; ``series.tw_mean`` (and the other field
    names) is a column, a numpy view, as charts want it; missing values are
    NaN. ``rows()`` gives RollupRow objects with None for missing values.
    """

    __slots__ = ("array", "point")

    def __init__(self, point: str, array: np.ndarray | None = None) -> None:
        self.point = point
        self.array = array if array is not None else np.empty((0, len(ROLLUP_FIELDS)))

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.array[:, ROLLUP_FIELDS.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    def rows(self) -> list[RollupRow]:
        """One RollupRow per bucket."""
        out = []
        for start, count, mn, mx, mean, tw, covered, last, last_ts in self.array.tolist():
            out.append(RollupRow(
                self.point, start, int(count), _none(mn), _none(mx), _none(mean), _none(tw),
                covered, _none(last), _none(last_ts),
            ))
        return out


def _none(x: float) -> float | None:
    return None if x != x else x  # NaN is the only value unequal to itself


@dataclass(frozen=True, slots=True)
class HistorianStats:
    """Counters readable in O(1), exported as metrics and read by health checks.

    ``backlog`` is samples accepted but not yet durable and ``backlog_age`` the
    seconds the oldest of them has waited (0 when none). ``write_errors`` counts
    failed commits of accepted samples, ``maintenance_errors`` failed merges,
    rollups and retention passes; ``failing`` is true while the latest attempt of
    either failed. ``last_error`` (with ``last_error_at``, the runtime clock's
    time) stays readable after a recovery.
    """

    received: int
    filtered: int
    stored: int
    backlog: int
    dropped: int
    flushes: int
    late: int
    backlog_age: float = 0.0
    write_errors: int = 0
    maintenance_errors: int = 0
    failing: bool = False
    last_error: str | None = None
    last_error_at: float | None = None


@runtime_checkable
class Historian(Protocol):
    """Keeps every sample. ``ingest`` is the hot path: it never blocks and never does I/O.

    Times are UTC epoch seconds and ranges are half-open, ``[since, until)``.
    A point no sample was ever stored for is not an error: queries of it
    answer empty. Queries see what ``flush`` (or the store's own cadence) made
    durable and visible.
    """

    @property
    def max_backlog(self) -> int:
        """Samples the store holds in memory at most before it drops the oldest (counted)."""
        ...

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the store and start the writer; HistorianError when it cannot be opened."""
        ...

    async def stop(self) -> None:
        """Flush everything accepted so far, bring rollups up to date, then close."""
        ...

    async def __aenter__(self) -> Self:
        """``start()``; the store itself."""
        ...

    async def __aexit__(self, *exc: object) -> None:
        """``stop()``."""
        ...

    def configure(
        self, policies: Mapping[str, HistoryPolicy], timezones: Mapping[str, str] | None = None
    ) -> None:
        """Set per-point history policies (COV deadband, max interval, retention, enabled)
        and each point's IANA time zone, in which its daily rollups run (UTC when not given)."""
        ...

    # ------------------------------------------------------------------ writes

    def ingest(self, samples: Sequence[Sample]) -> None:
        """Accept samples for storage (a bus subscriber callback).

        The store may keep a reference to ``samples``: callers must not mutate it afterwards.
        A later sample of the same (point, time) replaces the earlier one.
        """
        ...

    async def flush(self) -> None:
        """Make everything accepted so far durable and visible to queries."""
        ...

    async def wait_backlog(self, limit: int) -> None:
        """Wait until at most ``limit`` accepted samples await their write (bulk-load backpressure)."""
        ...

    # ------------------------------------------------------------------ latest values

    async def last_values(self, points: Iterable[str] | None = None) -> dict[str, Sample]:
        """The latest sample of each point (all points when ``points`` is None).

        Latest by time, not by arrival: a late sample does not replace a newer one.
        Kept across a restart, so a restarted system starts warm.
        """
        ...

    def points(self) -> list[str]:
        """Every point with stored history, sorted."""
        ...

    # ------------------------------------------------------------------ raw queries

    async def raw(self, point: str, since: float, until: float) -> list[Sample]:
        """Stored samples of one point with ``since <= ts < until``, in time order."""
        ...

    async def raw_rows(
        self, point: str, since: float, until: float, limit: int | None = None
    ) -> list[RawRow]:
        """Like :meth:`raw`, but plain rows, at most ``limit`` of them: for answers built from rows."""
        ...

    async def last_before(self, point: str, ts: float) -> RawRow | None:
        """The newest stored row of ``point`` with a time before ``ts`` (None: there is none).

        One indexed look-up, however many rows lie before ``ts``: what a chart's
        line enters its range from.
        """
        ...

    async def count(self, points: Sequence[str], since: float, until: float) -> int:
        """How many samples ``points`` have stored in ``[since, until)`` (to size an export)."""
        ...

    def iter_raw(
        self, points: Sequence[str], since: float, until: float, chunk: int = 10_000
    ) -> AsyncIterator[list[Sample]]:
        """Stored samples of several points, point by point in the order given and in time order
        within a point, as lists of at most ``chunk`` samples: an export streams them."""
        ...

    # ------------------------------------------------------------------ rollups

    async def rollups(self, point: str, rollup: Rollup, since: float, until: float) -> RollupSeries:
        """Hourly or daily rollups whose bucket starts in ``[since, until)``, up to date with
        every sample flushed (a late sample has corrected the buckets it falls in)."""
        ...

    async def refresh_rollups(self) -> None:
        """Flush, then bring every rollup up to date now (stores also do it on their own cadence)."""
        ...

    # ------------------------------------------------------------------ change notes

    def watch(self, point: str) -> bool:
        """Start noting changes of ``point``'s stored samples, for a cache kept above the store.

        False when the store cannot note them (the point has no history yet, or
        the store is read-only): the caller reads the store instead.
        """
        ...

    def unwatch(self, point: str) -> None:
        """Stop noting changes of ``point`` (nothing when it was not watched)."""
        ...

    def changed_since_last(self, point: str) -> float | None:
        """The oldest sample time whose stored samples changed (added, replaced or deleted)
        since the last call; ``-inf`` when anything may have changed (or ``point`` is not
        watched), None when nothing changed."""
        ...

    # ------------------------------------------------------------------ retention, stats

    async def apply_retention(self) -> None:
        """Flush, then delete raw samples and rollups older than each point's retention now
        (stores also do it on their own cadence)."""
        ...

    def stats(self) -> HistorianStats:
        """Counters, O(1)."""
        ...
