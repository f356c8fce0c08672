"""``/api/v1/sites/{site}/analytics/forecast`` and ``…/forecast/scores``: stored load forecasts and scores.

The forecasts are made every hour by the runtime's job (``openbms.service.forecasts``)
and kept in the state database (``openbms.db.forecasts``); these routes read
them. ``/forecast`` is each meter's newest forecast: its issue time, its hours
with the actual energy of those that have ended, and the same energy shared into
15-minute windows for peak management (``analytics.forecast.quarters``).
``/forecast/scores`` is MAPE and CV(RMSE) per meter and hours ahead, over the
forecast hours whose actuals are known. ``format=csv|xlsx`` downloads ``/forecast``
(``api.export_tables``). Access: ``history:read`` on the site.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from openbms.analytics.consumption import short_ref
from openbms.analytics.energy import meter_groups, meter_of
from openbms.analytics.forecast import MAX_HOURS, quarters
from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.context import get_context
from openbms.api.errors import not_found
from openbms.api.export_tables import EXPORT_RESPONSES, Column, Table, export_response, filename_of
from openbms.api.helpers import finite, parse_site_time, runtime_of, site_config
from openbms.db.forecasts import forecast_scores, latest_forecast
from openbms.model.site import SiteConfig

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["energy"])


class ForecastHourOut(BaseModel):
    """One forecast hour ``[start, start + 1 h)``."""

    start: float
    horizon: int = Field(description="hours ahead of the issue time: 1 is the first hour")
    kwh: float = Field(description="the energy forecast")
    temperature: float | None = Field(description="the outdoor °C the forecast assumed; null: none used")
    actual_kwh: float | None = Field(description="the energy measured, once the hour has ended; else null")


class ForecastWindowOut(BaseModel):
    """One 15-minute window of a forecast: its energy and mean power."""

    start: float
    kwh: float
    kw: float


class MeterForecastOut(BaseModel):
    """A meter's newest forecast."""

    meter: str = Field(description="the meter's id (the point id of its register, else of its demand point)")
    name: str
    commodity: str | None
    issued: float | None = Field(description="when it was made (a whole hour); null: no forecast yet "
                                 "(a meter needs a week of history)")
    hours: list[ForecastHourOut]
    windows: list[ForecastWindowOut] = Field(description="the hours shared into 15-minute windows")


class ForecastOut(BaseModel):
    """The newest load forecast of the site's meters."""

    site: str
    timezone: str
    forecasts: list[MeterForecastOut]


class ScoreOut(BaseModel):
    """How a meter's forecasts did so many hours ahead."""

    horizon: int
    n: int = Field(description="forecast hours compared with their actuals")
    mape_pct: float | None = Field(description="mean absolute percentage error (hours with positive actuals)")
    cvrmse_pct: float | None = Field(description="RMSE over the mean actual, in %")


class MeterScoresOut(BaseModel):
    """A meter's forecast scores, per hours ahead and over the first 24 (day ahead)."""

    meter: str
    name: str
    day_ahead: ScoreOut | None = Field(description="horizons 1–24 together; null: nothing scored yet")
    horizons: list[ScoreOut]


class ScoresOut(BaseModel):
    """MAPE and CV(RMSE) of the stored forecasts against the actual energy."""

    site: str
    since: float | None
    meters: list[MeterScoresOut]


def _meters(cfg: SiteConfig, wanted: Sequence[str] | None) -> list[tuple[str, str, str | None]]:
    """(meter id, name, commodity) of the site's meters, or of those named (404 for one that is none)."""
    found = []
    for pid, equip, point in cfg.points():
        meter = meter_of(point.kind, point.unit, point.tags)
        if meter is not None:
            found.append((pid, equip, point, meter))
    groups = [(g.id, g.name, g.commodity) for g in meter_groups(found)]
    tokens = [t for item in wanted or () for raw in item.split(",") if (t := raw.strip())]
    if not tokens:
        return groups
    site = cfg.site.id
    out = []
    for token in tokens:
        ref = short_ref(token, site)
        hit = next((g for g in groups if short_ref(g[0], site) == ref), None)
        if hit is None:
            known = ", ".join(short_ref(g[0], site) for g in groups) or "none (the site has no meter)"
            raise not_found(f"no meter {token!r}: expected one of {known}")
        out.append(hit)
    return out


