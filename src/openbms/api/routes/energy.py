"""``/api/v1/sites/{site}/energy`` and ``…/analytics/consumption|cost|peaks``: energy, cost and demand.

``/energy`` is the energy of the site's meters per hour or per local day (the
dashboard's Energy page). ``/analytics/consumption`` is energy per hour, day,
week or month of meters, virtual meters, equipment, spaces or the site, with
energy per m² and the periods before; ``/analytics/cost`` prices a tariff's
meters per period; ``/analytics/peaks`` is the highest 15- or 30-minute demand
per period. The computation is ``openbms.analytics``' (``energy``,
``consumption``, ``tariffs``); these routes pick the meters, fetch their
hourly rollups (and raw samples for demand windows) through the store and run
the arithmetic in a worker thread. The dashboard does no calendar arithmetic
of its own. ``format=csv|xlsx`` on ``/analytics/…`` downloads the answer as a
file (``api.export_tables``). Access: ``history:read`` on the site.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from openbms.analytics.consumption import Group, PointMeter, Virtual, configured, groups_of
from openbms.analytics.energy import (
    GAP,
    HOLD,
    HOUR,
    Bucket,
    Meter,
    MeterSeries,
    Span,
    day_spans,
    hour_spans,
    meter_groups,
    meter_of,
    same_time_in,
    spans_of,
)
from openbms.analytics.tariffs import cost_of, holidays_of, peak_of
from openbms.api.auth.permissions import require, visible_sites
from openbms.api.auth.principal import Principal
from openbms.api.errors import invalid_field, not_found
from openbms.api.export_tables import EXPORT_RESPONSES, Column, Table, export_response, filename_of
from openbms.api.helpers import (
    MAX_JSON_ROWS,
    finite,
    parse_site_time,
    parse_time,
    requested_points,
    runtime_of,
    site_config,
)
from openbms.api.site_index import Entry, site_index
from openbms.historian.base import RawRow, RollupSeries
from openbms.model.calendar import Calendar
from openbms.model.tariff import Tariff

__all__ = ["MAX_BUCKETS", "router"]

router = APIRouter(prefix="/api/v1", tags=["energy"])

MAX_BUCKETS = 1000
#: Raw samples of the hour in progress read per meter (a sample a second is 3 600).
MAX_RAW = 20_000


class EnergyBucketOut(BaseModel):
    """The energy of one hour or one local day ``[start, end)``."""

    start: float
    end: float
    date: str | None = Field(None, description="the local date of a day (YYYY-MM-DD); null for hours")
    kwh: float | None = Field(description="null: nothing known of it (no readings, or only a gap or a reset)")
    partial: bool = Field(
        False, description="the bucket holds `until` (the hour or day in progress): its energy so far"
    )


class PeakOut(BaseModel):
    """The highest hourly demand of a meter."""

    kw: float
    at: float = Field(description="start of its hour, epoch s")


class MeterEnergyOut(BaseModel):
    """One meter's energy per bucket."""

    point: str
    equipment: str
    name: str
    description: str
    unit: str | None
    kind: Literal["register", "demand"]
    site_meter: bool = Field(description="its equipment is tagged siteMeter: a total of the site")
    buckets: list[EnergyBucketOut]
    previous_same_time_kwh: float | None = Field(
        description="the bucket before the last, up to the (local) time of day `until` has in the last"
    )
    peak: PeakOut | None = Field(description="over all the buckets")


class MeterOut(BaseModel):
    """One meter: the points that measure it (kWh and kW of one equipment) and its place among the meters."""

    id: str = Field(description="the point id of its register (kWh), else of its demand point (kW)")
    equipment: str
    equipment_name: str
    name: str = Field(description="the equipment's name, or the meter's part of it when it holds several")
    commodity: str | None = Field(description="elec, gas, water, steam, heat or chilled, from its tags")
    energy: str | None = Field(description="its register's point id: its series gives the meter's energy")
    power: str | None = Field(description="its demand point's id: peak and energy when it has no register")
    main: bool = Field(description="a main meter of the site (equipment tagged siteMeter, not a sub-meter)")
    parent: str | None = Field(description="the id of the meter this is a sub-meter of")


