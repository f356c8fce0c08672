"""What a baseline, savings, a forecast or an anomaly judgement needs from the historian, loaded once.

::

    site file ──meter_of + configured──▶ Meter (kind, unit, rollover, replacements)
    historian.rollups(meter, "hour", start − 1 day, end + GAP) ──MeterSeries──▶ kWh per hour (NaN: unknown)
    historian.rollups(outdoor point, "hour", start, end) ──time-weighted mean──▶ °C per hour (NaN: unknown)
      ──▶ MeterHours: one row per whole hour in [start, end), gaps as NaN; ``known()`` the rows a fit takes

The one place the analytics consumers (``openbms analytics savings|forecast``,
the forecast job, the M&V routes, anomaly detection) read a meter's hourly
energy and the site's outdoor temperature, so they agree on what an hour is:
a register's hour is known when readings on both sides of it show it (a
day of rollups before ``start`` gives the reading before the first hour; the
hour in progress, with no reading after it, is not), a
demand meter's when its rollup covers ``MIN_COVERED`` of the hour (part of an
hour would read as a low hour). The outdoor temperature is the site's point
tagged ``outside`` and ``temp`` (``outdoor_point``). Building the hours is
CPU work over up to a year of rollups: it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openbms.analytics.consumption import configured
from openbms.analytics.energy import GAP, HOUR, Meter, MeterSeries, meter_of
from openbms.analytics.savings import MIN_COVERED
from openbms.historian.base import Historian, RollupSeries
from openbms.model.site import SiteConfig

__all__ = ["MeterHours", "meter_hours", "outdoor_point", "site_meter"]

DAY = 86_400.0
_F = npt.NDArray[np.float64]


def outdoor_point(cfg: SiteConfig, forecast: bool = False) -> str | None:
    """The site's outdoor air temperature point: a number in °C tagged ``outside`` and ``temp``
    (Haystack's ``outside air temp sensor``), not tagged ``forecast``; None when it has none.

    ``forecast``: its forecast point instead, tagged ``forecast`` too, whose history holds the
    forecast °C at the future times they are for (a weather integration writes them)."""
    for pid, _equip, point in cfg.points():
        tags = set(point.tags)
        if (point.kind == "number" and point.unit in ("°C", "degC") and {"outside", "temp"} <= tags
                and ("forecast" in tags) == forecast):
            return pid
    return None


def site_meter(cfg: SiteConfig, point: str) -> Meter | None:
    """The meter the site's point ``point`` (a full point id) is, with its configured counter settings;
    None when it is no point of the site or no meter (a number in kWh/Wh/MWh, or kW/W/MW tagged as
    energy metering)."""
    for pid, _equip, p in cfg.points():
        if pid == point:
            meter = meter_of(p.kind, p.unit, p.tags)
            return None if meter is None else configured(cfg, pid, meter)
    return None


@dataclass(frozen=True, slots=True)
class MeterHours:
    """A meter's whole hours ``[start, end)``: one row per hour, NaN where a value is unknown.

    ``temperature`` is None when no outdoor temperature point was given or found.
    ``series`` answers the energy of any other span of the rollups read (an hour that ended later).
    """

    meter: str
    temperature_point: str | None
    starts: _F
    kwh: _F
    temperature: _F | None
    series: MeterSeries

    def known(self) -> tuple[_F, _F, _F]:
        """(hour starts, kWh, °C) of the hours with both known: the rows ``fit_baseline`` takes.
        Without a temperature there are none."""
        if self.temperature is None:
            empty = np.zeros(0)
            return empty, empty, empty
        keep = np.isfinite(self.kwh) & np.isfinite(self.temperature)
        return self.starts[keep], self.kwh[keep], self.temperature[keep]

    @property
    def missing(self) -> int:
        """Hours of the span left out of ``known()`` (energy or temperature unknown)."""
        return len(self.starts) - len(self.known()[0])


async def meter_hours(
    historian: Historian,
    cfg: SiteConfig,
    meter: str,
    start: float,
    end: float,
    temperature: str | None = None,
) -> MeterHours:
    """Hourly kWh of the site's meter point ``meter`` and outdoor °C over the whole hours in ``[start, end)``.

    ``temperature``: the outdoor temperature point; by default the site's (``outdoor_point``), and
    none when the site has none. Raises ValueError when ``meter`` is not one of the site's meters.
    """
    got = site_meter(cfg, meter)
    if got is None:
        raise ValueError(f"{meter} is not a meter of site {cfg.site.id}: expected a number point in kWh, "
                         "Wh or MWh, or in kW, W or MW tagged elec, gas, meter or energy")
    oat = temperature or outdoor_point(cfg)
    first = math.ceil(start / HOUR) * HOUR
    # A day before: a register's reading before the first hour; GAP after: the reading after the last.
    energy = await historian.rollups(meter, "hour", first - DAY, end + GAP)
    temps = None if oat is None else await historian.rollups(oat, "hour", first, end)
    return await asyncio.to_thread(_hours, meter, got, energy, oat, temps, first, end)


def _hours(meter_id: str, meter: Meter, energy: RollupSeries, oat: str | None, temps: RollupSeries | None,
           first: float, end: float) -> MeterHours:
    rows = energy.rows()
    series = MeterSeries(meter, rows)
    count = max(0, math.floor((end - first) / HOUR))
    starts = first + HOUR * np.arange(count, dtype=float)
    covered = {r.start: r.covered for r in rows}
    # A register's hour needs a reading at or after its end: the hour in progress is not yet known.
    last_reading = max((r.last_ts for r in rows if r.last_ts is not None and r.last is not None),
                       default=-math.inf)
    kwh = np.full(count, math.nan)
    for i, h in enumerate(starts.tolist()):
        if meter.kind == "demand" and covered.get(h, 0.0) < MIN_COVERED * HOUR:
            continue
        if meter.kind == "register" and h + HOUR > last_reading:
            continue
        e = series.energy(h, h + HOUR)
        if e is not None and math.isfinite(e):
            kwh[i] = e
    temperature = None
    if temps is not None:
        by_hour = {r.start: r.tw_mean if r.tw_mean is not None else r.mean for r in temps.rows()}
        temperature = np.array([_number(by_hour.get(h)) for h in starts.tolist()], dtype=float)
    return MeterHours(meter_id, oat, starts, kwh, temperature, series)


def _number(value: float | None) -> float:
    return math.nan if value is None or not math.isfinite(value) else float(value)
