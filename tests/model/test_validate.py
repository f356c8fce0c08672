"""Whole-site checks: every problem, at its place in the document, saying what was expected."""

from __future__ import annotations

from typing import Any

import pytest

from openbms.model.site import SiteConfig
from openbms.model.validate import check_site

DRIVERS = ("sim", "bacnet", "modbus", "mqtt", "rest")


def site(**parts: Any) -> dict[str, Any]:
    """A small valid site document, with ``parts`` replacing its sections."""
    doc: dict[str, Any] = {
        "site": {"id": "hq", "timezone": "Europe/London"},
        "drivers": {"sim": {"poll_interval": 5}},
        "spaces": [{"id": "building", "kind": "building"},
                   {"id": "floor-1", "kind": "floor", "parent": "building"}],
        "equipment": [
            {"id": "ahu-1", "type": "ahu", "space": "building", "feeds": ["vav-1"],
             "points": [{"name": "sat", "unit": "degC", "binding": "sim://ahu-1/sat"}]},
            {"id": "vav-1", "type": "vav", "space": "floor-1",
             "points": [{"name": "zone-temp", "unit": "°C", "binding": "sim://vav-1/zt"}]},
        ],
    }
    doc.update(parts)
    return doc


def equipment_with(*points: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": "ahu-1", "points": list(points)}]


def only(problems: list, path: tuple) -> str:
    """The one message at ``path``."""
    at = [msg for loc, msg in problems if loc == path]
    assert len(at) == 1, problems
    return at[0]


def test_a_consistent_site_has_no_problems():
    assert check_site(site(), DRIVERS) == []


def test_a_validated_siteconfig_is_checked_like_its_document():
    doc = site(equipment=equipment_with({"name": "p", "unit": "degrees", "binding": "knx://a/b"}))
    cfg = SiteConfig.model_validate(doc)
    assert check_site(cfg, DRIVERS) == check_site(doc, DRIVERS)
    assert len(check_site(cfg, DRIVERS)) == 2


def test_every_problem_is_reported_not_only_the_first():
    doc = site(
        spaces=[{"id": "a"}, {"id": "a"}, {"id": "b", "parent": "nowhere"}],
        equipment=[
            {"id": "x", "space": "attic", "feeds": ["y", "ghost"],
             "points": [{"name": "p", "unit": "furlong"}, {"name": "p"}]},
            {"id": "x"},
        ],
    )
    paths = [loc for loc, _ in check_site(doc, DRIVERS)]
    assert paths == [
        ("spaces", 1, "id"),
        ("spaces", 2, "parent"),
        ("equipment", 1, "id"),
        ("equipment", 0, "space"),
        ("equipment", 0, "feeds", 0),
        ("equipment", 0, "feeds", 1),
        ("equipment", 0, "points", 1, "name"),
        ("equipment", 0, "points", 0, "unit"),
    ]


def test_duplicate_ids_name_both_entries():
    problems = check_site(site(spaces=[{"id": "a"}, {"id": "b"}, {"id": "a"}]), DRIVERS)
    assert only(problems, ("spaces", 2, "id")) == (
        "duplicate space id 'a' (entry 3; entry 1 has it already): expected each space id once")


def test_the_same_point_name_in_two_equipment_is_fine_but_not_twice_in_one():
    doc = site(equipment=[{"id": "a", "points": [{"name": "t"}]}, {"id": "b", "points": [{"name": "t"}]}])
    assert check_site(doc, DRIVERS) == []
    doc = site(equipment=[{"id": "a", "points": [{"name": "t"}, {"name": "t"}]}])
    assert only(check_site(doc, DRIVERS), ("equipment", 0, "points", 1, "name")).startswith(
        "duplicate point name 't' in equipment 'a'")


def test_an_unknown_reference_suggests_the_nearest_id_and_lists_the_known_ones():
    doc = site()
    doc["equipment"][0]["feeds"] = ["vav-2"]
    doc["equipment"][1]["space"] = "flor-1"
    problems = check_site(doc, DRIVERS)
    assert only(problems, ("equipment", 0, "feeds", 0)) == (
        "unknown equipment 'vav-2': did you mean 'vav-1'? (expected one of the equipment ids: "
        "ahu-1, vav-1)")
    assert only(problems, ("equipment", 1, "space")).startswith(
        "unknown space 'flor-1': did you mean 'floor-1'?")


def test_a_reference_when_there_are_no_spaces_says_so():
    problems = check_site(site(spaces=[], equipment=[{"id": "a", "space": "roof"}]), DRIVERS)
    assert only(problems, ("equipment", 0, "space")) == (
        "unknown space 'roof': this site defines no space ids")


def test_equipment_feeding_itself_is_refused():
    problems = check_site(site(equipment=[{"id": "a", "feeds": ["a"]}]), DRIVERS)
    assert "feeds itself" in only(problems, ("equipment", 0, "feeds", 0))


def test_a_parent_cycle_is_reported_on_each_space_of_the_loop_only():
    spaces = [{"id": "a", "parent": "b"}, {"id": "b", "parent": "c"}, {"id": "c", "parent": "a"},
              {"id": "d", "parent": "a"}, {"id": "e", "parent": "e"}]
    problems = check_site(site(spaces=spaces, equipment=[]), DRIVERS)
    assert [loc for loc, _ in problems] == [("spaces", i, "parent") for i in (0, 1, 2, 4)]
    assert only(problems, ("spaces", 0, "parent")).startswith("space 'a' is inside itself (a → b → c → a)")
    assert only(problems, ("spaces", 4, "parent")).startswith("space 'e' is inside itself (e → e)")


def test_an_unknown_unit_lists_close_matches():
    problems = check_site(site(equipment=equipment_with({"name": "p", "unit": "kwh"})), DRIVERS)
    message = only(problems, ("equipment", 0, "points", 0, "unit"))
    assert message.startswith("unknown unit 'kwh': did you mean 'kWh'")
    assert "expected a unit symbol" in message


def test_unit_aliases_are_accepted():
    points = [{"name": n, "unit": u} for n, u in (("a", "°C"), ("b", "lux"), ("c", "% RH"))]
    assert check_site(site(equipment=equipment_with(*points)), DRIVERS) == []


def test_a_malformed_binding_says_what_is_wrong():
    problems = check_site(site(equipment=equipment_with({"name": "p", "binding": "ahu-1/sat"})), DRIVERS)
    assert only(problems, ("equipment", 0, "points", 0, "binding")) == (
        "binding 'ahu-1/sat' has no scheme: expected 'driver://device/path'")


def test_a_binding_to_an_unknown_driver_lists_the_known_ones():
    points = [{"name": "p", "binding": "bacnett://1001/analog-input,1"}]
    problems = check_site(site(equipment=equipment_with(*points)), DRIVERS)
    assert only(problems, ("equipment", 0, "points", 0, "binding")) == (
        "unknown driver 'bacnett' in binding 'bacnett://1001/analog-input,1': did you mean 'bacnet'? "
        "(expected one of: bacnet, modbus, mqtt, rest, sim)")


def test_known_drivers_come_from_the_caller():
    doc = site(equipment=equipment_with({"name": "p", "binding": "knx://1.1.1/temp"}))
    assert check_site(doc, ("sim",)) != []
    assert check_site(doc, ("sim", "knx")) == []


def test_settings_for_an_unknown_driver_are_refused():
    problems = check_site(site(drivers={"modbuss": {}}), DRIVERS)
    assert only(problems, ("drivers", "modbuss")).startswith(
        "unknown driver 'modbuss': did you mean 'modbus'?")


def test_a_writable_point_without_a_binding_is_fine():
    point = {"name": "sp", "writable": True, "relinquish_default": 21.0, "limits": {"min": 15, "max": 30}}
    assert check_site(site(equipment=equipment_with(point)), DRIVERS) == []


@pytest.mark.parametrize(
    "point, expected",
    [
        ({"kind": "number", "relinquish_default": "warm"}, "relinquish_default 'warm' is not a number"),
        ({"kind": "number", "relinquish_default": True}, "relinquish_default True is not a number"),
        ({"kind": "bool", "relinquish_default": 1}, "relinquish_default 1 is not true or false"),
        ({"kind": "enum", "states": ["off", "on"], "relinquish_default": "auto"},
         "relinquish_default 'auto' is not a state of this enum point: expected one of 'off', 'on'"),
    ],
)
def test_a_relinquish_default_must_fit_the_kind(point, expected):
    doc = site(equipment=equipment_with({"name": "p", "writable": True, **point}))
    assert only(check_site(doc, DRIVERS), ("equipment", 0, "points", 0, "relinquish_default")).startswith(
        expected)


@pytest.mark.parametrize(
    "point",
    [
        {"kind": "number", "relinquish_default": 21},
        {"kind": "number", "relinquish_default": 21.5},
        {"kind": "bool", "relinquish_default": False},
        {"kind": "enum", "states": ["off", "on"], "relinquish_default": "off"},
    ],
)
def test_a_relinquish_default_of_the_right_kind_is_fine(point):
    assert check_site(site(equipment=equipment_with({"name": "p", "writable": True, **point})), DRIVERS) == []


def test_a_relinquish_default_outside_the_write_limits_is_refused():
    point = {"name": "p", "writable": True, "relinquish_default": 30, "limits": {"min": 10, "max": 18}}
    problems = check_site(site(equipment=equipment_with(point)), DRIVERS)
    assert only(problems, ("equipment", 0, "points", 0, "relinquish_default")) == (
        "relinquish_default 30 is outside the write limits: expected a value from 10 to 18")


def test_min_and_max_limits_on_a_bool_point_are_refused_but_min_on_is_fine():
    bad = {"name": "p", "kind": "bool", "writable": True, "limits": {"max": 1}}
    problems = check_site(site(equipment=equipment_with(bad)), DRIVERS)
    assert only(problems, ("equipment", 0, "points", 0, "limits", "max")).startswith(
        "'max' limits a bool point: min and max apply to number points only")
    good = {"name": "p", "kind": "bool", "writable": True, "limits": {"min_on": 300, "min_off": 300}}
    assert check_site(site(equipment=equipment_with(good)), DRIVERS) == []


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York", "UTC", "Asia/Kolkata"])
def test_iana_time_zones_are_accepted(zone):
    assert check_site(site(site={"id": "hq", "timezone": zone}), DRIVERS) == []


@pytest.mark.parametrize("zone", ["Europe/Londn", "GMT+25", "London", "", "../etc/passwd", "CET "])
def test_a_time_zone_that_is_not_an_iana_name_is_refused(zone):
    problems = check_site(site(site={"id": "hq", "timezone": zone}), DRIVERS)
    assert "expected an IANA name such as 'Europe/London'" in only(problems, ("site", "timezone"))


def test_a_misspelt_time_zone_gets_a_suggestion():
    problems = check_site(site(site={"id": "hq", "timezone": "Europe/Londn"}), DRIVERS)
    assert only(problems, ("site", "timezone")).startswith(
        "unknown time zone 'Europe/Londn': did you mean 'Europe/London'?")


def test_parts_of_the_wrong_type_are_left_to_the_schema():
    doc = {"site": "hq", "drivers": ["sim"], "spaces": "none",
           "equipment": [3, {"id": 5, "feeds": "x", "points": [None, {"name": ["x"], "unit": 3}]}]}
    assert check_site(doc, DRIVERS) == []
    assert check_site("not a site", DRIVERS) == []  # type: ignore[arg-type]
