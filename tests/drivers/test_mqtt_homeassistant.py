"""Home Assistant discovery: each point announced as the entity Home Assistant expects, and its
commands decoded into the values openbms writes."""

from __future__ import annotations

import json

import pytest

from openbms.drivers.mqtt.homeassistant import (
    CommandRefused,
    command_topic,
    decode_command,
    discovery,
    removed,
)
from openbms.model.site import Point, SiteConfig

SITE = {
    "site": {"id": "hq", "name": "Head office"},
    "mqtt": {"prefix": "acme", "homeassistant": {"enabled": True}},
    "equipment": [
        {"id": "ahu-1", "type": "ahu", "name": "AHU 1", "space": "roof", "points": [
            {"name": "sat", "unit": "degC"},
            {"name": "sat-sp", "unit": "degC", "writable": True, "limits": {"min": 10, "max": 18}},
            {"name": "fan-cmd", "kind": "bool", "writable": True},
            {"name": "fan-status", "kind": "bool"},
            {"name": "mode", "kind": "enum", "states": ["off", "heat", "cool"], "writable": True},
            {"name": "alarm-state", "kind": "enum", "states": ["normal", "fault"]},
            {"name": "kwh", "unit": "kWh"},
            {"name": "co2", "unit": "ppm"},
            {"name": "odd", "unit": "L/s"},
        ]},
    ],
}


def _configs(site: dict = SITE) -> dict[str, dict]:
    cfg = SiteConfig.model_validate(site)
    return {topic.split("/")[1] + ":" + topic.split("/")[3]: {"topic": topic, **json.loads(payload)}
            for topic, payload in discovery(cfg, "1.2.3")}


def test_each_point_becomes_the_entity_home_assistant_expects():
    c = _configs()
    assert set(c) == {
        "sensor:hq_ahu-1_sat", "number:hq_ahu-1_sat-sp", "switch:hq_ahu-1_fan-cmd",
        "binary_sensor:hq_ahu-1_fan-status", "select:hq_ahu-1_mode", "sensor:hq_ahu-1_alarm-state",
        "sensor:hq_ahu-1_kwh", "sensor:hq_ahu-1_co2", "sensor:hq_ahu-1_odd"}
    sat = c["sensor:hq_ahu-1_sat"]
    assert sat["topic"] == "homeassistant/sensor/hq/hq_ahu-1_sat/config"
    assert sat["state_topic"] == "acme/hq/ahu-1/sat"
    assert (sat["unit_of_measurement"], sat["device_class"], sat["state_class"]) == (
        "°C", "temperature", "measurement")
    assert sat["device"]["identifiers"] == ["openbms_hq_ahu-1"]
    assert sat["device"]["suggested_area"] == "roof" and sat["device"]["model"] == "ahu"
    assert "command_topic" not in sat


def test_writable_points_carry_their_limits_and_command_topic():
    c = _configs()
    sp = c["number:hq_ahu-1_sat-sp"]
    assert (sp["min"], sp["max"], sp["command_topic"]) == (10, 18, "acme/hq/ahu-1/sat-sp/set")
    assert sp["step"] == pytest.approx(0.1)  # °C shows one decimal
    assert c["select:hq_ahu-1_mode"]["options"] == ["off", "heat", "cool"]
    fan = c["switch:hq_ahu-1_fan-cmd"]
    assert (fan["payload_on"], fan["state_on"]) == ("ON", "ON")


def test_units_home_assistant_knows_get_a_class_others_are_shown_as_they_are():
    c = _configs()
    assert (c["sensor:hq_ahu-1_kwh"]["device_class"], c["sensor:hq_ahu-1_kwh"]["state_class"]) == (
        "energy", "total_increasing")
    assert c["sensor:hq_ahu-1_co2"]["device_class"] == "carbon_dioxide"
    odd = c["sensor:hq_ahu-1_odd"]
    assert odd["unit_of_measurement"] == "L/s" and "device_class" not in odd


def test_an_entity_is_unavailable_with_the_bridge_or_its_point():
    avail = _configs()["sensor:hq_ahu-1_sat"]["availability"]
    assert [a["topic"] for a in avail] == ["acme/hq/status", "acme/hq/ahu-1/sat"]
    assert "offline" in avail[1]["value_template"] and "fault" in avail[1]["value_template"]
    assert _configs()["sensor:hq_ahu-1_sat"]["availability_mode"] == "all"


def test_nothing_is_announced_unless_enabled():
    off = {**SITE, "mqtt": {"prefix": "acme"}}
    assert discovery(SiteConfig.model_validate(off)) == []
    assert discovery(SiteConfig.model_validate({k: v for k, v in SITE.items() if k != "mqtt"})) == []


def test_a_removed_point_gets_an_empty_retained_config():
    before = [t for t, _ in discovery(SiteConfig.model_validate(SITE))]
    fewer = json.loads(json.dumps(SITE))
    fewer["equipment"][0]["points"] = fewer["equipment"][0]["points"][:1]
    now = [t for t, _ in discovery(SiteConfig.model_validate(fewer))]
    gone = removed(before, now)
    assert len(gone) == len(before) - 1 and all(p == b"" for _, p in gone)
    assert "homeassistant/sensor/hq/hq_ahu-1_sat/config" not in [t for t, _ in gone]


def _point(**kw) -> Point:
    return Point.model_validate({"name": "p", "writable": True, **kw})


@pytest.mark.parametrize(("point", "payload", "value"), [
    ({"kind": "bool"}, b"ON", True),
    ({"kind": "bool"}, b"off", False),
    ({"unit": "degC"}, b" 16.5 ", 16.5),
    ({"kind": "enum", "states": ["off", "heat", "cool"]}, b"cool", 3),
])
def test_commands_become_values(point, payload, value):
    assert decode_command(_point(**point), payload) == value


@pytest.mark.parametrize(("point", "payload", "says"), [
    ({"kind": "bool"}, b"maybe", "expected ON or OFF"),
    ({"unit": "degC"}, b"warm", "expected a number"),
    ({"unit": "degC"}, b"nan", "finite"),
    ({"kind": "enum", "states": ["off", "heat"]}, b"cool", "expected one of off, heat"),
    ({"unit": "degC"}, b"\xff\xfe", "not UTF-8"),
])
def test_bad_commands_are_refused_with_the_reason(point, payload, says):
    with pytest.raises(CommandRefused, match=says):
        decode_command(_point(**point), payload)


def test_a_read_only_point_takes_no_command():
    with pytest.raises(CommandRefused, match="not writable"):
        decode_command(Point.model_validate({"name": "p"}), b"1")


def test_the_command_topic_is_under_the_point_topic():
    cfg = SiteConfig.model_validate(SITE)
    assert cfg.mqtt is not None
    assert command_topic(cfg.mqtt, "hq", "ahu-1", "sat-sp") == "acme/hq/ahu-1/sat-sp/set"
