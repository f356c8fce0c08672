"""Load forecasts: a meter's energy for the next 1–48 hours, hourly and per 15 minutes, and their scores.

::

    hourly history (epoch s of each hour, kWh, outdoor °C), the site's zone and holidays
      │ the last ``WEEKS`` weeks that have energy
      ├──▶ time-of-week-and-temperature model (baseline.py's LBNL TOWT, holidays as Sundays)
      │      no usable temperature (under ``TEMP_SHARE`` of the hours): time of week alone
      ├──▶ outdoor °C ahead: a forecast given by the caller (a forecast point) where it has one, else
      │      climatology (the last week's mean per local hour of day) + persistence (the last
      │      hour's departure from it, fading with an e-folding time of ``TEMP_FADE_H``)
      ├──▶ recent-level correction: the model's error over the last hours (weighted to the newest),
      │      added to the first hours ahead, fading with ``LEVEL_FADE_H``
      └──▶ Forecast: kWh per hour ahead; ``quarters`` shares each hour into 15-minute windows

Hours are UTC hours (epoch multiples of 3 600); time of week and holidays are the
site's local ones, so a 23- or 25-hour day is forecast hour by hour like any other.
Missing hours (gaps) are simply absent from the training: nothing is interpolated.

``score`` compares forecasts with actuals: MAPE over the hours whose actual is
positive (a percentage of zero is no number), and CV(RMSE) = RMSE / mean actual.

Pure: arrays in, arrays out. ``openbms.service.forecasts`` runs it every hour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

# The baseline's time-of-week model, fitted on time-of-week indices of our own (holidays as Sundays).
from openbms.analytics.baseline import fit_towt, local_time

__all__ = ["HOUR", "MAX_HOURS", "MIN_HOURS", "Forecast", "Score", "forecast", "quarters", "score",
           "temperature_ahead"]

_F = npt.NDArray[np.float64]

HOUR = 3600.0
#: Hours ahead a forecast may reach.
MAX_HOURS = 48
#: Hours of energy a forecast needs: a week, one of each hour of the week.
MIN_HOURS = 168
#: Weeks of history the model is fitted on: long enough for every hour of the week several times,
#: short enough to follow the season (a temperature response fitted on two months).
WEEKS = 8
#: The share of the training hours that must have a temperature for the model to use it.
TEMP_SHARE = 0.8
#: e-folding time (hours) of the recent level's correction, and the half-life of its weights (hours).
LEVEL_FADE_H = 6.0
LEVEL_HALF_LIFE_H = 3.0
LEVEL_HOURS = 24
#: e-folding time (hours) of the last outdoor temperature's departure from climatology.
TEMP_FADE_H = 12.0
SUNDAY = 6 * 24


@dataclass(frozen=True, slots=True)
class Forecast:
    """Energy (kWh) of each hour starting at ``starts``, as forecast at ``issued`` (epoch s).

    ``temperature`` is the outdoor °C the forecast assumed per hour (None: it used none);
    ``method`` says which model made it (``towt`` or ``time_of_week``), ``temperature_source``
    where its temperatures ahead came from (``forecast``: a forecast, for some hours at least;
    ``climatology``; ``none``).
    """

    issued: float
    starts: _F
    kwh: _F
    temperature: _F | None
    method: str
    temperature_source: str


@dataclass(frozen=True, slots=True)
class Score:
    """How forecasts did against actuals: hours compared, MAPE and CV(RMSE) in %, None when undefined."""

    n: int
    mape_pct: float | None
    cvrmse_pct: float | None


def _tow(ts: _F, tz: ZoneInfo, holiday: Callable[[date], bool] | None) -> npt.NDArray[np.int64]:
    """Local time of week (0 = Monday 00:00) of each hour; a holiday's hours are a Sunday's."""
    loc = local_time(ts, tz)
    tow = loc.tow.copy()
    if holiday is not None and len(ts):
        days, inverse = np.unique(loc.day, return_inverse=True)
        off = np.array([holiday(date.fromordinal(int(d))) for d in days.tolist()], dtype=bool)[inverse]
        tow[off] = SUNDAY + tow[off] % 24
    return tow


def temperature_ahead(ts: npt.ArrayLike, temp: npt.ArrayLike, starts: npt.ArrayLike, tz: ZoneInfo) -> _F:
    """Outdoor °C for the hours ``starts`` from the past hours' (``ts``, ``temp``; NaN: unknown).

    Climatology: the mean of the last 7 days per local hour of day; persistence: the last known
    hour's departure from it, fading with an e-folding time of ``TEMP_FADE_H`` hours.
    """
    t = np.asarray(ts, dtype=float)
    x = np.asarray(temp, dtype=float)
    ahead = np.asarray(starts, dtype=float)
    ok = np.isfinite(x) & np.isfinite(t)
    t, x = t[ok], x[ok]
    if len(t) == 0:
        raise ValueError("no outdoor temperature is known: none can be assumed ahead")
    recent = t >= t.max() - 7 * 86_400.0
    t, x = t[recent], x[recent]
    hod = local_time(t, tz).tow % 24
    sums = np.bincount(hod, weights=x, minlength=24)
    counts = np.bincount(hod, minlength=24)
    clim = np.where(counts > 0, sums / np.maximum(counts, 1), float(x.mean()))
    last = int(np.argmax(t))
    departure = float(x[last] - clim[hod[last]])
    lead = (ahead - t[last]) / HOUR
    return clim[local_time(ahead, tz).tow % 24] + departure * np.exp(-np.maximum(lead, 0.0) / TEMP_FADE_H)


def forecast(
    ts: npt.ArrayLike,
    kwh: npt.ArrayLike,
    temp: npt.ArrayLike | None,
    tz: ZoneInfo,
    issued: float,
    hours: int = MAX_HOURS,
    *,
    temp_ahead: npt.ArrayLike | None = None,
    holiday: Callable[[date], bool] | None = None,
) -> Forecast:
    """Forecast the ``hours`` whole hours after ``issued`` from hourly history before it.

    ``ts``: start of each past hour (epoch s); ``kwh``: its energy (NaN: unknown); ``temp``: its
    mean outdoor °C (NaN: unknown; None: no temperature at all). ``temp_ahead``: the outdoor °C
    forecast for each hour ahead (a forecast point; NaN where it has none); the hours without
    one, or all without it, get climatology and persistence.
    ``holiday``: whether a local date is a holiday (forecast as a Sunday).
    """
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours is {hours}: expected 1 to {MAX_HOURS}")
    t = np.asarray(ts, dtype=float)
    y = np.asarray(kwh, dtype=float)
    x = np.full(len(t), np.nan) if temp is None else np.asarray(temp, dtype=float)
    if len(y) != len(t) or len(x) != len(t):
        raise ValueError("timestamps, energies and temperatures must have one entry per hour")
    first = math.ceil(issued / HOUR) * HOUR
    starts = first + HOUR * np.arange(hours, dtype=float)
    window = (t < first) & (t >= first - WEEKS * 7 * 86_400.0) & np.isfinite(t)
    t, y, x = t[window], y[window], x[window]
    order = np.argsort(t, kind="stable")
    t, y, x = t[order], y[order], x[order]
    known = np.isfinite(y)
    if int(known.sum()) < MIN_HOURS:
        raise ValueError(f"{int(known.sum())} hours of energy before the forecast: at least {MIN_HOURS} "
                         "(a week) are needed")
    t, y, x = t[known], y[known], x[known]
    tow = _tow(t, tz, holiday)
    with_temp = np.isfinite(x)
    use_temp = int(with_temp.sum()) >= max(MIN_HOURS, TEMP_SHARE * len(t))
    if use_temp:
        model = fit_towt(tow[with_temp], x[with_temp], y[with_temp], tz)
        fitted_t, fitted_tow, fitted_y, fitted_x = t[with_temp], tow[with_temp], y[with_temp], x[with_temp]
        future = temperature_ahead(t, x, starts, tz)
        source = "climatology"
        if temp_ahead is not None:
            given = np.asarray(temp_ahead, dtype=float)
            if len(given) != hours:
                raise ValueError(f"temp_ahead must hold a °C (or NaN: unknown) for each of the {hours} hours "
                                 f"ahead, not {len(given)}")
            known = np.isfinite(given)
            if known.any():  # the hours the forecast does not reach keep climatology's
                future = np.where(known, given, future)
                source = "forecast"
    else:
        zeros = np.zeros(len(t))
        model = fit_towt(tow, zeros, y, tz)
        fitted_t, fitted_tow, fitted_y, fitted_x = t, tow, y, zeros
        future = np.zeros(hours)
        source = "none"
    predicted = model.predict_tow(_tow(starts, tz, holiday), future)
    # The recent level: what the model missed over the last day, the newest hours weighing most.
    recent = fitted_t >= first - LEVEL_HOURS * HOUR
    if recent.any():
        residual = fitted_y[recent] - model.predict_tow(fitted_tow[recent], fitted_x[recent])
        age = (first - fitted_t[recent]) / HOUR
        weights = 0.5 ** (age / LEVEL_HALF_LIFE_H)
        bias = float((residual * weights).sum() / weights.sum())
        lead = (starts - first) / HOUR + 1.0
        predicted = predicted + bias * np.exp(-lead / LEVEL_FADE_H)
    predicted = np.maximum(predicted, 0.0)
    return Forecast(float(issued), starts, predicted, future if use_temp else None,
                    "towt" if use_temp else "time_of_week", source)


def quarters(starts: npt.ArrayLike, kwh: npt.ArrayLike) -> tuple[_F, _F]:
    """Each hour's energy shared into its four 15-minute windows: (window starts, kWh of each).

    The mean power runs linearly from one hour's middle to the next, and each hour's windows
    are scaled to add up to its energy, so peaks between hours show without changing the hours.
    """
    s = np.asarray(starts, dtype=float)
    e = np.asarray(kwh, dtype=float)
    if len(s) == 0:
        return np.zeros(0), np.zeros(0)
    q_starts = (s[:, None] + np.array([0.0, 900.0, 1800.0, 2700.0])[None, :]).ravel()
    mids = s + HOUR / 2
    power = np.interp(q_starts + 450.0, mids, e) if len(s) > 1 else np.repeat(e, 4)
    shaped = power.reshape(len(s), 4)
    totals = shaped.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(totals > 0, e / totals, 0.0)
    out = np.where(totals[:, None] > 0, shaped * scale[:, None], e[:, None] / 4.0)
    return q_starts, out.ravel()


def score(predicted: npt.ArrayLike, actual: npt.ArrayLike) -> Score:
    """MAPE (over hours whose actual is positive) and CV(RMSE) of forecasts against actuals (NaN: out)."""
    p = np.asarray(predicted, dtype=float)
    a = np.asarray(actual, dtype=float)
    if len(p) != len(a):
        raise ValueError("one actual per forecast value is needed")
    ok = np.isfinite(p) & np.isfinite(a)
    p, a = p[ok], a[ok]
    if len(a) == 0:
        return Score(0, None, None)
    positive = a > 0
    mape = float(np.mean(np.abs(a[positive] - p[positive]) / a[positive]) * 100) if positive.any() else None
    mean = float(a.mean())
    cvrmse = float(math.sqrt(float(np.mean((a - p) ** 2))) / mean * 100) if mean > 0 else None
    return Score(len(a), mape, cvrmse)
