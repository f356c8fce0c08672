"""Energy of meters per hour and per local day, from the historian's hourly rollups.

A meter is a number point that counts energy or measures power::

    kWh, Wh, MWh point ─────────────────────────▶ register: energy of a period is the
                                                   reading at its end minus the reading at its start
    kW, W, MW point tagged elec, meter or energy ─▶ demand: energy of a period is the sum of its hours'
                                                   time-weighted mean × the time each mean covers

Periods are hours (UTC hours: a site's hours but for the few zones whose offset
is not whole hours) or the site's local days, midnight to midnight in its time
zone, 23 or 25 hours long on a daylight-saving change. A period may start or end
inside an hour (now, the same time yesterday, midnight at +05:30): a register's
reading there is interpolated, a demand hour counts its part (``MeterSeries``). The dashboard shows
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
from openbms.model.units import lookup

__all__ = [
    "GAP",
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
#: Register readings further apart than this are an outage: nothing is interpolated across it.
GAP = 2 * HOUR
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
    # The unit's symbol first ("kilowatt-hours" is kWh); a spelling the table does not know, in any case.
    known = lookup(unit) if unit else None
    u = (known.symbol if known is not None else unit or "").lower()
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
    """One meter's hourly rollups (sorted by start), asked for energy over periods.

    A register's reading between two hourly last readings is interpolated
    linearly, so a period's end and the same time yesterday are the same
    instants whatever the hour; readings further apart than ``GAP`` (an outage)
    or going backwards (a reset) are not interpolated: their energy is unknown,
    and a period counts only what the readings on each side of it show. A
    demand hour that a period's start or end cuts counts its part in the
    period, so a day ends at the same instant for both kinds of meter.
    """

    __slots__ = ("_covered", "_first_low", "_from", "_hours", "_kw", "_last", "_last_ts", "_meter", "_starts")

    def __init__(self, meter: Meter, hourly: Sequence[RollupRow]) -> None:
        self._meter = meter
        self._hours = sorted(hourly, key=lambda r: r.start)
        self._starts = [r.start for r in self._hours]
        self._kw: list[float | None] = []
        self._covered: list[float] = []
        self._from: list[float] = []
        if meter.kind == "demand":
            previous: RollupRow | None = None
            for r in self._hours:
                kw = r.tw_mean if r.tw_mean is not None else r.mean
                self._kw.append(None if kw is None else kw * meter.scale)
                covered = min(r.covered, HOUR) if r.covered > 0 else HOUR
                self._covered.append(covered)
                # Where in the hour its mean holds: from its start when the hour before had a value to
                # carry in (the data stops inside it: an hour in progress, an outage), else up to its
                # end (the data begins inside it). Periods that cut the hour share that stretch, so the
                # same seconds are never counted in both.
                carried = previous is not None and previous.start == r.start - HOUR and (
                    previous.tw_mean is not None or previous.mean is not None)
                self._from.append(r.start if carried else r.start + HOUR - covered)
                previous = r
        readings = [(r.last_ts, r.last) for r in self._hours if r.last is not None and r.last_ts is not None]
        self._last_ts: list[float] = [ts for ts, _v in readings]
        self._last: list[float] = [v for _ts, v in readings]
        # The lowest reading of the hour holding the first reading: the count before it in that hour.
        first = next((r for r in self._hours if r.last is not None and r.last_ts is not None), None)
        self._first_low = None if first is None or first.min is None else first.min

    def energy(self, start: float, end: float) -> float | None:
        """kWh over ``[start, end)``: None when nothing is known of it."""
        if self._meter.kind == "demand":
            return self._demand(start, end)
        got = self._register(start, end)
        return None if got is None else got[0]

    def _demand(self, start: float, end: float) -> float | None:
        lo = bisect.bisect_right(self._starts, start - HOUR)
        hi = bisect.bisect_left(self._starts, end)
        total: float | None = None
        for i in range(lo, hi):
            kw = self._kw[i]
            held = self._from[i]
            # The part of the stretch the mean covers that lies in the period.
            overlap = min(held + self._covered[i], end) - max(held, start)
            if kw is None or overlap <= 0:
                continue
            total = (total or 0.0) + kw * overlap / HOUR
        return total

    def _register(self, start: float, end: float) -> tuple[float, float] | None:
        """kWh over ``[start, end)`` and the seconds of it the readings cover, or None."""
        ts, vs = self._last_ts, self._last
        total: float | None = None
        covered = 0.0
        if ts and start <= ts[0] < end and self._first_low is not None and self._first_low <= vs[0]:
            # No reading before the meter's first: count from the lowest reading of its first hour.
            total = (vs[0] - self._first_low) * self._meter.scale
        for j in range(max(bisect.bisect_right(ts, start) - 1, 0), len(ts) - 1):
            a, b = ts[j], ts[j + 1]
            if a >= end:
                break
            overlap = min(b, end) - max(a, start)
            if overlap <= 0 or b - a > GAP or vs[j + 1] < vs[j]:
                continue  # outside, an outage or a reset: unknown
            total = (total or 0.0) + (vs[j + 1] - vs[j]) * self._meter.scale * overlap / (b - a)
            covered += overlap
        return None if total is None else (total, covered)

    def peak(self, start: float, end: float) -> tuple[float, float] | None:
        """The highest demand over ``[start, end)`` in kW and the start of its hour.

        A demand point's highest hourly maximum; a register's largest energy in
        one hour that its readings cover whole (not an hour beside an outage).
        """
        best: tuple[float, float] | None = None
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, end)
        for r in self._hours[lo:hi]:
            kw: float | None = None
            if self._meter.kind == "demand":
                v = r.max if r.max is not None else r.tw_mean if r.tw_mean is not None else r.mean
                kw = None if v is None else v * self._meter.scale
            else:
                got = self._register(r.start, r.start + HOUR)
                kw = got[0] if got is not None and got[1] >= HOUR - 1e-6 else None
            if kw is not None and math.isfinite(kw) and (best is None or kw > best[0]):
                best = (kw, r.start)
        return best
