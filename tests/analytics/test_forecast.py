"""The load forecast model on generated data of known structure: accuracy, DST days, gaps, holidays, windows.

The data (``openbms.bench.forecast.office``): an office occupied on weekdays
07:00–19:00 local time (60 kW against 20 kW at night), cooling above 18 °C and
heating below 10 °C outdoors, 4 % Gaussian noise on every hour. The noise alone
costs a perfect forecast a MAPE of 4 % × √(2/π) ≈ 3.2 %; the bounds below leave
room for what the model must estimate (and, with the fallback, for the outdoor
temperature it does not know) and stay under the issue's 10 % day-ahead target.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from openbms.analytics.forecast import (
    HOUR,
    MIN_HOURS,
    forecast,
    quarters,
    score,
    temperature_ahead,
)
from openbms.bench.forecast import day_ahead_mape, office

LONDON = ZoneInfo("Europe/London")


def local(y: int, m: int, d: int, h: int = 0) -> float:
    return datetime(y, m, d, h, tzinfo=LONDON).timestamp()


def test_day_ahead_mape_on_a_generated_office_is_below_eight_percent():
    ts, kwh, temp = office(3, local(2025, 1, 6), 16 * 7 * 24, LONDON)
    got = day_ahead_mape(ts, kwh, temp, LONDON, weeks=4)
    assert got < 8.0


def test_with_the_true_temperature_ahead_the_forecast_is_within_the_noise():
    ts, kwh, temp = office(4, local(2025, 5, 5), 10 * 7 * 24, LONDON)
    cut = len(ts) - 48
    f = forecast(ts[:cut], kwh[:cut], temp[:cut], LONDON, ts[cut], 48, temp_ahead=temp[cut:])
    assert f.temperature_source == "forecast" and f.method == "towt"
    s = score(f.kwh, kwh[cut:])
    assert s.n == 48 and s.mape_pct is not None and s.mape_pct < 6.0
    # Better than the naive forecast, the same hour a week before.
    naive = score(kwh[cut - 168:cut - 120], kwh[cut:])
    assert naive.mape_pct is not None and s.mape_pct < naive.mape_pct


def test_a_temperature_forecast_for_some_hours_leaves_the_rest_to_climatology():
    ts, kwh, temp = office(11, local(2025, 7, 7), 6 * 7 * 24, LONDON)
    cut = len(ts) - 24
    given = np.full(24, np.nan)
    given[:6] = 35.0  # a heat wave forecast for the first six hours
    f = forecast(ts[:cut], kwh[:cut], temp[:cut], LONDON, ts[cut], 24, temp_ahead=given)
    plain = forecast(ts[:cut], kwh[:cut], temp[:cut], LONDON, ts[cut], 24)
    assert f.temperature_source == "forecast" and plain.temperature_source == "climatology"
    assert f.temperature is not None and plain.temperature is not None
    assert f.temperature[:6].tolist() == [35.0] * 6
    assert f.temperature[6:] == pytest.approx(plain.temperature[6:])
    assert f.kwh[:6].sum() > plain.kwh[:6].sum()  # cooling for the heat
    with pytest.raises(ValueError, match="for each of the 24 hours ahead, not 3"):
        forecast(ts[:cut], kwh[:cut], temp[:cut], LONDON, ts[cut], 24, temp_ahead=[1.0, 2.0, 3.0])


def test_hours_of_a_clock_change_are_forecast_by_their_local_time():
    # Spring: Sunday 30 March 2025 has 23 hours. Forecast from that Sunday's midnight for 48 hours.
    ts, kwh, temp = office(5, local(2025, 1, 6), 12 * 7 * 24, LONDON)
    issued = local(2025, 3, 30)
    cut = int(np.searchsorted(ts, issued))
    f = forecast(ts[:cut], kwh[:cut], temp[:cut], LONDON, issued, 48)
    assert len(f.kwh) == 48 and f.starts[0] == issued
    monday = {datetime.fromtimestamp(s, LONDON).hour: e for s, e in zip(f.starts, f.kwh, strict=True)
              if datetime.fromtimestamp(s, LONDON).date() == date(2025, 3, 31)}
    # 07:00 local on Monday is 06:00 UTC in summer time: occupied from then, not an hour late.
    assert monday[7] > 45 and monday[6] < 35 and monday[18] > 45 and monday[19] < 35
    # Autumn: Sunday 26 October 2025 has 25 hours; the Monday after opens at 07:00 GMT.
    ts, kwh, temp = office(6, local(2025, 8, 4), 12 * 7 * 24, LONDON)
    issued = local(2025, 10, 26)
    cut = int(np.searchsorted(ts, issued))
    f = forecast(ts[:cut], kwh[:cut], temp[:cut], LONDON, issued, 48)
    hours = [datetime.fromtimestamp(s, LONDON) for s in f.starts]
    assert sum(h.date() == date(2025, 10, 26) for h in hours) == 25
    monday = {h.hour: e for h, e in zip(hours, f.kwh, strict=True) if h.date() == date(2025, 10, 27)}
    assert monday[7] > 45 and monday[6] < 35


def test_gaps_are_left_out_and_too_little_history_is_refused():
    ts, kwh, temp = office(8, local(2025, 2, 3), 8 * 7 * 24, LONDON)
    rng = np.random.default_rng(1)
    holed = kwh.copy()
    holed[rng.random(len(holed)) < 0.2] = np.nan  # a fifth of the hours lost
    holed[500:572] = np.nan  # and a three-day outage
    temp_holed = temp.copy()
    temp_holed[900:960] = np.nan
    cut = len(ts) - 24
    f = forecast(ts[:cut], holed[:cut], temp_holed[:cut], LONDON, ts[cut], 24)
    s = score(f.kwh, kwh[cut:])
    assert s.mape_pct is not None and s.mape_pct < 10.0
    # Rows missing altogether (not NaN) are the same as gaps.
    keep = np.isfinite(holed)
    again = forecast(ts[:cut][keep[:cut]], holed[:cut][keep[:cut]], temp_holed[:cut][keep[:cut]], LONDON,
                     ts[cut], 24)
    assert again.kwh == pytest.approx(f.kwh)
    with pytest.raises(ValueError, match=f"167 hours of energy before the forecast: at least {MIN_HOURS}"):
        forecast(ts[:167], kwh[:167], temp[:167], LONDON, ts[167], 24)
    with pytest.raises(ValueError, match="hours is 49: expected 1 to 48"):
        forecast(ts, kwh, temp, LONDON, ts[-1] + HOUR, 49)


def test_without_temperature_the_time_of_week_alone_forecasts():
    ts, kwh, _temp = office(9, local(2025, 4, 7), 4 * 7 * 24, LONDON)
    f = forecast(ts, kwh, None, LONDON, ts[-1] + HOUR, 24)
    assert (f.method, f.temperature_source, f.temperature) == ("time_of_week", "none", None)
    when = [datetime.fromtimestamp(s, LONDON) for s in f.starts]
    occupied = [e for d, e in zip(when, f.kwh, strict=True) if d.weekday() < 5 and 8 <= d.hour < 18]
    assert occupied and min(occupied) > 45


def test_a_holiday_is_forecast_as_a_sunday():
    ts, kwh, temp = office(10, local(2025, 3, 3), 6 * 7 * 24, LONDON)
    issued = local(2025, 4, 16)  # a Wednesday
    cut = int(np.searchsorted(ts, issued))
    plain = forecast(ts[:cut], kwh[:cut], temp[:cut], LONDON, issued, 24)
    off = forecast(ts[:cut], kwh[:cut], temp[:cut], LONDON, issued, 24,
                   holiday=lambda d: d == date(2025, 4, 16))
    noon = 12  # local hours from midnight (no clock change that day)
    assert plain.kwh[noon] > 45 and off.kwh[noon] < 35


def test_quarters_add_up_to_their_hours_and_follow_a_ramp():
    starts = 1_700_000_000.0 + HOUR * np.arange(4)
    kwh = np.array([10.0, 20.0, 30.0, 40.0])
    q_starts, q = quarters(starts, kwh)
    assert q_starts.tolist() == [starts[0] + 900.0 * i for i in range(16)]
    assert q.reshape(4, 4).sum(axis=1) == pytest.approx(kwh)
    assert (np.diff(q[4:12]) > 0).all()  # inside the ramp, each window above the one before
    assert quarters([], [])[0].size == 0


def test_score_by_hand():
    s = score([90.0, 110.0, 5.0, np.nan], [100.0, 100.0, 0.0, 50.0])
    # MAPE over the positive actuals: (10 % + 10 %) / 2; CV(RMSE): √((100 + 100 + 25) / 3) / (200 / 3).
    assert s.n == 3
    assert s.mape_pct == pytest.approx(10.0)
    assert s.cvrmse_pct == pytest.approx(np.sqrt(225 / 3) / (200 / 3) * 100)
    assert score([], []).mape_pct is None


def test_temperature_ahead_fades_from_the_last_hour_to_climatology():
    ts = local(2025, 6, 2) + HOUR * np.arange(7 * 24)
    hod = np.array([datetime.fromtimestamp(t, LONDON).hour for t in ts])
    temp = 15.0 + 5.0 * np.sin(2 * np.pi * hod / 24)
    temp[-1] += 6.0  # the last hour 6 °C warmer than usual
    ahead = ts[-1] + HOUR * np.arange(1, 49)
    got = temperature_ahead(ts, temp, ahead, LONDON)
    ahead_hod = np.array([datetime.fromtimestamp(t, LONDON).hour for t in ahead])
    departure = got - (15.0 + 5.0 * np.sin(2 * np.pi * ahead_hod / 24))
    # The week's mean at the last hour of day holds the warm hour too (1 of 7): a departure of 6 × 6/7.
    last = 6.0 * 6 / 7
    assert departure[0] == pytest.approx(last * np.exp(-1 / 12))
    assert departure[12] == pytest.approx(last * np.exp(-13 / 12))
    assert abs(departure[46]) < 0.2  # two days on: climatology alone
    with pytest.raises(ValueError, match="no outdoor temperature is known"):
        temperature_ahead(ts, np.full(len(ts), np.nan), ahead, LONDON)
