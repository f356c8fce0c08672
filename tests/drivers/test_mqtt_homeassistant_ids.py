"""Home Assistant discovery: every point of every site is its own entity, even where ids differ
only in the characters a config topic cannot carry ('.') or in where an underscore falls."""

from __future__ import annotations

import json

from openbms.drivers.mqtt.homeassistant import discovery
from openbms.model.site import SiteConfig


def _site(site: str, equipment: dict[str, list[str]]) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": site},
        "mqtt": {"homeassistant": {"enabled": True}},
        "equipment": [{"id": eq, "type": "ahu", "points": [{"name": n, "unit": "degC"} for n in names]}
                      for eq, names in equipment.items()]})


def _entities(*sites: SiteConfig) -> list[tuple[str, dict]]:
    return [(topic, json.loads(payload)) for cfg in sites for topic, payload in discovery(cfg)]


def test_points_whose_ids_differ_only_in_dots_or_underscores_are_distinct_entities():
    # ahu_1/sat and ahu/1_sat; sat.1 and sat_1: each pair made one object id before, so the second
    # config overwrote the first on the broker and Home Assistant had one entity for two points.
    cfg = _site("hq", {"ahu_1": ["sat"], "ahu": ["1_sat"], "vav": ["sat.1", "sat_1"]})
    entities = _entities(cfg)
    assert len(entities) == 4
    assert len({topic for topic, _ in entities}) == 4
    assert len({e["unique_id"] for _, e in entities}) == 4
    assert {e["state_topic"] for _, e in entities} == {
        "openbms/hq/ahu_1/sat", "openbms/hq/ahu/1_sat", "openbms/hq/vav/sat.1", "openbms/hq/vav/sat_1"}


def test_equipment_of_sites_whose_ids_differ_only_in_underscores_are_distinct_devices():
    # Site a / equipment b_c and site a_b / equipment c were one Home Assistant device, and the
    # entities of two sites collided: a/b_c/d and a_b/c/d.
    entities = _entities(_site("a", {"b_c": ["d"]}), _site("a_b", {"c": ["d"]}),
                         _site("x", {"y.z": ["t"], "y_z": ["t"]}))
    assert len({topic for topic, _ in entities}) == 4
    assert len({e["unique_id"] for _, e in entities}) == 4
    assert len({e["device"]["identifiers"][0] for _, e in entities}) == 4


def test_ids_without_dots_or_underscores_keep_their_readable_object_ids():
    (topic, entity), = _entities(_site("hq", {"ahu-1": ["sat"]}))
    assert topic == "homeassistant/sensor/hq/hq_ahu-1_sat/config"
    assert entity["unique_id"] == "openbms_hq_ahu-1_sat"
    assert entity["device"]["identifiers"] == ["openbms_hq_ahu-1"]
