"""Energy of meters per hour and per local day, from the historian's hourly rollups.

A meter is a number point that counts energy or measures power::

    kWh, Wh, MWh point ─────────────────────────▶ register: energy of a period is the
                                                   reading at its end minus the reading at its start
    kW, W, MW point tagged elec, meter or energy ─▶ demand: energy of a period is the sum of its hours'
                                                   time-weighted mean × the time each mean covers

Periods are hours (UTC hours: a site's hours but for the few zones whose offset
is not whole hours) or the site's local days, midnight to midnight in its time
zone, 23 or 25 hours long on a daylight-saving change. The dashboard shows
what this module computes: no calendar arithmetic happens in a browser, whose
time zone may not be the site's.

Everything here is pure: rollup rows in, numbers out.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from openbms.historian.base import RollupRow

__all__ = [
    "HOUR",
    "Meter",
    "MeterKind",
    "MeterSeries",
    "Span",
    "day_spans",
    "hour_spans",
    "meter_of",
    "same_time_in",
]

HOUR = 3600.0
MeterKind = Literal["register", "demand"]

# A unit's factor to kWh (registers) or kW (demand).
_REGISTER = {"kwh": 1.0, "wh": 0.001, "mwh": 1000.0}
_DEMAND = {"kw": 1.0, "w": 0.001, "mw": 1000.0}
_METER_TAGS = ("elec", "meter", "energy")


@dataclass(frozen=True, slots=True)
class Meter:
    """How a point measures energy: its kind and the factor from its unit to kWh or kW."""

    kind: MeterKind
    scale: float


def meter_of(kind: str, unit: str | None, tags: Sequence[str]) -> Meter | None:
    """The meter a point is, or None: a number in kWh/Wh/MWh, or in kW/W/MW tagged elec, meter or energy."""
    if kind != "number":
        return None
    u = (unit or "").lower()
    if u in _REGISTER:
        return Meter("register", _REGISTER[u])
    if u in _DEMAND and any(t in tags for t in _METER_TAGS):
        return Meter("demand", _DEMAND[u])
    return None


@dataclass(frozen=True, slots=True)
class Span:
    """One period ``[start, end)`` in epoch seconds; ``date`` is the local date of a day."""

    start: float
    end: float
    date: date | None = None


def hour_spans(count: int, until: float) -> list[Span]:
    """The ``count`` hours up to the one containing ``until``, oldest first."""
    last = (until // HOUR) * HOUR
    return [Span(last - HOUR * i, last - HOUR * (i - 1)) for i in range(count - 1, -1, -1)]


def day_spans(count: int, until: float, tz: ZoneInfo) -> list[Span]:
    """The ``count`` local days in ``tz`` up to the one containing ``until``, oldest first."""
    today = datetime.fromtimestamp(until, tz).date()
    out = []
    for i in range(count - 1, -1, -1):
        day = today - timedelta(days=i)
        out.append(Span(_midnight(day, tz), _midnight(day + timedelta(days=1), tz), day))
    return out


def _midnight(day: date, tz: ZoneInfo) -> float:
    # A midnight a clock change skips (fold 0) maps to the instant of the change.
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def same_time_in(previous: Span, current: Span, until: float, tz: ZoneInfo) -> float:
    """The instant in ``previous`` at the local time of day of ``until`` (for hours: at its offset)."""
    if previous.date is None:
        return previous.start + (until - current.start)
    wall = datetime.fromtimestamp(until, tz)
    d = previous.date
    return min(previous.end, datetime(d.year, d.month, d.day, wall.hour, wall.minute, wall.second,
                                      wall.microsecond, tzinfo=tz).timestamp())


class MeterSeries:
    """One meter's hourly rollups (sorted by start), asked for energy over periods."""

    __slots__ = ("_demand", "_hours", "_last", "_last_ts", "_meter", "_starts")

    def __init__(self, meter: Meter, hourly: Sequence[RollupRow]) -> None:
        self._meter = meter
        self._hours = sorted(hourly, key=lambda r: r.start)
        self._starts = [r.start for r in self._hours]
        self._demand = [self._hour_kwh(r) for r in self._hours] if meter.kind == "demand" else []
        readings = [(r.last_ts, r.last) for r in self._hours if r.last is not None and r.last_ts is not None]
        self._last_ts: list[float] = [ts for ts, _v in readings]
        self._last: list[float] = [v for _ts, v in readings]

    def _hour_kwh(self, r: RollupRow) -> float | None:
        kw = r.tw_mean if r.tw_mean is not None else r.mean
        if kw is None:
            return None
        return kw * self._meter.scale * (r.covered if r.covered > 0 else HOUR) / HOUR

    def reading_at(self, ts: float) -> float | None:
        """A register's last reading at or before ``ts`` (to the hour: rollups keep each hour's last)."""
        i = bisect.bisect_right(self._last_ts, ts) - 1
        return None if i < 0 else self._last[i]

    def energy(self, start: float, end: float) -> float | None:
        """kWh over ``[start, end)``: None when nothing is known, or a register went backwards (a reset)."""
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, end)
        if self._meter.kind == "demand":
            values = [v for v in self._demand[lo:hi] if v is not None]
            return sum(values) if values else None
        first = self.reading_at(start)
        if first is None:
            # No reading before the period: count from the lowest reading of its first hour.
            first = next((r.min for r in self._hours[lo:hi] if r.min is not None), None)
        last = self.reading_at(end)
        if first is None or last is None or last < first or lo == hi:
            return None
        return (last - first) * self._meter.scale

    def peak(self, start: float, end: float) -> tuple[float, float] | None:
        """The highest demand over ``[start, end)`` in kW and the start of its hour.

        A demand point's highest hourly maximum; a register's largest energy in one hour.
        """
        best: tuple[float, float] | None = None
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, end)
        for r in self._hours[lo:hi]:
            if self._meter.kind == "demand":
                v = r.max if r.max is not None else r.tw_mean if r.tw_mean is not None else r.mean
                kw = None if v is None else v * self._meter.scale
            else:
                kw = self.energy(r.start, r.start + HOUR)
            if kw is not None and math.isfinite(kw) and (best is None or kw > best[0]):
                best = (kw, r.start)
        return best
