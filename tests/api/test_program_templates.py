"""Program templates over HTTP: made from a program, kept, applied to equipment, saved but not deployed."""

from __future__ import annotations

from tests.api.live import live  # noqa: F401  (the fixture)

BASE = "/api/v1/sites/hq"


def _vav_program() -> dict:
    """vav-1's setpoint held 2 K under its zone temperature, and the AHU's SAT read as a shared input."""
    return {"name": "VAV follow", "period_s": 5,
            "inputs": [{"id": "zt", "point": "hq/vav-1/zone-temp"}, {"id": "sat", "point": "hq/ahu-1/sat"}],
            "constants": [{"id": "off", "value": 2}],
            "blocks": [{"id": "sp", "block": "subtract"}],
            "outputs": [{"id": "zsp", "point": "hq/vav-1/zone-sp", "priority": 12}],
            "wires": [{"from": "zt", "to": "sp.in1"}, {"from": "off", "to": "sp.in2"},
                      {"from": "sp.out", "to": "zsp"}]}


async def test_a_template_from_a_program_applied_to_every_vav_saved_not_deployed(live):  # noqa: F811
    r = await live.put("fm", f"{BASE}/program-templates/follow",
                       json={"program": _vav_program(), "equipment": "vav-1", "name": "Follow the zone"})
    assert r.status_code == 201, r.text
    template = r.json()
    assert (template["equipment_type"], template["brick_class"]) == ("vav", "VAV")
    # By Brick class where the point has one (unique in its equipment), else by name.
    assert template["roles"] == ["$brick:Zone_Air_Temperature_Sensor", "$name:zone-sp"]
    assert [n["point"] for n in template["program"]["inputs"]] == ["$brick:Zone_Air_Temperature_Sensor",
                                                                     "hq/ahu-1/sat"]
    listed = (await live.get("viewer", f"{BASE}/program-templates")).json()["items"]
    assert [t["id"] for t in listed] == ["follow"]

    review = await live.post("fm", f"{BASE}/program-templates/follow/apply", json={})
    assert review.status_code == 200, review.text
    (item,) = review.json()["items"]
    assert (item["equipment"], item["program_id"], item["issues"], item["version"]) == (
        "vav-1", "follow-vav-1", [], None)
    assert item["program"]["outputs"][0]["point"] == "hq/vav-1/zone-sp"
    assert (await live.get("fm", f"{BASE}/programs")).json()["items"] == []  # a review saves nothing

    saved = await live.post("fm", f"{BASE}/program-templates/follow/apply",
                            json={"brick_class": "VAV", "save": True, "comment": "rollout"})
    (item,) = saved.json()["items"]
    assert (item["version"], item["created"]) == (1, True)
    program = (await live.get("viewer", f"{BASE}/programs/follow-vav-1")).json()
    assert program["active_version"] is None and program["status"] is None  # saved, not deployed
    assert program["comment"] == "rollout"
    audit = (await live.get("admin", "/api/v1/audit")).json()["items"]
    actions = [(a["action"], a["target"]) for a in audit if a["target"].startswith("hq/follow")]
    assert ("program_template.save", "hq/follow") in actions
    assert ("program.save", "hq/follow-vav-1") in actions

    ahu = await live.post("fm", f"{BASE}/program-templates/follow/apply", json={"brick_class": "AHU"})
    (item,) = ahu.json()["items"]  # asked for: the AHU lacks the VAV's points, and says which
    assert item["program"] is None and [i["message"] for i in item["issues"]] == [
        "'ahu-1' has no point of Brick class 'Zone_Air_Temperature_Sensor'",
        "'ahu-1' has no point named 'zone-sp'"]


async def test_a_whole_template_with_an_unbindable_role_and_who_may_do_what(live):  # noqa: F811
    document = {**_vav_program(), "outputs": [{"id": "zsp", "point": "$name:zone-setpoint"}]}
    r = await live.put("fm", f"{BASE}/program-templates/broken",
                       json={"equipment_type": "vav", "program": document})
    assert r.status_code == 201, r.text
    (item,) = (await live.post("fm", f"{BASE}/program-templates/broken/apply", json={})).json()["items"]
    assert item["program"] is None
    assert item["issues"] == [{"path": "outputs[0].point",
                               "message": "'vav-1' has no point named 'zone-setpoint'"}]

    assert (await live.put("operator", f"{BASE}/program-templates/x",
                           json={"program": _vav_program(), "equipment": "vav-1"})).status_code == 403
    assert (await live.post("viewer", f"{BASE}/program-templates/broken/apply", json={})).status_code == 403
    assert (await live.get("labviewer", f"{BASE}/program-templates")).status_code == 404
    vav_only = {**_vav_program(), "inputs": _vav_program()["inputs"][:1]}
    r = await live.put("fm", f"{BASE}/program-templates/x", json={"program": vav_only, "equipment": "ahu-1"})
    assert r.status_code == 422 and "nothing to make a parameter of" in r.text
    r = await live.put("fm", f"{BASE}/program-templates/x", json={"program": _vav_program()})
    assert r.status_code == 422
    assert (await live.delete("fm", f"{BASE}/program-templates/broken")).status_code == 204
    assert (await live.get("viewer", f"{BASE}/program-templates/broken")).status_code == 404
