"""Every point payload says how people read the point: its display name and its precision."""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

import yaml

from tests.api.live import Live, live  # noqa: F401

BASE = "/api/v1/sites/hq/points"


async def test_points_carry_a_derived_display_name_and_the_unit_s_precision(live: Live):
    r = await live.get("viewer", BASE)
    assert r.status_code == 200, r.text
    by_id = {p["id"]: p for p in r.json()["items"]}
    assert by_id["hq/vav-1/zone-temp"]["display_name"] == "Zone temperature"
    assert by_id["hq/vav-1/zone-temp"]["precision"] == 1
    assert by_id["hq/ahu-1/sat"]["display_name"] == "Supply air temperature"
    r = await live.get("viewer", f"{BASE}/ahu-1/sat-sp")
    assert r.status_code == 200, r.text
    assert (r.json()["display_name"], r.json()["precision"]) == ("Supply air temperature setpoint", 1)


async def test_a_display_name_and_precision_set_through_the_api_reach_the_file_and_every_payload(live: Live):
    r = await live.patch("fm", f"{BASE}/vav-1/zone-temp", json={"display_name": "Room 1 air", "precision": 2})
    assert r.status_code == 200, r.text
    assert (r.json()["display_name"], r.json()["precision"]) == ("Room 1 air", 2)
    r = await live.get("viewer", BASE, params={"equipment": "vav-1"})
    zone = next(p for p in r.json()["items"] if p["name"] == "zone-temp")
    assert (zone["display_name"], zone["precision"]) == ("Room 1 air", 2)
    saved = yaml.safe_load((live.folder / "hq.yaml").read_text())
    (vav,) = [e for e in saved["equipment"] if e["id"] == "vav-1"]
    (point,) = [p for p in vav["points"] if p["name"] == "zone-temp"]
    assert (point["display_name"], point["precision"]) == ("Room 1 air", 2)

    # null clears both: the derived ones come back
    r = await live.patch("fm", f"{BASE}/vav-1/zone-temp", json={"display_name": None, "precision": None})
    assert (r.json()["display_name"], r.json()["precision"]) == ("Zone temperature", 1)


async def test_a_precision_out_of_range_is_refused_naming_the_field(live: Live):
    r = await live.patch("fm", f"{BASE}/vav-1/zone-temp", json={"precision": 9})
    assert r.status_code == 422, r.text
    assert "precision" in r.text
