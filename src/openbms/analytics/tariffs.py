"""What a meter's energy costs over a period under a tariff (``openbms.model.tariff``).

::

    period [start, end) ──cut at quarter hours and at the rules' local from/to──▶ pieces
    each piece ──energy(a, b)──▶ kWh × the first energy rate that holds at its local start
    each billing month ──windows(month, 15|30 min)──▶ highest mean kW where a demand rule holds × its rate
    each local day / month the period covers ──▶ fixed amount × the share of it covered

Everything is in the site's time zone: a piece's rate is decided by its local
wall-clock time, day (weekday, weekend, or holiday from the tariff's
calendars) and month, so a 23- or 25-hour day is priced hour by hour as the
meter ran. A demand charge belongs to a calendar month: a period shorter than
a month carries none (``demand_cost`` None), a month in progress carries the
peak so far.

Pure: the meter is two functions (its kWh over a span, its kWh per window),
so a register, a demand point and a virtual meter are priced alike.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from openbms.analytics.energy import Span, month_spans
from openbms.model.calendar import Calendar
from openbms.model.tariff import Tariff, day_kind

__all__ = ["Cost", "CostLine", "Peak", "cost_of", "holidays_of", "peak_of"]

QUARTER = 900.0
#: kWh over ``[start, end)``, or None when nothing is known of it.
EnergyOf = Callable[[float, float], float | None]
#: kWh in each window of the given seconds from ``start`` (on the window grid) to ``end``.
WindowsOf = Callable[[float, float, float], Sequence[float | None]]


@dataclass(frozen=True, slots=True)
class CostLine:
    """One line of a bill: an energy rate's kWh, a demand charge's kW, or a fixed charge's days or months."""

    kind: str  # energy, demand or fixed
    name: str
    quantity: float
    unit: str  # kWh, kW, day or month
    rate: float
    amount: float
    at: float | None = None  # a demand charge's window start


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one period ``[start, end)``.

    ``unknown_s`` is the time whose energy is unknown (a gap, a reset): it is
    not priced. ``demand_cost`` is None for a period that is no whole month.
    """

    start: float
    end: float
    currency: str
    kwh: float | None
    energy_cost: float
    demand_cost: float | None
    fixed_cost: float
    total: float
    unknown_s: float
    lines: tuple[CostLine, ...]


@dataclass(frozen=True, slots=True)
class Peak:
    """The highest mean demand over a window: kW and the window's start (epoch s)."""

    kw: float
    at: float


def holidays_of(tariff: Tariff, calendars: Sequence[Calendar]) -> Callable[[date], bool]:
    """Whether a local date is a holiday of the tariff (a day of one of its calendars)."""
    mine = [c for c in calendars if c.id in tariff.holidays]
    seen: dict[date, bool] = {}

    def holiday(day: date) -> bool:
        if day not in seen:
            seen[day] = any(c.matches(day) for c in mine)
        return seen[day]
    return holiday


