"""Stored load forecasts and their scores (the state database's ``forecasts`` table).

::

    save_forecast ──▶ rows (site, meter, issued_at, start hour, horizon, kWh, °C assumed)
    record_actuals ─▶ actual_kWh of every row of an hour, whichever forecast it belongs to
    latest_forecast ▶ the newest forecast of a meter, with the actuals it has so far
    forecast_scores ▶ MAPE and CV(RMSE) per meter and hours ahead, over the rows with actuals
    prune_forecasts ▶ forecasts issued before a time are deleted

Portable SQL (SQLite and PostgreSQL): the scores' sums are SQL's, the square
root Python's. Blocking: callers run these in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from openbms.db.schema import forecasts

__all__ = ["ForecastRow", "ForecastScore", "StoredForecast", "forecast_scores", "latest_forecast",
           "pending_hours", "prune_forecasts", "record_actuals", "save_forecast"]


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """One hour of a stored forecast: its start (epoch s), hours ahead, kWh, °C assumed, actual kWh."""

    start: float
    horizon: int
    kwh: float
    temperature: float | None
    actual_kwh: float | None


@dataclass(frozen=True, slots=True)
class StoredForecast:
    """A meter's forecast as issued at ``issued_at``, hour by hour."""

    site: str
    meter: str
    issued_at: float
    rows: tuple[ForecastRow, ...]


@dataclass(frozen=True, slots=True)
class ForecastScore:
    """How a meter's forecasts did ``horizon`` hours ahead: hours compared, MAPE and CV(RMSE) in %."""

    meter: str
    horizon: int
    n: int
    mape_pct: float | None
    cvrmse_pct: float | None


def save_forecast(engine: sa.Engine, site: str, meter: str, issued: float, starts: Sequence[float],
                  kwh: Sequence[float], temperature: Sequence[float] | None = None) -> int:
    """Store one forecast (replacing one of the same issue time); returns the rows written.

    ``starts`` are its hours in order: the first is 1 hour ahead (``horizon`` 1), and so on."""
    rows = [
        {"site_id": site, "meter": meter, "issued_at": float(issued), "start": float(s),
         "horizon": i + 1, "kwh": float(e),
         "temperature": None if temperature is None else float(temperature[i])}
        for i, (s, e) in enumerate(zip(starts, kwh, strict=True))
    ]
    with engine.begin() as conn:
        conn.execute(sa.delete(forecasts).where(
            forecasts.c.site_id == site, forecasts.c.meter == meter, forecasts.c.issued_at == float(issued)))
        if rows:
            conn.execute(sa.insert(forecasts), rows)
    return len(rows)


def pending_hours(engine: sa.Engine, site: str, meter: str, until: float) -> list[float]:
    """Starts of the forecast hours of a meter that ended by ``until`` and have no actual yet."""
    q = (sa.select(forecasts.c.start).distinct()
         .where(forecasts.c.site_id == site, forecasts.c.meter == meter, forecasts.c.actual_kwh.is_(None),
                forecasts.c.start + 3600.0 <= until)
         .order_by(forecasts.c.start))
    with engine.connect() as conn:
        return [float(r[0]) for r in conn.execute(q)]


def record_actuals(engine: sa.Engine, site: str, meter: str, actuals: Sequence[tuple[float, float]]) -> int:
    """Set the actual kWh of the hours ``(start, kWh)`` in every forecast of the meter; rows changed."""
    changed = 0
    with engine.begin() as conn:
        for start, kwh in actuals:
            got = conn.execute(sa.update(forecasts).where(
                forecasts.c.site_id == site, forecasts.c.meter == meter, forecasts.c.start == float(start),
            ).values(actual_kwh=float(kwh)))
            changed += got.rowcount or 0
    return changed


def latest_forecast(engine: sa.Engine, site: str, meter: str,
                    hours: int | None = None) -> StoredForecast | None:
    """The newest forecast of a meter (its first ``hours`` hours), or None when it has none."""
    with engine.connect() as conn:
        issued = conn.execute(sa.select(sa.func.max(forecasts.c.issued_at)).where(
            forecasts.c.site_id == site, forecasts.c.meter == meter)).scalar()
        if issued is None:
            return None
        q = (sa.select(forecasts.c.start, forecasts.c.horizon, forecasts.c.kwh, forecasts.c.temperature,
                       forecasts.c.actual_kwh)
             .where(forecasts.c.site_id == site, forecasts.c.meter == meter, forecasts.c.issued_at == issued)
             .order_by(forecasts.c.start))
        if hours is not None:
            q = q.limit(hours)
        rows = tuple(ForecastRow(float(r.start), int(r.horizon), float(r.kwh), r.temperature, r.actual_kwh)
                     for r in conn.execute(q))
    return StoredForecast(site, meter, float(issued), rows)


def forecast_scores(engine: sa.Engine, site: str, meter: str | None = None,
                    since: float | None = None, up_to: int | None = None) -> list[ForecastScore]:
    """MAPE (hours with a positive actual) and CV(RMSE) per meter and hours ahead, forecasts issued
    from ``since``; ordered by meter and horizon.

    ``up_to``: one score per meter instead, over the horizons 1 to ``up_to`` together (24: day ahead),
    its ``horizon`` being ``up_to``."""
    c = forecasts.c
    err = c.actual_kwh - c.kwh
    positive = c.actual_kwh > 0
    # Pooled over horizons: no horizon column (its value is ``up_to``, set below).
    horizon = c.horizon if up_to is None else sa.func.max(c.horizon)
    q = (sa.select(
        c.meter, horizon.label("horizon"), sa.func.count().label("n"),
        sa.func.sum(c.actual_kwh).label("sum_a"),
        sa.func.sum(err * err).label("sum_sq"),
        sa.func.sum(sa.case((positive, sa.func.abs(err) / c.actual_kwh), else_=0.0)).label("sum_ape"),
        sa.func.sum(sa.case((positive, 1), else_=0)).label("n_pos"))
        .where(c.site_id == site, c.actual_kwh.is_not(None)))
    if up_to is None:
        q = q.group_by(c.meter, c.horizon).order_by(c.meter, c.horizon)
    else:
        q = q.where(c.horizon <= up_to).group_by(c.meter).order_by(c.meter)
    if meter is not None:
        q = q.where(c.meter == meter)
    if since is not None:
        q = q.where(c.issued_at >= since)
    out = []
    with engine.connect() as conn:
        for r in conn.execute(q):
            n = int(r.n)
            mean = float(r.sum_a) / n if n else 0.0
            n_pos = int(r.n_pos or 0)
            mape = float(r.sum_ape) / n_pos * 100 if n_pos else None
            cvrmse = math.sqrt(float(r.sum_sq) / n) / mean * 100 if n and mean > 0 else None
            horizon_of = int(r.horizon) if up_to is None else up_to
            out.append(ForecastScore(str(r.meter), horizon_of, n, mape, cvrmse))
    return out


def prune_forecasts(engine: sa.Engine, before: float) -> int:
    """Delete the forecasts issued before ``before``; returns the rows deleted."""
    with engine.begin() as conn:
        got = conn.execute(sa.delete(forecasts).where(forecasts.c.issued_at < before))
    return got.rowcount or 0
