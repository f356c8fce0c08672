"""The storage interface every historian backend implements (SQLite now, PostgreSQL later)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

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


@dataclass(frozen=True, slots=True)
class RollupSeries:
    """Rollups of one point as columns, one tuple per field, in bucket order.

    Columnar because charts and exports want columns and building one object
    per bucket costs more than the query itself. ``rows()`` gives RollupRows.
    """

    point: str
    start: tuple[float, ...] = ()
    count: tuple[int, ...] = ()
    min: tuple[float | None, ...] = ()
    max: tuple[float | None, ...] = ()
    mean: tuple[float | None, ...] = ()
    tw_mean: tuple[float | None, ...] = ()
    covered: tuple[float, ...] = ()
    last: tuple[float | None, ...] = ()
    last_ts: tuple[float | None, ...] = ()

    def __len__(self) -> int:
        return len(self.start)

    def rows(self) -> list[RollupRow]:
        """One RollupRow per bucket."""
        return [
            RollupRow(self.point, *cols)
            for cols in zip(
                self.start, self.count, self.min, self.max, self.mean, self.tw_mean,
                self.covered, self.last, self.last_ts, strict=True,
            )
        ]


@dataclass(frozen=True, slots=True)
class HistorianStats:
    """Counters readable in O(1), exported as metrics."""

    received: int
    filtered: int
    stored: int
    backlog: int
    dropped: int
    flushes: int
    late: int


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
