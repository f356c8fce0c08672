"""Stored forecasts on SQLite and PostgreSQL: saved, the newest read back, actuals recorded, scored,
pruned."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from openbms.db import migrate, open_state
from openbms.db.forecasts import (
    forecast_scores,
    latest_forecast,
    pending_hours,
    prune_forecasts,
    record_actuals,
    save_forecast,
)

H = 1_700_000_000.0 // 3600 * 3600


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        plain = sa.create_engine(url)
        with plain.begin() as conn:  # each test starts from an empty database
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        plain.dispose()
    migrate(url)
    got = open_state(url)
    yield got
    got.dispose()


def test_forecasts_are_stored_read_back_scored_and_pruned(engine):
    # Two forecasts of three hours, an hour apart; another meter's and another site's beside them.
    save_forecast(engine, "a", "a/m/kwh", H, [H, H + 3600, H + 7200], [10.0, 20.0, 30.0], [5.0, 6.0, 7.0])
    save_forecast(engine, "a", "a/m/kwh", H + 3600, [H + 3600, H + 7200, H + 10800], [25.0, 28.0, 40.0])
    save_forecast(engine, "a", "a/other/kw", H, [H], [1.0])
    save_forecast(engine, "b", "a/m/kwh", H, [H], [99.0])
    got = latest_forecast(engine, "a", "a/m/kwh")
    assert got is not None and got.issued_at == H + 3600
    assert [(r.start, r.horizon, r.kwh, r.temperature, r.actual_kwh) for r in got.rows] == [
        (H + 3600, 1, 25.0, None, None), (H + 7200, 2, 28.0, None, None), (H + 10800, 3, 40.0, None, None)]
    assert len(latest_forecast(engine, "a", "a/m/kwh", hours=2).rows) == 2  # type: ignore[union-attr]
    assert latest_forecast(engine, "a", "a/nothing") is None
    # Saving the same issue again replaces it.
    save_forecast(engine, "a", "a/m/kwh", H + 3600, [H + 3600, H + 7200, H + 10800], [20.0, 28.0, 40.0])

    assert pending_hours(engine, "a", "a/m/kwh", H + 7200) == [H, H + 3600]
    # Actuals: hour H 8 kWh, H+1 h 20 kWh, H+2 h 0 kWh (MAPE leaves it out, CV(RMSE) does not).
    assert record_actuals(engine, "a", "a/m/kwh", [(H, 8.0), (H + 3600, 20.0), (H + 7200, 0.0)]) == 5
    assert pending_hours(engine, "a", "a/m/kwh", H + 4 * 3600) == [H + 10800]
    scores = forecast_scores(engine, "a", "a/m/kwh")
    # Horizon 1: (10 vs 8), (20 vs 20); horizon 2: (20 vs 20), (28 vs 0); horizon 3: (30 vs 0).
    assert [(s.horizon, s.n) for s in scores] == [(1, 2), (2, 2), (3, 1)]
    assert scores[0].mape_pct == pytest.approx((2 / 8 + 0) / 2 * 100)
    assert scores[0].cvrmse_pct == pytest.approx(math.sqrt((4 + 0) / 2) / 14 * 100)
    assert scores[1].mape_pct == pytest.approx(0.0)
    assert scores[1].cvrmse_pct == pytest.approx(math.sqrt((0 + 28 ** 2) / 2) / 10 * 100)
    assert (scores[2].mape_pct, scores[2].cvrmse_pct) == (None, None)  # only a zero actual
    (day,) = forecast_scores(engine, "a", "a/m/kwh", up_to=24)
    assert (day.horizon, day.n) == (24, 5)
    assert day.mape_pct == pytest.approx((2 / 8 + 0 + 0) / 3 * 100)
    assert [s.meter for s in forecast_scores(engine, "a")] == ["a/m/kwh"] * 3  # other meter: no actuals
    later = forecast_scores(engine, "a", "a/m/kwh", since=H + 1)
    assert [(s.horizon, s.n) for s in later] == [(1, 1), (2, 1)]

    assert prune_forecasts(engine, H + 1) == 5  # the first forecast of each meter and site
    assert latest_forecast(engine, "a", "a/other/kw") is None
    assert len(latest_forecast(engine, "a", "a/m/kwh").rows) == 3  # type: ignore[union-attr]
