"""Public-holiday calendars from the ``holidays`` library: ``{holidays: GB-ENG}`` in a calendar's entries."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import pytest
from pydantic import ValidationError

from openbms.config import load_site
from openbms.control.schedules import value_at
from openbms.model.calendar import Calendar, HolidaysRule
from openbms.model.schedule import Schedule

GOOD_FRIDAY_2027 = dt.date(2027, 3, 26)
EASTER_MONDAY_2027 = dt.date(2027, 3, 29)


@pytest.mark.parametrize("example", ["demo", "office"])
def test_the_shipped_england_and_wales_calendar_has_easter(example: str) -> None:
    with resources.as_file(resources.files("openbms.examples") / example / "site.yaml") as path:
        cfg = load_site(Path(path))
    calendar = next(c for c in cfg.calendars if c.id == "uk-holidays")
    for day in (GOOD_FRIDAY_2027, EASTER_MONDAY_2027, dt.date(2027, 5, 3), dt.date(2027, 5, 31),
                dt.date(2027, 8, 30), dt.date(2027, 12, 27), dt.date(2027, 12, 28), dt.date(2027, 1, 1)):
        assert calendar.matches(day), day
    # The days around Easter are working days.
    for day in (dt.date(2027, 3, 25), dt.date(2027, 3, 30), dt.date(2027, 12, 29)):
        assert not calendar.matches(day), day
    assert calendar.dates(dt.date(2027, 1, 1), dt.date(2027, 12, 31)) == [
        dt.date(2027, 1, 1), GOOD_FRIDAY_2027, EASTER_MONDAY_2027, dt.date(2027, 5, 3),
        dt.date(2027, 5, 31), dt.date(2027, 8, 30),
        # Christmas and Boxing Day fall on a weekend in 2027: the library adds the substitute days.
        dt.date(2027, 12, 25), dt.date(2027, 12, 26), dt.date(2027, 12, 27), dt.date(2027, 12, 28)]


def test_a_holidays_entry_names_the_day_and_normalises_the_code() -> None:
    rule = HolidaysRule.model_validate({"holidays": " gb-eng "})
    assert rule.holidays == "GB-ENG"
    assert rule.name_of(GOOD_FRIDAY_2027) == "Good Friday"
    assert rule.name_of(dt.date(2027, 3, 30)) is None
    # Scotland keeps 2 January and not Easter Monday: the subdivision is honoured.
    scotland = Calendar.model_validate({"id": "sct", "entries": [{"holidays": "GB-SCT"}]})
    assert scotland.matches(dt.date(2027, 1, 4))  # 2 January 2027 is a Saturday: substitute Monday
    assert not scotland.matches(EASTER_MONDAY_2027)


def test_a_calendar_mixes_generated_and_listed_days_and_round_trips() -> None:
    cal = Calendar.model_validate({"id": "hq", "entries": [{"holidays": "GB-ENG"}, "2027-08-02"]})
    assert cal.matches(dt.date(2027, 8, 2)) and cal.matches(GOOD_FRIDAY_2027)
    again = Calendar.model_validate(cal.model_dump(mode="json"))
    assert again == cal
    assert cal.model_dump(mode="json")["entries"][0] == {"holidays": "GB-ENG"}


@pytest.mark.parametrize(("code", "message"), [
    ("XX", "no public holidays are known for country 'XX'"),
    ("GB-XYZ", "GB has no subdivision 'XYZ': expected one of GB-ENG, GB-NIR, GB-SCT, GB-WLS"),
    ("England", "'England' is not a region code"),
])
def test_an_unknown_region_is_refused_with_what_was_expected(code: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Calendar.model_validate({"id": "bad", "entries": [{"holidays": code}]})
    (error,) = info.value.errors()
    assert error["loc"] == ("entries", 0, "holidays")
    assert message in error["msg"]


def test_a_site_file_with_a_bad_region_names_the_line(tmp_path: Path) -> None:
    from openbms.errors import ConfigError

    site = tmp_path / "site.yaml"
    site.write_text("site: {id: hq, timezone: Europe/London}\n"
                    "calendars:\n"
                    "  - id: hols\n"
                    "    entries:\n"
                    "      - {holidays: GB-XX}\n")
    with pytest.raises(ConfigError) as info:
        load_site(site)
    (issue,) = info.value.issues
    assert issue.line == 5
    assert "GB has no subdivision 'XX'" in issue.message


def test_public_holidays_go_in_a_calendar_not_directly_in_an_exception() -> None:
    with pytest.raises(ValidationError, match="go in a calendar's entries"):
        Schedule.model_validate({"id": "s", "kind": "bool", "default": False,
                                 "exceptions": [{"name": "x", "when": {"holidays": "GB-ENG"}, "events": []}]})


def test_a_schedule_is_closed_on_good_friday_through_the_calendar() -> None:
    cal = Calendar.model_validate({"id": "uk-holidays", "entries": [{"holidays": "GB-ENG"}]})
    office = Schedule.model_validate({
        "id": "office", "site": "hq", "kind": "bool", "default": False, "timezone": "Europe/London",
        "weekly": {d: [{"time": "07:00", "value": True}, {"time": "19:00", "value": False}]
                   for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
        "exceptions": [{"name": "bank holiday", "when": {"calendar": "uk-holidays"},
                        "events": [{"time": "00:00", "value": False}]}]})
    noon = dt.datetime(2027, 3, 26, 12, tzinfo=dt.UTC).timestamp()
    value, why = value_at(office, noon, [cal])
    assert value is False and why.source == "exception:bank holiday"
    value, why = value_at(office, noon - 86400, [cal])  # Maundy Thursday: open
    assert value is True and why.source == "weekly"
