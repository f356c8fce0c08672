"""Weather-normalised baselines (issue 18, item 2) on generated meters whose structure is known."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from openbms.analytics.baseline import Exclusion, fit_baseline, fit_daily, fit_hourly, interval_of
from openbms.bench.analytics import Office, synthetic_days, synthetic_hours

LONDON = ZoneInfo("Europe/London")


def _midnight(d: date, tz: ZoneInfo = LONDON) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()


# --- daily change-point model --------------------------------------------------------------------


def test_daily_model_recovers_balance_points_and_slopes() -> None:
    ts, energy, temp = synthetic_days(730, seed=3)
    b = fit_baseline(ts, energy, temp, LONDON)
    m = b.daily
    assert (b.interval, b.model, m.kind) == ("daily", "daily", "heating_cooling")
    assert m.heating_balance is not None and abs(m.heating_balance - Office.heating_balance) <= 1.0
    assert m.cooling_balance is not None and abs(m.cooling_balance - Office.cooling_balance) <= 1.0
    assert m.heating_slope == pytest.approx(24 * Office.heating_slope, rel=0.1)
    # Hot days are few (about 75 a year above 21 °C): a balance point a degree lower with a gentler slope
    # fits them almost as well, so the slope is known less well than the cooling load it predicts.
    assert m.cooling_slope == pytest.approx(24 * Office.cooling_slope, rel=0.25)
    for hot in (24.0, 27.0):
        expected = 24 * Office.cooling_slope * (hot - Office.cooling_balance)
        assert m.cooling_slope * (hot - m.cooling_balance) == pytest.approx(expected, rel=0.1)
    cold = 24 * Office.heating_slope * (Office.heating_balance - 0.0)
    assert m.heating_slope * (m.heating_balance - 0.0) == pytest.approx(cold, rel=0.05)
    base = 24 * (Office.base + Office.occupied * 10 / 24 * 5 / 7)
    assert m.intercept == pytest.approx(base, rel=0.05)
    assert b.stats.p == 5 and b.stats.n == 730
    assert b.stats.meets("hourly")


def test_daily_model_without_weather_dependence_is_intercept_only() -> None:
    rng = np.random.default_rng(1005)  # not the weather's seed: noise unrelated to the temperature
    ts, _energy, temp = synthetic_days(365, seed=5)
    flat = 1000.0 + rng.normal(0.0, 30.0, len(ts))
    m = fit_daily(temp, flat)
    # On noise a grid of balance points finds a "significant" term by chance in about one case in ten
    # (40 seeds tried: 34 intercept-only); this seed is one of the others, fixed.
    assert m.kind == "intercept"
    assert m.intercept == pytest.approx(float(flat.mean()))


def test_daily_model_of_a_heating_only_building_has_no_cooling_term() -> None:
    rng = np.random.default_rng(1006)
    _ts, _e, temp = synthetic_days(365, seed=6)
    use = 500.0 + 40.0 * np.maximum(16.0 - temp, 0.0) + rng.normal(0.0, 20.0, len(temp))
    m = fit_daily(temp, use)
    assert m.kind == "heating"
    assert m.cooling_balance is None and m.heating_balance == pytest.approx(16.0, abs=1.0)


def test_a_negative_slope_does_not_qualify() -> None:
    # Energy falls as it gets colder below 10 °C (a process shut down in winter): a heating term would fit
    # it best, with a negative slope, which CalTRACK does not accept.
    rng = np.random.default_rng(1008)
    _ts, _e, temp = synthetic_days(365, seed=8)
    use = 800.0 - 30.0 * np.maximum(10.0 - temp, 0.0) + rng.normal(0.0, 10.0, len(temp))
    m = fit_daily(temp, use)
    assert m.heating_balance is None and m.kind in ("intercept", "cooling")
    assert m.cooling_slope >= 0


# --- hourly time-of-week-and-temperature model -----------------------------------------------------


def test_hourly_model_fits_a_year_within_guideline_14() -> None:
    ts, energy, temp = synthetic_hours(365, seed=1)
    b = fit_baseline(ts, energy, temp, LONDON)
    assert (b.interval, b.model) == ("hourly", "hourly")
    # The noise alone is 3 kWh on a 48 kWh mean (6.2 %): the model adds little to it.
    assert b.stats.cvrmse_pct <= 8.0
    assert abs(b.stats.nmbe_pct) <= 0.5
    assert b.stats.r2 >= 0.95
    assert b.stats.meets("hourly")
    assert b.daily_cvrmse["hourly"] < b.daily_cvrmse["daily"]


def test_occupied_hours_come_from_the_data() -> None:
    ts, energy, temp = synthetic_hours(365, seed=2)
    b = fit_baseline(ts, energy, temp, LONDON)
    assert b.hourly is not None
    expected = np.array([d < 5 and 8 <= h < 18 for d in range(7) for h in range(24)])
    assert (b.hourly.occupied == expected).all()


def test_time_of_week_is_the_sites_local_time_across_daylight_saving() -> None:
    ts, energy, temp = synthetic_hours(365, seed=4)
    b = fit_baseline(ts, energy, temp, LONDON)
    # 08:00 on a summer Monday is 07:00 UTC: the occupied level, not the night's.
    monday_8 = datetime(2023, 7, 3, 8, tzinfo=LONDON).timestamp()
    monday_7 = datetime(2023, 7, 3, 7, tzinfo=LONDON).timestamp()
    high, low = b.predict([monday_7, monday_8], [18.0, 18.0], "hourly")
    assert high - low == pytest.approx(-Office.occupied, abs=3.0)
    # Read in UTC, the same building's schedule moves by an hour half the year: a worse fit.
    utc = fit_baseline(ts, energy, temp, ZoneInfo("UTC"))
    assert utc.stats.cvrmse_pct > b.stats.cvrmse_pct + 3.0


@pytest.mark.parametrize(("day", "hours"), [(date(2023, 3, 26), 23), (date(2023, 10, 29), 25)])
def test_daylight_saving_days_have_their_hours(day: date, hours: int) -> None:
    ts, energy, temp = synthetic_hours(365, seed=9)
    start, end = _midnight(day), _midnight(date.fromordinal(day.toordinal() + 1))
    inside = (ts >= start) & (ts < end)
    assert int(inside.sum()) == hours
    b = fit_baseline(ts, energy, temp, LONDON)
    predicted = b.predict(ts[inside], temp[inside])
    assert len(predicted) == hours and np.isfinite(predicted).all()
    # The day's total is predicted as well as any other day's (noise: 3 kWh an hour, ≈15 kWh a day).
    assert float(predicted.sum()) == pytest.approx(float(energy[inside].sum()), abs=60.0)


@pytest.mark.parametrize(("day", "hours"), [(date(2023, 3, 26), 23), (date(2023, 10, 29), 25)])
def test_a_daily_row_of_a_daylight_saving_day_is_that_many_hours(day: date, hours: int) -> None:
    ts, energy, temp = synthetic_days(365, seed=3)
    b = fit_baseline(ts, energy, temp, LONDON)
    short = b.predict([_midnight(day), _midnight(date(2023, 6, 1))], [10.0, 10.0], "daily")
    assert short[0] / short[1] == pytest.approx(hours / 24)


def test_daily_rows_of_hourly_training_are_predicted_by_the_daily_model() -> None:
    ts, energy, temp = synthetic_hours(365, seed=10)
    b = fit_baseline(ts, energy, temp, LONDON)
    days = [_midnight(date(2023, 3, 25)), _midnight(date(2023, 3, 26)), _midnight(date(2023, 3, 27))]
    got = b.predict(days, [8.0, 8.0, 8.0])
    assert got[1] / got[0] == pytest.approx(23 / 24)
    assert got[0] == pytest.approx(float(b.daily.per_day([8.0])[0]))


def test_gaps_are_allowed_and_counted() -> None:
    ts, energy, temp = synthetic_hours(365, seed=11)
    rng = np.random.default_rng(11)
    keep = rng.random(len(ts)) > 0.2
    keep &= ~((ts >= _midnight(date(2023, 5, 1))) & (ts < _midnight(date(2023, 5, 15))))  # a fortnight out
    b = fit_baseline(ts[keep], energy[keep], temp[keep], LONDON)
    assert b.rows == int(keep.sum()) and b.stats.n == b.rows
    assert b.model == "hourly" and b.stats.cvrmse_pct <= 8.0
    # The residuals' autocorrelation uses only rows an hour apart: white noise stays near 0.
    assert abs(b.stats.autocorrelation) < 0.15
    days_ts, days_e, days_t = synthetic_days(365, seed=12)
    dkeep = rng.random(len(days_ts)) > 0.3
    d = fit_baseline(days_ts[dkeep], days_e[dkeep], days_t[dkeep], LONDON)
    assert d.interval == "daily" and d.rows == int(dkeep.sum()) and d.daily.kind == "heating_cooling"


def test_an_hour_of_the_week_without_data_is_predicted_from_the_same_hour_on_other_days() -> None:
    ts, energy, temp = synthetic_hours(120, seed=13)
    walls = [datetime.fromtimestamp(t, LONDON) for t in ts.tolist()]
    keep = np.array([not (w.weekday() == 2 and w.hour == 10) for w in walls])  # no Wednesday 10:00
    b = fit_baseline(ts[keep], energy[keep], temp[keep], LONDON)
    wed, thu = (datetime(2023, 3, 1, 10, tzinfo=LONDON).timestamp(),
                datetime(2023, 3, 2, 10, tzinfo=LONDON).timestamp())
    got = b.predict([wed, thu], [10.0, 10.0], "hourly")
    assert got[0] == pytest.approx(got[1], abs=5.0)


def test_a_non_routine_event_is_left_out_of_the_baseline() -> None:
    ts, energy, temp = synthetic_hours(365, seed=14)
    event = (ts >= _midnight(date(2023, 9, 1))) & (ts < _midnight(date(2023, 10, 1)))
    disturbed = np.where(event, energy + 40.0, energy)  # a tenant's fit-out: a month of extra load
    note = Exclusion(_midnight(date(2023, 9, 1)), _midnight(date(2023, 10, 1)), "tenant fit-out, floor 3")
    kept = fit_baseline(ts, disturbed, temp, LONDON, exclude=[note])
    raw = fit_baseline(ts, disturbed, temp, LONDON)
    assert kept.excluded_rows == int(event.sum()) and kept.rows == len(ts) - int(event.sum())
    assert kept.exclusions[0].note == "tenant fit-out, floor 3"
    assert kept.stats.cvrmse_pct <= 8.0 < raw.stats.cvrmse_pct


# --- what is refused ---------------------------------------------------------------------------------


def test_rows_neither_hourly_nor_daily_are_refused() -> None:
    with pytest.raises(ValueError, match="expected hourly"):
        interval_of(np.arange(0.0, 100 * 900.0, 900.0))


def test_rows_out_of_order_are_refused_with_the_row() -> None:
    ts, energy, temp = synthetic_hours(30, seed=15)
    ts[10], ts[11] = ts[11], ts[10]
    with pytest.raises(ValueError, match=r"row 12"):
        fit_baseline(ts, energy, temp, LONDON)


def test_too_few_hours_are_refused() -> None:
    ts, energy, temp = synthetic_hours(3, seed=16)
    with pytest.raises(ValueError, match="at least 8 days"):
        fit_baseline(ts, energy, temp, LONDON)


def test_a_week_of_hours_is_refused_with_the_reason_and_eight_days_fit() -> None:
    """A week (168 hours) was accepted, then refused by the statistics ("168 values cannot judge a
    model of 172 parameters"): the hourly model has more parameters than a week has hours."""
    ts, energy, temp = synthetic_hours(8, seed=18)
    with pytest.raises(ValueError, match="at least 8 days"):
        fit_hourly(ts[:168], energy[:168], temp[:168], LONDON)
    model = fit_hourly(ts[:192], energy[:192], temp[:192], LONDON)
    assert model.p < 192


def test_when_the_daily_model_is_chosen_the_hours_share_its_days_energy() -> None:
    ts, energy, temp = synthetic_hours(120, seed=17)
    b = fit_baseline(ts, energy, temp, LONDON)
    daily = dataclasses.replace(b, model="daily")
    day = (ts >= _midnight(date(2023, 3, 26))) & (ts < _midnight(date(2023, 3, 27)))  # 23 hours
    got = daily.predict(ts[day], temp[day], "hourly")
    assert float(got.sum()) == pytest.approx(float(b.daily.per_day([temp[day].mean()])[0]) * 23 / 24)
    shape = b.predict(ts[day], temp[day], "hourly")
    assert np.allclose(got / shape, got[0] / shape[0])
