"""Load forecast figures: ``analytics.forecast_ms`` and ``analytics.forecast_mape_pct``.

On generated office-like data (``office``): a year of hourly electricity of a
building occupied on weekdays 07:00–19:00 local time, a base load at night,
cooling above 18 °C and heating below 10 °C outdoors, 4 % noise, and outdoor
temperature with a season, a daily cycle and weather that wanders over days.

- ``analytics.forecast_ms``: one 48-hour forecast of one meter from eight weeks of
  history (the model's fit included), the median of several runs.
- ``analytics.forecast_mape_pct``: day-ahead MAPE (the hours 1–24 ahead of forecasts
  issued at every local midnight over the last 12 weeks of the year), with outdoor
  temperature ahead from the fallback (climatology and persistence), as a site without
  a forecast point gets.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from openbms.analytics.forecast import HOUR, forecast, score

__all__ = ["figures", "office"]

_F = npt.NDArray[np.float64]


def office(seed: int, start: float, hours: int, tz: ZoneInfo) -> tuple[_F, _F, _F]:
    """Generated hourly office data from ``start`` (an hour, epoch s): (hour starts, kWh, outdoor °C)."""
    rng = np.random.default_rng(seed)
    ts = start + HOUR * np.arange(hours, dtype=float)
    local = [datetime.fromtimestamp(t, tz) for t in ts.tolist()]
    hod = np.array([d.hour for d in local], dtype=float)
    weekday = np.array([d.weekday() < 5 for d in local])
    doy = np.array([d.timetuple().tm_yday for d in local], dtype=float)
    weather = np.zeros(hours)
    for i in range(1, hours):  # AR(1): weather systems lasting a few days, about 3 °C either way
        weather[i] = 0.985 * weather[i - 1] + rng.normal(0.0, 0.52)
    temp = (11.0 - 9.0 * np.cos(2 * np.pi * (doy - 20) / 365.0)
            + 4.0 * np.cos(2 * np.pi * (hod - 15) / 24.0) + weather)
    occupied = weekday & (hod >= 7) & (hod < 19)
    load = 20.0 + np.where(occupied, 40.0, 0.0)
    load += np.where(occupied, 3.0, 0.6) * np.maximum(temp - 18.0, 0.0)
    load += np.where(occupied, 2.0, 1.0) * np.maximum(10.0 - temp, 0.0)
    load *= 1.0 + rng.normal(0.0, 0.04, hours)
    return ts, load, temp


def day_ahead_mape(ts: _F, kwh: _F, temp: _F, tz: ZoneInfo, weeks: int = 12) -> float:
    """Day-ahead MAPE (%) of forecasts issued at each local midnight of the last ``weeks`` weeks."""
    predicted: list[float] = []
    actual: list[float] = []
    end = ts[-1] + HOUR
    first = end - (weeks * 7 + 1) * 86_400.0
    for i, t in enumerate(ts.tolist()):
        if t < first or t + 24 * HOUR > end or datetime.fromtimestamp(t, tz).hour != 0:
            continue
        f = forecast(ts[:i], kwh[:i], temp[:i], tz, t, 24)
        predicted.extend(f.kwh.tolist())
        actual.extend(kwh[i:i + 24].tolist())
    got = score(predicted, actual).mape_pct
    assert got is not None
    return got


def figures(seed: int = 1) -> dict[str, float]:
    """The two figures on a generated office year (Europe/London: both clock changes in it)."""
    tz = ZoneInfo("Europe/London")
    start = datetime(2025, 1, 6, tzinfo=tz).timestamp()
    ts, kwh, temp = office(seed, start, 365 * 24, tz)
    issued = ts[-1] + HOUR
    runs = []
    for _ in range(7):
        began = time.perf_counter()
        forecast(ts, kwh, temp, tz, issued, 48)
        runs.append((time.perf_counter() - began) * 1000.0)
    return {"analytics.forecast_ms": statistics.median(runs),
            "analytics.forecast_mape_pct": day_ahead_mape(ts, kwh, temp, tz)}
