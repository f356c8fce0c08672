"""``analytics``: fitting a baseline to a year of one meter's hourly energy, and forecasting it.

The timed meter is a generated office whose structure is known
(``synthetic_hours``): a base load, an occupied schedule on weekdays
08:00–18:00 local time, heating below 15 °C and cooling above 21 °C, and
noise. The figures are the median time of a fit (``analytics.baseline_fit_ms``)
and the fit's hourly CV(RMSE) (``analytics.baseline_cvrmse_generated_pct``).
Without ``--quick``, the emulator's office runs a year under its conventional
sequence and two more months under its improved one and, for the true saving,
under the conventional one (``bench/analytics_emulator.py``: about 10 minutes
of one core the first time, then cached in ``cache_folder()``): the
evaluation's figures (``analytics.baseline_cvrmse_pct``, the hourly CV(RMSE)
of a baseline of its electricity, the true and estimated savings and their
error in points, the gas meter's as ``analytics.gas_…``), and
``analytics.forecast_mape_pct``, the day-ahead MAPE of load forecasts over
the year's last 12 weeks (issued at each local midnight).
Forecasts (``openbms.bench.forecast``): ``analytics.forecast_ms`` is the median
time of one 48-hour forecast, fit included, and
``analytics.forecast_mape_generated_pct`` the day-ahead MAPE on a generated
office year.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from openbms.analytics.baseline import fit_baseline
from openbms.bench import Figure
from openbms.bench.analytics_emulator import evaluate, meter_hours, zone_of
from openbms.bench.forecast import day_ahead_mape
from openbms.bench.forecast import figures as forecast_figures
from openbms.sim.building.meters import DEFAULT_STEP

__all__ = ["Office", "emulator_hours", "run", "synthetic_days", "synthetic_hours"]

HOUR = 3600.0


class Office:
    """The generated building: kWh in an hour = base + occupied + heating + cooling + noise."""

    base = 20.0  # kWh in every hour
    occupied = 30.0  # kWh more in an occupied hour (weekdays 08:00–18:00 local)
    heating_balance = 15.0  # °C
    heating_slope = 3.0  # kWh per hour per °C below the heating balance point
    cooling_balance = 21.0  # °C
    cooling_slope = 4.0  # kWh per hour per °C above the cooling balance point
    noise = 3.0  # kWh, standard deviation of an hour's noise


def _midnight(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def _weather(ts: npt.NDArray[np.float64], tz: ZoneInfo, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Outdoor °C: a seasonal wave (coldest mid-January), a daily one (warmest 15:00) and weather noise."""
    doy = np.array([datetime.fromtimestamp(t, tz).timetuple().tm_yday for t in ts.tolist()], dtype=float)
    hour = np.array([datetime.fromtimestamp(t, tz).hour for t in ts.tolist()], dtype=float)
    season = 11.0 - 10.0 * np.cos(2 * np.pi * (doy - 15) / 365.0)
    daily = 4.0 * np.cos(2 * np.pi * (hour - 15) / 24.0)
    # Weather systems: a slow random walk pulled back to the season (about three days' memory).
    drift = np.zeros(len(ts))
    shocks = rng.normal(0.0, 0.6, len(ts))
    for i in range(1, len(ts)):
        drift[i] = 0.986 * drift[i - 1] + shocks[i]
    return season + daily + drift


