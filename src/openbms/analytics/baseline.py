"""Weather-normalised baselines for measurement and verification (M&V): what a meter would have used.

::

    rows (epoch s, energy of the interval, °C), the site's zone, exclusions
      │ interval_of: hourly or daily rows
      ├── daily rows ──▶ DailyModel  (CalTRACK daily: intercept-only, heating, cooling or both
      │                              degree-day terms over a grid of balance points; the qualifying
      │                              candidate of highest adjusted R²)
      └── hourly rows ─┬▶ HourlyModel (LBNL TOWT / CalTRACK hourly: 168 time-of-week indicators,
                       │              piecewise-linear temperature, occupied and unoccupied hours apart)
                       └▶ DailyModel on the whole local days
                          ─── both judged on daily totals: the lower CV(RMSE) is the Baseline's model

Time of week and days are the site's local ones: a daily row is one local day,
23 or 25 hours long on a daylight-saving change, and its energy is modelled per
24 hours, so a short day is predicted short. Missing rows (gaps) are simply
absent: nothing is interpolated. Rows inside an ``Exclusion`` (a non-routine
event: a shutdown, a tenant moving in) are left out of the fit and counted.

Everything here is pure: arrays in, a fitted model out. ``savings`` applies a
model to a reporting period.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from openbms.analytics.gl14 import FitStats, fit_stats, t_two_sided_p

__all__ = [
    "MIN_HOURS",
    "Baseline",
    "DailyModel",
    "Exclusion",
    "HourlyModel",
    "Interval",
    "daily_rows",
    "fit_baseline",
    "fit_daily",
    "fit_hourly",
    "fit_towt",
    "interval_of",
    "local_time",
]

Interval = Literal["hourly", "daily"]
DailyKind = Literal["intercept", "heating", "cooling", "heating_cooling"]

_F = npt.NDArray[np.float64]
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

HOUR = 3600.0
DAY = 86400.0
#: Balance points searched, °C: CalTRACK 2.0's recommended range, 30–90 °F, in 1 °C steps (it asks for steps
#: of at most 3 °F), heating and cooling alike; a cooling balance point is never below the heating one.
HEATING_BALANCE = tuple(float(b) for b in np.arange(-1.0, 32.01, 1.0))
COOLING_BALANCE = HEATING_BALANCE
#: A degree-day coefficient counts when positive (CalTRACK 2.0) and significant, p below this (CalTRACK 1.0's
#: rule, kept by eemeter): on pure noise a grid of balance points otherwise finds a slope in about half the
#: cases (21 of 40 generated series, against 6 of 40 with the rule).
P_MAX = 0.1
#: CalTRACK's sufficiency rule for a degree-day term: days with non-zero degree days (10) and their total
#: (20 °F·days ≈ 11 °C·days).
MIN_DD_DAYS = 10
MIN_DD_TOTAL = 11.0
#: CalTRACK hourly's temperature knots (30, 45, 55, 65, 75, 90 °F) in °C; a bin holding fewer than
#: ``MIN_BIN_HOURS`` training hours is merged with its neighbour.
#: The fewest hours an hourly baseline fits on: more than its parameters (168 hour-of-week terms and
#: up to 14 temperature slopes), so a week alone is not enough.
MIN_HOURS = 8 * 24
KNOTS = (-1.1, 7.2, 12.8, 18.3, 23.9, 32.2)
MIN_BIN_HOURS = 20
#: CalTRACK hourly's occupancy rule: an hour of the week is occupied when the building used more than a
#: degree-day model (HDD 50 °F, CDD 65 °F) predicts in more than this share of its hours.
OCCUPANCY_SHARE = 0.65
OCC_HEATING = 10.0
OCC_COOLING = 18.3


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A non-routine event: ``[start, end)`` in epoch seconds left out of a period, and why."""

    start: float
    end: float
    note: str


# --- time ------------------------------------------------------------------------------------------


def interval_of(ts: npt.ArrayLike) -> Interval:
    """Whether rows at these epoch seconds are hourly or daily (by their usual spacing)."""
    t = np.sort(np.asarray(ts, dtype=float))
    if len(t) < 2:
        raise ValueError("one row cannot tell hourly from daily data: at least two are needed")
    step = float(np.median(np.diff(t)))
    if abs(step - HOUR) <= 60:
        return "hourly"
    if 23 * HOUR - 60 <= step <= 25 * HOUR + 60:
        return "daily"
    raise ValueError(f"rows are {step / HOUR:g} h apart: expected hourly (1 h) or daily (24 h) rows")