def forecast_tables(body: dict[str, Any]) -> list[Table]:
    """A row per meter and forecast hour; in a workbook, the 15-minute windows too."""
    hours = Table("Forecast", (
        Column("meter", kind="text"), Column("name", kind="text"), Column("issued", kind="time"),
        Column("start", kind="time"), Column("hours ahead", "h"), Column("energy", "kWh"),
        Column("outdoor temperature", "°C"), Column("actual energy", "kWh")),
        [[f["meter"], f["name"], f["issued"], h["start"], h["horizon"], h["kwh"], h["temperature"],
          h["actual_kwh"]] for f in body["forecasts"] for h in f["hours"]])
    windows = Table("15-minute windows", (
        Column("meter", kind="text"), Column("start", kind="time"), Column("energy", "kWh"),
        Column("mean demand", "kW")),
        [[f["meter"], w["start"], w["kwh"], w["kw"]] for f in body["forecasts"] for w in f["windows"]])
    return [hours, windows]


@router.get("/sites/{site_id}/analytics/forecast", response_model=ForecastOut, responses=EXPORT_RESPONSES)
async def get_forecast(
    request: Request,
    site_id: str,
    meter: list[str] | None = Query(None, description="These meters (equipment/point); default every meter."),
    hours: int = Query(MAX_HOURS, ge=1, le=MAX_HOURS, description="How many hours of the forecast."),
    format: Literal["json", "csv", "xlsx"] = Query(
        "json", description="json, or a download: csv (a row per meter and hour) or xlsx (and the windows)."),
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """Each meter's newest load forecast: issue time, hours with the actuals so far, 15-minute windows."""
    cfg = site_config(runtime_of(request), site_id)
    ctx = get_context(request)
    out = []
    for mid, name, commodity in _meters(cfg, meter):
        got = await ctx.run(latest_forecast, ctx.engine, site_id, mid, hours)
        rows = [] if got is None else list(got.rows)
        q_starts, q_kwh = quarters([r.start for r in rows], [r.kwh for r in rows])
        out.append({
            "meter": mid, "name": name, "commodity": commodity,
            "issued": None if got is None else got.issued_at,
            "hours": [{"start": r.start, "horizon": r.horizon, "kwh": r.kwh,
                       "temperature": finite(r.temperature), "actual_kwh": finite(r.actual_kwh)}
                      for r in rows],
            "windows": [{"start": s, "kwh": e, "kw": e * 4.0}
                        for s, e in zip(q_starts.tolist(), q_kwh.tolist(), strict=True)],
        })
    body = {"site": site_id, "timezone": cfg.site.timezone, "forecasts": out}
    if format != "json":
        return export_response(forecast_tables(body), format, filename_of(site_id, "forecast"),
                               ZoneInfo(cfg.site.timezone))
    return body


def _score(horizon: int, n: int, mape: float | None, cvrmse: float | None) -> dict[str, Any]:
    return {"horizon": horizon, "n": n, "mape_pct": finite(mape), "cvrmse_pct": finite(cvrmse)}


@router.get("/sites/{site_id}/analytics/forecast/scores", response_model=ScoresOut)
async def get_forecast_scores(
    request: Request,
    site_id: str,
    meter: list[str] | None = Query(None, description="These meters (equipment/point); default every meter."),
    since: str | None = Query(None, max_length=64, description="Forecasts issued from (ISO 8601 or epoch s); "
                              "default every one kept (35 days)."),
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """MAPE and CV(RMSE) of each meter's forecasts per hours ahead, against the actual energy."""
    cfg = site_config(runtime_of(request), site_id)
    start = parse_site_time(since, "since", cfg.site.timezone)
    ctx = get_context(request)
    out = []
    for mid, name, _commodity in _meters(cfg, meter):
        scores = await ctx.run(forecast_scores, ctx.engine, site_id, mid, start)
        day = await ctx.run(forecast_scores, ctx.engine, site_id, mid, start, 24)
        day_ahead = _score(24, day[0].n, day[0].mape_pct, day[0].cvrmse_pct) if day else None
        out.append({"meter": mid, "name": name, "day_ahead": day_ahead,
                    "horizons": [_score(s.horizon, s.n, s.mape_pct, s.cvrmse_pct) for s in scores]})
    return {"site": site_id, "since": start, "meters": out}
