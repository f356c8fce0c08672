"""The load forecast job: every hour, each meter's next 48 hours forecast, stored, then scored.

::

    start ─▶ run at once, then RUN_AFTER_S past every hour of the runtime's clock
      for each site, each meter (``meter_groups``: its register, else its demand point):
        the last 8 weeks (``analytics.history.meter_hours``) ──▶ kWh and outdoor °C per hour
        its forecast point (tagged forecast too), where it has hours ahead ──▶ °C ahead
        ──(worker thread) analytics.forecast──▶ db.forecasts.save_forecast (issued at the hour)
        hours forecast earlier that have ended ──▶ their kWh ──▶ record_actuals (the scores' rows)
      forecasts issued more than KEEP_DAYS ago are deleted

A meter with less than a week of energy gets no forecast (quietly: a new site
has none yet). Outdoor temperature ahead comes from the site's forecast point
where its history holds the hours ahead, else from climatology and persistence
(``temperature_ahead``). A failing meter or
database is logged once and retried at the next hour; recovery is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from openbms.analytics.energy import meter_groups, meter_of
from openbms.analytics.forecast import MAX_HOURS, MIN_HOURS, WEEKS, forecast
from openbms.analytics.history import meter_hours, outdoor_point
from openbms.db.forecasts import pending_hours, prune_forecasts, record_actuals, save_forecast
from openbms.historian import Historian
from openbms.model.site import SiteConfig
from openbms.runtime.clock import Clock
from openbms.service.hourly import HOUR, HourlyJob

__all__ = ["KEEP_DAYS", "RUN_AFTER_S", "ForecastRun", "ForecastService"]

log = logging.getLogger(__name__)

#: Seconds past the hour a run waits: the hour's last samples reach the historian's rollups first.
RUN_AFTER_S = 120.0
#: Days forecasts are kept (their scores are computed from the rows kept).
KEEP_DAYS = 35


@dataclass(frozen=True, slots=True)
class ForecastRun:
    """What one run did: forecasts stored, meters without enough history, hours scored."""

    issued: float
    forecasts: int
    skipped: int
    scored: int


def _holiday(cfg: SiteConfig) -> Callable[[date], bool] | None:
    """Whether a local date is in one of the site's calendars (holidays, shutdowns): forecast as a Sunday."""
    if not cfg.calendars:
        return None
    seen: dict[date, bool] = {}

    def holiday(day: date) -> bool:
        if day not in seen:
            seen[day] = any(c.matches(day) for c in cfg.calendars)
        return seen[day]
    return holiday


class ForecastService(HourlyJob[ForecastRun]):
    """Runs the forecasts of every running site's meters each hour on ``clock`` (see the module)."""

    def __init__(self, sites: Callable[[], Sequence[SiteConfig]], historian: Historian, engine: sa.Engine,
                 clock: Clock, *, hours: int = MAX_HOURS) -> None:
        super().__init__("load forecasts", clock, RUN_AFTER_S, log)
        self._sites = sites
        self._historian = historian
        self._engine = engine
        self._hours = hours

    def run_at(self, now: float) -> float:
        """Forecasts are issued at whole hours."""
        return math.floor(now / HOUR) * HOUR

    async def run_once(self, issued: float) -> ForecastRun:
        """Forecast every meter from the hour ``issued`` (a whole hour) and score what has ended."""
        made = skipped = scored = 0
        for cfg in list(self._sites()):
            for meter_id, pid in self._meters(cfg):
                if self._stopping:
                    break
                try:
                    got = await self._one(cfg, meter_id, pid, issued)
                except Exception:
                    self.failed(f"load forecast of {meter_id}")
                    continue
                self.works(f"load forecast of {meter_id}")
                if got is None:
                    skipped += 1
                    continue
                made += 1
                scored += got
        if self._stopping:
            return ForecastRun(issued, made, skipped, scored)
        try:
            await asyncio.to_thread(prune_forecasts, self._engine, issued - KEEP_DAYS * 86_400.0)
        except Exception:
            self.failed("pruning old load forecasts")
        else:
            self.works("pruning old load forecasts")
        return ForecastRun(issued, made, skipped, scored)

    def _meters(self, cfg: SiteConfig) -> list[tuple[str, str]]:
        found = []
        for pid, equip, point in cfg.points():
            meter = meter_of(point.kind, point.unit, point.tags)
            if meter is not None:
                found.append((pid, equip, point, meter))
        out = []
        for group in meter_groups(found):
            source = group.energy or group.power
            if source is not None:
                out.append((group.id, source))
        return out

    async def _one(self, cfg: SiteConfig, meter_id: str, pid: str, issued: float) -> int | None:
        """Forecast one meter and record the actuals of its ended hours; None: too little history."""
        since = issued - WEEKS * 7 * 86_400.0
        past = await meter_hours(self._historian, cfg, pid, since, issued)
        if int(np.isfinite(past.kwh).sum()) < MIN_HOURS:
            return None
        ahead_pid = outdoor_point(cfg, forecast=True)
        ahead: dict[float, float | None] = {}
        if ahead_pid is not None:
            a_rows = await self._historian.rollups(ahead_pid, "hour", issued, issued + self._hours * HOUR)
            ahead = {r.start: (r.tw_mean if r.tw_mean is not None else r.mean) for r in a_rows.rows()}
        tz = ZoneInfo(cfg.site.timezone)
        holiday = _holiday(cfg)
        site = cfg.site.id

        def compute() -> int | None:
            hours_ahead = issued + HOUR * np.arange(self._hours, dtype=float)
            given = np.array([_or_nan(ahead.get(s)) for s in hours_ahead.tolist()]) if ahead else None
            try:
                f = forecast(past.starts, past.kwh, past.temperature, tz, issued, self._hours,
                             temp_ahead=given, holiday=holiday)
            except ValueError:
                return None  # less than a week of energy
            save_forecast(self._engine, site, meter_id, issued, f.starts.tolist(), f.kwh.tolist(),
                          None if f.temperature is None else f.temperature.tolist())
            ended = pending_hours(self._engine, site, meter_id, issued)
            actual = [(h, e) for h in ended
                      if (e := past.series.energy(h, h + HOUR)) is not None and math.isfinite(e)]
            return record_actuals(self._engine, site, meter_id, actual)

        # Eight weeks of hours and a model fit: in a worker thread, the loop keeps serving.
        return await asyncio.to_thread(compute)


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
