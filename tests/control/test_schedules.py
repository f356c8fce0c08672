"""Schedules: weekly events, exceptions, calendars, DST, validation and the runner."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from openbms.control.schedules import ScheduleRunner, Transition, next_transition, transitions, value_at
from openbms.model.calendar import Calendar, RecurringRule
from openbms.model.schedule import Schedule, load_schedules
from openbms.runtime.clock import ManualClock

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
HOUR = 3600.0
DAY = 86400.0
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def at(tz: dt.tzinfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, *,
       fold: int = 0) -> float:
    """Epoch seconds of a wall-clock time in ``tz``."""
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=tz, fold=fold).timestamp()


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return at(UTC, y, mo, d, h, mi, s)


def local(ts: float, tz: dt.tzinfo = LONDON) -> str:
    return dt.datetime.fromtimestamp(ts, tz).isoformat()


def ev(time: str, value: object) -> dict[str, object]:
    return {"time": time, "value": value}


def office(**extra: object) -> Schedule:
    """Occupied 07:00–19:00 on weekdays and 08:00–13:00 on Saturdays, in London."""
    weekly: dict[str, object] = {day: [ev("07:00", True), ev("19:00", False)] for day in WEEKDAYS}
    weekly["saturday"] = [ev("08:00", True), ev("13:00", False)]
    doc: dict[str, object] = {"id": "office", "site": "hq", "timezone": "Europe/London", "kind": "bool",
                              "default": False, "targets": ["hq/ahu-1/occ"], "weekly": weekly}
    doc.update(extra)
    return Schedule.model_validate(doc)


def daily(tz: str, *events: dict[str, object], **extra: object) -> Schedule:
    """A number schedule with the same events every day."""
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    doc: dict[str, object] = {"id": "s", "site": "hq", "timezone": tz, "kind": "number",
                              "weekly": {day: list(events) for day in days}}
    doc.update(extra)
    return Schedule.model_validate(doc)


def changes(trs: list[Transition], tz: dt.tzinfo = LONDON) -> list[tuple[str, object]]:
    return [(local(t.ts, tz), t.value) for t in trs]


# ------------------------------------------------------------------------------------ weekly


def test_weekly_value_at_follows_the_events_of_each_weekday():
    s = office()
    # 2026-06-08 is a Monday.
    assert value_at(s, at(LONDON, 2026, 6, 8, 6, 59, 59))[0] is False
    assert value_at(s, at(LONDON, 2026, 6, 8, 7))[0] is True
    assert value_at(s, at(LONDON, 2026, 6, 8, 18, 59))[0] is True
    assert value_at(s, at(LONDON, 2026, 6, 8, 19))[0] is False
    assert value_at(s, at(LONDON, 2026, 6, 13, 10))[0] is True  # Saturday morning
    assert value_at(s, at(LONDON, 2026, 6, 13, 14))[0] is False
    assert value_at(s, at(LONDON, 2026, 6, 14, 10))[0] is False  # Sunday


def test_value_at_explains_itself_with_the_event_that_set_the_value():
    value, why = value_at(office(), at(LONDON, 2026, 6, 8, 12, 30))
    assert value is True
    assert why == Transition(at(LONDON, 2026, 6, 8, 7), True, "weekly")


def test_transitions_over_a_week_list_every_change_in_order():
    s = office()
    got = changes(transitions(s, at(LONDON, 2026, 6, 8), at(LONDON, 2026, 6, 15)))
    expected = []
    for day in range(8, 13):
        expected += [(f"2026-06-{day:02d}T07:00:00+01:00", True),
                     (f"2026-06-{day:02d}T19:00:00+01:00", False)]
    expected += [("2026-06-13T08:00:00+01:00", True), ("2026-06-13T13:00:00+01:00", False)]
    assert got == expected
    assert all(t.source == "weekly" for t in transitions(s, at(LONDON, 2026, 6, 8), at(LONDON, 2026, 6, 15)))


def test_transitions_window_is_half_open_and_measures_changes_against_the_value_before_it():
    s = office()
    monday_7 = at(LONDON, 2026, 6, 8, 7)
    assert [t.ts for t in transitions(s, monday_7, monday_7 + HOUR)] == [monday_7]
    assert transitions(s, monday_7 - HOUR, monday_7) == []
    assert transitions(s, monday_7 + 1, monday_7 + HOUR) == []
    assert transitions(s, monday_7, monday_7) == []


def test_consecutive_events_with_the_same_value_are_one_transition():
    s = daily("UTC", ev("06:00", 21), ev("07:00", 21), ev("08:00", 21.0), ev("18:00", 16))
    got = transitions(s, utc(2026, 6, 8), utc(2026, 6, 9))
    assert [(local(t.ts, UTC), t.value) for t in got] == [("2026-06-08T06:00:00+00:00", 21),
                                                          ("2026-06-08T18:00:00+00:00", 16)]


def test_events_listed_out_of_order_and_at_the_same_time_resolve_by_time_then_listing():
    s = daily("UTC", ev("18:00", 16), ev("06:00", 20), ev("06:00", 21))
    got = transitions(s, utc(2026, 6, 8), utc(2026, 6, 9))
    assert [(local(t.ts, UTC), t.value) for t in got] == [("2026-06-08T06:00:00+00:00", 21),
                                                          ("2026-06-08T18:00:00+00:00", 16)]


def test_next_transition_is_strictly_after_the_instant():
    s = office()
    friday_19 = at(LONDON, 2026, 6, 12, 19)
    assert next_transition(s, friday_19) == Transition(at(LONDON, 2026, 6, 13, 8), True, "weekly")
    assert next_transition(s, friday_19 - 1) == Transition(friday_19, False, "weekly")


def test_seconds_in_event_times_are_honoured():
    s = daily("UTC", ev("06:00:30", 1), ev("18:00", 0))
    assert value_at(s, utc(2026, 6, 8, 6, 0, 29))[0] == 0
    assert value_at(s, utc(2026, 6, 8, 6, 0, 30))[0] == 1


# --------------------------------------------------------------------------------- exceptions


def test_an_exception_day_replaces_the_weekly_events_for_the_whole_day():
    s = office(exceptions=[{"name": "open day", "when": {"date": "2026-06-10"},
                            "events": [ev("09:00", True), ev("12:00", False)]}])
    got = transitions(s, at(LONDON, 2026, 6, 10), at(LONDON, 2026, 6, 11))
    assert [(local(t.ts), t.value, t.source) for t in got] == [
        ("2026-06-10T09:00:00+01:00", True, "exception:open day"),
        ("2026-06-10T12:00:00+01:00", False, "exception:open day"),
    ]
    # Before its first event the day carries on the previous day's last value.
    value, why = value_at(s, at(LONDON, 2026, 6, 10, 8))
    assert value is False and why == Transition(at(LONDON, 2026, 6, 9, 19), False, "weekly")
    # The days around it are untouched.
    assert value_at(s, at(LONDON, 2026, 6, 11, 8))[0] is True


def test_the_lowest_precedence_number_wins_and_ties_go_to_the_first_listed():
    closed = {"name": "closed", "when": "2026-06-10", "events": [ev("00:00", False)]}
    late = {"name": "late", "when": {"start": "2026-06-08", "end": "2026-06-12"},
            "events": [ev("10:00", True), ev("22:00", False)]}
    s = office(exceptions=[dict(late, precedence=10), dict(closed, precedence=5)])
    assert value_at(s, at(LONDON, 2026, 6, 10, 12)) == (False, Transition(at(LONDON, 2026, 6, 10), False,
                                                                            "exception:closed"))
    assert value_at(s, at(LONDON, 2026, 6, 9, 12))[1].source == "exception:late"
    tied = office(exceptions=[dict(late, precedence=3), dict(closed, precedence=3)])
    assert value_at(tied, at(LONDON, 2026, 6, 10, 12))[1].source == "exception:late"
    tied_other_way = office(exceptions=[dict(closed, precedence=3), dict(late, precedence=3)])
    assert value_at(tied_other_way, at(LONDON, 2026, 6, 10, 12))[1].source == "exception:closed"


def test_a_named_calendar_is_shared_by_reference():
    holidays = Calendar.model_validate({"id": "uk-holidays", "entries": ["2026-12-25", "2026-12-28"]})
    s = office(exceptions=[{"name": "bank holiday", "when": {"calendar": "uk-holidays"},
                            "events": [ev("00:00", False)]}])
    for calendars in ([holidays], {"uk-holidays": holidays}):
        assert value_at(s, at(LONDON, 2026, 12, 24, 12), calendars)[0] is True
        assert value_at(s, at(LONDON, 2026, 12, 25, 12), calendars) == (
            False, Transition(at(LONDON, 2026, 12, 25), False, "exception:bank holiday"))
        assert value_at(s, at(LONDON, 2026, 12, 28, 12), calendars)[0] is False
        assert value_at(s, at(LONDON, 2026, 12, 29, 12), calendars)[0] is True


def test_evaluating_without_a_referenced_calendar_says_which_is_missing():
    s = office(exceptions=[{"name": "hols", "when": {"calendar": "uk-holidays"}, "events": []}])
    with pytest.raises(LookupError, match="'uk-holidays'"):
        value_at(s, at(LONDON, 2026, 6, 8, 12), [])


@pytest.mark.parametrize(("rule", "year", "expected"), [
    ({"month": 5, "weekday": "monday", "nth": -1}, 2026, dt.date(2026, 5, 25)),
    ({"month": 5, "weekday": "monday", "nth": -1}, 2027, dt.date(2027, 5, 31)),
    ({"month": 5, "weekday": "monday", "nth": -1}, 2028, dt.date(2028, 5, 29)),
    ({"month": 9, "weekday": "monday", "nth": 1}, 2026, dt.date(2026, 9, 7)),
    ({"month": 9, "weekday": "monday", "nth": 1}, 2027, dt.date(2027, 9, 6)),
    ({"month": 11, "weekday": "thursday", "nth": 4}, 2026, dt.date(2026, 11, 26)),
    ({"month": 11, "weekday": "thursday", "nth": 4}, 2027, dt.date(2027, 11, 25)),
    ({"month": 11, "weekday": "thursday", "nth": 4}, 2028, dt.date(2028, 11, 23)),
    ({"month": 8, "weekday": "Monday", "nth": -1}, 2026, dt.date(2026, 8, 31)),
    ({"month": 12, "day": 25}, 2027, dt.date(2027, 12, 25)),
    ("12-25", 2028, dt.date(2028, 12, 25)),
])
def test_recurring_dates_fall_on_the_known_days(rule, year, expected):
    calendar = Calendar.model_validate({"id": "c", "entries": [rule]})
    assert calendar.dates(dt.date(year, 1, 1), dt.date(year, 12, 31)) == [expected]


def test_a_fifth_weekday_matches_only_in_months_that_have_one():
    rule = RecurringRule(weekday="friday", nth=5)
    year = (dt.date(2026, 1, 1) + dt.timedelta(n) for n in range(365))
    fifth_fridays = [d for d in year if rule.matches(d)]
    assert fifth_fridays == [dt.date(2026, 1, 30), dt.date(2026, 5, 29), dt.date(2026, 7, 31),
                             dt.date(2026, 10, 30)]


def test_feb_29_recurs_only_in_leap_years():
    calendar = Calendar.model_validate({"id": "c", "entries": ["02-29"]})
    assert calendar.dates(dt.date(2026, 1, 1), dt.date(2029, 12, 31)) == [dt.date(2028, 2, 29)]


def test_every_weekday_in_a_date_range():
    calendar = Calendar.model_validate({"id": "c", "entries": [
        {"start": "2026-07-01", "end": "2026-07-31", "weekdays": ["friday"]},
        "2026-08-03..2026-08-04",
    ]})
    assert calendar.dates(dt.date(2026, 6, 1), dt.date(2026, 8, 31)) == [
        dt.date(2026, 7, 3), dt.date(2026, 7, 10), dt.date(2026, 7, 17), dt.date(2026, 7, 24),
        dt.date(2026, 7, 31), dt.date(2026, 8, 3), dt.date(2026, 8, 4)]


# ---------------------------------------------------------------------- carry-over, default, release


def test_before_the_first_event_the_value_carries_over_from_earlier_days():
    s = office()
    # Monday 03:00: set by Friday's 19:00 event, through an eventless Sunday.
    value, why = value_at(s, at(LONDON, 2026, 6, 8, 3))
    assert value is False
    assert why == Transition(at(LONDON, 2026, 6, 6, 13), False, "weekly")  # Saturday 13:00
    s2 = daily("UTC", ev("22:00", 18), ev("06:00", 21))
    assert value_at(s2, utc(2026, 6, 9, 3)) == (18, Transition(utc(2026, 6, 8, 22), 18, "weekly"))


def test_a_value_carries_over_seven_days_and_then_the_default_returns():
    s = Schedule.model_validate({
        "id": "s", "site": "hq", "timezone": "UTC", "kind": "number", "default": 20,
        "exceptions": [{"name": "one-off", "when": "2026-06-10", "events": [ev("09:00", 42)]}]})
    assert value_at(s, utc(2026, 6, 10, 8))[0] == 20
    assert value_at(s, utc(2026, 6, 17, 23, 59))[0] == 42
    assert value_at(s, utc(2026, 6, 18, 0, 0)) == (20, Transition(utc(2026, 6, 18), 20, "default"))
    assert transitions(s, utc(2026, 6, 1), utc(2026, 7, 1)) == [
        Transition(utc(2026, 6, 10, 9), 42, "exception:one-off"),
        Transition(utc(2026, 6, 18), 20, "default"),
    ]


def test_a_schedule_without_events_is_its_default():
    s = Schedule.model_validate({"id": "s", "site": "hq", "timezone": "UTC", "kind": "number",
                                 "default": 19.5})
    value, why = value_at(s, utc(2026, 6, 8, 12))
    assert (value, why.source) == (19.5, "default")
    assert transitions(s, utc(2026, 1, 1), utc(2027, 1, 1)) == []
    assert next_transition(s, utc(2026, 6, 8)) is None
    assert value_at(Schedule(id="s", site="hq", timezone="UTC"), 0.0)[0] is None


def test_a_null_value_releases_the_priority_slot():
    s = daily("UTC", ev("07:00", 21), ev("19:00", None), default=None)
    assert value_at(s, utc(2026, 6, 8, 12))[0] == 21
    assert value_at(s, utc(2026, 6, 8, 20))[0] is None
    assert [(t.value) for t in transitions(s, utc(2026, 6, 8), utc(2026, 6, 9))] == [21, None]
    # A release and a zero are different commands.
    zero = daily("UTC", ev("07:00", 0), ev("19:00", None))
    assert [t.value for t in transitions(zero, utc(2026, 6, 8), utc(2026, 6, 9))] == [0, None]


def test_the_site_time_zone_is_used_when_the_schedule_has_none():
    s = Schedule.model_validate({"id": "s", "site": "hq", "kind": "number",
                                 "weekly": {"monday": [ev("07:00", 1)]}})
    assert value_at(s, at(NEW_YORK, 2026, 6, 8, 7), timezone="America/New_York")[1].ts == at(
        NEW_YORK, 2026, 6, 8, 7)
    with pytest.raises(ValueError, match="no time zone"):
        value_at(s, 0.0)


# ----------------------------------------------------------------------------------------- DST


def test_london_spring_forward_moves_events_in_the_skipped_hour_to_the_jump():
    # 2026-03-29: at 01:00 GMT the clocks go to 02:00 BST; 01:00–01:59 does not exist.
    s = daily("Europe/London", ev("01:30", 1), ev("07:00", 2), ev("12:00", 3))
    got = transitions(s, at(LONDON, 2026, 3, 28), at(LONDON, 2026, 3, 30))
    assert [(t.ts, t.value) for t in got] == [
        (utc(2026, 3, 28, 1, 30), 1), (utc(2026, 3, 28, 7), 2), (utc(2026, 3, 28, 12), 3),
        (utc(2026, 3, 29, 1, 0), 1),  # the jump: 01:00 GMT is 02:00 BST
        (utc(2026, 3, 29, 6), 2), (utc(2026, 3, 29, 11), 3),
    ]
    assert got[4].ts - got[1].ts == 23 * HOUR  # 07:00 to 07:00 across the change
    assert value_at(s, utc(2026, 3, 29, 0, 59, 59))[0] == 3
    assert value_at(s, utc(2026, 3, 29, 1))[0] == 1


def test_london_fall_back_fires_an_event_in_the_repeated_hour_once_at_its_first_occurrence():
    # 2026-10-25: at 02:00 BST the clocks go back to 01:00 GMT; 01:00–01:59 happens twice.
    s = daily("Europe/London", ev("01:30", 1), ev("07:00", 2), ev("12:00", 3))
    got = transitions(s, at(LONDON, 2026, 10, 24), at(LONDON, 2026, 10, 26))
    assert [(t.ts, t.value) for t in got] == [
        (utc(2026, 10, 24, 0, 30), 1), (utc(2026, 10, 24, 6), 2), (utc(2026, 10, 24, 11), 3),
        (utc(2026, 10, 25, 0, 30), 1),  # 01:30 BST, the first 01:30
        (utc(2026, 10, 25, 7), 2), (utc(2026, 10, 25, 12), 3),
    ]
    assert got[4].ts - got[1].ts == 25 * HOUR
    second_0130 = at(LONDON, 2026, 10, 25, 1, 30, fold=1)
    assert second_0130 == utc(2026, 10, 25, 1, 30)
    assert value_at(s, second_0130) == (1, Transition(utc(2026, 10, 25, 0, 30), 1, "weekly"))


def test_new_york_spring_forward_moves_an_event_at_0230_to_0300_edt():
    # 2026-03-08: at 02:00 EST the clocks go to 03:00 EDT (07:00 UTC).
    s = daily("America/New_York", ev("02:30", 1), ev("07:00", 2), ev("20:00", 3))
    got = transitions(s, at(NEW_YORK, 2026, 3, 7), at(NEW_YORK, 2026, 3, 9))
    assert changes(got, NEW_YORK) == [
        ("2026-03-07T02:30:00-05:00", 1), ("2026-03-07T07:00:00-05:00", 2), ("2026-03-07T20:00:00-05:00", 3),
        ("2026-03-08T03:00:00-04:00", 1), ("2026-03-08T07:00:00-04:00", 2), ("2026-03-08T20:00:00-04:00", 3),
    ]
    assert got[3].ts == utc(2026, 3, 8, 7)
    assert got[4].ts - got[1].ts == 23 * HOUR


def test_new_york_fall_back_fires_an_event_at_0130_once():
    # 2026-11-01: at 02:00 EDT the clocks go back to 01:00 EST; 01:30 happens at 05:30 and 06:30 UTC.
    s = daily("America/New_York", ev("01:30", 1), ev("07:00", 2), ev("20:00", 3))
    got = transitions(s, at(NEW_YORK, 2026, 10, 31), at(NEW_YORK, 2026, 11, 2))
    assert changes(got, NEW_YORK) == [
        ("2026-10-31T01:30:00-04:00", 1), ("2026-10-31T07:00:00-04:00", 2), ("2026-10-31T20:00:00-04:00", 3),
        ("2026-11-01T01:30:00-04:00", 1), ("2026-11-01T07:00:00-05:00", 2), ("2026-11-01T20:00:00-05:00", 3),
    ]
    assert got[3].ts == utc(2026, 11, 1, 5, 30)
    assert got[4].ts - got[1].ts == 25 * HOUR
    assert value_at(s, utc(2026, 11, 1, 6, 45))[0] == 1  # the second 01:45: nothing fires again


def test_several_events_in_the_skipped_hour_collapse_to_the_last_listed():
    s = daily("America/New_York", ev("02:10", 1), ev("02:50", 2), ev("12:00", 3))
    got = transitions(s, at(NEW_YORK, 2026, 3, 8), at(NEW_YORK, 2026, 3, 9))
    assert [(t.ts, t.value) for t in got] == [(utc(2026, 3, 8, 7), 2), (utc(2026, 3, 8, 16), 3)]


def test_midnight_events_and_day_boundaries_follow_local_time_across_dst():
    s = daily("Europe/London", ev("00:00", 1), ev("12:00", 2))
    got = transitions(s, at(LONDON, 2026, 10, 24), at(LONDON, 2026, 10, 27))
    assert [local(t.ts) for t in got if t.value == 1] == [
        "2026-10-24T00:00:00+01:00", "2026-10-25T00:00:00+01:00", "2026-10-26T00:00:00+00:00"]


# ---------------------------------------------------------------------------------- validation


def errors_of(doc: dict[str, object]) -> list[tuple[tuple[object, ...], str]]:
    with pytest.raises(ValidationError) as info:
        load_schedules(doc)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def schedule_doc(**fields: object) -> dict[str, object]:
    doc: dict[str, object] = {"id": "s", "site": "hq", "timezone": "UTC", "kind": "bool"}
    doc.update(fields)
    return {"schedules": [doc]}


def test_a_time_past_23_59_is_refused_at_its_field():
    [(loc, msg)] = errors_of(schedule_doc(weekly={"monday": [ev("25:00", True)]}))
    assert loc == ("schedules", 0, "weekly", "monday", 0, "time")
    assert "'25:00' is not a time of day" in msg


@pytest.mark.parametrize("bad", ["7", "07:60", "7am", "07:00:00:00", ""])
def test_malformed_times_are_refused(bad):
    [(loc, _)] = errors_of(schedule_doc(weekly={"friday": [ev(bad, True)]}))
    assert loc == ("schedules", 0, "weekly", "friday", 0, "time")


def test_an_unquoted_yaml_time_read_as_a_number_gets_a_hint():
    doc = yaml.safe_load("schedules:\n- {id: s, site: hq, kind: bool,\n"
                         "   weekly: {monday: [{time: 19:00, value: true}]}}")
    [(loc, msg)] = errors_of(doc)
    assert loc == ("schedules", 0, "weekly", "monday", 0, "time")
    assert "1140" in msg and "quotes" in msg


def test_values_must_fit_the_kind_of_the_schedule():
    problems = errors_of(schedule_doc(
        default=0,
        weekly={"monday": [ev("07:00", True), ev("19:00", 1)]},
        exceptions=[{"name": "x", "when": "2026-12-25", "events": [ev("08:00", "on")]}]))
    assert [loc for loc, _ in problems] == [
        ("schedules", 0, "default"),
        ("schedules", 0, "weekly", "monday", 1, "value"),
        ("schedules", 0, "exceptions", 0, "events", 0, "value"),
    ]
    assert "does not fit a 'bool' schedule: expected true or false" in problems[1][1]
    number = errors_of({"schedules": [{"id": "n", "site": "hq", "kind": "number",
                                       "weekly": {"monday": [ev("07:00", True)]}}]})
    assert number[0][0] == ("schedules", 0, "weekly", "monday", 0, "value")
    assert load_schedules({"schedules": [{"id": "e", "site": "hq", "kind": "enum", "weekly": {
        "monday": [ev("07:00", 2), ev("08:00", "occupied"), ev("09:00", None)]}}]})


def test_nth_must_be_one_to_five_or_minus_one():
    doc = schedule_doc(exceptions=[{"name": "x", "when": {"month": 5, "weekday": "monday", "nth": 6}}])
    [(loc, msg)] = errors_of(doc)
    assert loc == ("schedules", 0, "exceptions", 0, "when", "nth")
    assert "nth is 6" in msg and "-1 for the last" in msg


def test_an_unknown_calendar_reference_is_named():
    doc = schedule_doc(exceptions=[{"name": "ok", "when": "12-25"},
                                   {"name": "x", "when": {"calendar": "uk-holiday"}}])
    doc["calendars"] = [{"id": "uk-holidays", "entries": ["2026-12-25"]}]
    [(loc, msg)] = errors_of(doc)
    assert loc == ("schedules", 0, "exceptions", 1, "when", "calendar")
    assert msg == "unknown calendar 'uk-holiday' (calendars: uk-holidays)"


@pytest.mark.parametrize(("fields", "where", "says"), [
    ({"timezone": "Europe/Londn"}, ("timezone",), "unknown time zone 'Europe/Londn'"),
    ({"priority": 17}, ("priority",), "less than or equal to 16"),
    ({"kind": "string"}, ("kind",), "'number', 'bool' or 'enum'"),
    ({"colour": "red"}, ("colour",), "Extra inputs are not permitted"),
    ({"targets": ["other/ahu-1/occ"]}, ("targets", 0), "not a point of site 'hq'"),
    ({"targets": ["hq/ahu-1"]}, ("targets", 0), "should match pattern"),
    ({"weekly": {"mon": []}}, ("weekly", "mon"), "Extra inputs"),
    ({"exceptions": [{"name": "x", "when": {"start": "2026-12-31", "end": "2026-12-24"}}]},
     ("exceptions", 0, "when", "end"), "ends (2026-12-24) before it starts"),
    ({"exceptions": [{"name": "x", "when": {"month": 2, "day": 30}}]},
     ("exceptions", 0, "when", "day"), "month 2 has no day 30"),
    ({"exceptions": [{"name": "x", "when": {"month": 5, "day": 1, "weekday": "monday"}}]},
     ("exceptions", 0, "when"), "either 'day'"),
    ({"exceptions": [{"name": "x", "when": "next tuesday"}]}, ("exceptions", 0, "when"), "not a date rule"),
    ({"exceptions": [{"name": "x", "when": {"weekday": "funday"}}]},
     ("exceptions", 0, "when", "weekday"), "'monday'"),
    ({"exceptions": [{"name": "x", "when": "2026-12-25"}, {"name": "x", "when": "2026-12-26"}]},
     ("exceptions", 1, "name"), "listed twice"),
])
def test_validation_errors_name_the_field(fields, where, says):
    problems = errors_of(schedule_doc(**fields))
    assert any(loc == ("schedules", 0, *where) and says in msg for loc, msg in problems), problems


def test_ids_are_unique_and_calendars_cannot_nest():
    problems = errors_of({"calendars": [{"id": "a"}, {"id": "a"}],
                          "schedules": [{"id": "s", "site": "hq"}, {"id": "s", "site": "hq"}]})
    assert [loc for loc, _ in problems] == [("calendars", 1, "id"), ("schedules", 1, "id")]
    [(loc, msg)] = errors_of({"calendars": [{"id": "a", "entries": [{"calendar": "b"}]}]})
    assert loc == ("calendars", 0, "entries", 0) and "cannot refer to another calendar" in msg


def test_load_schedules_accepts_an_empty_document():
    assert load_schedules({}) == ([], [])
    assert load_schedules(None) == ([], [])


def test_models_round_trip_through_json():
    s = office(exceptions=[{"name": "x", "when": {"month": 5, "weekday": "monday", "nth": -1},
                            "events": [ev("00:00:30", False)]}])
    dumped = s.model_dump(mode="json")
    assert dumped["weekly"]["monday"][0] == {"time": "07:00", "value": True}
    assert dumped["exceptions"][0]["events"][0]["time"] == "00:00:30"
    assert Schedule.model_validate(dumped) == s


def test_the_example_in_the_documentation_loads_and_does_what_it_says():
    text = (Path(__file__).parents[2] / "docs" / "schedules.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(calendars:.*?)```", text, re.S)
    assert block is not None
    schedules, calendars = load_schedules(yaml.safe_load(block[1]))
    occupancy = next(s for s in schedules if s.id == "office-occupancy")
    assert value_at(occupancy, at(LONDON, 2026, 6, 8, 7), calendars, timezone="Europe/London")[0] is True
    assert value_at(occupancy, at(LONDON, 2026, 6, 13, 12), calendars, timezone="Europe/London")[0] is True
    assert value_at(occupancy, at(LONDON, 2026, 6, 14, 12), calendars, timezone="Europe/London")[0] is False
    assert value_at(occupancy, at(LONDON, 2026, 5, 25, 12), calendars, timezone="Europe/London")[0] is False
    assert value_at(occupancy, at(LONDON, 2026, 12, 25, 12), calendars, timezone="Europe/London")[0] is False


# -------------------------------------------------------------------------------------- runner


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object, float]] = []
        self.fail = False

    def __call__(self, schedule: Schedule, value: object, ts: float) -> None:
        if self.fail:
            raise RuntimeError("arbiter down")
        self.calls.append((schedule.id, value, ts))


def test_the_runner_applies_the_current_value_of_every_schedule_at_start():
    clock = ManualClock(at(LONDON, 2026, 6, 8, 6))
    apply = Recorder()
    heating = daily("Europe/London", ev("05:00", 21), ev("22:00", 16))
    runner = ScheduleRunner([office(), heating], [], clock, apply)
    assert [(s.id, v) for s, v in runner.tick()] == [("office", False), ("s", 21)]
    assert apply.calls == [("office", False, clock.now()), ("s", 21, clock.now())]
    assert runner.tick() == []  # idempotent
    assert runner.tick(clock.now() + 60) == []


async def test_ticking_across_transitions_applies_each_exactly_once():
    start = at(LONDON, 2026, 6, 8, 6)
    clock = ManualClock(start)
    apply = Recorder()
    runner = ScheduleRunner([office()], [], clock, apply)
    runner.tick()
    for _ in range(int(2 * DAY / 60)):
        await clock.advance(60)
        runner.tick()
    assert [(v, local(ts)) for _, v, ts in apply.calls] == [
        (False, "2026-06-08T06:00:00+01:00"),
        (True, "2026-06-08T07:00:00+01:00"), (False, "2026-06-08T19:00:00+01:00"),
        (True, "2026-06-09T07:00:00+01:00"), (False, "2026-06-09T19:00:00+01:00"),
    ]


async def test_a_big_clock_jump_applies_only_the_latest_value():
    clock = ManualClock(at(LONDON, 2026, 6, 8, 6))
    apply = Recorder()
    runner = ScheduleRunner([office()], [], clock, apply)
    runner.tick()
    await clock.set(at(LONDON, 2026, 6, 11, 12))  # three days later: six transitions passed
    assert [v for _, v in runner.tick()] == [True]
    await clock.set(at(LONDON, 2026, 6, 12, 10))  # passed 19:00 False and 07:00 True: no change
    assert runner.tick() == []
    assert [v for _, v, _ in apply.calls] == [False, True]


def test_a_clock_set_back_is_noticed():
    apply = Recorder()
    runner = ScheduleRunner([office()], [], ManualClock(), apply)
    runner.tick(at(LONDON, 2026, 6, 8, 12))
    assert [v for _, v in runner.tick(at(LONDON, 2026, 6, 8, 6))] == [False]


def test_a_failing_apply_is_logged_once_and_retried_until_it_works(caplog):
    caplog.set_level(logging.INFO, logger="openbms.control.schedules")
    apply = Recorder()
    apply.fail = True
    runner = ScheduleRunner([office()], [], ManualClock(), apply, retry=30)
    t = at(LONDON, 2026, 6, 8, 12)
    assert runner.tick(t) == []
    assert runner.tick(t + 10) == []  # not yet due for a retry
    assert runner.tick(t + 30) == []
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    apply.fail = False
    assert [v for _, v in runner.tick(t + 60)] == [True]
    assert [r.levelname for r in caplog.records] == ["ERROR", "INFO"]


def test_the_runner_refuses_schedules_it_cannot_evaluate():
    no_tz = Schedule(id="s", site="hq")
    with pytest.raises(ValueError, match="no time zone"):
        ScheduleRunner([no_tz], [], ManualClock(), Recorder())
    ScheduleRunner([no_tz], [], ManualClock(), Recorder(), timezones={"hq": "Europe/London"})
    with pytest.raises(ValueError, match="unknown calendar 'hols'"):
        ScheduleRunner([office(exceptions=[{"name": "h", "when": {"calendar": "hols"}}])], [],
                       ManualClock(), Recorder())
    with pytest.raises(ValueError, match="twice"):
        ScheduleRunner([office(), office()], [], ManualClock(), Recorder())


async def test_run_sleeps_on_the_clock_until_each_transition():
    clock = ManualClock(at(LONDON, 2026, 6, 8, 6))
    apply = Recorder()
    runner = ScheduleRunner([office()], [], clock, apply, max_sleep=6 * HOUR)
    task = asyncio.create_task(runner.run())
    try:
        await clock.advance(0)
        assert [v for _, v, _ in apply.calls] == [False]
        await clock.advance(DAY)
        assert [(v, local(ts)) for _, v, ts in apply.calls] == [
            (False, "2026-06-08T06:00:00+01:00"),
            (True, "2026-06-08T07:00:00+01:00"), (False, "2026-06-08T19:00:00+01:00"),
        ]
        assert clock.sleepers == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# ------------------------------------------------------------------------------------ property


ZONES = ("UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe")
_times = st.builds(lambda h, m, s: f"{h:02d}:{m:02d}:{s:02d}", st.integers(0, 23),
                   st.sampled_from([0, 1, 15, 30, 45, 59]), st.sampled_from([0, 30]))
_values = st.sampled_from([None, 0, 1, 2, 2.0])
_events = st.lists(st.builds(ev, _times, _values), max_size=4)


@st.composite
def schedules_and_windows(draw: st.DrawFn) -> tuple[Schedule, float, float, list[float]]:
    zone = draw(st.sampled_from(ZONES))
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    weekly = {day: draw(st.lists(st.builds(ev, _times, _values), min_size=1, max_size=4))
              for day in days if draw(st.integers(0, 5)) > 0}
    # Around the 2026 changes of Europe, the US and Lord Howe (UTC+10:30/+11, a 30-minute shift).
    base = draw(st.sampled_from([dt.date(2026, 3, 27), dt.date(2026, 10, 23), dt.date(2026, 3, 6),
                                 dt.date(2026, 10, 30), dt.date(2026, 4, 3), dt.date(2026, 6, 1)]))
    exceptions = [{"name": f"x{i}", "precedence": draw(st.integers(1, 3)), "events": draw(_events),
                   "when": (base + dt.timedelta(days=draw(st.integers(-3, 12)))).isoformat()}
                  for i in range(draw(st.integers(0, 3)))]
    s = Schedule.model_validate({"id": "p", "site": "hq", "timezone": zone, "kind": "number",
                                 "default": draw(_values), "weekly": weekly, "exceptions": exceptions})
    start = at(ZoneInfo(zone), base.year, base.month, base.day) + draw(st.integers(0, 3 * 86400))
    end = start + draw(st.one_of(st.integers(1, 3600), st.integers(86400, 10 * 86400)))
    probes = draw(st.lists(st.floats(start, end, exclude_max=True), max_size=20))
    return s, start, end, probes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules_and_windows())
def test_transitions_agree_with_value_at(case):
    s, start, end, probes = case
    trs = transitions(s, start, end)
    stamps = [t.ts for t in trs]
    assert stamps == sorted(set(stamps))
    assert all(start <= ts < end for ts in stamps)
    before = value_at(s, start - 0.001)[0]  # events are on whole seconds
    # Number schedule: 2 and 2.0 are the same value (one transition), None (release) is not 0.
    for tr in trs:
        assert value_at(s, tr.ts)[0] == tr.value
    for t in [*probes, *stamps]:
        last = [tr for tr in trs if tr.ts <= t]
        assert value_at(s, t)[0] == (last[-1].value if last else before)
    previous = [before, *(tr.value for tr in trs)]
    assert all(a != tr.value for a, tr in zip(previous, trs, strict=False))
    if trs:
        assert next_transition(s, start - 0.001 if trs[0].ts == start else start) == trs[0]
