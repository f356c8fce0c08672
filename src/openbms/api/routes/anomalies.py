"""``/api/v1/sites/{site}/analytics/anomalies``: what the anomaly detectors found, with the evidence.

The runtime's job (``openbms.service.anomalies``) judges each meter's ended
day every hour and keeps its findings in the state database; each finding
raised an alarm (``anomaly:<kind>:<equipment>.<point>``) whose state now is given beside
it. Newest first; ``meter``, ``since`` and ``until`` (on the period found)
narrow the list. ``format=csv|xlsx`` downloads the list (``api.export_tables``),
as the other analytics routes do. Access: ``history:read`` on the site.
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from openbms.alarms.engine import AlarmError
from openbms.analytics.consumption import short_ref
from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.context import get_context
from openbms.api.errors import not_found
from openbms.api.export_tables import EXPORT_RESPONSES, Column, Table, export_response, filename_of
from openbms.api.helpers import finite, parse_site_time, runtime_of, site_config
from openbms.service.anomalies import stored_findings

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["energy"])


class AnomalyOut(BaseModel):
    """One finding and its evidence."""

    id: int
    meter: str = Field(description="the meter's id (the point id of its register, else of its demand point)")
    name: str
    kind: str = Field(description="consumption, base_load, stuck or jump")
    start: float = Field(description="the period found [start, end), epoch s")
    end: float
    expected_kwh: float | None = Field(description="the energy the meter's model expected over the period "
                                       "(a jump: the hour before)")
    actual_kwh: float | None = Field(description="the energy the meter used over the period")
    score: float = Field(description="how far from normal: a robust z (consumption, base_load), hours "
                         "(stuck), a ratio to the largest hourly change in training (jump)")
    threshold: float = Field(description="the score's threshold, crossed")
    message: str
    detected: float = Field(description="when it was found (the runtime's clock)")
    alarm_id: str
    alarm_state: str | None = Field(description="the alarm's state now; null: the site's alarms do not run")
    chart: str = Field(description="the dashboard's energy page on the meter over the period (a hash route)")


class AnomaliesOut(BaseModel):
    """The site's findings, newest first."""

    site: str
    timezone: str
    anomalies: list[AnomalyOut]


def anomalies_table(body: dict[str, Any]) -> Table:
    """The findings as a table (a CSV, or a workbook's sheet): a row each, newest first."""
    columns = (Column("id"), Column("meter", kind="text"), Column("name", kind="text"),
               Column("kind", kind="text"), Column("start", kind="time"), Column("end", kind="time"),
               Column("expected", "kWh"), Column("actual", "kWh"), Column("score"), Column("threshold"),
               Column("message", kind="text"), Column("detected", kind="time"), Column("alarm", kind="text"),
               Column("alarm state", kind="text"), Column("chart", kind="text"))
    keys = ("id", "meter", "name", "kind", "start", "end", "expected_kwh", "actual_kwh", "score", "threshold",
            "message", "detected", "alarm_id", "alarm_state", "chart")
    return Table("Anomalies", columns, [[a[k] for k in keys] for a in body["anomalies"]])


@router.get("/sites/{site_id}/analytics/anomalies", response_model=AnomaliesOut, responses=EXPORT_RESPONSES)
async def get_anomalies(
    request: Request,
    site_id: str,
    meter: list[str] | None = Query(None, description="These meters (equipment/point); default every meter."),
    since: str | None = Query(None, max_length=64, description="Findings whose period ends after this "
                              "(ISO 8601 or epoch s)."),
    until: str | None = Query(None, max_length=64, description="Findings whose period starts before this."),
    limit: int = Query(200, ge=1, le=1000, description="At most this many (the newest)."),
    format: Literal["json", "csv", "xlsx"] = Query("json", description="json, or a download: csv or xlsx."),
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """Anomalies found in the site's meters, newest first, with expected vs actual and their alarms."""
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    lo = parse_site_time(since, "since", cfg.site.timezone)
    hi = parse_site_time(until, "until", cfg.site.timezone)
    ctx = get_context(request)
    rows = await ctx.run(stored_findings, ctx.engine, site_id)
    wanted = None
    tokens = [t for item in meter or () for raw in item.split(",") if (t := raw.strip())]
    if tokens:
        known = {short_ref(r["meter"], site_id) for r in rows}
        wanted = {short_ref(t, site_id) for t in tokens}
        missing = wanted - known - {short_ref(pid, site_id) for pid, _e, _p in cfg.points()}
        if missing:
            raise not_found(f"no meter {sorted(missing)[0]!r} in site {site_id}")
    engine = runtime.alarm_engine(site_id)
    out = []
    for r in reversed(rows):
        if wanted is not None and short_ref(r["meter"], site_id) not in wanted:
            continue
        if (lo is not None and r["end"] <= lo) or (hi is not None and r["start"] >= hi):
            continue
        state = None
        if engine is not None:
            try:
                state = engine.get(r["alarm_id"]).state
            except AlarmError:
                state = None
        out.append({**{k: r[k] for k in ("id", "meter", "name", "kind", "start", "end", "score", "threshold",
                                         "message", "detected", "alarm_id", "chart")},
                    "expected_kwh": finite(r.get("expected_kwh")), "actual_kwh": finite(r.get("actual_kwh")),
                    "alarm_state": state})
        if len(out) >= limit:
            break
    body = {"site": site_id, "timezone": cfg.site.timezone, "anomalies": out}
    if format != "json":
        return export_response([anomalies_table(body)], format, filename_of(site_id, "anomalies"),
                               ZoneInfo(cfg.site.timezone))
    return body
