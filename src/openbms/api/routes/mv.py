"""``/api/v1/sites/{site}/analytics/baseline`` and ``…/savings``: measurement and verification (M&V).

::

    meter, baseline period ──analytics.history.meter_hours──▶ kWh and outdoor °C per hour
      ──(worker thread) fit_baseline──▶ model, Guideline 14 statistics, days actual vs expected
    + reporting period ──(worker thread) savings──▶ avoided energy ± uncertainty, per day/week/month

``/baseline`` fits a weather-normalised baseline on a period and says how good
it is (CV(RMSE), NMBE, R², whether ASHRAE Guideline 14's criteria are met and
why not) and what it learnt (balance points, slopes, occupied hours).
``/savings`` fits the baseline on its period and applies it to the reporting
period (IPMVP option C): adjusted baseline, actual, avoided energy and its
fractional savings uncertainty at a confidence. Non-routine events are
``exclude=START/END/NOTE`` (repeated), left out of both periods and reported.
The arithmetic is ``openbms.analytics``' (``baseline``, ``savings``); these
routes pick the meter, load its hours through ``analytics.history`` and fit in
a worker thread. ``format=csv|xlsx`` downloads the series (and, in a workbook,
the summary) through ``api.export_tables``. Access: ``history:read`` on the
site; reading is not audited, like the other analytics routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from openbms.analytics.baseline import MIN_HOURS, Baseline, Exclusion, daily_rows, fit_baseline, local_time
from openbms.analytics.gl14 import CRITERIA, fit_stats
from openbms.analytics.history import MeterHours, meter_hours, outdoor_point, site_meter
from openbms.analytics.savings import Savings, savings
from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.errors import ApiError, invalid_field
from openbms.api.export_tables import EXPORT_RESPONSES, Column, Table, export_response, filename_of
from openbms.api.helpers import finite, parse_site_time, runtime_of, site_config
from openbms.model.site import SiteConfig
from openbms.service.protocols import Services

__all__ = ["MAX_DAYS", "MIN_DAYS", "router"]

router = APIRouter(prefix="/api/v1", tags=["energy"])

_F = npt.NDArray[np.float64]
HOUR = 3600.0
DAY = 86_400.0
#: The longest period a baseline or a reporting period may span (two years of hours: 17 544 rows).
MAX_DAYS = 731
#: Whole local days a daily baseline needs (as many as an hourly one needs days of hours).
MIN_DAYS = MIN_HOURS // 24
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MODEL_NAMES = {"hourly": "time-of-week-and-temperature (hourly)", "daily": "daily change-point"}

Method = Literal["auto", "hourly", "daily"]
Format = Literal["json", "csv", "xlsx"]


# --- answers -----------------------------------------------------------------------------------------


class ExclusionOut(BaseModel):
    """A non-routine event left out of the periods, and how many rows of this one it held."""

    start: float
    end: float
    note: str
    rows: int = Field(description="rows (hours or days) of the period with data that fell in it")


class StatisticsOut(BaseModel):
    """ASHRAE Guideline 14 statistics of the baseline over its own rows."""

    cvrmse_pct: float | None = Field(description="CV(RMSE), % of the mean (n − p degrees of freedom)")
    nmbe_pct: float | None = Field(description="normalised mean bias error, %: positive, the model is low")
    r2: float
    n: int = Field(description="rows fitted")
    p: int = Field(description="parameters of the model")
    autocorrelation: float = Field(description="lag-1 autocorrelation of the residuals")
    mean_kwh: float = Field(description="the mean energy of a row")


class Guideline14Out(BaseModel):
    """Whether the fit meets ASHRAE Guideline 14's calibration criteria for hourly data, and why not."""

    met: bool
    cvrmse_max_pct: float
    nmbe_max_pct: float
    reasons: list[str] = Field(description="each criterion missed, in words; empty when met")


class DailyModelOut(BaseModel):
    """The daily change-point model: energy per 24 h = intercept + heating and cooling degree-day terms."""

    kind: Literal["intercept", "heating", "cooling", "heating_cooling"]
    intercept_kwh: float = Field(description="kWh a day, whatever the weather")
    heating_balance_c: float | None
    heating_slope_kwh_per_degc_day: float | None
    cooling_balance_c: float | None
    cooling_slope_kwh_per_degc_day: float | None


