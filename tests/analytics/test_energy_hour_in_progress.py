"""The hour in progress from raw samples: its rollup cannot say where in the hour its data lies."""

from __future__ import annotations

import pytest

from openbms.analytics.energy import HOLD, HOUR, Meter, MeterSeries
from openbms.historian.base import RollupRow

H = 100 * HOUR  # the start of the hour in progress
DEMAND = Meter("demand", 1.0)


def hour_row(start: float, kw: float, last_ts: float, covered: float = HOUR) -> RollupRow:
    return RollupRow("p", start, 4, kw, kw, kw, kw, covered, kw, last_ts)


def test_the_value_before_the_hour_is_carried_into_it_for_at_most_hold():
    # 60 kW last sampled 5 minutes before the hour; the next sample, 30 kW, 20 minutes into it.
    before = hour_row(H - HOUR, 60.0, H - 300)
    series = MeterSeries(DEMAND, [before, hour_row(H, 45.0, H + 1200, 1200)],
                         raw=[(H + 1200, 30.0)], raw_hour=H)
    carried = (HOLD - 300) / HOUR * 60  # held until 15 minutes after that sample: 10 minutes of the hour
    assert series.energy(H, H + 1800) == pytest.approx(carried + 600 / HOUR * 30)


def test_a_meters_first_hour_has_energy_from_its_first_samples():
    first = hour_row(H, 45.0, H + 600, 1200)
    # From the rollup alone its mean is placed at the end of the hour (the data began inside it):
    # twenty minutes in, nothing yet.
    assert MeterSeries(DEMAND, [first]).energy(H, H + 1200) is None
    series = MeterSeries(DEMAND, [first], raw=[(H, 60.0), (H + 600, 30.0)], raw_hour=H)
    assert series.energy(H, H + 1200) == pytest.approx(60 * 600 / HOUR + 30 * 600 / HOUR)


def test_a_raw_sample_holds_until_the_next_and_never_past_the_end_asked():
    series = MeterSeries(DEMAND, [], raw=[(H, 10.0), (H + 600, 20.0)], raw_hour=H)
    assert series.energy(H, H + 600) == pytest.approx(10 * 600 / HOUR)
    assert series.energy(H, H + 900) == pytest.approx(10 * 600 / HOUR + 20 * 300 / HOUR)
    # Held at most HOLD after the last sample.
    assert series.energy(H, H + HOUR) == pytest.approx(10 * 600 / HOUR + 20 * HOLD / HOUR)


def test_a_register_counts_its_raw_readings_of_the_hour_after_the_last_hourly_reading():
    before = RollupRow("p", H - HOUR, 4, 90.0, 100.0, 95.0, 95.0, HOUR, 100.0, H - 60)
    series = MeterSeries(Meter("register", 1.0), [before], raw=[(H + 60, 102.0), (H + 600, 110.0)],
                         raw_hour=H)
    # 100 → 102 across the hour's start (half of it in the hour), then 102 → 110.
    assert series.energy(H, H + 600) == pytest.approx(1.0 + 8.0)
    # Samples outside the hour asked for are not used.
    assert MeterSeries(Meter("register", 1.0), [before], raw=[(H + HOUR, 500.0)], raw_hour=H).energy(
        H, H + HOUR) is None
