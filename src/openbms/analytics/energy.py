"""Energy of meters per hour, local day, week and month, from the historian's hourly rollups and raw samples.

A meter is a number point that counts energy or measures power::

    kWh, Wh, MWh point ──────────────────────────────▶ register: energy of a period is the
                                                        reading at its end minus the reading at its start
    kW, W, MW point tagged elec, gas, meter or energy ─▶ demand: energy of a period is the sum of its
                                                        hours' time-weighted mean × the time each covers

Periods are hours (UTC hours: a site's hours but for the few zones whose offset
is not whole hours) or the site's local days, midnight to midnight in its time
zone, 23 or 25 hours long on a daylight-saving change, and weeks (from a site's
first day, Monday by default) and calendar months made of those days
(``spans_of``). Peak demand is per 15- or 30-minute window, from raw samples
(``window_kwh``).

A register (a cumulative count) may go down: a wrap at its ``rollover``, a
replacement (configured, or seen as a drop), or a glitch that comes back;
``register_steps`` turns its readings into steps that are never negative and
never a wrap's or a new meter's whole reading. A period may start or end
inside an hour (now, the same time yesterday, midnight at +05:30): a register's
reading there is interpolated, a demand hour counts its part (``MeterSeries``). The dashboard shows
what this module computes: no calendar arithmetic happens in a browser, whose
time zone may not be the site's.

The hour in progress has a rollup that cannot say where in the hour its data
lies (a demand mean of the first twenty minutes would be placed at the end of
the hour), so the hour holding the end of a request is computed from the raw
samples of that hour instead (``MeterSeries(..., raw=..., raw_hour=...)``):
energy of the current hour is known from its first samples, not an hour later.

``meter_groups`` says which points make one meter (the kW and kWh of the same
equipment and commodity), which meters are a site's main meters and which are
sub-meters of which.

Everything here is pure: rollup rows and samples in, numbers out.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from openbms.historian.base import RollupRow
from openbms.model.site import Equipment, Point
from openbms.model.tariff import meter_kind

__all__ = [
    "GAP",
    "HOLD",
    "HOUR",
    "Bucket",
    "Meter",
    "MeterGroup",
    "MeterKind",
    "MeterSeries",
    "Replacement",
    "Span",
    "day_spans",
    "hour_spans",
    "meter_groups",
    "meter_of",
    "month_spans",
    "previous_span",
    "register_steps",
    "same_time_in",
    "spans_of",
    "week_spans",
    "window_kwh",
]

HOUR = 3600.0
#: Register readings further apart than this are an outage: nothing is interpolated across it.
GAP = 2 * HOUR
#: A raw demand sample holds until the next one, for at most this long (the store's default ``max_hold``).
HOLD = 900.0
MeterKind = Literal["register", "demand"]



@dataclass(frozen=True, slots=True)
class Replacement:
    """A register replaced at ``at`` (epoch s): the old one's last reading and the new one's first."""

    at: float
    old_final: float
    new_initial: float


@dataclass(frozen=True, slots=True)
class Meter:
    """How a point measures energy: its kind and the factor from its unit to kWh or kW.

    A register's ``rollover`` is the reading at which it starts again from zero
    (1 000 000 for a six-digit register, 2^32 × scale for a 32-bit count), in the
    point's unit; ``replacements`` are the known changes of the meter.
    """

    kind: MeterKind
    scale: float
    rollover: float | None = None
    replacements: tuple[Replacement, ...] = ()


def meter_of(kind: str, unit: str | None, tags: Sequence[str]) -> Meter | None:
    """The meter a point is, or None: a number in kWh, Wh, MWh, or in kW, W, MW tagged as energy metering."""
    # Tagged as energy metering: elec, gas, meter or energy (the rule is the model's: site files check it).
    got = meter_kind(kind, unit, tags)
    return None if got is None else Meter(got[0], got[1])


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


def week_spans(count: int, until: float, tz: ZoneInfo, first_day: int = 0) -> list[Span]:
    """The ``count`` local weeks up to the one holding ``until``, oldest first.

    A week starts at local midnight of ``first_day`` (0 Monday, as ISO 8601, … 6 Sunday); ``date`` is its
    first day. A week holding a clock change is 167 or 169 hours long.
    """
    today = datetime.fromtimestamp(until, tz).date()
    first = today - timedelta(days=(today.weekday() - first_day) % 7)
    out = []
    for i in range(count - 1, -1, -1):
        day = first - timedelta(days=7 * i)
        out.append(Span(_midnight(day, tz), _midnight(day + timedelta(days=7), tz), day))
    return out


def month_spans(count: int, until: float, tz: ZoneInfo) -> list[Span]:
    """The ``count`` local calendar months up to the one holding ``until``, oldest first; ``date`` its 1st."""
    today = datetime.fromtimestamp(until, tz).date()
    index = today.year * 12 + today.month - 1
    out = []
    for i in range(count - 1, -1, -1):
        first = _month_start(index - i)
        out.append(Span(_midnight(first, tz), _midnight(_month_start(index - i + 1), tz), first))
    return out


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


Bucket = Literal["hour", "day", "week", "month"]


def spans_of(bucket: Bucket, count: int, until: float, tz: ZoneInfo, first_day: int = 0) -> list[Span]:
    """The ``count`` buckets of one kind up to the one holding ``until``, oldest first (site's local time)."""
    if bucket == "hour":
        return hour_spans(count, until)
    if bucket == "day":
        return day_spans(count, until, tz)
    if bucket == "week":
        return week_spans(count, until, tz, first_day)
    return month_spans(count, until, tz)


def previous_span(span: Span, bucket: Bucket, tz: ZoneInfo) -> Span:
    """The bucket just before ``span``, of the same kind (a month before a month, however long)."""
    if bucket == "hour" or span.date is None:
        return Span(span.start - HOUR, span.start)
    if bucket == "day":
        day = span.date - timedelta(days=1)
    elif bucket == "week":
        day = span.date - timedelta(days=7)
    else:
        day = _month_start(span.date.year * 12 + span.date.month - 2)
    return Span(_midnight(day, tz), span.start, day)


def window_kwh(meter: Meter, samples: Sequence[tuple[float, float]], start: float, end: float,
               window: float) -> list[float | None]:
    """kWh in each ``window`` seconds (900 or 1 800) from ``start`` to ``end``, from raw samples.

    ``start`` should sit on the window grid (epoch multiples of 900 are quarter hours in every
    zone). A demand window's energy is its mean kW over the time its samples cover (each held
    until the next, at most ``HOLD``) × its length, when they cover at least half of it; a
    register's is the difference of its readings across it (interpolated, wraps and
    replacements as ``register_steps``), when they cover it whole. Else None.
    """
    n = max(0, math.ceil((end - start) / window))
    ordered = sorted(samples)
    if meter.kind == "register":
        times = [t for t, _v in ordered]
        steps = register_steps(meter, times, [v for _t, v in ordered])
        out: list[float | None] = []
        for i in range(n):
            a = start + i * window
            got = _between(times, steps, a, a + window)
            out.append(got[0] if got is not None and got[1] >= window - 1e-6 else None)
        return out
    energy = [0.0] * n
    covered = [0.0] * n
    for k, (ts, v) in enumerate(ordered):
        nxt = ordered[k + 1][0] if k + 1 < len(ordered) else ts + HOLD
        stop = min(nxt, ts + HOLD, end)
        t = max(ts, start)
        while t < stop:
            i = int((t - start) // window)
            upto = min(stop, start + (i + 1) * window)
            energy[i] += v * meter.scale * (upto - t) / HOUR
            covered[i] += upto - t
            t = upto
    return [e * window / c if c >= window / 2 else None for e, c in zip(energy, covered, strict=True)]


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


def register_steps(meter: Meter, ts: Sequence[float], vs: Sequence[float]) -> list[float | None]:
    """kWh between each reading and the next (None: unknown), with a register's wraps and changes.

    A reading below the one before is, in this order: a configured replacement
    between them (the old register's rest plus the new one's count); a rollover
    (``meter.rollover`` set and the wrapped difference less than half of it); or
    a reset or a replacement nobody configured, whose step is unknown while the
    readings after it count from the new reading. With a rollover, a rise of half
    of it or more in one step is a bad reading (unknown). Should the readings come back
    within ``GAP`` to the level before the drop (a glitch, a register read as 0
    once), they count from that level again, so nothing is counted twice. No step
    is ever negative, and no step is a wrap's or a new meter's whole reading.
    """
    steps: list[float | None] = []
    base: tuple[float, float] | None = None  # the level and time before an unexplained drop
    for j in range(len(ts) - 1):
        a, b = vs[j], vs[j + 1]
        swap = next((r for r in meter.replacements if ts[j] <= r.at < ts[j + 1]), None)
        step: float | None
        if ts[j + 1] - ts[j] > GAP:
            step = None  # an outage: nothing is interpolated across it
        elif swap is not None:
            step = max(swap.old_final - a, 0.0) + max(b - swap.new_initial, 0.0)
            base = None
        elif meter.rollover is not None and b - a >= meter.rollover / 2:
            step = None  # more than half the range in one step: a bad reading, or a wrap backwards
        elif b >= a:
            if base is not None and ts[j + 1] - base[1] > GAP:
                base = None
            if base is not None and b >= base[0]:
                step, base = b - base[0], None  # back to the level before the drop: it was a glitch
            else:
                step = b - a
        elif meter.rollover is not None and 0 <= meter.rollover - a + b < meter.rollover / 2:
            step = meter.rollover - a + b
        else:
            step = None
            if base is None or a > base[0]:
                base = (a, ts[j])
        steps.append(None if step is None else step * meter.scale)
    return steps


def _between(ts: Sequence[float], steps: Sequence[float | None], start: float,
             end: float) -> tuple[float, float] | None:
    """kWh over ``[start, end)`` from readings' steps, interpolated linearly, and the seconds covered."""
    total: float | None = None
    covered = 0.0
    for j in range(max(bisect.bisect_right(ts, start) - 1, 0), len(ts) - 1):
        a, b = ts[j], ts[j + 1]
        if a >= end:
            break
        overlap = min(b, end) - max(a, start)
        step = steps[j]
        if overlap <= 0 or step is None:
            continue  # outside, an outage or a reset: unknown
        total = (total or 0.0) + step * overlap / (b - a)
        covered += overlap
    return None if total is None else (total, covered)


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

    __slots__ = ("_covered", "_first_low", "_from", "_hours", "_kw", "_last", "_last_ts", "_meter", "_pieces",
                 "_starts", "_steps")

    def __init__(
        self,
        meter: Meter,
        hourly: Sequence[RollupRow],
        raw: Sequence[tuple[float, float]] | None = None,
        raw_hour: float | None = None,
    ) -> None:
        """``raw``: the samples (ts, value) of the hour starting at ``raw_hour``, which replace its rollup."""
        self._meter = meter
        self._hours = sorted(hourly, key=lambda r: r.start)
        self._starts = [r.start for r in self._hours]
        rawed = raw_hour is not None and raw is not None
        samples = sorted(s for s in raw or () if raw_hour is not None and raw_hour <= s[0] < raw_hour + HOUR)
        # Demand: stretches of time each holding one kW, keyed by where they may start, sorted.
        self._pieces: list[float] = []
        self._kw: list[float | None] = []
        self._covered: list[float] = []
        self._from: list[float] = []
        if meter.kind == "demand":
            previous: RollupRow | None = None
            pending = rawed  # the raw hour's pieces, placed in time order among the hours
            for r in self._hours:
                if pending and raw_hour is not None and r.start >= raw_hour:
                    self._raw_pieces(samples, raw_hour, previous)
                    pending = False
                    if r.start == raw_hour:
                        previous = r
                        continue  # its rollup is replaced by its samples
                kw = r.tw_mean if r.tw_mean is not None else r.mean
                self._pieces.append(r.start)
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
            if pending and raw_hour is not None:
                self._raw_pieces(samples, raw_hour, previous)
        readings = [(r.last_ts, r.last) for r in self._hours
                    if r.last is not None and r.last_ts is not None and not (rawed and r.start == raw_hour)]
        first_low: float | None = None
        if rawed:
            readings = sorted(readings + [(ts, v) for ts, v in samples])
        # The lowest reading of the hour holding the first reading: the count before it in that hour
        # (a raw reading is itself the first count).
        first = next((r for r in self._hours if r.last is not None and r.last_ts is not None), None)
        if readings and first is not None and readings[0] == (first.last_ts, first.last):
            first_low = first.min
        self._last_ts: list[float] = [ts for ts, _v in readings]
        self._last: list[float] = [v for _ts, v in readings]
        self._steps = register_steps(meter, self._last_ts, self._last)
        self._first_low = first_low

    def _raw_pieces(
        self, samples: Sequence[tuple[float, float]], hour: float, before: RollupRow | None
    ) -> None:
        """The hour from ``hour`` as raw samples, each held until the next one (at most ``HOLD``)."""
        held = list(samples)
        carry = before.last_ts + HOLD if (
            before is not None and before.last is not None and before.last_ts is not None
            and before.last_ts < hour) else None
        if carry is not None and before is not None and before.last is not None:
            held.insert(0, (hour, before.last))  # the value carried in from the hour before
        for i, (ts, v) in enumerate(held):
            nxt = held[i + 1][0] if i + 1 < len(held) else hour + HOUR
            limit = carry if i == 0 and carry is not None else ts + HOLD
            stop = min(nxt, hour + HOUR, limit)
            if stop <= ts:
                continue
            self._pieces.append(ts)
            self._kw.append(v * self._meter.scale)
            self._covered.append(stop - ts)
            self._from.append(ts)

    def energy(self, start: float, end: float) -> float | None:
        """kWh over ``[start, end)``: None when nothing is known of it."""
        if self._meter.kind == "demand":
            return self._demand(start, end)
        got = self._register(start, end)
        return None if got is None else got[0]

    def _demand(self, start: float, end: float) -> float | None:
        lo = bisect.bisect_right(self._pieces, start - HOUR)
        hi = bisect.bisect_left(self._pieces, end)
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
        if ts and start <= ts[0] < end and self._first_low is not None and self._first_low <= vs[0]:
            # No reading before the meter's first: count from the lowest reading of its first hour.
            total = (vs[0] - self._first_low) * self._meter.scale
        got = _between(ts, self._steps, start, end)
        if got is None:
            return None if total is None else (total, 0.0)
        return (got[0] + (total or 0.0), got[1])

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


# --- which points make one meter -------------------------------------------------------------

_COMMODITIES = ("elec", "gas", "water", "steam", "heat", "chilled")
#: Words of a point's name or description that say what it measures, not which meter it is.
_MEASURES = frozenset({"kw", "kwh", "w", "wh", "mw", "mwh", "power", "energy", "demand", "consumption"})
_SUBMETER_OF = "submeterOf:"


@dataclass(frozen=True, slots=True)
class MeterGroup:
    """One meter: its register (kWh) and its demand point (kW), and where it stands among the site's meters.

    ``id`` is the point id of its register, else of its demand point. ``main``: a main meter of the
    site (its equipment is tagged ``siteMeter`` and it is no sub-meter); ``parent``: the id of the
    meter it is a sub-meter of.
    """

    id: str
    equipment: str
    name: str
    commodity: str | None
    energy: str | None
    power: str | None
    main: bool
    parent: str | None


def _stem(name: str) -> str:
    """A point's name without the words of what it measures: ``elec-kwh`` and ``elec-kw`` are ``elec``."""
    return "-".join(w for w in re.split(r"[-_ .]+", name.lower()) if w and w not in _MEASURES)


def _part(description: str, stem: str, name: str) -> str:
    """What a meter in an equipment of several is, from its point's description ("Lighting demand")."""
    text = re.sub(r"\([^)]*\)", " ", description)
    text = re.sub(r"\b(?:" + "|".join(sorted(_MEASURES)) + r")\b", " ", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r" ([:,])", r"\1", text).strip(" :,.-")
    return text[0].upper() + text[1:] if text else stem or name


@dataclass(slots=True)
class _Draft:
    equipment: Equipment
    points: list[Point]
    energy: str | None = None
    power: str | None = None
    register: Point | None = None


def _commodity(tags: Sequence[str]) -> str | None:
    return next((c for c in _COMMODITIES if c in tags), None)


def meter_groups(points: Sequence[tuple[str, Equipment, Point, Meter]]) -> list[MeterGroup]:
    """The site's meters from its meter points, main meters first, each sub-meter after its parent.

    Points are one meter when they belong to one equipment and their names differ only in
    the words of what they measure (``elec-kw``, ``elec-kwh``). A sub-meter names its parent
    by a tag ``submeterOf:<equipment>`` or ``submeterOf:<equipment>/<point>`` (on the point or
    its equipment), or is fed by an equipment of type meter (``feeds``); in one equipment holding
    several meters of one commodity, the one with a register (else the one named after the
    commodity) is the parent of those without.
    """
    drafts: dict[tuple[str, str], _Draft] = {}
    equipment: dict[str, Equipment] = {}
    for pid, equip, point, meter in points:
        equipment[equip.id] = equip
        key = (equip.id, _stem(point.name))
        d = drafts.get(key)
        if d is not None and (d.energy if meter.kind == "register" else d.power) is not None:
            key = (equip.id, point.name)  # a second register of one name: a meter of its own
            d = None
        if d is None:
            d = drafts[key] = _Draft(equip, [])
        if meter.kind == "register":
            d.energy, d.register = pid, point
        else:
            d.power = pid
        d.points.append(point)
    order = list(drafts)
    per_equip: dict[str, list[tuple[str, str]]] = {}
    for key in order:
        per_equip.setdefault(key[0], []).append(key)
    built: dict[tuple[str, str], MeterGroup] = {}
    by_point: dict[str, tuple[str, str]] = {}
    for key, d in drafts.items():
        equip = d.equipment
        commodity = _commodity([t for p in d.points for t in p.tags])
        if commodity is None and sum(c in equip.tags for c in _COMMODITIES) == 1:
            commodity = _commodity(equip.tags)
        if len(per_equip[key[0]]) == 1:
            name = equip.name or equip.id
        else:
            # Named by its register where it has one (the card shows its energy).
            named = d.register or d.points[0]
            name = _part(named.description, key[1], named.name)
        gid = d.energy or d.power or ""
        built[key] = MeterGroup(gid, equip.id, name, commodity, d.energy, d.power, False, None)
        for p in d.points:
            by_point[f"{equip.id}/{p.name}"] = key
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def first_of(equip_id: str, commodity: str | None) -> tuple[str, str] | None:
        keys = per_equip.get(equip_id, [])
        same = [k for k in keys if built[k].commodity == commodity and parent.get(k) is None]
        return (same or keys)[0] if keys else None

    # Inside one equipment: the meter with a register (else named after the commodity) is the parent
    # of the others of its commodity that have none.
    for keys in per_equip.values():
        for commodity in {built[k].commodity for k in keys if built[k].commodity is not None}:
            same = [k for k in keys if built[k].commodity == commodity]
            head = next((k for k in same if built[k].energy is not None), None) or next(
                (k for k in same if k[1] == commodity), None)
            if head is None:
                continue
            for k in same:
                if k != head and built[k].energy is None:
                    parent[k] = head
    # Configured: feeds, then submeterOf tags (these win).
    for e in equipment.values():
        if e.type != "meter":
            continue  # a chiller feeding an AHU water is no meter of the AHU's electricity
        for fed in e.feeds:
            for k in per_equip.get(fed, []):
                if k not in parent and (head := first_of(e.id, built[k].commodity)) is not None:
                    parent[k] = head
    for key in order:
        tags = [t for p in drafts[key].points for t in p.tags] + list(equipment[key[0]].tags)
        refs = [t[len(_SUBMETER_OF):] for t in tags if t.startswith(_SUBMETER_OF)]
        for ref in refs:
            head = by_point.get(ref) or first_of(ref, built[key].commodity)
            if head is not None and head != key:
                parent[key] = head
                break
    # Two meters of one name: named after their part in different equipment (two meters' "kwh"
    # registers), each says whose it is; in one equipment ("Chiller electric" twice), which point.
    holders: dict[str, list[str]] = {}
    for m in built.values():
        holders.setdefault(m.name, []).append(m.equipment)
    for key, m in built.items():
        whose = holders[m.name]
        if len(whose) == 1:
            continue
        name = m.name
        if len(set(whose)) > 1 and len(per_equip[key[0]]) > 1:
            equip = equipment[key[0]]
            name = f"{equip.name or equip.id}: {name}"
        if whose.count(m.equipment) > 1 or name == m.name:
            which = key[1] or (m.energy or m.power or "").rsplit("/", 1)[-1]
            name = f"{name} ({which})"
        built[key] = replace(m, name=name)
    out: list[MeterGroup] = []
    for key in order:
        m = built[key]
        up = parent.get(key)
        main = up is None and "siteMeter" in equipment[key[0]].tags
        out.append(MeterGroup(m.id, m.equipment, m.name, m.commodity, m.energy, m.power, main,
                              None if up is None else built[up].id))
    # Main meters first, then the rest; each sub-meter right after its parent where it has one.
    rank = {m.id: i for i, m in enumerate(sorted(out, key=lambda m: not m.main))}

    def place(m: MeterGroup) -> tuple[int, int]:
        return (rank[m.parent], 1) if m.parent is not None and m.parent in rank else (rank[m.id], 0)
    return sorted(out, key=lambda m: (*place(m), rank[m.id]))
