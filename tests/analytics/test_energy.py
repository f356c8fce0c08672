"""Which points are meters, local days over clock changes, registers' resets and gaps, same time yesterday."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from openbms.analytics.energy import Meter, MeterSeries, day_spans, hour_spans, meter_of, same_time_in
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
    # Readings at 00:45 (10), 01:45 (14), 02:45 (3): between them the register is interpolated.
    # No reading before: from the first hour's lowest, then 00:45–01:00.
    assert series.energy(0, 3600) == 5 + 1
    assert series.energy(3600, 7200) == 3  # 01:00–01:45 of the 4 kWh to 01:45; after it, the reset
    assert series.energy(7200, 10800) is None  # only the reset: unknown, not negative
    assert series.energy(0, 7200) == 9


def hourly(samples: list[tuple[float, float]]) -> list[RollupRow]:
    """Hourly rollups of ``(ts, value)`` samples, each value held until the next (as the historian does)."""
    hours: dict[float, list[tuple[float, float]]] = {}
    for ts, v in samples:
        hours.setdefault((ts // 3600) * 3600, []).append((ts, v))
    out = []
    for start, got in sorted(hours.items()):
        values = [v for _ts, v in got]
        # Each value holds to the next sample or, for the last, to the hour's end or the data's end.
        ends = [ts for ts, _v in got[1:]] + [min(start + 3600, samples[-1][0] + 60)]
        held = [(e - ts, v) for (ts, v), e in zip(got, ends, strict=True)]
        covered = sum(d for d, _v in held)
        tw = sum(d * v for d, v in held) / covered
        out.append(RollupRow("p", start, len(got), min(values), max(values), sum(values) / len(values), tw,
                             covered, got[-1][1], got[-1][0]))
    return out


def steady(kw: float, since: float, until: float, step: float = 60.0) -> tuple[list[RollupRow], ...]:
    """A steady load from ``since`` to ``until``: a kWh register's and a kW demand point's hourly rollups."""
    times = [since + step * i for i in range(int((until - since) // step) + 1)]
    register = hourly([(ts, 1000 + kw * (ts - since) / 3600) for ts in times])
    return register, hourly([(ts, kw) for ts in times])


UTC = ZoneInfo("UTC")


def test_same_time_yesterday_is_as_long_as_today_for_registers_and_demand():
    midnight = datetime(2026, 6, 2, tzinfo=UTC).timestamp()
    until = midnight + 23 * 3600 + 50 * 60  # 23:50, a steady 10 kW since two days before
    register, demand = steady(10, midnight - 2 * 86_400, until)
    today, yesterday = day_spans(2, until, UTC)[::-1]
    then = same_time_in(yesterday, today, until, UTC)
    for meter in (MeterSeries(Meter("register", 1.0), register), MeterSeries(Meter("demand", 1.0), demand)):
        assert meter.energy(today.start, until) == pytest.approx(10 * (23 + 50 / 60), abs=0.01)
        assert meter.energy(yesterday.start, then) == pytest.approx(10 * (23 + 50 / 60), abs=0.01)
    # By the hour: the hour before, to 50 minutes in, is 50 minutes at 10 kW for a register too.
    now, before = hour_spans(2, until)[::-1]
    series = MeterSeries(Meter("register", 1.0), register)
    assert series.energy(before.start, same_time_in(before, now, until, UTC)) == pytest.approx(10 * 50 / 60)


def test_a_gap_in_a_register_is_not_booked_to_the_period_after_it():
    midnight = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    # 10 kW for five days; the meter's readings do not reach the historian for 38 hours from day 2 at 06:00.
    register, _demand = steady(10, midnight, midnight + 5 * 86_400, step=900)
    outage = (midnight + 86_400 + 6 * 3600, midnight + 86_400 + 44 * 3600)
    rows = [r for r in register if not outage[0] <= r.start < outage[1]]
    series = MeterSeries(Meter("register", 1.0), rows)
    peak = series.peak(midnight, midnight + 5 * 86_400)
    assert peak is not None and peak[0] == pytest.approx(10)
    days = day_spans(5, midnight + 5 * 86_400 - 1, UTC)
    got = [series.energy(d.start, d.end) for d in days]
    # Day 2 to the last reading before the outage (05:45), day 3 from the first after it (20:45): no more.
    assert got[0] == pytest.approx(240) and got[3] == pytest.approx(240)
    assert got[1] == pytest.approx(10 * 5.75 + 10 * 0.25, abs=2.5)
    assert got[1] < 10 * 8 and got[2] < 10 * 5
    assert series.energy(outage[0] + 3600, outage[0] + 7200) is None  # an hour in the outage: no data


def test_units_the_site_file_accepts_are_meters():
    assert meter_of("number", "kilowatt-hours", ()) == Meter("register", 1.0)
    assert meter_of("number", "megawatt-hour", ()) == Meter("register", 1000.0)
    assert meter_of("number", "kilowatts", ("elec",)) == Meter("demand", 1.0)
    assert meter_of("number", "watts", ("meter",)) == Meter("demand", 0.001)
    assert meter_of("number", "kVAh", ()) is None  # apparent energy is not energy


def test_days_in_a_half_hour_zone_end_at_the_same_instant_for_demand_and_registers():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local midnight is half past a UTC hour
    midnight = datetime(2026, 6, 2, tzinfo=kolkata).timestamp()
    assert midnight % 3600 == 1800
    hour = midnight - 1800  # the UTC hour that local midnight cuts in two: 10 kW in it, nothing else
    times = [hour - 86_400 + 60 * i for i in range(2 * 1440)]
    power = [(ts, 10.0 if hour <= ts < hour + 3600 else 0.0) for ts in times]
    total, readings = 0.0, []
    for ts, kw in power:
        readings.append((ts, total))
        total += kw * 60 / 3600
    days = day_spans(2, midnight + 3600, kolkata)
    for series in (MeterSeries(Meter("demand", 1.0), hourly(power)),
                   MeterSeries(Meter("register", 1.0), hourly(readings))):
        assert [series.energy(d.start, d.end) for d in days] == [pytest.approx(5, abs=0.2)] * 2


def test_a_partly_covered_demand_hour_cut_by_midnight_is_counted_once():
    kolkata = ZoneInfo("Asia/Kolkata")  # local midnight is half past a UTC hour
    midnight = datetime(2026, 6, 2, tzinfo=kolkata).timestamp()
    hour = midnight - 1800
    # The meter's data begins at 40 past the hour that midnight cuts (after midnight): 10 kW for 3 h 20 min.
    power = [(hour + 2400 + 60 * i, 10.0) for i in range(200)]
    series = MeterSeries(Meter("demand", 1.0), hourly(power))
    before, after = day_spans(2, midnight + 3600, kolkata)
    assert series.energy(before.start, before.end) is None or series.energy(before.start, before.end) == 0
    exists = 10 * 200 / 60
    assert series.energy(after.start, after.end) == pytest.approx(exists, abs=0.2)
    # Two periods that meet inside the hour share it, they do not each take it whole.
    halves = (series.energy(hour, midnight) or 0.0) + (series.energy(midnight, hour + 3600) or 0.0)
    assert halves == pytest.approx(10 / 3)
