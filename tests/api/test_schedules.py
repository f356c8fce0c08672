"""Schedules and calendars over HTTP: values now and to come, changes written to the site file."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import yaml

from openbms.api import create_app
from openbms.config import load_site
from openbms.control.schedules import transitions
from tests.api.live import live  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

SCHEDULES = "/api/v1/sites/hq/schedules"
LONDON = ZoneInfo("Europe/London")


def _local_day(day: dt.date) -> tuple[float, float]:
    start = dt.datetime.combine(day, dt.time(0), LONDON)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), LONDON)
    return start.timestamp(), end.timestamp()


def _next_monday() -> dt.date:
    today = dt.datetime.now(LONDON).date()
    return today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)


def _at(day: dt.date, hh: int, mm: int = 0) -> float:
    return dt.datetime.combine(day, dt.time(hh, mm), LONDON).timestamp()


async def test_schedules_are_listed_with_their_value_now_and_next_change(live):  # noqa: F811
    r = await live.get("viewer", SCHEDULES)
    assert r.status_code == 200, r.text
    (view,) = r.json()["items"]
    assert view["schedule"]["id"] == "ahu-occupancy" and view["schedule"]["site"] == "hq"
    assert view["schedule"]["weekly"]["monday"] == [{"time": "07:00", "value": True},
                                                    {"time": "19:00", "value": False}]
    assert view["timezone"] == "Europe/London"
    assert view["current"]["value"] in (True, False)
    assert view["next"]["value"] is (not view["current"]["value"])
    one = (await live.get("viewer", f"{SCHEDULES}/ahu-occupancy")).json()
    assert one["schedule"] == view["schedule"]
    assert (await live.get("viewer", f"{SCHEDULES}/nope")).status_code == 404


async def test_transitions_say_what_a_schedule_will_do_tomorrow(live):  # noqa: F811
    tomorrow = dt.datetime.now(LONDON).date() + dt.timedelta(days=1)
    since, until = _local_day(tomorrow)
    r = await live.get("viewer", f"{SCHEDULES}/ahu-occupancy/transitions",
                       params={"since": since, "until": until})
    assert r.status_code == 200, r.text
    body = r.json()
    schedule = live.runtime.sites[0].schedules[0]
    expected = transitions(schedule, since, until, timezone="Europe/London")
    assert [(t["ts"], t["value"], t["source"]) for t in body["transitions"]] == [
        (t.ts, t.value, t.source) for t in expected]
    assert body["since"] == since and body["until"] == until and body["timezone"] == "Europe/London"

    monday = _next_monday()
    since, until = _local_day(monday)
    body = (await live.get("viewer", f"{SCHEDULES}/ahu-occupancy/transitions",
                           params={"since": since, "until": until})).json()
    assert body["initial"]["value"] is False
    assert [(t["ts"], t["value"]) for t in body["transitions"]] == [
        (_at(monday, 7), True), (_at(monday, 19), False)]
    assert body["transitions"][0]["local"].startswith(f"{monday.isoformat()}T07:00:00")

    default = (await live.get("viewer", f"{SCHEDULES}/ahu-occupancy/transitions")).json()
    assert default["until"] - default["since"] == 48 * 3600
    r = await live.get("viewer", f"{SCHEDULES}/ahu-occupancy/transitions", params={"since": 10, "until": 5})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "until"]
    for params in ({"since": 0, "until": 4e7}, {"since": -1e11}, {"until": "nan"}, {"since": "inf"}):
        r = await live.get("viewer", f"{SCHEDULES}/ahu-occupancy/transitions", params=params)
        assert r.status_code == 422, params


async def test_a_schedule_change_moves_its_transitions_and_is_written_to_the_site_file(live):  # noqa: F811
    view = (await live.get("fm", f"{SCHEDULES}/ahu-occupancy")).json()
    changed = {**view["schedule"], "weekly": {**view["schedule"]["weekly"],
                                              "monday": [{"time": "06:00", "value": True},
                                                         {"time": "18:30", "value": False}]}}
    r = await live.put("fm", f"{SCHEDULES}/ahu-occupancy", json=changed)
    assert r.status_code == 200, r.text
    assert r.json()["schedule"]["weekly"]["monday"][0] == {"time": "06:00", "value": True}

    monday = _next_monday()
    since, until = _local_day(monday)
    body = (await live.get("viewer", f"{SCHEDULES}/ahu-occupancy/transitions",
                           params={"since": since, "until": until})).json()
    assert [(t["ts"], t["value"]) for t in body["transitions"]] == [
        (_at(monday, 6), True), (_at(monday, 18, 30), False)]

    on_disk = load_site(live.folder / "hq.yaml")
    assert on_disk.schedules[0].weekly.monday[0].time == dt.time(6, 0)
    assert yaml.safe_load((live.folder / "hq.yaml").read_text())["schedules"][0]["weekly"]["monday"][1] == {
        "time": "18:30", "value": False}
    assert live.runtime.schedules["hq"].schedules[0].weekly.monday[0].time == dt.time(6, 0)
    audit = await live.get("admin", "/api/v1/audit", params={"action": "schedule.update"})
    (entry,) = audit.json()["items"]
    assert entry["actor"] == "fm@example.com" and entry["target"] == "hq/ahu-occupancy"


async def test_a_new_schedule_runs_and_a_deleted_one_releases_its_slot(live):  # noqa: F811
    every_day = [{"time": "00:00", "value": 21.5}]
    body = {"name": "Zone setpoint", "kind": "number", "priority": 14, "targets": ["hq/vav-1/zone-sp"],
            "weekly": {day: every_day for day in ("monday", "tuesday", "wednesday", "thursday", "friday",
                                                  "saturday", "sunday")}}
    r = await live.put("admin", f"{SCHEDULES}/zone-sp", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["current"]["value"] == 21.5
    arbiter = live.runtime.arbiter
    await eventually(lambda: arbiter.priority_array("hq/vav-1/zone-sp")[13] == 21.5, "the schedule's command")
    array = (await live.get("viewer", "/api/v1/sites/hq/points/vav-1/zone-sp/priority-array")).json()
    assert array["slots"][13]["requested_by"] == "schedule:zone-sp"
    assert array["slots"][13]["source"] == "schedule"
    assert [s.id for s in load_site(live.folder / "hq.yaml").schedules] == ["ahu-occupancy", "zone-sp"]

    r = await live.put("admin", f"{SCHEDULES}/zone-sp", json={**body, "priority": 15})
    assert r.status_code == 200, r.text
    await eventually(lambda: arbiter.priority_array("hq/vav-1/zone-sp")[14] == 21.5, "the new priority")
    await eventually(lambda: arbiter.priority_array("hq/vav-1/zone-sp")[13] is None, "the old slot released")

    r = await live.delete("fm", f"{SCHEDULES}/zone-sp")
    assert r.status_code == 204, r.text
    await eventually(lambda: arbiter.priority_array("hq/vav-1/zone-sp") == [None] * 16, "the slot released")
    assert [s.id for s in load_site(live.folder / "hq.yaml").schedules] == ["ahu-occupancy"]
    assert (await live.get("viewer", f"{SCHEDULES}/zone-sp")).status_code == 404
    assert (await live.delete("fm", f"{SCHEDULES}/zone-sp")).status_code == 404


async def test_a_bad_schedule_is_refused_field_by_field_and_nothing_changes(live):  # noqa: F811
    before = (live.folder / "hq.yaml").read_text()
    bad_time = {"kind": "bool", "targets": ["hq/ahu-1/fan-cmd"],
                "weekly": {"monday": [{"time": "25:00", "value": True}, {"time": "19:00", "value": 3}]}}
    r = await live.put("fm", f"{SCHEDULES}/ahu-occupancy", json=bad_time)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    locs = [e["loc"] for e in r.json()["errors"]]
    assert ["body", "weekly", "monday", 0, "time"] in locs
    bad_value = {**bad_time, "weekly": {"monday": [{"time": "19:00", "value": 3}]}}
    r = await live.put("fm", f"{SCHEDULES}/ahu-occupancy", json=bad_value)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "weekly", "monday", 0, "value"]]
    r = await live.put("fm", f"{SCHEDULES}/x", json={"kind": "bool", "targets": ["hq/ahu-1/nope"]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "targets", 0]
    assert "unknown point" in r.json()["errors"][0]["msg"]
    r = await live.put("fm", f"{SCHEDULES}/x", json={"kind": "bool", "targets": ["hq/vav-1/zone-sp"]})
    assert r.status_code == 422 and "number point" in r.json()["errors"][0]["msg"]
    r = await live.put("fm", f"{SCHEDULES}/x", json={"id": "y"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "id"]
    r = await live.put("fm", f"{SCHEDULES}/Bad Id", json={})
    assert r.status_code == 422
    r = await live.put("fm", f"{SCHEDULES}/x", json={"colour": "red"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "colour"]
    assert (live.folder / "hq.yaml").read_text() == before


async def test_only_those_who_may_edit_schedules_change_them(live):  # noqa: F811
    body = {"kind": "bool", "targets": ["hq/ahu-1/fan-cmd"]}
    for user in ("viewer", "operator"):
        r = await live.put(user, f"{SCHEDULES}/ahu-occupancy", json=body)
        assert r.status_code == 403, user
        assert (await live.delete(user, f"{SCHEDULES}/ahu-occupancy")).status_code == 403
        assert (await live.put(user, "/api/v1/sites/hq/calendars/h", json={})).status_code == 403
    r = await live.put("labviewer", f"{SCHEDULES}/ahu-occupancy", json=body)
    assert r.status_code == 404 and r.json()["detail"] == "no site 'hq'"
    for path in (SCHEDULES, f"{SCHEDULES}/ahu-occupancy", f"{SCHEDULES}/ahu-occupancy/transitions",
                 "/api/v1/sites/hq/calendars"):
        assert (await live.get("labviewer", path)).status_code == 404
    assert (await live.get("labviewer", "/api/v1/sites/lab/schedules")).json()["items"] == []
    assert [s.id for s in load_site(live.folder / "hq.yaml").schedules] == ["ahu-occupancy"]


async def test_calendars_are_shared_by_schedules_and_kept_while_used(live):  # noqa: F811
    assert (await live.get("viewer", "/api/v1/sites/hq/calendars")).json()["items"] == []
    monday = _next_monday()
    r = await live.put("fm", "/api/v1/sites/hq/calendars/holidays",
                       json={"name": "Holidays", "entries": [monday.isoformat(), "12-25"]})
    assert r.status_code == 201, r.text
    assert r.json() == {"id": "holidays", "name": "Holidays",
                        "entries": [{"date": monday.isoformat()}, {"month": 12, "day": 25, "weekday": None,
                                                                   "nth": None}]}
    view = (await live.get("fm", f"{SCHEDULES}/ahu-occupancy")).json()
    closed = {**view["schedule"], "exceptions": [
        {"name": "holiday", "when": {"calendar": "holidays"}, "events": [{"time": "00:00", "value": False}]}]}
    assert (await live.put("fm", f"{SCHEDULES}/ahu-occupancy", json=closed)).status_code == 200
    since, until = _local_day(monday)
    body = (await live.get("viewer", f"{SCHEDULES}/ahu-occupancy/transitions",
                           params={"since": since, "until": until})).json()
    assert body["transitions"] == []  # closed on the holiday

    r = await live.delete("fm", "/api/v1/sites/hq/calendars/holidays")
    assert r.status_code == 409 and "ahu-occupancy" in r.json()["detail"]
    unknown = {**closed, "exceptions": [{**closed["exceptions"][0], "when": {"calendar": "nope"}}]}
    r = await live.put("fm", f"{SCHEDULES}/ahu-occupancy", json=unknown)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "exceptions", 0, "when", "calendar"]
    r = await live.put("fm", "/api/v1/sites/hq/calendars/holidays", json={"entries": ["2026-02-30"]})
    assert r.status_code == 422

    assert (await live.put("fm", f"{SCHEDULES}/ahu-occupancy", json=view["schedule"])).status_code == 200
    assert (await live.delete("fm", "/api/v1/sites/hq/calendars/holidays")).status_code == 204
    assert load_site(live.folder / "hq.yaml").calendars == ()
    assert (await live.get("viewer", "/api/v1/sites/hq/calendars/holidays")).status_code == 404


def test_the_schema_declares_the_201_of_a_put_that_creates():
    """A PUT that creates a schedule or calendar answers 201 with JSON, as the OpenAPI document says."""
    paths = create_app(engine=sa.create_engine("sqlite://")).openapi()["paths"]
    for path, model in (("/api/v1/sites/{site_id}/schedules/{schedule_id}", "ScheduleView"),
                        ("/api/v1/sites/{site_id}/calendars/{calendar_id}", "Calendar")):
        responses = paths[path]["put"]["responses"]
        for status in ("200", "201"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{model}"}, (path, status)