class EnergyOut(BaseModel):
    """Energy of meters per hour or per local day of the site."""

    site: str
    timezone: str
    bucket: Literal["hour", "day"]
    until: float
    series: list[MeterEnergyOut]
    meters: list[MeterOut] = Field(
        description="the meters the series make up, main meters first, each sub-meter after its parent"
    )


def _meters(request: Request, site_id: str, requested: Sequence[str] | None) -> list[tuple[Entry, Meter]]:
    """The meters asked for (every meter of the site, site meters first, when none are named)."""
    cfg = site_config(runtime_of(request), site_id)
    index = site_index(cfg)
    if requested:
        out = []
        for entry in requested_points(site_id, requested, index.entry):
            pid = entry[0]
            meter = meter_of(entry[3].kind, entry[3].unit, entry[3].tags)
            if meter is None:
                raise invalid_field(
                    ["query", "points"],
                    f"{pid} is not a meter: expected a number point in kWh, Wh or MWh, "
                    "or in kW, W or MW tagged elec, gas, meter or energy",
                )
            out.append((entry, configured(cfg, pid, meter)))
        return out
    found = [(e, configured(cfg, e[0], m)) for e in index.entries
             if (m := meter_of(e[3].kind, e[3].unit, e[3].tags)) is not None]
    return sorted(found, key=lambda em: "siteMeter" not in em[0][2].tags)


