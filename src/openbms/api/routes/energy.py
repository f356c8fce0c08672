"""``/api/v1/sites/{site}/energy``: the energy of the site's meters per hour or per local day of the site.

The computation is ``openbms.analytics.energy``'s; this route picks the
meters, fetches their hourly rollups through the store and runs each meter's
arithmetic in a worker thread. The dashboard does no calendar arithmetic of
its own. Access: ``history:read`` on the site.
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

from openbms.analytics.energy import (
    GAP,
    HOUR,
    Meter,
    MeterSeries,
    Span,
    day_spans,
    hour_spans,
    meter_groups,
    meter_of,
    same_time_in,
)
from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.errors import invalid_field
from openbms.api.helpers import MAX_JSON_ROWS, finite, parse_time, requested_points, runtime_of, site_config
from openbms.api.site_index import Entry, site_index
from openbms.historian.base import RawRow, RollupSeries

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
    index = site_index(site_config(runtime_of(request), site_id))
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
            out.append((entry, meter))
        return out
    found = [(e, m) for e in index.entries if (m := meter_of(e[3].kind, e[3].unit, e[3].tags)) is not None]
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
    end = parse_time(until, "until")
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
