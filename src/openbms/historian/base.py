"""The storage interface every historian backend implements (SQLite now, PostgreSQL later)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from openbms.model.sample import Sample
from openbms.model.site import HistoryPolicy

__all__ = ["Historian", "HistorianStats", "Rollup", "RollupRow"]

Rollup = Literal["hour", "day"]


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


class Historian(Protocol):
    """Keeps every sample. ``ingest`` is the hot path: it never blocks and never does I/O."""

    async def start(self) -> None:
        """Open the store and start the writer."""
        ...

    async def stop(self) -> None:
        """Flush everything accepted so far, then close."""
        ...

    def configure(self, policies: dict[str, HistoryPolicy]) -> None:
        """Set per-point history policies (COV deadband, max interval, retention)."""
        ...

    def ingest(self, samples: Sequence[Sample]) -> None:
        """Accept samples for storage (a bus subscriber callback)."""
        ...

    async def flush(self) -> None:
        """Make everything accepted so far durable and visible to queries."""
        ...

    async def raw(self, point: str, since: float, until: float) -> list[Sample]:
        """Stored samples of one point with ``since <= ts < until``, in time order."""
        ...

    async def rollups(self, point: str, rollup: Rollup, since: float, until: float) -> RollupSeries:
        """Hourly or daily rollups whose bucket starts in ``[since, until)``."""
        ...

    async def last_values(self, points: Iterable[str] | None = None) -> dict[str, Sample]:
        """The latest stored sample of each point (all points when ``points`` is None)."""
        ...

    def stats(self) -> HistorianStats:
        """Counters, O(1)."""
        ...