class HourlyModelOut(BaseModel):
    """The time-of-week-and-temperature model: occupied hours of the week and its temperature knots."""

    occupied_hours: int = Field(description="hours of the week (of 168) the data shows the building occupied")
    occupied: list[str] = Field(description="the occupied hours per local weekday, e.g. 'Mon 07:00-19:00'")
    knots_c: list[float] = Field(description="the temperature knots of its piecewise-linear terms, °C")


class ModelOut(BaseModel):
    """The model chosen and what it learnt."""

    method: Literal["hourly", "daily"] = Field(
        description="hourly: time-of-week-and-temperature; daily: change-point on degree days")
    name: str
    interval: Literal["hourly", "daily"] = Field(description="the rows fitted: hours or whole local days")
    candidates_cvrmse_pct: dict[str, float] = Field(
        description="each candidate's CV(RMSE) on whole local days' totals (the choice when method=auto)")
    daily: DailyModelOut
    hourly: HourlyModelOut | None
    words: list[str] = Field(description="the model in sentences")


class BaselineDayOut(BaseModel):
    """One local day of the baseline period: energy measured and the model's, over the same hours."""

    start: float
    date: str
    actual: float = Field(description="kWh measured in the day's hours with data")
    expected: float = Field(description="kWh the baseline gives for the same hours")
    excluded: bool = Field(description="the day holds excluded rows (a non-routine event)")


class BaselineSummaryOut(BaseModel):
    """A fitted baseline: its period, rows, model and statistics."""

    start: float
    end: float
    method_asked: Method
    rows: int = Field(description="rows fitted")
    excluded_rows: int
    missing_hours: int = Field(description="hours of the period without energy or temperature")
    exclusions: list[ExclusionOut]
    statistics: StatisticsOut
    guideline14: Guideline14Out
    model: ModelOut


class BaselineOut(BaselineSummaryOut):
    """A baseline fitted on a period of a meter, with its days for a chart."""

    site: str
    timezone: str
    meter: str
    temperature: str = Field(description="the outdoor temperature point used")
    series: list[BaselineDayOut]


class SavingsBucketOut(BaseModel):
    """One day, week or month of the reporting period (rows outside exclusions)."""

    start: float
    end: float
    date: str
    actual: float = Field(description="kWh measured")
    expected: float = Field(description="the adjusted baseline: kWh the building would have used")
    avoided: float
    cumulative_avoided: float = Field(description="avoided energy from the period's start to this one's end")


class SavingsOut(BaseModel):
    """Avoided energy over a reporting period against a baseline (IPMVP option C, Guideline 14)."""

    site: str
    timezone: str
    meter: str
    temperature: str
    baseline: BaselineSummaryOut
    start: float
    end: float
    rows: int = Field(description="reporting rows compared (the baseline's interval)")
    excluded_rows: int
    missing_hours: int
    exclusions: list[ExclusionOut]
    adjusted_baseline_kwh: float
    actual_kwh: float
    avoided_kwh: float
    savings_pct: float | None = Field(description="avoided energy as % of the adjusted baseline")
    confidence: float
    fsu_pct: float | None = Field(
        description="fractional savings uncertainty at the confidence, % of the savings; null: unbounded "
                    "(nothing saved)")
    low_kwh: float | None
    high_kwh: float | None
    bucket: Literal["day", "week", "month"]
    series: list[SavingsBucketOut]


# --- requests ----------------------------------------------------------------------------------------


def _point(cfg: SiteConfig, field: str, token: str) -> str:
    """The full point id of ``token`` (equipment/point or site/equipment/point) in the site; 422 if none."""
    token = token.strip()
    pid = token if token.count("/") == 2 else f"{cfg.site.id}/{token}"
    if not any(p == pid for p, _e, _pt in cfg.points()):
        raise invalid_field(["query", field], f"no point {token!r} in site {cfg.site.id}: expected "
                            "equipment/point of one of its points")
    return pid


def _meter(cfg: SiteConfig, token: str) -> str:
    pid = _point(cfg, "meter", token)
    if site_meter(cfg, pid) is None:
        raise invalid_field(["query", "meter"], f"{token} is not a meter: expected a number point in kWh, Wh "
                            "or MWh, or in kW, W or MW tagged elec, gas, meter or energy")
    return pid


