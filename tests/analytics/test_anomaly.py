"""Anomaly detection on generated office hours: each detector flags its fault, and normal days raise nothing.

The generated office (``openbms.bench.analytics.synthetic_hours``): 20 kWh of base load every hour,
30 more in occupied hours, heating and cooling slopes, 3 kWh of noise per hour. Eight weeks train,
the days after are judged.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from openbms.analytics.anomaly import (
    CREEP_DAYS,
    MIN_TRAIN_DAYS,
    STUCK_MIN_HOURS,
    TRAIN_DAYS,
    Finding,
    judge_day,
)
from openbms.analytics.baseline import local_time
from openbms.bench.analytics import synthetic_hours

TZ = ZoneInfo("Europe/London")
START = date(2023, 1, 2)  # a Monday


@pytest.fixture(scope="module")
def office() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return synthetic_hours(TRAIN_DAYS + 14, seed=3, start=START)


def _day(k: int) -> date:
    return START + timedelta(days=k)


def _judged(*args, **kwargs) -> list[Finding]:
    """The findings of a day that can be judged."""
    got = judge_day(*args, **kwargs)
    assert got is not None
    return got


def _rows_of(ts: np.ndarray, k: int) -> np.ndarray:
    return local_time(ts, TZ).day == _day(k).toordinal()


def test_a_normal_week_after_eight_weeks_of_training_raises_nothing(office) -> None:
    ts, kwh, temp = office
    judged = [judge_day(ts, kwh, temp, TZ, _day(k)) for k in range(TRAIN_DAYS, TRAIN_DAYS + 7)]
    assert judged == [[]] * 7


def test_a_day_a_quarter_above_its_model_is_a_consumption_anomaly_with_its_evidence(office) -> None:
    ts, kwh, temp = office
    k = TRAIN_DAYS + 2  # a Wednesday
    faulty = kwh.copy()
    day = _rows_of(ts, k)
    faulty[day] *= 1.25
    found = _judged(ts, faulty, temp, TZ, _day(k), name="Main meter")
    assert [f.kind for f in found] == ["consumption"]
    f = found[0]
    assert f.actual_kwh == pytest.approx(float(faulty[day].sum()))
    # What the model expects is close to the day before the fault, and the score crossed its threshold.
    assert f.expected_kwh == pytest.approx(float(kwh[day].sum()), rel=0.05)
    assert f.score > f.threshold
    assert (f.start, f.end) == (float(ts[day][0]), float(ts[day][-1]) + 3600.0)
    assert "Main meter used" in f.message and "more than" in f.message
    # A day far below its model is no fault (energy saved; the emulator's weekend plant stays off on a
    # mild Saturday): no finding.
    faulty[day] = kwh[day] * 0.6
    assert _judged(ts, faulty, temp, TZ, _day(k)) == []


def test_a_meter_reading_the_same_energy_for_hours_is_stuck(office) -> None:
    ts, kwh, temp = office
    k = TRAIN_DAYS + 1
    faulty = kwh.copy()
    hours = np.flatnonzero(_rows_of(ts, k))[10:10 + STUCK_MIN_HOURS + 2]
    faulty[hours] = faulty[hours[0]]
    found = _judged(ts, faulty, temp, TZ, _day(k))
    stuck = [f for f in found if f.kind == "stuck"]
    assert len(stuck) == 1
    assert stuck[0].score == STUCK_MIN_HOURS + 2 and stuck[0].start == ts[hours[0]]
    # One hour fewer than the threshold is no finding.
    faulty = kwh.copy()
    short = hours[:STUCK_MIN_HOURS - 1]
    faulty[short] = faulty[short[0]]
    assert [f for f in _judged(ts, faulty, temp, TZ, _day(k)) if f.kind == "stuck"] == []


def test_a_spike_and_a_negative_hour_are_jumps(office) -> None:
    ts, kwh, temp = office
    k = TRAIN_DAYS + 3
    h = int(np.flatnonzero(_rows_of(ts, k))[3])  # 03:00, a quiet hour
    spiked = kwh.copy()
    spiked[h] = 10 * kwh.max()
    jumps = [f for f in _judged(ts, spiked, temp, TZ, _day(k)) if f.kind == "jump"]
    assert len(jumps) == 1 and jumps[0].start == ts[h] and jumps[0].actual_kwh == spiked[h]
    assert jumps[0].score > jumps[0].threshold
    negative = kwh.copy()
    negative[h] = -500.0
    jumps = [f for f in _judged(ts, negative, temp, TZ, _day(k)) if f.kind == "jump"]
    assert len(jumps) == 1 and jumps[0].actual_kwh == -500.0 and "backwards" in jumps[0].message


def test_base_load_creeping_up_for_days_is_flagged_once_it_has_lasted(office) -> None:
    ts, kwh, temp = office
    first = TRAIN_DAYS + 1
    crept = kwh.copy()
    loc = local_time(ts, TZ)
    hour = (loc.tow % 24)
    night = (loc.day >= _day(first).toordinal()) & ((hour < 6) | (hour >= 20))
    crept[night] += 8.0  # 40 % more base load at night: a day's total stays within its noise
    last = first + CREEP_DAYS - 1
    assert [f.kind for f in _judged(ts, crept, temp, TZ, _day(last))] == ["base_load"]
    assert not any(f.kind == "base_load" for f in _judged(ts, crept, temp, TZ, _day(last - 1)))
    f = _judged(ts, crept, temp, TZ, _day(last))[0]
    assert f.actual_kwh > f.expected_kwh and f.start == ts[loc.day == _day(first).toordinal()][0]


def test_too_little_history_or_a_day_of_gaps_is_not_judged(office) -> None:
    ts, kwh, temp = office
    assert judge_day(ts, kwh, temp, TZ, _day(MIN_TRAIN_DAYS - 1)) is None
    gaps = kwh.copy()
    k = TRAIN_DAYS + 2
    gaps[_rows_of(ts, k)] = np.nan
    assert judge_day(ts, gaps, temp, TZ, _day(k)) is None
    # Flagged days left out of training: too few left, no judgement.
    flagged = [_day(j) for j in range(k - TRAIN_DAYS, k - MIN_TRAIN_DAYS + 1)]
    assert judge_day(ts, kwh * 2, temp, TZ, _day(k), exclude=flagged) is None


def test_rows_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one entry per hour"):
        judge_day([0.0, 3600.0], [1.0], [5.0, 5.0], TZ, date(1970, 1, 1))


def test_a_frozen_register_reads_zero_and_is_stuck_unless_the_meter_is_often_off(office) -> None:
    ts, kwh, temp = office
    k = TRAIN_DAYS + 2
    frozen = kwh.copy()
    hours = np.flatnonzero(_rows_of(ts, k))[6:18]
    frozen[hours] = 0.0  # a register that stopped counting: 0 kWh an hour
    assert [f.kind for f in _judged(ts, frozen, temp, TZ, _day(k)) if f.kind == "stuck"] == ["stuck"]
    # A meter that is off every night in training (a gas boiler) reads zero for hours as a matter of course.
    hour = local_time(ts, TZ).tow % 24
    nightly_off = np.where((hour < 5), 0.0, frozen)
    assert [f for f in _judged(ts, nightly_off, temp, TZ, _day(k)) if f.kind == "stuck"] == []


def test_a_meter_that_reads_the_same_every_hour_in_training_is_not_stuck_for_doing_so(office) -> None:
    # A steady 10 kW load (a server room's sub-meter) reads 10 kWh every hour of its eight weeks: reading it
    # on the day judged is what it always does, not a fault (it was 'stuck for 1 392 hours' every day).
    ts, _kwh, temp = office
    steady = np.full(len(ts), 10.0)
    k = TRAIN_DAYS + 1
    assert [f for f in _judged(ts, steady, temp, TZ, _day(k)) if f.kind == "stuck"] == []
    # Stuck at another value than its usual one is still found.
    faulty = steady.copy()
    faulty[np.flatnonzero(_rows_of(ts, k))[0]:] = 0.0
    assert [f.kind for f in _judged(ts, faulty, temp, TZ, _day(k)) if f.kind == "stuck"] == ["stuck"]