def _energy_of(
    meter: Meter,
    rollups: RollupSeries,
    raw: Sequence[RawRow],
    spans: Sequence[Span],
    end: float,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """One meter's buckets, same time in the bucket before and peak (the CPU-bound part: off the loop).

    ``raw``: the samples of the hour holding ``end``, which its rollup cannot place in the hour.
    """
    samples = [(ts, float(v)) for ts, v, _st in raw
               if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
    got = MeterSeries(meter, rollups.rows(), raw=samples, raw_hour=(end // HOUR) * HOUR)
    buckets = [
        {
            "start": s.start,
            "end": s.end,
            "date": None if s.date is None else s.date.isoformat(),
            "kwh": finite(got.energy(s.start, min(s.end, end))),
            "partial": s.end > end,
        }
        for s in spans
    ]
    same = None
    if len(spans) > 1:
        same = got.energy(spans[-2].start, same_time_in(spans[-2], spans[-1], end, tz))
    peak = got.peak(spans[0].start, end)
    return {
        "buckets": buckets,
        "previous_same_time_kwh": finite(same),
        "peak": None if peak is None else {"kw": peak[0], "at": peak[1]},
    }


@router.get("/sites/{site_id}/energy", response_model=EnergyOut)
async def get_energy(
    request: Request,
    site_id: str,
    points: list[str] | None = Query(
        None, description="Meters (equipment/name or site/equipment/name); default every meter of the site."
    ),
    bucket: Literal["hour", "day"] = Query("day", description="Hours, or the site's local days."),
    count: int = Query(7, ge=1, le=MAX_BUCKETS, description="How many buckets; the last holds `until`."),
    until: str | None = Query(None, max_length=64, description="End (ISO 8601 or epoch s); default now."),
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """Energy of the site's meters per hour or local day, from the historian's hourly rollups.

    The hour holding ``until`` is computed from its raw samples, and the bucket holding it is
    ``partial``; ``meters`` groups the series into meters (kWh and kW of one meter together).
    """
    runtime = runtime_of(request)
    cfg = site_config(runtime_of(request), site_id)
    tz = ZoneInfo(cfg.site.timezone)
    meters = _meters(request, site_id, points)
    end = parse_site_time(until, "until", cfg.site.timezone)
    end = runtime.clock.now() if end is None else end
    try:
        spans = hour_spans(count, end) if bucket == "hour" else day_spans(count, end, tz)
    except (OverflowError, ValueError):  # a local day past 9999-12-31
        raise invalid_field(["query", "until"], "expected a time before 9999-12-30") from None
    # A day before the first bucket and two hours past the last: a register's readings around their ends.
    since = spans[0].start - 86_400.0
    rows = len(meters) * math.ceil((end + GAP - since) / HOUR)
    if rows > MAX_JSON_ROWS:
        raise invalid_field(
            ["query", "count"],
            f"this asks for about {rows} hourly rows, more than the {MAX_JSON_ROWS} allowed: "
            "ask for fewer buckets or fewer points",
            "too_many_rows",
        )
    series: list[dict[str, Any]] = []
    hour = (end // HOUR) * HOUR
    for (pid, _site, equip, point), meter in meters:
        rollups = await runtime.historian.rollups(pid, "hour", since, end + GAP)
        raw = await runtime.historian.raw_rows(pid, hour, hour + HOUR, limit=MAX_RAW)
        # Up to 200 000 rows of arithmetic: in a worker thread, so that the loop keeps serving everyone else.
        got = await asyncio.to_thread(_energy_of, meter, rollups, raw, spans, end, tz)
        series.append(
            {
                "point": pid,
                "equipment": equip.id,
                "name": point.name,
                "description": point.description,
                "unit": point.unit,
                "kind": meter.kind,
                "site_meter": "siteMeter" in equip.tags,
                **got,
            }
        )
    groups = meter_groups([(pid, equip, point, meter) for (pid, _s, equip, point), meter in meters])
    names = {e.id: e.name or e.id for e in cfg.equipment}
    return {
        "site": site_id,
        "timezone": cfg.site.timezone,
        "bucket": bucket,
        "until": end,
        "series": series,
        "meters": [{**asdict(g), "equipment_name": names.get(g.equipment, g.equipment)} for g in groups],
    }


# --- /analytics: consumption, cost and peaks of meters, virtual meters, equipment, spaces, the site -------

#: Raw samples read per meter for 15/30-minute windows (a month of samples every 15 s is 178 560).
MAX_WINDOW_RAW = 200_000
MAX_PERIODS = 400
_FIRST_DAY = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                           "sunday"))}


class PeriodOut(BaseModel):
    """One period ``[start, end)`` of a consumption series."""

    start: float
    end: float
    date: str | None = Field(None, description="the local date the period starts on; null for hours")
    kwh: float | None = Field(description="null: not known (no readings, or a gap or a reset)")
    partial: bool = Field(False, description="the period holds `until`: its energy so far")
    previous_kwh: float | None = Field(
        None, description="with compare: the period as long before it (the month before a month)")
    kwh_per_m2: float | None = Field(None, description="energy per m² of the area served (EUI); else null")


class SeriesOut(BaseModel):
    """The consumption of one meter, virtual meter, equipment, space or site (one commodity)."""

    id: str
    kind: Literal["meter", "virtual", "equipment", "space", "site"]
    name: str
    commodity: str | None
    meters: list[str] = Field(description="the meters added up (point ids); a virtual meter's are signed")
    subtract: list[str] = Field(description="the meters taken away (virtual meters)")
    area_m2: float | None
    periods: list[PeriodOut]
    total_kwh: float | None = Field(description="over every period; null when one is unknown")
    previous_total_kwh: float | None = Field(None, description="with compare: the periods before, as many")
    change_pct: float | None = Field(None, description="with compare: total against previous, in %")
    kwh_per_m2: float | None = Field(None, description="total energy per m² (EUI over the periods)")


class ConsumptionOut(BaseModel):
    """Energy per hour, local day, week or month of the site's meters, grouped as asked."""

    site: str
    name: str
    timezone: str
    bucket: Literal["hour", "day", "week", "month"]
    week_start: str
    until: float
    by: Literal["meter", "equipment", "space", "site"]
    series: list[SeriesOut]


def _first_day(cfg: Any) -> int:
    return _FIRST_DAY[cfg.energy.week_start]


def _periods(bucket: Bucket, count: int, end: float, tz: ZoneInfo, first_day: int) -> list[Span]:
    try:
        return spans_of(bucket, count, end, tz, first_day)
    except (OverflowError, ValueError):  # a local day past 9999-12-31
        raise invalid_field(["query", "until"], "expected a time before 9999-12-01") from None


def _meter_points(cfg: Any) -> dict[str, tuple[Entry, Meter]]:
    """Every meter point of the site, by point id, with its counter settings."""
    index = site_index(cfg)
    out: dict[str, tuple[Entry, Meter]] = {}
    for e in index.entries:
        meter = meter_of(e[3].kind, e[3].unit, e[3].tags)
        if meter is not None:
            out[e[0]] = (e, configured(cfg, e[0], meter))
    return out


def _groups(cfg: Any, points: dict[str, tuple[Entry, Meter]], by: str,
            wanted: Sequence[str] | None) -> list[Group]:
    """The series asked for; ``wanted`` (meters=…) narrows meters and virtual meters by id."""
    site_id = cfg.site.id
    found = meter_groups([(pid, e[2], e[3], m) for pid, (e, m) in points.items()])
    groups = groups_of(cfg, found, by, cfg.energy.virtual_meters)  # type: ignore[arg-type]
    if not wanted:
        return groups
    tokens = [t for item in wanted for raw in item.split(",") if (t := raw.strip())]
    out = []
    for token in tokens:
        pid = token if token.count("/") == 2 else f"{site_id}/{token}"
        hit = next((g for g in groups if g.id in (token, pid)), None)
        if hit is None and pid in points:  # a meter's other point (its kW beside its kWh)
            entry = points[pid][0]
            hit = Group(pid, "meter", entry[3].name, None, ((1.0, pid),))
        if hit is None:
            raise not_found(f"no meter {token!r}")
        out.append(hit)
    return out


async def _point_meters(
    runtime: Any, points: dict[str, tuple[Entry, Meter]], wanted: set[str], since: float, end: float,
    raw_since: float | None,
) -> dict[str, PointMeter]:
    """The meters' data: hourly rollups (and the last hour's samples), and raw samples for windows."""
    hours = math.ceil((end + GAP - since) / HOUR) * len(wanted)
    if hours > MAX_JSON_ROWS:
        raise invalid_field(["query", "count"], f"this asks for about {hours} hourly rows, more than the "
                            f"{MAX_JSON_ROWS} allowed: ask for fewer periods or fewer meters",
                            "too_many_rows")
    out: dict[str, PointMeter] = {}
    hour = (end // HOUR) * HOUR
    for pid in sorted(wanted):
        if pid not in points:
            continue
        meter = points[pid][1]
        rollups = await runtime.historian.rollups(pid, "hour", since, end + GAP)
        raw = await runtime.historian.raw_rows(pid, hour, hour + HOUR, limit=MAX_RAW)
        window_raw: Sequence[RawRow] = ()
        if raw_since is not None:
            window_raw = await runtime.historian.raw_rows(pid, raw_since - HOLD, end, limit=MAX_WINDOW_RAW)
        out[pid] = await asyncio.to_thread(_point_meter, meter, rollups, raw, end, window_raw)
    return out


def _numbers(rows: Sequence[RawRow]) -> list[tuple[float, float]]:
    return [(ts, float(v)) for ts, v, _st in rows
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]


def _point_meter(meter: Meter, rollups: RollupSeries, raw: Sequence[RawRow], end: float,
                 window_raw: Sequence[RawRow]) -> PointMeter:
    series = MeterSeries(meter, rollups.rows(), raw=_numbers(raw), raw_hour=(end // HOUR) * HOUR)
    return PointMeter(meter, series, _numbers(window_raw))


def _data(group: Group, data: dict[str, PointMeter]) -> Virtual | None:
    parts = [(sign, data[pid]) for sign, pid in group.members if pid in data]
    return Virtual(parts) if parts and len(parts) == len(group.members) else None


def _period(s: Span, end: float) -> dict[str, Any]:
    return {"start": s.start, "end": s.end, "date": None if s.date is None else s.date.isoformat(),
            "partial": s.end > end}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else finite(a / b)


def _consumption(groups: Sequence[Group], data: dict[str, PointMeter], spans: Sequence[Span], end: float,
                 previous: Sequence[Span] | None) -> list[dict[str, Any]]:
    out = []
    for g in groups:
        meter = _data(g, data)
        periods = []
        for i, s in enumerate(spans):
            kwh = None if meter is None else finite(meter.energy(s.start, min(s.end, end)))
            before = None
            if previous is not None and meter is not None:
                p = previous[i]
                before = finite(meter.energy(p.start, p.end))
            periods.append({**_period(s, end), "kwh": kwh, "previous_kwh": before,
                            "kwh_per_m2": _ratio(kwh, g.area_m2)})
        values = [p["kwh"] for p in periods]
        total = None if any(v is None for v in values) else sum(values)
        row: dict[str, Any] = {
            "id": g.id, "kind": g.kind, "name": g.name, "commodity": g.commodity,
            "meters": [pid for sign, pid in g.members if sign > 0],
            "subtract": [pid for sign, pid in g.members if sign < 0],
            "area_m2": g.area_m2, "periods": periods, "total_kwh": total,
            "kwh_per_m2": _ratio(total, g.area_m2),
        }
        if previous is not None:
            before_values = [p["previous_kwh"] for p in periods]
            before_total = None if any(v is None for v in before_values) else sum(before_values)
            row["previous_total_kwh"] = before_total
            diff = None if total is None or before_total is None else total - before_total
            change = _ratio(diff, before_total)
            row["change_pct"] = None if change is None else change * 100
        out.append(row)
    return out


#: ``format=``: the JSON answer, or a download of its series (``api.export_tables``).
_FORMAT = Query("json", description="json, or a download: csv or xlsx (a row per series and period; units "
                "in the header, times in the site's local time).")
Format = Literal["json", "csv", "xlsx"]


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def consumption_table(body: dict[str, Any]) -> Table:
    """A row per series and period of a consumption answer."""
    columns = (Column("series", kind="text"), Column("kind", kind="text"), Column("name", kind="text"),
               Column("commodity", kind="text"), Column("start", kind="time"), Column("end", kind="time"),
               Column("date", kind="text"), Column("energy", "kWh"), Column("partial", kind="text"),
               Column("previous energy", "kWh"), Column("energy per area", "kWh/m²"))
    rows = [[s["id"], s["kind"], s["name"], s["commodity"], p["start"], p["end"], p["date"], p["kwh"],
             _yes(p["partial"]), p.get("previous_kwh"), p.get("kwh_per_m2")]
            for s in body["series"] for p in s["periods"]]
    return Table("Consumption", columns, rows)


@router.get("/sites/{site_id}/analytics/consumption", response_model=ConsumptionOut,
            responses=EXPORT_RESPONSES)
async def get_consumption(
    request: Request,
    site_id: str,
    bucket: Literal["hour", "day", "week", "month"] = Query("day", description="Periods in local time."),
    count: int = Query(7, ge=1, le=MAX_PERIODS, description="How many periods; the last holds `until`."),
    until: str | None = Query(None, max_length=64, description="End (ISO 8601 or epoch s); default now."),
    by: Literal["meter", "equipment", "space", "site"] = Query(
        "site", description="One series per meter (and virtual meter), equipment, space or the site."),
    meters: list[str] | None = Query(
        None, description="With by=meter: these meters only (equipment/point, or a virtual meter's id)."),
    compare: bool = Query(False, description="Also the periods before, as many (previous_kwh, change_pct)."),
    format: Format = _FORMAT,
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """Energy per period of meters, virtual meters, equipment, spaces or the site, with EUI and comparison.

    Weeks start on the site's ``energy: week_start`` (Monday by default); months are calendar months;
    days are 23 or 25 hours on a clock change. An equipment's, a space's and the site's series add up
    their meters without counting a sub-meter with its parent, one series per commodity.
    """
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    end = parse_site_time(until, "until", cfg.site.timezone)
    end = runtime.clock.now() if end is None else end
    if meters and by != "meter":
        raise invalid_field(["query", "meters"], "meters= names meters: use it with by=meter")
    body = await _site_consumption(runtime, cfg, bucket, count, end, by, meters, compare)
    if format != "json":
        return export_response([consumption_table(body)], format,
                               filename_of(site_id, "consumption", bucket), ZoneInfo(cfg.site.timezone))
    return body


async def _site_consumption(runtime: Any, cfg: Any, bucket: Bucket, count: int, end: float, by: str,
                            meters: Sequence[str] | None, compare: bool) -> dict[str, Any]:
    tz = ZoneInfo(cfg.site.timezone)
    spans = _periods(bucket, count * (2 if compare else 1), end, tz, _first_day(cfg))
    previous = spans[:count] if compare else None
    spans = spans[-count:]
    points = _meter_points(cfg)
    groups = _groups(cfg, points, by, meters)
    wanted = {pid for g in groups for _sign, pid in g.members}
    first = (previous or spans)[0].start
    data = await _point_meters(runtime, points, wanted, first - 86_400.0, end, None)
    series = await asyncio.to_thread(_consumption, groups, data, spans, end, previous)
    return {"site": cfg.site.id, "name": cfg.site.name, "timezone": cfg.site.timezone, "bucket": bucket,
            "week_start": cfg.energy.week_start, "until": end, "by": by, "series": series}


class PortfolioOut(BaseModel):
    """Each site's own consumption (its main meters per commodity), to compare sites by EUI and change."""

    bucket: Literal["day", "week", "month"]
    until: float
    sites: list[ConsumptionOut]


@router.get("/analytics/consumption", response_model=PortfolioOut)
async def get_portfolio_consumption(
    request: Request,
    sites: list[str] | None = Query(None, description="These sites (ids, comma lists); default every one."),
    bucket: Literal["day", "week", "month"] = Query("month", description="Periods in each site's local time"),
    count: int = Query(1, ge=1, le=62, description="How many periods; the last holds `until`."),
    until: str | None = Query(None, max_length=64, description="End (ISO 8601 or epoch s); default now."),
    compare: bool = Query(False, description="Also the periods before, as many (previous_kwh, change_pct)."),
    user: Principal = require("history:read"),
) -> Any:
    """The site series (``by=site``) of every site the caller may read history of, side by side.

    Each site's periods are its own local days, weeks or months; ``kwh_per_m2`` (from each
    site's ``area_m2``) makes sites of different sizes comparable. A site the caller may not
    read, or that does not run here, is left out, as if it did not exist.
    """
    runtime = runtime_of(request)
    end = parse_time(until, "until")  # the portfolio's sites may be in several time zones
    end = runtime.clock.now() if end is None else end
    running = [s.site.id for s in runtime.sites]
    wanted = [t for item in sites or () for raw in item.split(",") if (t := raw.strip())]
    visible = visible_sites(user, running, "history:read")
    chosen = [s for s in visible if not wanted or s in wanted]
    configs = {c.site.id: c for c in runtime.sites}
    out = [await _site_consumption(runtime, configs[s], bucket, count, end, "site", None, compare)
           for s in chosen]
    return {"bucket": bucket, "until": end, "sites": out}


class PeakWindowOut(BaseModel):
    """The highest mean demand over one window of a period."""

    start: float
    end: float
    date: str | None
    kw: float | None = Field(description="null: no window of the period is known")
    at: float | None = Field(description="the window's start, epoch s")
    partial: bool = False


class PeakSeriesOut(BaseModel):
    """Peak demand per period of one meter, virtual meter or the site (one commodity)."""

    id: str
    kind: Literal["meter", "virtual", "equipment", "space", "site"]
    name: str
    commodity: str | None
    periods: list[PeakWindowOut]


class PeaksOut(BaseModel):
    """Peak demand per period, over 15- or 30-minute windows, from raw samples."""

    site: str
    timezone: str
    bucket: Literal["day", "week", "month"]
    window_minutes: Literal[15, 30]
    until: float
    series: list[PeakSeriesOut]


def _peaks(groups: Sequence[Group], data: dict[str, PointMeter], spans: Sequence[Span], end: float,
           window: float, tz: ZoneInfo) -> list[dict[str, Any]]:
    out = []
    for g in groups:
        meter = _data(g, data)
        periods = []
        for s in spans:
            peak = None if meter is None else peak_of(meter.windows, s.start, min(s.end, end), window, tz)
            periods.append({**_period(s, end), "kw": None if peak is None else finite(peak.kw),
                            "at": None if peak is None else peak.at})
        out.append({"id": g.id, "kind": g.kind, "name": g.name, "commodity": g.commodity, "periods": periods})
    return out


def peaks_table(body: dict[str, Any]) -> Table:
    """A row per series and period of a peaks answer."""
    columns = (Column("series", kind="text"), Column("kind", kind="text"), Column("name", kind="text"),
               Column("commodity", kind="text"), Column("start", kind="time"), Column("end", kind="time"),
               Column("date", kind="text"), Column(f"peak {body['window_minutes']}-minute demand", "kW"),
               Column("window start", kind="time"), Column("partial", kind="text"))
    rows = [[s["id"], s["kind"], s["name"], s["commodity"], p["start"], p["end"], p["date"], p["kw"], p["at"],
             _yes(p["partial"])] for s in body["series"] for p in s["periods"]]
    return Table("Peaks", columns, rows)


@router.get("/sites/{site_id}/analytics/peaks", response_model=PeaksOut, responses=EXPORT_RESPONSES)
async def get_peaks(
    request: Request,
    site_id: str,
    # An int checked below: a Literal[15, 30] query refused every given value ("30" is a string).
    window: int = Query(15, description="Minutes a demand window lasts: 15 or 30."),
    bucket: Literal["day", "week", "month"] = Query("month", description="Periods in the site's local time."),
    count: int = Query(1, ge=1, le=62, description="How many periods; the last holds `until`."),
    until: str | None = Query(None, max_length=64, description="End (ISO 8601 or epoch s); default now."),
    by: Literal["meter", "site"] = Query("site", description="A series per meter (or virtual one), or site."),
    meters: list[str] | None = Query(None, description="With by=meter: these meters only."),
    format: Format = _FORMAT,
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """The highest mean demand over a 15- or 30-minute window in each period, and when it began.

    A demand point's window is its time-weighted mean kW; a register's is its energy across the
    window × 60 / minutes. Computed from raw samples (a window is known when they cover half of it
    for demand, all of it for a register).
    """
    if window not in (15, 30):
        raise invalid_field(["query", "window"], f"window={window}: expected 15 or 30 (minutes)")
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    tz = ZoneInfo(cfg.site.timezone)
    end = parse_site_time(until, "until", cfg.site.timezone)
    end = runtime.clock.now() if end is None else end
    spans = _periods(bucket, count, end, tz, _first_day(cfg))
    points = _meter_points(cfg)
    if meters and by != "meter":
        raise invalid_field(["query", "meters"], "meters= names meters: use it with by=meter")
    groups = _groups(cfg, points, by, meters)
    wanted = {pid for g in groups for _sign, pid in g.members}
    data = await _point_meters(runtime, points, wanted, spans[0].start - 86_400.0, end, spans[0].start)
    series = await asyncio.to_thread(_peaks, groups, data, spans, end, window * 60.0, tz)
    body = {"site": site_id, "timezone": cfg.site.timezone, "bucket": bucket, "window_minutes": window,
            "until": end, "series": series}
    if format != "json":
        return export_response([peaks_table(body)], format, filename_of(site_id, "peaks", bucket), tz)
    return body


class CostLineOut(BaseModel):
    """One line of a bill."""

    kind: Literal["energy", "demand", "fixed"]
    name: str
    quantity: float = Field(description="kWh, kW, days or months (a share of one)")
    unit: str
    rate: float = Field(description="per kWh, per kW, per day or per month")
    amount: float
    at: float | None = Field(None, description="a demand charge's window start")


class CostPeriodOut(BaseModel):
    """The cost of one meter over one period."""

    start: float
    end: float
    date: str | None
    partial: bool
    kwh: float | None
    energy_cost: float
    demand_cost: float | None = Field(description="null for a period that is no calendar month")
    fixed_cost: float
    total: float
    unknown_s: float = Field(description="seconds whose energy is unknown: not priced")
    lines: list[CostLineOut]


class CostSeriesOut(BaseModel):
    """One priced meter (a point or a virtual meter)."""

    meter: str
    name: str
    periods: list[CostPeriodOut]


class CostOut(BaseModel):
    """The cost of the tariff's meters per period, in its currency."""

    site: str
    timezone: str
    tariff: str
    currency: str
    bucket: Literal["day", "week", "month"]
    until: float
    series: list[CostSeriesOut]
    totals: list[float] = Field(description="per period, the sum over the meters")


def _costs(tariff: Tariff, groups: Sequence[Group], data: dict[str, PointMeter], spans: Sequence[Span],
           end: float, tz: ZoneInfo, calendars: Sequence[Calendar]) -> list[dict[str, Any]]:
    holiday = holidays_of(tariff, calendars)
    out = []
    for g in groups:
        meter = _data(g, data)
        periods = []
        for s in spans:
            if meter is None:
                continue
            c = cost_of(tariff, s, end, meter.energy, meter.windows if tariff.demand else None, tz, holiday)
            periods.append({**_period(s, end), "kwh": finite(c.kwh), "energy_cost": c.energy_cost,
                            "demand_cost": c.demand_cost, "fixed_cost": c.fixed_cost, "total": c.total,
                            "unknown_s": c.unknown_s, "lines": [asdict(line) for line in c.lines]})
        out.append({"meter": g.id, "name": g.name, "periods": periods})
    return out


def cost_tables(body: dict[str, Any]) -> list[Table]:
    """A row per meter and period of a cost answer; in a workbook, each bill's lines too."""
    money = body["currency"]
    columns = (Column("meter", kind="text"), Column("name", kind="text"), Column("start", kind="time"),
               Column("end", kind="time"), Column("date", kind="text"), Column("energy", "kWh"),
               Column("energy cost", money), Column("demand cost", money), Column("fixed cost", money),
               Column("total", money), Column("unknown", "s"), Column("partial", kind="text"))
    rows = [[s["meter"], s["name"], p["start"], p["end"], p["date"], p["kwh"], p["energy_cost"],
             p["demand_cost"], p["fixed_cost"], p["total"], p["unknown_s"], _yes(p["partial"])]
            for s in body["series"] for p in s["periods"]]
    line_columns = (Column("meter", kind="text"), Column("period start", kind="time"),
                    Column("kind", kind="text"), Column("name", kind="text"), Column("quantity"),
                    Column("unit", kind="text"),
                    Column("rate", f"{money} per unit"), Column("amount", money),
                    Column("demand window start", kind="time"))
    lines = [[s["meter"], p["start"], c["kind"], c["name"], c["quantity"], c["unit"], c["rate"], c["amount"],
              c.get("at")] for s in body["series"] for p in s["periods"] for c in p["lines"]]
    return [Table("Cost", columns, rows), Table("Bill lines", line_columns, lines)]


@router.get("/sites/{site_id}/analytics/cost", response_model=CostOut, responses=EXPORT_RESPONSES)
async def get_cost(
    request: Request,
    site_id: str,
    tariff: str | None = Query(None, max_length=64, description="The tariff's id; default the site's first."),
    bucket: Literal["day", "week", "month"] = Query("month", description="Periods in the site's local time."),
    count: int = Query(1, ge=1, le=62, description="How many periods; the last holds `until`."),
    until: str | None = Query(None, max_length=64, description="End (ISO 8601 or epoch s); default now."),
    format: Format = _FORMAT,
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """What the tariff's meters cost per period: energy at its time-of-use rates, demand and fixed charges.

    The tariff's ``meters`` are priced (else the site's main meters of its commodity, else of every
    commodity). Demand charges belong to calendar months: other periods carry none.
    """
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    if not cfg.tariffs:
        raise invalid_field(["query", "tariff"], "this site has no tariff: add one under tariffs: in its "
                            "file", "no_tariff")
    chosen = cfg.tariffs[0] if tariff is None else next((t for t in cfg.tariffs if t.id == tariff), None)
    if chosen is None:
        raise invalid_field(["query", "tariff"], f"no tariff {tariff!r}: expected one of "
                            f"{', '.join(t.id for t in cfg.tariffs)}")
    tz = ZoneInfo(cfg.site.timezone)
    end = parse_site_time(until, "until", cfg.site.timezone)
    end = runtime.clock.now() if end is None else end
    spans = _periods(bucket, count, end, tz, _first_day(cfg))
    points = _meter_points(cfg)
    if chosen.meters:
        groups = _groups(cfg, points, "meter", list(chosen.meters))
    else:
        groups = [g for g in _groups(cfg, points, "site", None)
                  if chosen.commodity is None or g.commodity == chosen.commodity]
    wanted = {pid for g in groups for _sign, pid in g.members}
    raw_since = spans[0].start if chosen.demand and bucket == "month" else None
    data = await _point_meters(runtime, points, wanted, spans[0].start - 86_400.0, end, raw_since)
    series = await asyncio.to_thread(_costs, chosen, groups, data, spans, end, tz, cfg.calendars)
    totals = [sum(s["periods"][i]["total"] for s in series if i < len(s["periods"]))
              for i in range(len(spans))]
    body = {"site": site_id, "timezone": cfg.site.timezone, "tariff": chosen.id, "currency": chosen.currency,
            "bucket": bucket, "until": end, "series": series, "totals": totals}
    if format != "json":
        return export_response(cost_tables(body), format, filename_of(site_id, "cost", chosen.id, bucket), tz)
    return body