def _temperature(cfg: SiteConfig, token: str | None) -> str:
    if token:
        pid = _point(cfg, "temperature", token)
        point = next(p for q, _e, p in cfg.points() if q == pid)
        if point.kind != "number" or point.unit not in ("°C", "degC"):
            what = f"in {point.unit}" if point.kind == "number" and point.unit else f"a {point.kind}"
            raise invalid_field(["query", "temperature"], f"{token.strip()} is {what}: expected an outdoor "
                                "temperature, a number point in °C")
        return pid
    found = outdoor_point(cfg)
    if found is None:
        raise invalid_field(["query", "temperature"], f"site {cfg.site.id} has no outdoor temperature point "
                            "(a number in °C tagged outside and temp): name one with temperature=")
    return found


def _span(start_text: str | None, end_text: str | None, start_field: str,
          end_field: str, tz: ZoneInfo) -> tuple[float, float]:
    """A period from two query fields; 422 naming the field when one is missing, reversed or too long."""
    start = parse_site_time(start_text, start_field, tz.key)
    end = parse_site_time(end_text, end_field, tz.key)
    if start is None:
        raise invalid_field(["query", start_field], "expected the period's start (ISO 8601 or epoch s)")
    if end is None:
        raise invalid_field(["query", end_field], "expected the period's end (ISO 8601 or epoch s)")
    if end <= start:
        raise invalid_field(["query", end_field], f"expected a time after {start_field}")
    if end - start > MAX_DAYS * DAY:
        raise invalid_field(["query", end_field], f"the period is {(end - start) / DAY:.0f} days long: "
                            f"expected at most {MAX_DAYS} days after {start_field}")
    return start, end


def _exclusions(items: Sequence[str] | None, tz: ZoneInfo) -> list[Exclusion]:
    """``START/END/NOTE`` (the note optional; times ISO 8601, local dates or epoch s) each; 422 naming
    the one wrong."""
    out = []
    for i, text in enumerate(items or ()):
        parts = text.split("/", 2)
        if len(parts) < 2:
            raise invalid_field(["query", "exclude", i], f"{text!r}: expected START/END/NOTE, e.g. "
                                "2025-03-01T00:00:00Z/2025-03-15T00:00:00Z/boiler replaced")
        try:
            start = parse_site_time(parts[0], "exclude", tz.key)
            end = parse_site_time(parts[1], "exclude", tz.key)
        except ApiError:
            raise invalid_field(["query", "exclude", i], f"{text!r}: START and END must be ISO 8601 "
                                "(2025-03-01T00:00:00Z) or epoch seconds") from None
        if start is None or end is None or end <= start:
            raise invalid_field(["query", "exclude", i], f"{text!r}: expected a START before its END")
        note = parts[2].strip() if len(parts) > 2 else ""
        out.append(Exclusion(start, end, note or "excluded"))
    return out


# --- the work (in a worker thread) -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Rows:
    """The rows a baseline is fitted on or applied to: hours or whole local days."""

    ts: _F
    kwh: _F
    temp: _F


def _rows(hours: MeterHours, interval: Literal["hourly", "daily"], tz: ZoneInfo) -> _Rows:
    t, y, x = hours.known()
    if interval == "daily" and len(t):
        dt, dy, dx, _h = daily_rows(t, y, x, tz)
        return _Rows(dt, dy, dx)
    return _Rows(t, y, x)


def _inside(ts: _F, exclusions: Sequence[Exclusion]) -> npt.NDArray[np.bool_]:
    out = np.zeros(len(ts), dtype=bool)
    for e in exclusions:
        out |= (ts >= e.start) & (ts < e.end)
    return out


