"""Which points are meters, local-day spans over clock changes, and a register's reset."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from openbms.analytics.energy import Meter, MeterSeries, day_spans, meter_of
from openbms.historian.base import RollupRow


def test_meters_are_energy_registers_or_tagged_power_points_scaled_to_kwh_and_kw():
    assert meter_of("number", "kWh", ()) == Meter("register", 1.0)
    assert meter_of("number", "MWh", ()) == Meter("register", 1000.0)
    assert meter_of("number", "Wh", ()) == Meter("register", 0.001)
    assert meter_of("number", "kW", ("elec",)) == Meter("demand", 1.0)
    assert meter_of("number", "W", ("meter",)) == Meter("demand", 0.001)
    assert meter_of("number", "kW", ("fan",)) is None  # a fan's power is not a meter
    assert meter_of("bool", "kWh", ()) is None
    assert meter_of("number", "degC", ("energy",)) is None


def test_local_days_are_23_and_25_hours_on_clock_changes():
    tz = ZoneInfo("America/Los_Angeles")
    autumn = day_spans(3, datetime(2026, 11, 2, 12, tzinfo=tz).timestamp(), tz)
    assert [s.date for s in autumn] == [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]
    assert [(s.end - s.start) / 3600 for s in autumn] == [24, 25, 24]
    assert autumn[0].start == datetime(2026, 10, 31, tzinfo=tz).timestamp()
    spring = day_spans(1, datetime(2026, 3, 8, 12, tzinfo=tz).timestamp(), tz)
    assert (spring[0].end - spring[0].start) / 3600 == 23


def row(start: float, last: float, low: float) -> RollupRow:
    return RollupRow("p", start, 4, low, last, None, None, 3600.0, last, start + 2700)


def test_a_register_that_goes_back_is_a_gap_not_negative_energy():
    series = MeterSeries(Meter("register", 1.0), [row(0, 10, 5), row(3600, 14, 10), row(7200, 3, 1)])
    assert series.energy(0, 3600) == 5  # no reading before: from the first hour's lowest
    assert series.energy(3600, 7200) == 4
    assert series.energy(7200, 10800) is None
    assert series.energy(0, 7200) == 9
