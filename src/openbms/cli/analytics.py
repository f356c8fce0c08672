"""``openbms analytics baseline``: fit a baseline on a CSV file and predict another, for analysts.

::

    TRAIN.csv  timestamp,value,temperature ──▶ fit_baseline ──▶ fit statistics on stderr
    PREDICT.csv timestamp,temperature ────────────────────────▶ OUT.csv timestamp,predicted (every row)

Timestamps are ISO 8601; one without an offset is a wall time in ``--tz``
(a repeated wall time, the hour a clock goes back, is the second of the two).
Rows are hourly or daily (their spacing says which) and may have gaps; a TRAIN
row with an empty value or temperature is a gap. A bad file is refused with
its name, line and column, and nothing is written.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from openbms.cli.common import DirOption, fail, match_hint, open_history, site_dir

if TYPE_CHECKING:  # numpy and the models load when the command runs, not with every command
    import numpy as np

    from openbms.analytics.baseline import Baseline, Exclusion

__all__ = ["register"]

analytics_app = typer.Typer(
    help="Energy analytics on files: weather-normalised baselines (M&V).", no_args_is_help=True
)

_MODEL_NAMES = {"hourly": "time-of-week-and-temperature (hourly)", "daily": "daily change-point"}
_KIND_NAMES = {"intercept": "intercept only", "heating": "heating", "cooling": "cooling",
               "heating_cooling": "heating and cooling"}


class CsvError(Exception):
    """A row of an input file is not what was expected; the message names the file, line and column."""


@dataclass
class _Rows:
    ts: list[float]
    text: list[str]
    value: list[float]
    temp: list[float]
    lines: list[int]
    gaps: int = 0
    offsets: set[float] = field(default_factory=set)  # the UTC offsets timestamps were written with


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(f"--tz {name!r} is not a time zone: use an IANA name such as Europe/London or UTC"
                   ) from None


def _read(path: Path, columns: tuple[str, ...], tz: ZoneInfo, gaps_allowed: bool) -> _Rows:
    """The rows of a CSV file with ``columns`` (by header name; other columns are ignored)."""
    name = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as err:
        raise CsvError(f"{name}: cannot read it ({err.strerror or err})") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise CsvError(f"{name}:1: the file is empty: expected a header {','.join(columns)}")
        names = [h.strip().lower() for h in header]
        missing = [c for c in columns if c not in names]
        if missing:
            raise CsvError(f"{name}:1: no column {', '.join(missing)} in the header "
                           f"({','.join(header)}): expected {','.join(columns)}")
        at = {c: names.index(c) for c in columns}
        rows = _Rows([], [], [], [], [])
        previous_wall: datetime | None = None
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) < len(header):
                raise CsvError(f"{name}:{line}: {len(fields)} fields, expected {len(header)} as in the "
                               "header")
            text = fields[at["timestamp"]].strip()
            ts, previous_wall = _timestamp(text, tz, previous_wall, f"{name}:{line}:{at['timestamp'] + 1}")
            if previous_wall is None:
                rows.offsets.add(ts - datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())
            numbers: dict[str, float] = {}
            empty = False
            for column in columns[1:]:
                raw = fields[at[column]].strip()
                where = f"{name}:{line}:{at[column] + 1}"
                if raw == "":
                    if not gaps_allowed:
                        raise CsvError(f"{where}: {column} is empty: every row needs one")
                    empty = True
                    continue
                try:
                    number = float(raw)
                except ValueError:
                    raise CsvError(f"{where}: {column} {raw!r} is not a number") from None
                if not math.isfinite(number):
                    raise CsvError(f"{where}: {column} {raw!r} is not a finite number")
                numbers[column] = number
            if empty:
                rows.gaps += 1
                continue
            rows.ts.append(ts)
            rows.text.append(text)
            rows.value.append(numbers.get("value", 0.0))
            rows.temp.append(numbers["temperature"])
            rows.lines.append(line)
    if not rows.ts:
        raise CsvError(f"{name}: no rows with numbers under the header")
    return rows


def _timestamp(
    text: str, tz: ZoneInfo, previous: datetime | None, where: str
) -> tuple[float, datetime | None]:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise CsvError(f"{where}: timestamp {text!r} is not ISO 8601: expected e.g. "
                       "2024-03-01T08:00:00+00:00 or 2024-03-01") from None
    if dt.tzinfo is not None:
        return dt.timestamp(), None
    # A wall time in the zone; the second of two equal wall times is the repeated hour's second pass.
    wall = dt.replace(tzinfo=tz, fold=1 if previous is not None and previous == dt else 0)
    return wall.timestamp(), dt


def _ordered(rows: _Rows, name: str) -> np.ndarray:
    """The order of the rows in time; a repeated instant is an error naming both lines."""
    import numpy as np

    order = np.argsort(np.asarray(rows.ts), kind="stable")
    ts = np.asarray(rows.ts)[order]
    same = np.flatnonzero(np.diff(ts) == 0)
    if len(same):
        a, b = rows.lines[order[same[0]]], rows.lines[order[same[0] + 1]]
        raise CsvError(f"{name}:{b}:1: timestamp {rows.text[order[same[0] + 1]]!r} is the same instant as "
                       f"line {a}: one row per interval")
    return order


def _exclusion(text: str, tz: ZoneInfo) -> Exclusion:
    from openbms.analytics.baseline import Exclusion

    span, _, note = text.strip().partition(" ")
    start, sep, end = span.partition("/")
    if not sep:
        raise fail(f"--exclude {text!r}: expected START/END [NOTE], e.g. "
                   "'2024-03-01/2024-03-15 boiler replaced'")
    try:
        a, _w = _timestamp(start, tz, None, "--exclude")
        b, _w = _timestamp(end, tz, None, "--exclude")
    except CsvError as err:
        raise fail(str(err)) from None
    if b <= a:
        raise fail(f"--exclude {text!r}: the end must come after the start")
    return Exclusion(a, b, note.strip() or "excluded")


def _report(b: Baseline, gaps: int, gap_word: str = "empty (gaps)") -> list[str]:
    s = b.stats
    lines = [
        f"rows: {b.interval}, {b.rows} fitted, {b.excluded_rows} excluded, {gaps} {gap_word}",
        f"model: {_MODEL_NAMES[b.model]}",
        f"R2: {s.r2:.4f}",
        f"CV(RMSE): {s.cvrmse_pct:.2f} %",
        f"NMBE: {round(s.nmbe_pct, 2) + 0.0:.2f} %",
        f"n: {s.n}, p: {s.p}, lag-1 autocorrelation: {s.autocorrelation:.3f}",
        "ASHRAE Guideline 14 (CV(RMSE) <= 30 %, |NMBE| <= 10 %): "
        + ("met" if s.meets("hourly") else "not met"),
    ]
    if b.daily_cvrmse and b.interval == "hourly":
        scores = ", ".join(f"{k} {v:.2f} %" for k, v in sorted(b.daily_cvrmse.items()))
        lines.append(f"daily totals CV(RMSE) by model: {scores}")
    d = b.daily
    terms = [f"{d.intercept:.6g} a day"]
    if d.heating_balance is not None:
        terms.append(f"{d.heating_slope:.6g} per degC-day below {d.heating_balance:g} degC")
    if d.cooling_balance is not None:
        terms.append(f"{d.cooling_slope:.6g} per degC-day above {d.cooling_balance:g} degC")
    lines.append(f"daily change-point ({_KIND_NAMES[d.kind]}): " + " + ".join(terms))
    for e in b.exclusions:
        lines.append(f"excluded: {datetime.fromtimestamp(e.start, b.tz).isoformat()} to "
                     f"{datetime.fromtimestamp(e.end, b.tz).isoformat()}: {e.note}")
    return lines


@analytics_app.command("baseline")
def baseline(
    train: Path = typer.Option(..., "--train", help="CSV timestamp,value,temperature: energy of each "
                                                     "interval and mean outdoor degC; hourly or daily rows."),
    predict: Path = typer.Option(..., "--predict", help="CSV timestamp,temperature: the rows to predict."),
    out: Path = typer.Option(..., "--out", help="CSV written: timestamp,predicted for every PREDICT row."),
    tz: str = typer.Option("UTC", "--tz", help="The site's time zone (IANA): local days, hours of the week, "
                                                "and timestamps written without an offset."),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="A non-routine event left out of TRAIN: 'START/END NOTE' (repeatable)."),
) -> None:
    """Fit a weather-normalised baseline on TRAIN and predict PREDICT; statistics go to stderr."""
    import numpy as np

    from openbms.analytics.baseline import fit_baseline

    zone = _zone(tz)
    exclusions = [_exclusion(e, zone) for e in exclude]
    try:
        rows = _read(train, ("timestamp", "value", "temperature"), zone, gaps_allowed=True)
        order = _ordered(rows, str(train))
        wanted = _read(predict, ("timestamp", "temperature"), zone, gaps_allowed=False)
        _ordered(wanted, str(predict))
    except CsvError as err:
        raise fail(str(err)) from None
    try:
        fitted = fit_baseline(np.asarray(rows.ts)[order], np.asarray(rows.value)[order],
                              np.asarray(rows.temp)[order], zone, exclusions)
        predicted = fitted.predict(wanted.ts, wanted.temp)
    except ValueError as err:
        raise fail(f"{train}: {err}") from None
    try:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "predicted"])
            for text, value in zip(wanted.text, predicted.tolist(), strict=True):
                writer.writerow([text, f"{value:.10g}"])
    except OSError as err:
        raise fail(f"{out}: cannot write it ({err.strerror or err})") from None
    if tz == "UTC" and any(o != 0 for o in rows.offsets):
        typer.echo(f"note: {train}'s timestamps are not all UTC but --tz is UTC: its days and hours of the "
                   "week are UTC's; give the site's zone with --tz", err=True)
    for line in _report(fitted, rows.gaps):
        typer.echo(line, err=True)


def _span(option: str, text: str, tz: ZoneInfo) -> tuple[float, float]:
    start, sep, end = text.strip().partition("/")
    if not sep:
        raise fail(f"{option} {text!r}: expected START/END, e.g. 2025-01-01/2026-01-01")
    try:
        a, _w = _timestamp(start, tz, None, option)
        b, _w = _timestamp(end, tz, None, option)
    except CsvError as err:
        raise fail(str(err)) from None
    if b <= a:
        raise fail(f"{option} {text!r}: the end must come after the start")
    return a, b


@analytics_app.command("savings")
def savings_command(
    meter: str = typer.Argument(..., help="The meter's point id: an energy register (kWh) or a demand "
                                          "point (kW tagged elec, gas, meter or energy)."),
    temperature: str = typer.Option(..., "--temperature", help="The outdoor air temperature point (degC)."),
    baseline: str = typer.Option(..., "--baseline", help="The baseline period START/END (ISO 8601; local "
                                                        "time of the site without an offset)."),
    reporting: str = typer.Option(..., "--reporting", help="The reporting period START/END."),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="A non-routine event left out of either period: 'START/END NOTE' "
                               "(repeatable)."),
    confidence: float = typer.Option(0.9, "--confidence", min=0.5, max=0.999,
                                     help="Confidence of the savings' uncertainty (0.9: 90 %)."),
    directory: Path = DirOption,
) -> None:
    """Avoided energy of a meter over a reporting period, from the site's history (IPMVP option C).

    Fits a weather-normalised baseline on the baseline period's hours and
    prints its ASHRAE Guideline 14 statistics, then the reporting period's
    adjusted baseline, actual and avoided energy with their uncertainty.
    """
    import asyncio

    from openbms.analytics.baseline import MIN_HOURS, fit_baseline
    from openbms.analytics.history import MeterHours, meter_hours, site_meter
    from openbms.analytics.savings import savings
    from openbms.config import load_sites
    from openbms.errors import ConfigError

    root = site_dir(directory)
    try:
        sites = load_sites(root)
    except ConfigError as err:
        raise fail(f"the site configuration has problems (see 'openbms check'):\n{err}") from err
    points = {pid: (cfg, p) for cfg in sites for pid, _, p in cfg.points()}
    for pid in (meter, temperature):
        if pid not in points:
            raise fail(f"no point {pid!r}: {match_hint(pid, list(points))}")
    cfg = points[meter][0]
    if site_meter(cfg, meter) is None:
        raise fail(f"{meter} is not a meter: expected a number in kWh, Wh or MWh, or in kW, W or MW tagged "
                   "elec, gas, meter or energy")
    zone = _zone(cfg.site.timezone)
    base = _span("--baseline", baseline, zone)
    report = _span("--reporting", reporting, zone)
    exclusions = [_exclusion(e, zone) for e in exclude]

    async def read() -> tuple[MeterHours, MeterHours]:
        h = await open_history(directory)
        try:
            return (await meter_hours(h, cfg, meter, *base, temperature=temperature),
                    await meter_hours(h, cfg, meter, *report, temperature=temperature))
        finally:
            await h.stop()

    base_hours, report_hours = asyncio.run(read())
    bts, bkwh, btemp = base_hours.known()
    rts, rkwh, rtemp = report_hours.known()
    bmissing, rmissing = base_hours.missing, report_hours.missing
    if len(bts) < MIN_HOURS:
        raise fail(f"the baseline period has {len(bts)} hours with both {meter} and {temperature} in the "
                   f"history: at least {MIN_HOURS // 24} days ({MIN_HOURS} hours) are needed, a year "
                   "is usual")
    if len(rts) == 0:
        raise fail(f"the reporting period has no hour with both {meter} and {temperature} in the history")
    try:
        fitted = fit_baseline(bts, bkwh, btemp, zone, exclusions)
        result = savings(fitted, rts, rkwh, rtemp, exclusions, confidence)
    except ValueError as err:
        raise fail(str(err)) from None
    for line in _report(fitted, bmissing, "missing"):
        typer.echo(line)
    pct = f"{100 * confidence:g} %"
    typer.echo(f"reporting: {result.rows} hours, {result.excluded_rows} excluded, {rmissing} missing")
    typer.echo(f"adjusted baseline: {result.adjusted_baseline:.1f} kWh")
    typer.echo(f"actual: {result.actual:.1f} kWh")
    typer.echo(f"avoided energy: {result.avoided:.1f} kWh ({100 * result.fraction:.2f} % of the adjusted "
               "baseline)")
    if math.isfinite(result.fsu):
        typer.echo(f"uncertainty at {pct}: +/-{100 * result.fsu:.1f} % of the savings, "
                   f"{result.low:.1f} to {result.high:.1f} kWh")
    else:
        typer.echo(f"uncertainty at {pct}: unbounded (no savings)")


@analytics_app.command("forecast")
def forecast_command(
    meter: str = typer.Argument(..., help="The meter's point id: an energy register (kWh) or a demand "
                                          "point (kW tagged elec, gas, meter or energy)."),
    temperature: str | None = typer.Option(
        None, "--temperature", help="The outdoor air temperature point (degC); default the site's point "
                                    "tagged outside and temp, if it has one."),
    at: str | None = typer.Option(None, "--at", help="Issue the forecast at this hour (ISO 8601; local time "
                                                     "of the site without an offset); default the end of the "
                                                     "meter's history."),
    hours: int = typer.Option(48, "--hours", min=1, max=48, help="Hours ahead (1-48)."),
    out: Path | None = typer.Option(None, "--out", help="CSV written: timestamp,kwh,temperature,actual_kwh "
                                                        "(default: standard output)."),
    directory: Path = DirOption,
) -> None:
    """Forecast a meter's next hours from the site's history, as the running openbms does each hour.

    With --at in the past, the forecast is scored against the history's actuals (MAPE and CV(RMSE)
    on stderr): a way to try the forecasts on a site before relying on them.
    """
    import asyncio

    from openbms.analytics.forecast import WEEKS, forecast, score
    from openbms.analytics.history import MeterHours, meter_hours, outdoor_point, site_meter
    from openbms.config import load_sites
    from openbms.errors import ConfigError

    root = site_dir(directory)
    try:
        sites = load_sites(root)
    except ConfigError as err:
        raise fail(f"the site configuration has problems (see 'openbms check'):\n{err}") from err
    points = {pid: (cfg, p) for cfg in sites for pid, _, p in cfg.points()}
    if meter not in points:
        raise fail(f"no point {meter!r}: {match_hint(meter, list(points))}")
    cfg = points[meter][0]
    if site_meter(cfg, meter) is None:
        raise fail(f"{meter} is not a meter: expected a number in kWh, Wh or MWh, or in kW, W or MW tagged "
                   "elec, gas, meter or energy")
    oat = temperature or outdoor_point(cfg)
    if oat is not None and oat not in points:
        raise fail(f"no point {oat!r}: {match_hint(oat, list(points))}")
    zone = _zone(cfg.site.timezone)
    issued: float | None = None
    if at is not None:
        try:
            issued, _w = _timestamp(at, zone, None, "--at")
        except CsvError as err:
            raise fail(str(err)) from None
        issued = math.floor(issued / 3600) * 3600

    async def read() -> tuple[MeterHours, float] | None:
        h = await open_history(directory)
        try:
            end = issued
            if end is None:
                last = await h.last_values([meter])
                end = None if meter not in last else math.floor(last[meter].ts / 3600) * 3600
            if end is None:
                return None
            # The weeks before and the hours forecast (their actuals, where the history has them).
            since = end - WEEKS * 7 * 86_400.0
            return await meter_hours(h, cfg, meter, since, end + hours * 3600.0, temperature=oat), end
        finally:
            await h.stop()

    got = asyncio.run(read())
    if got is None:
        raise fail(f"{meter} has no history: nothing to forecast from")
    loaded, end = got
    past = loaded.starts < end
    starts, kwh = loaded.starts[past], loaded.kwh[past]
    temp = None if loaded.temperature is None else loaded.temperature[past]
    try:
        f = forecast(starts, kwh, temp, zone, end, hours,
                     holiday=lambda d: any(c.matches(d) for c in cfg.calendars))
    except ValueError as err:
        raise fail(f"{meter}: {err}") from None
    actual = loaded.kwh[~past].tolist()
    lines = ["timestamp,kwh,temperature,actual_kwh"]
    for i, s in enumerate(f.starts.tolist()):
        stamp = datetime.fromtimestamp(s, zone).isoformat()
        t = "" if f.temperature is None else f"{f.temperature[i]:.2f}"
        a = "" if math.isnan(actual[i]) else f"{actual[i]:.4f}"
        lines.append(f"{stamp},{f.kwh[i]:.4f},{t},{a}")
    text = "\n".join(lines) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
    source = {"forecast": "a forecast", "climatology": "climatology and persistence of " + str(oat),
              "none": "none (time of week alone)"}[f.temperature_source]
    typer.echo(f"forecast of {meter} issued {datetime.fromtimestamp(end, zone).isoformat()} for {hours} h; "
               f"outdoor temperature: {source}", err=True)
    s = score(f.kwh, actual)
    if s.n:
        mape = "n/a" if s.mape_pct is None else f"{s.mape_pct:.2f} %"
        cv = "n/a" if s.cvrmse_pct is None else f"{s.cvrmse_pct:.2f} %"
        typer.echo(f"scored against the history: {s.n} hours, MAPE {mape}, CV(RMSE) {cv}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``analytics``."""
    app.add_typer(analytics_app, name="analytics")