def _fit(hours: MeterHours, tz: ZoneInfo, exclusions: Sequence[Exclusion], method: Method,
         field: str) -> tuple[Baseline, _Rows]:
    """The baseline on the period's hours (or days); 422 on ``field`` (its start) when too few."""
    interval: Literal["hourly", "daily"] = "daily" if method == "daily" else "hourly"
    rows = _rows(hours, interval, tz)
    usable = int((~_inside(rows.ts, exclusions)).sum())
    needed = MIN_DAYS if interval == "daily" else MIN_HOURS
    unit = "whole local days" if interval == "daily" else "hours"
    if usable < needed:
        raise invalid_field(["query", field], f"the baseline period has {usable} {unit} with both energy and "
                            f"outdoor temperature outside its exclusions: at least {needed} are needed "
                            f"({MIN_DAYS} days; a year is usual)", "too_few_rows")
    try:
        fitted = fit_baseline(rows.ts, rows.kwh, rows.temp, tz, exclusions)
    except ValueError as err:
        raise invalid_field(["query", field], f"the baseline period cannot be fitted: {err}") from None
    if method == "hourly" and fitted.model == "daily" and fitted.hourly is not None:
        # Asked for the time-of-week model although the daily one judged better: its own statistics.
        keep = ~_inside(rows.ts, exclusions)
        t, x, y = rows.ts[keep], rows.temp[keep], rows.kwh[keep]
        predicted = fitted.hourly.predict_tow(local_time(t, tz).tow, x)
        adjacent = np.abs(np.diff(t, prepend=-math.inf) - HOUR) <= 60.0
        fitted = dataclasses.replace(fitted, model="hourly",
                                     stats=fit_stats(y, predicted, fitted.hourly.p, adjacent))
    return fitted, rows


def _occupied(occupied: npt.NDArray[np.bool_]) -> list[str]:
    """The occupied hours of the week per weekday, as ranges ('Mon 07:00-19:00')."""
    out = []
    for d, name in enumerate(_DAY_NAMES):
        hours = occupied[d * 24:(d + 1) * 24].tolist()
        ranges = []
        h = 0
        while h < 24:
            if hours[h]:
                a = h
                while h < 24 and hours[h]:
                    h += 1
                ranges.append(f"{a:02d}:00-{h:02d}:00")
            h += 1
        if ranges:
            out.append(f"{name} {', '.join(ranges)}")
    return out


def _model(b: Baseline) -> dict[str, Any]:
    d = b.daily
    heating = d.heating_balance is not None
    cooling = d.cooling_balance is not None
    words = []
    if b.model == "daily":
        terms = [f"{d.intercept:.1f} kWh a day"]
        if heating:
            terms.append(f"{d.heating_slope:.2f} kWh per °C·day below {d.heating_balance:g} °C (heating)")
        if cooling:
            terms.append(f"{d.cooling_slope:.2f} kWh per °C·day above {d.cooling_balance:g} °C (cooling)")
        words.append("Daily change-point model: " + " + ".join(terms) + ".")
    hourly = None
    if b.hourly is not None:
        occ = _occupied(b.hourly.occupied)
        hourly = {"occupied_hours": int(b.hourly.occupied.sum()), "occupied": occ,
                  "knots_c": [float(k) for k in b.hourly.knots]}
        if b.model == "hourly":
            words.append("Time-of-week-and-temperature model: an energy for each of the 168 hours of the "
                         f"week and piecewise-linear temperature terms (knots at "
                         f"{', '.join(f'{k:g}' for k in b.hourly.knots)} °C), apart for occupied and "
                         f"unoccupied hours.")
            words.append(f"Occupied {hourly['occupied_hours']} hours a week"
                         + (f": {'; '.join(occ)}." if occ else "."))
    if b.interval == "hourly" and len(b.daily_cvrmse) > 1:
        other = "daily" if b.model == "hourly" else "hourly"
        words.append(f"Chosen over the {_MODEL_NAMES[other]} model by CV(RMSE) of daily totals: "
                     f"{b.daily_cvrmse[b.model]:.1f} % against {b.daily_cvrmse[other]:.1f} %.")
    return {
        "method": b.model, "name": _MODEL_NAMES[b.model], "interval": b.interval,
        "candidates_cvrmse_pct": {k: v for k, v in b.daily_cvrmse.items() if math.isfinite(v)},
        "daily": {"kind": d.kind, "intercept_kwh": d.intercept,
                  "heating_balance_c": d.heating_balance, "heating_slope_kwh_per_degc_day":
                  d.heating_slope if heating else None, "cooling_balance_c": d.cooling_balance,
                  "cooling_slope_kwh_per_degc_day": d.cooling_slope if cooling else None},
        "hourly": hourly,
        "words": words,
    }


def _guideline14(b: Baseline) -> dict[str, Any]:
    c = CRITERIA["hourly"]
    s = b.stats
    reasons = []
    if not s.cvrmse_pct <= c.cvrmse_pct:
        reasons.append(f"CV(RMSE) {s.cvrmse_pct:.1f} % is above {c.cvrmse_pct:g} %")
    if not abs(s.nmbe_pct) <= c.nmbe_pct:
        reasons.append(f"NMBE {s.nmbe_pct:.1f} % is outside ±{c.nmbe_pct:g} %")
    return {"met": not reasons, "cvrmse_max_pct": c.cvrmse_pct, "nmbe_max_pct": c.nmbe_pct,
            "reasons": reasons}