def synthetic_hours(
    days: int, seed: int = 0, tz: str = "Europe/London", start: date = date(2023, 1, 2)
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``days`` local days of the office's hours: (hour start in epoch s, kWh, outdoor °C).

    Local days, so a daylight-saving change gives a 23- or 25-hour day.
    """
    zone = ZoneInfo(tz)
    rng = np.random.default_rng(seed)
    ts = np.arange(_midnight(start, zone), _midnight(start + timedelta(days=days), zone), HOUR)
    temp = _weather(ts, zone, rng)
    walls = [datetime.fromtimestamp(t, zone) for t in ts.tolist()]
    occupied = np.array([w.weekday() < 5 and 8 <= w.hour < 18 for w in walls])
    o = Office
    energy = (o.base + o.occupied * occupied
              + o.heating_slope * np.maximum(o.heating_balance - temp, 0.0)
              + o.cooling_slope * np.maximum(temp - o.cooling_balance, 0.0)
              + rng.normal(0.0, o.noise, len(ts)))
    return ts, energy, temp


def synthetic_days(
    days: int, seed: int = 0, tz: str = "Europe/London", start: date = date(2023, 1, 2)
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``days`` local days of a daily meter: (midnight in epoch s, kWh of the day, mean °C).

    kWh per 24 h = 24 × (base + occupied × 10/24 × 5/7) + 24 × heating slope × HDD + 24 ×
    cooling slope × CDD (degree days on the day's mean), noise added; a day of h hours
    uses h/24 of it.
    """
    zone = ZoneInfo(tz)
    rng = np.random.default_rng(seed)
    starts = np.array([_midnight(start + timedelta(days=i), zone) for i in range(days + 1)])
    hours = np.diff(starts) / HOUR
    ts = starts[:-1]
    doy = np.array([datetime.fromtimestamp(t, zone).timetuple().tm_yday for t in ts.tolist()], dtype=float)
    temp = 11.0 - 10.0 * np.cos(2 * np.pi * (doy - 15) / 365.0) + rng.normal(0.0, 3.0, days)
    o = Office
    per_day = (24 * (o.base + o.occupied * 10 / 24 * 5 / 7)
               + 24 * o.heating_slope * np.maximum(o.heating_balance - temp, 0.0)
               + 24 * o.cooling_slope * np.maximum(temp - o.cooling_balance, 0.0)
               + rng.normal(0.0, 24 * o.noise, days))
    return ts, per_day * hours / 24.0, temp


def emulator_hours(
    days: int, year: int = 2025, seed: int = 0, climate: str = "temperate", sequence: str = "baseline"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], ZoneInfo]:
    """``days`` of the emulator's office from 1 January of ``year`` (``openbms.sim.building.meters``).

    Returns (hour start in epoch s, electricity kWh of the hour, mean outdoor °C,
    the building's zone: its standard time, which the emulator keeps all year).
    The sequence decides every minute, as the figures in docs/analytics.md were made.
    """
    from openbms.sim.building.meters import simulate_hours

    hours = simulate_hours(days, date(year, 1, 1), seed=seed, climate=climate, sequence=sequence, step=60.0)
    return hours.ts, hours.electricity, hours.temperature, zone_of(hours.utc_offset)


def cache_folder() -> Path:
    """Where the emulator's simulated years are kept between runs: ``OPENBMS_BENCH_CACHE``, else
    ``~/.cache/openbms/bench`` (never the repository)."""
    given = os.environ.get("OPENBMS_BENCH_CACHE")
    return Path(given) if given else Path.home() / ".cache" / "openbms" / "bench"


def run(quick: bool = False) -> Iterator[Figure]:
    """Fit a year of hourly data (a quarter with ``quick``) and time it."""
    days = 91 if quick else 365
    ts, energy, temp = synthetic_hours(days, seed=1)
    zone = ZoneInfo("Europe/London")
    fit_baseline(ts, energy, temp, zone)  # warm numpy's code paths
    times = []
    baseline = None
    for _ in range(3 if quick else 7):
        t0 = time.perf_counter()
        baseline = fit_baseline(ts, energy, temp, zone)
        times.append((time.perf_counter() - t0) * 1000)
    assert baseline is not None
    yield ("analytics.baseline_fit_ms", round(statistics.median(times), 1), "ms")
    yield ("analytics.baseline_cvrmse_generated_pct", round(baseline.stats.cvrmse_pct, 2), "%")
    forecasts = forecast_figures()  # a generated office year: 48 h ahead, day-ahead scores
    yield ("analytics.forecast_ms", round(forecasts["analytics.forecast_ms"], 1), "ms")
    yield ("analytics.forecast_mape_generated_pct",
           round(forecasts["analytics.forecast_mape_pct"], 2), "%")
    if not quick:
        # The emulator's office: a baseline year, then two months under the improved sequence and,
        # for the true saving, under the conventional one (bench/analytics_emulator.py; cached).
        cache = cache_folder()
        print(f"bench analytics: simulating the emulator's office (a year and two months, about 10 "
              f"minutes the first time; kept in {cache})", file=sys.stderr)
        yield from evaluate(cache).figures()
        year = meter_hours(cache, 365, date(2025, 1, 1), seed=0, climate="temperate", sequence="baseline",
                           step=DEFAULT_STEP)  # the evaluation's baseline year, from the cache
        yield ("analytics.forecast_mape_pct", round(day_ahead_mape(
            year.ts, year.electricity, year.temperature, zone_of(year.utc_offset)), 2), "%")