@dataclass(frozen=True, slots=True)
class _Local:
    """Local calendar fields of rows: day (ordinal), time of week (0 = Monday 00:00), day length in hours."""

    day: npt.NDArray[np.int64]
    tow: npt.NDArray[np.int64]
    hours: npt.NDArray[np.float64]


def _offsets(ts: _F, tz: ZoneInfo) -> _F:
    """UTC offset in seconds at each instant, from the zone's changes found between the first and last."""
    def offset(t: float) -> float:
        off = datetime.fromtimestamp(t, tz).utcoffset()
        return 0.0 if off is None else off.total_seconds()

    if len(ts) == 0:
        return np.zeros(0)
    lo, hi = float(ts.min()), float(ts.max())
    # Offsets every 6 hours (zones change at most a few times a year); each change is found to the second.
    grid = np.append(np.arange(lo, hi, 6 * HOUR), hi)
    values = [offset(g) for g in grid.tolist()]
    changes: list[tuple[float, float]] = []
    for i in range(1, len(grid)):
        if values[i] != values[i - 1]:
            a, b = float(grid[i - 1]), float(grid[i])
            while b - a > 1:
                mid = math.floor((a + b) / 2)
                if offset(mid) == values[i - 1]:
                    a = mid
                else:
                    b = mid
            changes.append((b, values[i]))
    out = np.full(len(ts), values[0])
    for at, value in changes:
        out[ts >= at] = value
    return out


def local_time(ts: _F, tz: ZoneInfo) -> _Local:
    """Each time's local day, hour of the week (``tow``, Monday 00:00 is 0) and day length in ``tz``."""
    wall = ts + _offsets(ts, tz)
    day = np.floor(wall / DAY).astype(np.int64) + _EPOCH_ORDINAL
    hour = np.floor((wall - (day - _EPOCH_ORDINAL) * DAY) / HOUR).astype(np.int64)
    weekday = (day - 1) % 7  # date.fromordinal(1) is a Monday
    days, inverse = np.unique(day, return_inverse=True)
    lengths = np.array([(_midnight(int(d) + 1, tz) - _midnight(int(d), tz)) / HOUR for d in days.tolist()])
    return _Local(day, weekday * 24 + hour, lengths[inverse] if len(days) else np.zeros(0))


def _midnight(ordinal: int, tz: ZoneInfo) -> float:
    d = date.fromordinal(ordinal)
    return datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()


def _keep(ts: npt.NDArray[np.float64], exclude: Sequence[Exclusion]) -> npt.NDArray[np.bool_]:
    keep = np.ones(len(ts), dtype=bool)
    for e in exclude:
        keep &= ~((ts >= e.start) & (ts < e.end))
    return keep


def _arrays(
    ts: npt.ArrayLike, temp: npt.ArrayLike, value: npt.ArrayLike | None = None, ordered: bool = True
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    t = np.asarray(ts, dtype=float)
    x = np.asarray(temp, dtype=float)
    y = None if value is None else np.asarray(value, dtype=float)
    if len(x) != len(t) or (y is not None and len(y) != len(t)):
        raise ValueError("timestamps, values and temperatures must have one entry per row")
    bad = ~np.isfinite(t) | ~np.isfinite(x) | (np.zeros(len(t), bool) if y is None else ~np.isfinite(y))
    if bad.any():
        raise ValueError(f"row {int(np.argmax(bad)) + 1} has a missing or non-finite number")
    if ordered and len(t) > 1 and (np.diff(t) <= 0).any():
        row = int(np.argmax(np.diff(t) <= 0)) + 2
        raise ValueError(f"rows must be in time order without repeats (row {row})")
    return t, x, y


def _ols(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], float]:
    """Coefficients and residual sum of squares of a least-squares fit."""
    coef, _res, _rank, _sv = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ coef
    return np.asarray(coef, dtype=np.float64), float(r @ r)