def _exclusions_out(exclusions: Sequence[Exclusion], ts: _F) -> list[dict[str, Any]]:
    return [{"start": e.start, "end": e.end, "note": e.note,
             "rows": int(((ts >= e.start) & (ts < e.end)).sum())} for e in exclusions]


def _summary(b: Baseline, rows: _Rows, hours: MeterHours, start: float, end: float, method: Method,
             exclusions: Sequence[Exclusion]) -> dict[str, Any]:
    s = b.stats
    return {
        "start": start, "end": end, "method_asked": method, "rows": b.rows, "excluded_rows": b.excluded_rows,
        "missing_hours": hours.missing, "exclusions": _exclusions_out(exclusions, rows.ts),
        "statistics": {"cvrmse_pct": finite(s.cvrmse_pct), "nmbe_pct": finite(s.nmbe_pct), "r2": s.r2,
                       "n": s.n, "p": s.p, "autocorrelation": s.autocorrelation, "mean_kwh": s.mean},
        "guideline14": _guideline14(b),
        "model": _model(b),
    }


def _midnight(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def _baseline_days(b: Baseline, rows: _Rows, exclusions: Sequence[Exclusion],
                   tz: ZoneInfo) -> list[dict[str, Any]]:
    """Actual and expected energy per local day of the baseline period's rows (excluded ones too)."""
    if not len(rows.ts):
        return []
    expected = b.predict(rows.ts, rows.temp, b.interval)
    days = local_time(rows.ts, tz).day
    excluded = _inside(rows.ts, exclusions)
    out = []
    unique, inverse = np.unique(days, return_inverse=True)
    actual = np.bincount(inverse, weights=rows.kwh)
    model = np.bincount(inverse, weights=expected)
    flagged = np.bincount(inverse, weights=excluded.astype(float)) > 0
    for i, ordinal in enumerate(unique.tolist()):
        day = date.fromordinal(ordinal)
        out.append({"start": _midnight(day, tz), "date": day.isoformat(), "actual": float(actual[i]),
                    "expected": float(model[i]), "excluded": bool(flagged[i])})
    return out


def _whole_days(exclusions: Sequence[Exclusion], tz: ZoneInfo) -> list[Exclusion]:
    """Each exclusion widened to the whole local days it touches. A daily row is a day, known by its
    midnight: an exclusion from noon to noon would otherwise leave out the second day only, keeping the
    first although half of it was the non-routine event."""
    out = []
    for e in exclusions:
        last = datetime.fromtimestamp(e.end, tz).date()
        end = _midnight(last, tz)
        out.append(Exclusion(_midnight(datetime.fromtimestamp(e.start, tz).date(), tz),
                             end if end >= e.end else _midnight(last + timedelta(days=1), tz), e.note))
    return out


def _baseline(hours: MeterHours, tz: ZoneInfo, start: float, end: float, method: Method,
              exclusions: Sequence[Exclusion]) -> dict[str, Any]:
    if method == "daily":
        exclusions = _whole_days(exclusions, tz)
    fitted, rows = _fit(hours, tz, exclusions, method, "start")
    return {**_summary(fitted, rows, hours, start, end, method, exclusions),
            "series": _baseline_days(fitted, rows, exclusions, tz)}


def _bucket_of(day: date, bucket: str, first_day: int) -> tuple[date, date]:
    """The local dates a day's bucket starts on and the next one starts on."""
    if bucket == "day":
        return day, day + timedelta(days=1)
    if bucket == "week":
        first = day - timedelta(days=(day.weekday() - first_day) % 7)
        return first, first + timedelta(days=7)
    first = day.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


def _savings(base_hours: MeterHours, report_hours: MeterHours, tz: ZoneInfo, base_span: tuple[float, float],
             span: tuple[float, float], method: Method, exclusions: Sequence[Exclusion], confidence: float,
             bucket: str, first_day: int) -> dict[str, Any]:
    if method == "daily":
        exclusions = _whole_days(exclusions, tz)
    fitted, base_rows = _fit(base_hours, tz, exclusions, method, "baseline_start")
    rows = _rows(report_hours, fitted.interval, tz)
    keep = ~_inside(rows.ts, exclusions)
    if int(keep.sum()) < 2:
        unit = "whole local days" if fitted.interval == "daily" else "hours"
        raise invalid_field(["query", "start"], f"the reporting period has {int(keep.sum())} {unit} with "
                            "both energy and outdoor temperature outside its exclusions: at least 2 are "
                            "needed",
                            "too_few_rows")
    try:
        result: Savings = savings(fitted, rows.ts, rows.kwh, rows.temp, exclusions, confidence)
    except ValueError as err:
        raise invalid_field(["query", "start"], f"the reporting period cannot be compared: {err}") from None
    t, y, x = rows.ts[keep], rows.kwh[keep], rows.temp[keep]
    expected = fitted.predict(t, x, fitted.interval)
    days = local_time(t, tz).day
    sums: dict[date, list[Any]] = {}
    for ordinal, a, e in zip(days.tolist(), y.tolist(), expected.tolist(), strict=True):
        first, nxt = _bucket_of(date.fromordinal(ordinal), bucket, first_day)
        got = sums.setdefault(first, [nxt, 0.0, 0.0])
        got[1] += a
        got[2] += e
    series = []
    cumulative = 0.0
    for first in sorted(sums):
        nxt, actual, model = sums[first]
        cumulative += model - actual
        series.append({"start": _midnight(first, tz), "end": _midnight(nxt, tz), "date": first.isoformat(),
                       "actual": actual, "expected": model, "avoided": model - actual,
                       "cumulative_avoided": cumulative})
    bounded = math.isfinite(result.fsu)
    return {
        "baseline": _summary(fitted, base_rows, base_hours, *base_span, method, exclusions),
        "start": span[0], "end": span[1], "rows": result.rows, "excluded_rows": result.excluded_rows,
        "missing_hours": report_hours.missing, "exclusions": _exclusions_out(exclusions, rows.ts),
        "adjusted_baseline_kwh": result.adjusted_baseline, "actual_kwh": result.actual,
        "avoided_kwh": result.avoided,
        "savings_pct": finite(100.0 * result.fraction) if result.adjusted_baseline else None,
        "confidence": confidence, "fsu_pct": 100.0 * result.fsu if bounded else None,
        "low_kwh": result.low if bounded else None, "high_kwh": result.high if bounded else None,
        "bucket": bucket, "series": series,
    }


# --- export ------------------------------------------------------------------------------------------


def _summary_table(summary: dict[str, Any], tz: ZoneInfo,
                   extra: Sequence[tuple[str, Any, str | None]] = ()) -> Table:
    s, g, m = summary["statistics"], summary["guideline14"], summary["model"]
    d = m["daily"]
    rows: list[tuple[str, Any, str | None]] = [
        *extra,
        ("baseline start", _local(summary["start"], tz), None),
        ("baseline end", _local(summary["end"], tz), None),
        ("model", m["name"], None), ("rows", m["interval"], None),
        ("rows fitted", summary["rows"], None), ("rows excluded", summary["excluded_rows"], None),
        ("hours missing", summary["missing_hours"], None),
        ("CV(RMSE)", s["cvrmse_pct"], "%"), ("NMBE", s["nmbe_pct"], "%"), ("R2", s["r2"], None),
        ("n", s["n"], None), ("p", s["p"], None), ("lag-1 autocorrelation", s["autocorrelation"], None),
        ("ASHRAE Guideline 14 met", "yes" if g["met"] else "no: " + "; ".join(g["reasons"]), None),
        ("daily model", d["kind"], None), ("intercept", d["intercept_kwh"], "kWh/day"),
        ("heating balance point", d["heating_balance_c"], "°C"),
        ("heating slope", d["heating_slope_kwh_per_degc_day"], "kWh/°C·day"),
        ("cooling balance point", d["cooling_balance_c"], "°C"),
        ("cooling slope", d["cooling_slope_kwh_per_degc_day"], "kWh/°C·day"),
    ]
    if m["hourly"] is not None:
        rows.append(("occupied hours a week", m["hourly"]["occupied_hours"], "h"))
    for e in summary["exclusions"]:
        rows.append((f"excluded: {e['note']}", f"{_local(e['start'], tz)} to {_local(e['end'], tz)}",
                     f"{e['rows']} rows"))
    return Table("Summary", (Column("quantity", kind="text"), Column("value", kind="value"),
                             Column("unit", kind="text")), [list(r) for r in rows])


def _local(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).isoformat()


def baseline_tables(body: dict[str, Any], tz: ZoneInfo) -> list[Table]:
    """The baseline's days (the CSV) and, in a workbook, its summary."""
    days = Table("Baseline days", (Column("start", kind="time"), Column("date", kind="text"),
                                   Column("actual", "kWh"), Column("expected", "kWh"),
                                   Column("excluded", kind="text")),
                 [[d["start"], d["date"], d["actual"], d["expected"], "yes" if d["excluded"] else ""]
                  for d in body["series"]])
    return [days, _summary_table(body, tz, [("meter", body["meter"], None),
                                        ("outdoor temperature", body["temperature"], None)])]


def savings_tables(body: dict[str, Any], tz: ZoneInfo) -> list[Table]:
    """The savings per bucket (the CSV) and, in a workbook, the totals and the baseline's summary."""
    periods = Table(f"Savings per {body['bucket']}", (
        Column("start", kind="time"), Column("end", kind="time"), Column("date", kind="text"),
        Column("actual", "kWh"), Column("expected", "kWh"), Column("avoided", "kWh"),
        Column("cumulative avoided", "kWh")),
        [[b["start"], b["end"], b["date"], b["actual"], b["expected"], b["avoided"], b["cumulative_avoided"]]
         for b in body["series"]])
    totals = [("meter", body["meter"], None), ("outdoor temperature", body["temperature"], None),
              ("reporting start", _local(body["start"], tz), None),
              ("reporting end", _local(body["end"], tz), None),
              ("reporting rows", body["rows"], None),
              ("reporting rows excluded", body["excluded_rows"], None),
              ("adjusted baseline", body["adjusted_baseline_kwh"], "kWh"),
              ("actual", body["actual_kwh"], "kWh"),
              ("avoided energy", body["avoided_kwh"], "kWh"), ("savings", body["savings_pct"], "%"),
              ("confidence", body["confidence"], None),
              ("fractional savings uncertainty", body["fsu_pct"], "%"),
              ("avoided energy low", body["low_kwh"], "kWh"),
              ("avoided energy high", body["high_kwh"], "kWh")]
    return [periods, _summary_table(body["baseline"], tz, totals)]


# --- routes ------------------------------------------------------------------------------------------

#: Model fits run at once (each a worker thread busy for up to seconds); more wait their turn.
FITS_AT_ONCE = 2
#: Fits that may wait; one more is answered 503 with Retry-After rather than queued without end.
FITS_WAITING = 8


class _Fits:
    """The server's model fits: at most ``FITS_AT_ONCE`` run, at most ``FITS_WAITING`` wait."""

    def __init__(self) -> None:
        self.slots = asyncio.Semaphore(FITS_AT_ONCE)
        self.waiting = 0


@contextlib.asynccontextmanager
async def _fitting(request: Request) -> AsyncIterator[None]:
    fits: _Fits | None = getattr(request.app.state, "mv_fits", None)
    if fits is None:
        fits = request.app.state.mv_fits = _Fits()
    if fits.slots.locked() and fits.waiting >= FITS_WAITING:
        raise ApiError(503, f"{FITS_AT_ONCE} baseline fits are running and {fits.waiting} are waiting: "
                       "try again in a few seconds", headers={"Retry-After": "5"})
    fits.waiting += 1
    try:
        await fits.slots.acquire()
    finally:
        fits.waiting -= 1
    try:
        yield
    finally:
        fits.slots.release()


def _subject(request: Request, site_id: str, meter: str,
             temperature: str | None) -> tuple[Services, SiteConfig, str, str, ZoneInfo]:
    """The runtime, the site, its meter's and outdoor temperature's points and its zone, checked."""
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    return runtime, cfg, _meter(cfg, meter), _temperature(cfg, temperature), ZoneInfo(cfg.site.timezone)


_EXCLUDE = Query(None, description="A non-routine event left out: START/END/NOTE (times ISO 8601, epoch s "
                 "or local dates; the note optional); repeat for several.")
_METHOD = Query("auto", description="auto: hourly rows, the model (time-of-week-and-temperature or daily "
                "change-point) that fits whole days better; hourly: the time-of-week-and-temperature model; "
                "daily: the daily change-point model on whole local days.")
_FORMAT = Query("json", description="json, or a download: csv (the series) or xlsx (the series and a "
                "summary).")


@router.get("/sites/{site_id}/analytics/baseline", response_model=BaselineOut, responses=EXPORT_RESPONSES)
async def get_baseline(
    request: Request,
    site_id: str,
    meter: str = Query(..., max_length=200, description="The meter's point (equipment/point)."),
    start: str | None = Query(None, max_length=64, description="The baseline period's start (ISO 8601 or "
                              "epoch s; without an offset: UTC; a date alone: the site's local midnight)."),
    end: str | None = Query(None, max_length=64, description="Its end (at most 731 days after the start)."),
    method: Method = _METHOD,
    exclude: list[str] | None = _EXCLUDE,
    temperature: str | None = Query(None, max_length=200, description="The outdoor temperature point "
                                    "(°C); default the site's point tagged outside and temp."),
    format: Format = _FORMAT,
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """Fit a weather-normalised baseline on a period of a meter: model, Guideline 14 statistics, days."""
    runtime, cfg, pid, oat, tz = _subject(request, site_id, meter, temperature)
    span = _span(start, end, "start", "end", tz)
    exclusions = _exclusions(exclude, tz)
    hours = await meter_hours(runtime.historian, cfg, pid, *span, temperature=oat)
    # A year of hours and a model fit: in a worker thread, so that the loop keeps serving everyone else.
    async with _fitting(request):
        got = await asyncio.to_thread(_baseline, hours, tz, *span, method, exclusions)
    body = {"site": site_id, "timezone": cfg.site.timezone, "meter": pid, "temperature": oat, **got}
    if format != "json":
        return export_response(baseline_tables(body, tz), format, filename_of(site_id, pid, "baseline"), tz)
    return body


@router.get("/sites/{site_id}/analytics/savings", response_model=SavingsOut, responses=EXPORT_RESPONSES)
async def get_savings(
    request: Request,
    site_id: str,
    meter: str = Query(..., max_length=200, description="The meter's point (equipment/point)."),
    baseline_start: str | None = Query(None, max_length=64, description="The baseline period's start "
                                       "(ISO 8601 or epoch s; without an offset: UTC; a date alone: "
                                       "the site's local midnight)."),
    baseline_end: str | None = Query(None, max_length=64, description="Its end (before the measure)."),
    start: str | None = Query(None, max_length=64, description="The reporting period's start (after it)."),
    end: str | None = Query(None, max_length=64, description="The reporting period's end."),
    confidence: float = Query(0.9, ge=0.5, le=0.999,
                              description="Confidence of the uncertainty (0.9: 90 %)."),
    bucket: Literal["day", "week", "month"] = Query("day", description="The series' periods, local time."),
    method: Method = _METHOD,
    exclude: list[str] | None = _EXCLUDE,
    temperature: str | None = Query(None, max_length=200, description="The outdoor temperature point "
                                    "(°C); default the site's point tagged outside and temp."),
    format: Format = _FORMAT,
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """Avoided energy of a meter over a reporting period against a baseline fitted before it."""
    runtime, cfg, pid, oat, tz = _subject(request, site_id, meter, temperature)
    base_span = _span(baseline_start, baseline_end, "baseline_start", "baseline_end", tz)
    span = _span(start, end, "start", "end", tz)
    if span[0] < base_span[1]:
        # Savings over the baseline's own days are nothing by construction: no measure was measured.
        raise invalid_field(["query", "start"], f"the reporting period starts ({_local(span[0], tz)}) before "
                            f"the baseline ends ({_local(base_span[1], tz)}): expected start at or after "
                            "baseline_end")
    exclusions = _exclusions(exclude, tz)
    base_hours = await meter_hours(runtime.historian, cfg, pid, *base_span, temperature=oat)
    report_hours = await meter_hours(runtime.historian, cfg, pid, *span, temperature=oat)
    first_day = _WEEKDAYS.index(cfg.energy.week_start)
    async with _fitting(request):
        got = await asyncio.to_thread(_savings, base_hours, report_hours, tz, base_span, span, method,
                                      exclusions, confidence, bucket, first_day)
    body = {"site": site_id, "timezone": cfg.site.timezone, "meter": pid, "temperature": oat, **got}
    if format != "json":
        return export_response(savings_tables(body, tz), format, filename_of(site_id, pid, "savings"), tz)
    return body