def _local(ts: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


def _cuts(tariff: Tariff, start: float, end: float, tz: ZoneInfo) -> list[float]:
    """Where the rate may change: quarter hours (UTC, on every zone's grid) and the rules' local times."""
    cuts = {start, end}
    q = math.ceil(start / QUARTER) * QUARTER
    while q < end:
        cuts.add(q)
        q += QUARTER
    minutes = {m for r in tariff.energy for m in r.bounds() if m % 15}
    if minutes:
        day = _local(start, tz).date() - timedelta(days=1)
        last = _local(end, tz).date()
        while day <= last:
            for m in minutes:
                ts = datetime(day.year, day.month, day.day, m // 60, m % 60, tzinfo=tz).timestamp()
                if start < ts < end:
                    cuts.add(ts)
            day += timedelta(days=1)
    return sorted(cuts)


def _where(ts: float, tz: ZoneInfo, holiday: Callable[[date], bool]) -> tuple[str, str, int, float]:
    """A moment's day type, weekday name, month and minute after local midnight (wall clock)."""
    wall = _local(ts, tz)
    kind, weekday = day_kind(wall.date(), holiday(wall.date()))
    return kind, weekday, wall.month, wall.hour * 60 + wall.minute + wall.second / 60


def cost_of(
    tariff: Tariff,
    period: Span,
    end: float,
    energy: EnergyOf,
    windows: WindowsOf | None,
    tz: ZoneInfo,
    holiday: Callable[[date], bool],
) -> Cost:
    """The cost of ``period`` up to ``end`` (the period's end, or now for the one in progress).

    ``windows``: the meter's kWh per demand window, needed for demand charges of a
    period that is a calendar month (None: no demand charge is computed).
    """
    stop = min(period.end, end)
    kwh_by_rate = [0.0] * len(tariff.energy)
    known: float | None = None
    unknown = 0.0
    cuts = _cuts(tariff, period.start, stop, tz)
    for a, b in itertools.pairwise(cuts):
        got = energy(a, b)
        if got is None:
            unknown += b - a
            continue
        where = _where(a, tz, holiday)
        index = next((i for i, r in enumerate(tariff.energy) if r.holds(*where)), None)
        if index is None:  # the model refuses a tariff that leaves a moment unpriced
            unknown += b - a
            continue
        kwh_by_rate[index] += got
        known = (known or 0.0) + got
    lines = [CostLine("energy", r.name or f"rate {i + 1}", kwh_by_rate[i], "kWh", r.rate,
                      kwh_by_rate[i] * r.rate) for i, r in enumerate(tariff.energy) if kwh_by_rate[i]]
    energy_cost = sum(line.amount for line in lines)
    demand_cost: float | None = None
    whole_month = period.date is not None and period.date.day == 1 and (
        month_spans(1, period.start, tz)[0] == period)
    if whole_month and windows is not None:
        demand_cost = 0.0
        for i, rule in enumerate(tariff.demand):
            peak = peak_of(windows, period.start, stop, rule.window * 60.0, tz, holiday, rule.holds)
            if peak is not None:
                amount = peak.kw * rule.rate
                lines.append(CostLine("demand", rule.name or f"demand {i + 1}", peak.kw, "kW", rule.rate,
                                      amount, peak.at))
                demand_cost += amount
    fixed_cost = 0.0
    for i, charge in enumerate(tariff.fixed):
        share = _share(period.start, stop, charge.per, tz)
        amount = share * charge.amount
        lines.append(CostLine("fixed", charge.name or f"fixed {i + 1}", share, charge.per, charge.amount,
                              amount))
        fixed_cost += amount
    total = energy_cost + (demand_cost or 0.0) + fixed_cost
    return Cost(period.start, stop, tariff.currency, known, energy_cost, demand_cost, fixed_cost, total,
                unknown, tuple(lines))


def peak_of(
    windows: WindowsOf,
    start: float,
    end: float,
    window: float,
    tz: ZoneInfo,
    holiday: Callable[[date], bool] | None = None,
    when: Callable[[str, str, int, float], bool] | None = None,
) -> Peak | None:
    """The highest mean kW over a ``window`` (900 or 1 800 s) in ``[start, end)``, where ``when`` holds."""
    first = math.floor(start / window) * window
    got = windows(first, end, window)
    best: Peak | None = None
    for i, kwh in enumerate(got):
        at = first + i * window
        if kwh is None or at < start:
            continue
        if when is not None and not when(*_where(at, tz, holiday or (lambda _d: False))):
            continue
        kw = kwh * 3600.0 / window
        if best is None or kw > best.kw:
            best = Peak(kw, at)
    return best


def _share(start: float, end: float, per: str, tz: ZoneInfo) -> float:
    """How many local days (or months) ``[start, end)`` covers, a part of one counting its part."""
    total = 0.0
    day = _local(start, tz).date()
    while True:
        if per == "day":
            a = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
            nxt = day + timedelta(days=1)
        else:
            day = day.replace(day=1)
            a = datetime(day.year, day.month, 1, tzinfo=tz).timestamp()
            nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        b = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp()
        if a >= end:
            return total
        overlap = min(b, end) - max(a, start)
        if overlap > 0:
            total += overlap / (b - a)
        day = nxt
