"""Avoided energy and its fractional savings uncertainty (issue 18, item 2) on designed savings."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from openbms.analytics.baseline import Exclusion, fit_baseline
from openbms.analytics.savings import fractional_savings_uncertainty, normalised_savings, savings
from openbms.bench.analytics import synthetic_days, synthetic_hours

LONDON = ZoneInfo("Europe/London")
REPORTING = date(2024, 1, 1)


def _midnight(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=LONDON).timestamp()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_designed_ten_percent_saving_is_recovered_hourly(seed: int) -> None:
    ts, energy, temp = synthetic_hours(365, seed=seed)
    b = fit_baseline(ts, energy, temp, LONDON)
    rt, re, rtemp = synthetic_hours(365, seed=seed + 100, start=REPORTING)  # another year's weather
    s = savings(b, rt, 0.9 * re, rtemp)
    assert s.fraction == pytest.approx(0.10, abs=0.02)
    assert s.avoided == pytest.approx(s.adjusted_baseline - s.actual)
    assert s.low < s.avoided < s.high and s.fsu < 0.5


@pytest.mark.parametrize("seed", [1, 2])
def test_a_designed_ten_percent_saving_is_recovered_daily(seed: int) -> None:
    ts, energy, temp = synthetic_days(365, seed=seed)
    b = fit_baseline(ts, energy, temp, LONDON)
    rt, re, rtemp = synthetic_days(365, seed=seed + 100, start=REPORTING)
    s = savings(b, rt, 0.9 * re, rtemp)
    assert s.fraction == pytest.approx(0.10, abs=0.02)


def test_uncertainty_shrinks_with_more_reporting_data() -> None:
    ts, energy, temp = synthetic_hours(365, seed=4)
    b = fit_baseline(ts, energy, temp, LONDON)
    rt, re, rtemp = synthetic_hours(365, seed=104, start=REPORTING)
    fsus = []
    for days in (30, 91, 365):
        n = int(np.searchsorted(rt, _midnight(date.fromordinal(REPORTING.toordinal() + days))))
        fsus.append(savings(b, rt[:n], 0.9 * re[:n], rtemp[:n]).fsu)
    assert fsus[0] > fsus[1] > fsus[2] > 0


def test_uncertainty_shrinks_with_more_baseline_data_and_grows_with_autocorrelation() -> None:
    short = fractional_savings_uncertainty(10.0, n=2000, p=180, m=8760, fraction=0.1)
    long = fractional_savings_uncertainty(10.0, n=8760, p=180, m=8760, fraction=0.1)
    assert short > long
    assert fractional_savings_uncertainty(10.0, 8760, 180, 8760, 0.1, rho=0.5) > long
    # ρ = 0.5: n′ = n/3, so the root grows by √3 (and a little from 2/n′).
    assert fractional_savings_uncertainty(10.0, 8760, 180, 8760, 0.1, rho=0.5) / long == pytest.approx(
        3 ** 0.5, rel=0.01)
    # Higher confidence, wider band; no saving, no bound.
    assert fractional_savings_uncertainty(10.0, 8760, 180, 8760, 0.1, confidence=0.95) > long
    assert fractional_savings_uncertainty(10.0, 8760, 180, 8760, 0.0) == float("inf")


def test_guideline_14_formula_on_a_hand_computed_case() -> None:
    # CV 20 %, n = 12 months, p = 2, m = 12, F = 0.1, 90 %: t(10 dof) = 1.8125.
    got = fractional_savings_uncertainty(20.0, n=12, p=2, m=12, fraction=0.1, confidence=0.9)
    assert got == pytest.approx(1.26 * 1.8125 * 0.2 * ((1 + 2 / 12) / 12) ** 0.5 / 0.1, rel=1e-3)


def test_a_non_routine_event_in_the_reporting_period_is_left_out_with_its_note() -> None:
    ts, energy, temp = synthetic_hours(365, seed=5)
    b = fit_baseline(ts, energy, temp, LONDON)
    rt, re, rtemp = synthetic_hours(365, seed=105, start=REPORTING)
    actual = 0.9 * re
    shut = (rt >= _midnight(date(2024, 8, 1))) & (rt < _midnight(date(2024, 8, 15)))
    actual[shut] = 2.0  # closed a fortnight for refurbishment: not a saving of the measure
    event = Exclusion(_midnight(date(2024, 8, 1)), _midnight(date(2024, 8, 15)), "closed for refurbishment")
    with_event = savings(b, rt, actual, rtemp, exclude=[event])
    assert with_event.fraction == pytest.approx(0.10, abs=0.02)
    assert with_event.excluded_rows == int(shut.sum()) and with_event.rows == len(rt) - int(shut.sum())
    assert with_event.exclusions[0].note == "closed for refurbishment"
    assert savings(b, rt, actual, rtemp).fraction > 0.12  # counted, the closure inflates the saving


def test_reporting_rows_of_another_interval_are_refused() -> None:
    ts, energy, temp = synthetic_hours(60, seed=6)
    b = fit_baseline(ts, energy, temp, LONDON)
    dt, de, dtemp = synthetic_days(30, seed=6, start=REPORTING)
    with pytest.raises(ValueError, match="same interval"):
        savings(b, dt, de, dtemp)


def test_normalised_savings_compare_both_periods_on_a_typical_year() -> None:
    ts, energy, temp = synthetic_hours(365, seed=7)
    b = fit_baseline(ts, energy, temp, LONDON)
    rt, re, rtemp = synthetic_hours(365, seed=107, start=REPORTING)
    r = fit_baseline(rt, 0.9 * re, rtemp, LONDON)
    normal_ts, _e, normal_temp = synthetic_hours(365, seed=207, start=date(2025, 1, 6))
    n = normalised_savings(b, r, normal_ts, normal_temp)
    assert n.fraction == pytest.approx(0.10, abs=0.02)
    assert n.avoided == pytest.approx(n.baseline - n.reporting)
    # A colder typical year: more energy in both, the same share saved.
    colder = normalised_savings(b, r, normal_ts, normal_temp - 3.0)
    assert colder.baseline > n.baseline and colder.fraction == pytest.approx(0.10, abs=0.02)