# --- daily change-point model (CalTRACK daily) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyModel:
    """Energy per 24 h = intercept + heating slope × HDD + cooling slope × CDD (kWh, °C·days).

    HDD = max(0, heating balance − the day's mean °C), CDD = max(0, mean °C − cooling
    balance). A day of ``h`` hours uses ``h/24`` of it. ``p`` counts the fitted
    parameters, balance points included.
    """

    kind: DailyKind
    intercept: float
    heating_slope: float = 0.0
    heating_balance: float | None = None
    cooling_slope: float = 0.0
    cooling_balance: float | None = None
    adj_r2: float = 0.0

    @property
    def p(self) -> int:
        """Parameters fitted: the intercept, and a slope and a balance point per degree-day term."""
        return 1 + 2 * (self.heating_balance is not None) + 2 * (self.cooling_balance is not None)

    def per_day(self, temp: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Energy of a 24-hour day at each mean temperature."""
        x = np.asarray(temp, dtype=float)
        out = np.full(len(x), self.intercept)
        if self.heating_balance is not None:
            out += self.heating_slope * np.maximum(self.heating_balance - x, 0.0)
        if self.cooling_balance is not None:
            out += self.cooling_slope * np.maximum(x - self.cooling_balance, 0.0)
        return out


def _candidate(
    kind: DailyKind, y: npt.NDArray[np.float64], hdd: npt.NDArray[np.float64] | None,
    cdd: npt.NDArray[np.float64] | None, hb: float | None, cb: float | None, ss_tot: float,
) -> DailyModel | None:
    """One candidate fit, or None when a term fails CalTRACK's sufficiency or significance rules."""
    n = len(y)
    cols = [np.ones(n)]
    for dd in (hdd, cdd):
        if dd is not None:
            if int((dd > 0).sum()) < MIN_DD_DAYS or float(dd.sum()) < MIN_DD_TOTAL:
                return None
            cols.append(dd)
    x = np.column_stack(cols)
    k = x.shape[1]
    if n <= k:
        return None
    # Normal equations: three columns at most, solved some thousand times per fit.
    try:
        inv = np.linalg.inv(x.T @ x)
    except np.linalg.LinAlgError:
        return None
    coef = inv @ (x.T @ y)
    r = y - x @ coef
    ss_res = float(r @ r)
    if k > 1:
        sigma2 = ss_res / (n - k)
        for j in range(1, k):
            se = math.sqrt(max(float(sigma2 * inv[j, j]), 0.0))
            if coef[j] <= 0 or (se > 0 and t_two_sided_p(float(coef[j]) / se, n - k) >= P_MAX):
                return None
        if coef[0] < 0:
            return None  # CalTRACK 2.0: no parameter negative, the intercept (base load) included
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    adj = 1.0 - (1.0 - r2) * (n - 1) / (n - k) if k > 1 else 0.0
    hs = float(coef[1]) if hdd is not None else 0.0
    cs = float(coef[-1]) if cdd is not None else 0.0
    return DailyModel(kind, float(coef[0]), hs, None if hb is None else float(hb), cs,
                      None if cb is None else float(cb), adj)


def fit_daily(temp: npt.ArrayLike, per_day: npt.ArrayLike) -> DailyModel:
    """CalTRACK's daily model of energy per 24 h against each day's mean temperature.

    Every candidate (intercept only; heating, cooling, heating and cooling over
    the balance-point grids) is fitted by least squares; a degree-day term
    qualifies with a positive coefficient of p < 0.1 and enough degree days; the
    qualifying candidate of highest adjusted R² wins (intercept only, adjusted
    R² 0, always qualifies).
    """
    x = np.asarray(temp, dtype=float)
    y = np.asarray(per_day, dtype=float)
    if len(y) < 2:
        raise ValueError(f"{len(y)} whole days cannot fit a daily baseline: at least two are needed")
    ss_tot = float(((y - y.mean()) ** 2).sum())
    best = DailyModel("intercept", float(y.mean()))
    hdds = {b: np.maximum(b - x, 0.0) for b in HEATING_BALANCE}
    cdds = {b: np.maximum(x - b, 0.0) for b in COOLING_BALANCE}
    found: list[DailyModel | None] = []
    for hb, hdd in hdds.items():
        found.append(_candidate("heating", y, hdd, None, hb, None, ss_tot))
    for cb, cdd in cdds.items():
        found.append(_candidate("cooling", y, None, cdd, None, cb, ss_tot))
    for hb, hdd in hdds.items():
        for cb, cdd in cdds.items():
            if cb >= hb:
                found.append(_candidate("heating_cooling", y, hdd, cdd, hb, cb, ss_tot))
    for m in found:
        if m is not None and m.adj_r2 > best.adj_r2:
            best = m
    return best


def daily_rows(
    ts: npt.ArrayLike, value: npt.ArrayLike, temp: npt.ArrayLike, tz: ZoneInfo
) -> tuple[_F, _F, _F, _F]:
    """Hourly rows summed into whole local days: (midnight epoch s, energy, mean °C, hours of the day).

    A day missing any of its hours (23, 24 or 25) is left out.
    """
    t, x, y = _arrays(ts, temp, value)
    assert y is not None
    loc = local_time(t, tz)
    days, first, counts = np.unique(loc.day, return_index=True, return_counts=True)
    whole = counts == np.round(loc.hours[first]).astype(int)
    energy = np.bincount(np.searchsorted(days, loc.day), weights=y, minlength=len(days))
    mean = np.bincount(np.searchsorted(days, loc.day), weights=x, minlength=len(days)) / counts
    starts = np.array([_midnight(int(d), tz) for d in days], dtype=float)
    return starts[whole], energy[whole], mean[whole], loc.hours[first][whole]


# --- hourly time-of-week-and-temperature model (LBNL TOWT / CalTRACK hourly) -------------------


def _knots(temp: npt.NDArray[np.float64]) -> tuple[float, ...]:
    """CalTRACK's knots, merging every bin that holds fewer than ``MIN_BIN_HOURS`` hours into a neighbour."""
    knots = list(KNOTS)
    while knots:
        edges = [-math.inf, *knots, math.inf]
        counts = [int(((temp > lo) & (temp <= hi)).sum()) for lo, hi in itertools.pairwise(edges)]
        small = next((i for i, c in enumerate(counts) if c < MIN_BIN_HOURS), None)
        if small is None:
            break
        # The first bin loses its upper knot, any other its lower one: it joins its neighbour.
        knots.pop(0 if small == 0 else small - 1)
    return tuple(knots)


def _temp_basis(temp: npt.NDArray[np.float64], knots: tuple[float, ...]) -> npt.NDArray[np.float64]:
    """Piecewise-linear temperature segments: each column the part of the temperature in one bin."""
    if not knots:
        return temp[:, None]
    cols = [np.minimum(temp, knots[0])]
    for lo, hi in itertools.pairwise(knots):
        cols.append(np.clip(temp - lo, 0.0, hi - lo))
    cols.append(np.maximum(temp - knots[-1], 0.0))
    return np.column_stack(cols)


@dataclass(frozen=True)
class HourlyModel:
    """Energy of an hour = its time-of-week term + a piecewise-linear function of temperature.

    Occupied and unoccupied hours of the week have their own temperature
    slopes; which hours are occupied comes from the data (CalTRACK's rule).
    One model covers the whole baseline period (no per-month segmentation).
    """

    tz: ZoneInfo
    knots: tuple[float, ...]
    occupied: npt.NDArray[np.bool_]
    tow_coef: npt.NDArray[np.float64]
    occ_coef: npt.NDArray[np.float64]
    unocc_coef: npt.NDArray[np.float64]
    p: int

    def predict(self, ts: npt.ArrayLike, temp: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Energy of each hour starting at ``ts`` at outdoor temperature ``temp``."""
        t, x, _ = _arrays(ts, temp, ordered=False)
        return self.predict_tow(local_time(t, self.tz).tow, x)

    def predict_tow(self, tow: npt.NDArray[np.int64],
                    temp: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The energy of hours given by their hour of the week and outdoor temperature."""
        basis = _temp_basis(temp, self.knots)
        occ = self.occupied[tow]
        return self.tow_coef[tow] + np.where(occ, basis @ self.occ_coef, basis @ self.unocc_coef)


def _occupancy(tow: npt.NDArray[np.int64], temp: npt.NDArray[np.float64],
               y: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    x = np.column_stack([np.ones(len(y)), np.maximum(OCC_HEATING - temp, 0.0),
                         np.maximum(temp - OCC_COOLING, 0.0)])
    coef, _ = _ols(x, y)
    above = (y - x @ coef) > 0
    hits = np.bincount(tow, weights=above.astype(float), minlength=168)
    total = np.bincount(tow, minlength=168)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, hits / np.maximum(total, 1), 0.0)
    return share > OCCUPANCY_SHARE


def fit_hourly(ts: npt.ArrayLike, value: npt.ArrayLike, temp: npt.ArrayLike, tz: ZoneInfo) -> HourlyModel:
    """Fit the time-of-week-and-temperature model on hourly rows (energy of the hour, mean °C)."""
    t, x, y = _arrays(ts, temp, value)
    assert y is not None
    if len(y) < MIN_HOURS:
        raise ValueError(f"{len(y)} hours cannot fit an hourly baseline: at least {MIN_HOURS // 24} days "
                         f"({MIN_HOURS} hours) are needed (a week's 168 hour-of-week terms and the "
                         "temperature slopes are more parameters than a week of hours)")
    tow = local_time(t, tz).tow
    return fit_towt(tow, x, y, tz)


def fit_towt(tow: npt.NDArray[np.int64], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
              tz: ZoneInfo) -> HourlyModel:
    """The TOWT model of hours given by their hour of the week ``tow``, temperature ``x`` and
    energy ``y`` (``fit_hourly`` from times; the forecasts fit on their own calendar)."""
    occupied = _occupancy(tow, x, y)
    knots = _knots(x)
    basis = _temp_basis(x, knots)
    k = basis.shape[1]
    # Least squares with 168 hour-of-week indicators, solved by taking each hour of the week's mean out
    # of the temperature columns and of the energy (Frisch–Waugh–Lovell): the same coefficients as the
    # full design, at the cost of the temperature columns alone.
    counts = np.bincount(tow, minlength=168)
    seen = counts > 0
    occ = occupied[tow][:, None]
    groups = [g for g in (True, False) if (occupied[tow] == g).any()]
    z = np.column_stack([np.where(occ == g, basis, 0.0) for g in groups])

    def tow_mean(v: _F) -> _F:
        return np.bincount(tow, weights=v, minlength=168) / np.maximum(counts, 1)

    zc = z - np.column_stack([tow_mean(z[:, j]) for j in range(z.shape[1])])[tow]
    slope, _ = _ols(zc, y - tow_mean(y)[tow])
    tow_coef = tow_mean(y - z @ slope)
    # An hour of the week with no data takes the mean of the same hour on the days of its kind that have
    # it (weekdays, or Saturday and Sunday), and their usual occupancy.
    occupied = occupied.copy()
    for h in np.flatnonzero(~seen):
        kind = range(5) if h // 24 < 5 else range(5, 7)
        same = [d * 24 + h % 24 for d in kind if seen[d * 24 + h % 24]]
        same = same or [d * 24 + h % 24 for d in range(7) if seen[d * 24 + h % 24]]
        tow_coef[h] = float(tow_coef[same].mean()) if same else float(tow_coef[seen].mean())
        occupied[h] = bool(same) and 2 * int(occupied[same].sum()) > len(same)
    slopes = {g: slope[i * k:(i + 1) * k] for i, g in enumerate(groups)}
    zero = np.zeros(k)
    occ_coef = slopes.get(True, slopes.get(False, zero))
    unocc_coef = slopes.get(False, occ_coef)
    p = int(seen.sum()) + k * len(groups)
    return HourlyModel(tz, knots, occupied, tow_coef, occ_coef, unocc_coef, p)


# --- the baseline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """A fitted baseline: the model chosen, its statistics, and what was left out.

    ``stats`` are the Guideline 14 statistics of the chosen model at the
    training rows' interval; ``daily_cvrmse`` compares the candidates on whole
    local days (the basis of the choice when the rows are hourly).
    """

    interval: Interval
    model: Literal["hourly", "daily"]
    tz: ZoneInfo
    daily: DailyModel
    hourly: HourlyModel | None
    stats: FitStats
    daily_cvrmse: dict[str, float]
    rows: int
    excluded_rows: int
    exclusions: tuple[Exclusion, ...] = field(default=())

    def predict(
        self, ts: npt.ArrayLike, temp: npt.ArrayLike, interval: Interval | None = None
    ) -> npt.NDArray[np.float64]:
        """Energy at each row: hourly rows (energy of the hour) or daily rows (energy of the local day).

        ``interval``: what the rows are; by default their spacing says, or the
        training interval for a single row. Rows may come in any order.
        """
        t, x, _ = _arrays(ts, temp, ordered=False)
        if len(t) == 0:
            return np.zeros(0)
        kind = interval or (interval_of(t) if len(t) > 1 else self.interval)
        loc = local_time(t, self.tz)
        if kind == "daily":
            return self.daily.per_day(x) * loc.hours / 24.0
        if self.hourly is None:
            raise ValueError("a baseline fitted on daily rows predicts daily rows, not hourly ones")
        hourly = self.hourly.predict_tow(loc.tow, x)
        return hourly if self.model == "hourly" else _share(self.daily, hourly, loc, x)


def _share(daily: DailyModel, hourly: npt.NDArray[np.float64], loc: _Local,
           temp: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Hours by the daily model: each day's energy shared among its hours as ``hourly`` shares it."""
    _days, inverse = np.unique(loc.day, return_inverse=True)
    counts = np.bincount(inverse)
    mean = np.bincount(inverse, weights=temp) / counts
    # Energy per 24 h, so each hour asked for holds 1/24 of it (a 23-hour day: 23/24 of it in all).
    wanted = daily.per_day(mean) * counts / 24.0
    shape = np.bincount(inverse, weights=hourly)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(shape > 0, wanted / shape, 1.0)
    return hourly * scale[inverse]


def fit_baseline(
    ts: npt.ArrayLike,
    value: npt.ArrayLike,
    temp: npt.ArrayLike,
    tz: ZoneInfo,
    exclude: Sequence[Exclusion] = (),
) -> Baseline:
    """Fit a baseline on hourly or daily rows (energy of the interval, mean outdoor °C).

    Daily rows get the daily change-point model. Hourly rows get both models;
    each is judged by the CV(RMSE) of its whole local days' totals, and the lower
    one is chosen.
    """
    t, x, y = _arrays(ts, temp, value)
    assert y is not None
    keep = _keep(t, exclude)
    excluded = int((~keep).sum())
    t, x, y = t[keep], x[keep], y[keep]
    interval = interval_of(t)
    if interval == "daily":
        loc = local_time(t, tz)
        daily = fit_daily(x, y * 24.0 / loc.hours)
        predicted = daily.per_day(x) * loc.hours / 24.0
        stats = fit_stats(y, predicted, daily.p, _adjacent(t, DAY))
        return Baseline("daily", "daily", tz, daily, None, stats, {"daily": stats.cvrmse_pct},
                        len(t), excluded, tuple(exclude))
    hourly = fit_hourly(t, y, x, tz)
    day_ts, day_e, day_x, day_h = daily_rows(t, y, x, tz)
    daily = fit_daily(day_x, day_e * 24.0 / day_h) if len(day_e) >= 2 else DailyModel("intercept", 0.0)
    # Both judged on the same whole days by their prediction error alone (no degrees of freedom taken:
    # the hourly model's 168 hour-of-week terms are not parameters of a daily total).
    scores: dict[str, float] = {}
    if len(day_e) >= 2:
        day_of = local_time(t, tz).day
        whole = np.isin(day_of, [datetime.fromtimestamp(s, tz).date().toordinal() for s in day_ts])
        sums = np.bincount(np.searchsorted(np.unique(day_of[whole]), day_of[whole]),
                           weights=hourly.predict(t[whole], x[whole]))
        scores["hourly"] = fit_stats(day_e, sums, 0).cvrmse_pct
        scores["daily"] = fit_stats(day_e, daily.per_day(day_x) * day_h / 24.0, 0).cvrmse_pct
    choice: Literal["hourly", "daily"] = (
        "daily" if "hourly" in scores and scores["daily"] < scores["hourly"] else "hourly")
    loc = local_time(t, tz)
    predicted = hourly.predict_tow(loc.tow, x)
    if choice == "daily":
        predicted = _share(daily, predicted, loc, x)
    stats = fit_stats(y, predicted, hourly.p if choice == "hourly" else daily.p, _adjacent(t, HOUR))
    return Baseline("hourly", choice, tz, daily, hourly, stats, scores, len(t), excluded, tuple(exclude))


def _adjacent(t: npt.NDArray[np.float64], step: float) -> npt.NDArray[np.bool_]:
    """Whether each row follows the one before by one interval (a daily step may be 23 to 25 h)."""
    gap = np.diff(t, prepend=-math.inf)
    slack = 3600.0 + 60 if step == DAY else 60.0
    return np.abs(gap - step) <= slack

