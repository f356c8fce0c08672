"""Alarm messages as people read them: the point's display name, its precision and its unit symbol."""

from __future__ import annotations

from openbms.alarms import AlarmEngine, AlarmEvent, parse_rules, point_texts
from openbms.model.sample import OK, Sample
from openbms.model.site import SiteConfig
from openbms.runtime.clock import ManualClock

ZONE = "demo/vav-1/zone-temp"
SITE = SiteConfig.model_validate({
    "site": {"id": "demo"},
    "equipment": [{"id": "vav-1", "points": [
        {"name": "zone-temp", "unit": "degC"},
        {"name": "co2", "unit": "ppm", "display_name": "Meeting room CO2", "precision": 0},
        {"name": "occ-mode", "kind": "enum", "states": ["occupied", "unoccupied"]},
    ]}],
})


def engine(*rules: dict[str, object]) -> tuple[AlarmEngine, list[AlarmEvent]]:
    events: list[AlarmEvent] = []
    eng = AlarmEngine(parse_rules(list(rules)), ManualClock(1000.0), on_event=events.append,
                      texts=point_texts(SITE))
    return eng, events


def feed(eng: AlarmEngine, point: str, value: float) -> None:
    eng.feed([Sample(point, 1000.0, value, OK)])


def test_a_low_limit_message_names_the_point_and_rounds_with_its_unit():
    eng, events = engine({"id": "zone-cold", "type": "low", "point": ZONE, "limit": 16.0})
    feed(eng, ZONE, 15.339190483093262)
    assert events[-1].message == "zone-cold: Zone temperature is 15.3 °C, below the limit 16.0 °C"
    assert events[-1].value == 15.339190483093262  # the event keeps the value; only the words round


def test_the_site_file_s_display_name_and_precision_are_used():
    eng, events = engine({"id": "co2-high", "type": "high", "point": "demo/vav-1/co2", "limit": 1000,
                          "name": "Stuffy"})
    feed(eng, "demo/vav-1/co2", 1234.56)
    assert events[-1].message == "Stuffy: Meeting room CO2 is 1235 ppm, above the limit 1000 ppm"


def test_a_template_s_own_format_gets_the_plain_number():
    eng, events = engine({"id": "zone-cold", "type": "low", "point": ZONE, "limit": 16.0,
                          "message": "{point}: {value:.3f} (limit {limit}, deadband {deadband})"})
    feed(eng, ZONE, 15.339190483093262)
    assert events[-1].message == "Zone temperature: 15.339 (limit 16.0 °C, deadband 0.0 °C)"


def test_an_enum_point_s_message_names_it_and_keeps_its_state_number():
    eng, events = engine({"id": "unocc", "type": "state", "point": "demo/vav-1/occ-mode",
                          "alarm_states": [1]})
    feed(eng, "demo/vav-1/occ-mode", 1)
    assert events[-1].message == "unocc: Occupancy mode is 1"


def test_without_the_site_s_points_messages_say_ids_and_numbers_as_before():
    events: list[AlarmEvent] = []
    eng = AlarmEngine(parse_rules([{"id": "zone-cold", "type": "low", "point": ZONE, "limit": 16.0}]),
                      ManualClock(1000.0), on_event=events.append)
    feed(eng, ZONE, 15.5)
    assert events[-1].message == "zone-cold: demo/vav-1/zone-temp is 15.5, below the limit 16.0"
