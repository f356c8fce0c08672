"""Local weeks and months over clock changes, the bucket before, and 15/30-minute demand windows."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from openbms.analytics.energy import (
    Meter,
    MeterSeries,
    month_spans,
    previous_span,
    spans_of,
    week_spans,
    window_kwh,
)
from tests.analytics.test_energy import steady

LONDON = ZoneInfo("Europe/London")


def local(y: int, m: int, d: int, h: int = 0) -> float:
    return datetime(y, m, d, h, tzinfo=LONDON).timestamp()


def test_iso_weeks_start_on_monday_and_the_clock_change_week_is_167_hours():
    # Sunday 2026-03-29 clocks go forward in London.
    weeks = week_spans(2, local(2026, 3, 31, 12), LONDON)
    assert [w.date for w in weeks] == [date(2026, 3, 23), date(2026, 3, 30)]
    assert weeks[0].start == local(2026, 3, 23) and weeks[0].end == local(2026, 3, 30)
    assert (weeks[0].end - weeks[0].start) / 3600 == 167
    # A site whose weeks start on Sunday (6).
    sunday = week_spans(1, local(2026, 3, 31, 12), LONDON, first_day=6)
    assert sunday[0].date == date(2026, 3, 29) and (sunday[0].end - sunday[0].start) / 3600 == 167


def test_months_are_local_calendar_months_of_their_own_length():
    months = month_spans(3, local(2026, 11, 2, 9), LONDON)
    assert [m.date for m in months] == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    # October holds the autumn change (25 October): 31 days and one hour.
    assert (months[1].end - months[1].start) / 3600 == 31 * 24 + 1
    assert months[0].end == months[1].start == local(2026, 10, 1)
    # Across a year's end, and the month before a month.
    january = month_spans(2, local(2027, 1, 15), LONDON)
    assert [m.date for m in january] == [date(2026, 12, 1), date(2027, 1, 1)]
    assert previous_span(january[1], "month", LONDON) == january[0]
    assert spans_of("month", 2, local(2027, 1, 15), LONDON) == january


def test_a_months_energy_from_a_steady_load_counts_its_hours():
    register, demand = steady(10, local(2026, 9, 30), local(2026, 11, 1, 12), step=600)
    october = month_spans(1, local(2026, 10, 20), LONDON)[0]
    for rows, kind in ((register, "register"), (demand, "demand")):
        got = MeterSeries(Meter(kind, 1.0), rows).energy(october.start, october.end)
        assert got == pytest.approx(10 * (31 * 24 + 1)), kind


def test_demand_windows_are_time_weighted_means_of_samples():
    # A sample every 5 minutes: 10 kW, but 40 kW from 00:20 to 00:25. The 15-minute window 00:15–00:30
    # holds 5 min × 10 + 5 min × 40 + 5 min × 10 = 300 kW·min: a mean of 20 kW, 5 kWh.
    samples = [(60.0 * m, 40.0 if m == 20 else 10.0) for m in range(0, 61, 5)]
    got = window_kwh(Meter("demand", 1.0), samples, 0, 3600, 900)
    assert got == pytest.approx([2.5, 5.0, 2.5, 2.5])
    # 30 minutes: 25 min × 10 + 5 min × 40 = 450 kW·min = 7.5 kWh, then 5 kWh.
    assert window_kwh(Meter("demand", 1.0), samples, 0, 3600, 1800) == pytest.approx([7.5, 5.0])
    # Samples an hour apart hold for HOLD (15 minutes) only: a window they cover less than half of is unknown.
    sparse = [(0.0, 10.0), (3600.0, 10.0)]
    assert window_kwh(Meter("demand", 1.0), sparse, 0, 3600, 900) == [2.5, None, None, None]
