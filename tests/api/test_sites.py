"""Sites, spaces and equipment over real HTTP: only granted sites, changes written to the YAML file."""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

from typing import Any

import httpx

from openbms.config import load_site
from tests.api.live import Live, live  # noqa: F401


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    return body


def item_ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


async def test_sites_lists_only_the_sites_granted(live: Live):
    assert item_ids(await live.get("admin", "/api/v1/sites")) == ["hq", "lab"]
    assert item_ids(await live.get("viewer", "/api/v1/sites")) == ["hq"]
    assert item_ids(await live.get("labviewer", "/api/v1/sites")) == ["lab"]
    first = await live.get("admin", "/api/v1/sites", params={"limit": 1})
    assert item_ids(first) == ["hq"]
    second = await live.get(
        "admin", "/api/v1/sites", params={"limit": 1, "cursor": first.json()["next_cursor"]}
    )
    assert item_ids(second) == ["lab"] and second.json()["next_cursor"] is None
    problem(await live.get("anonymous", "/api/v1/sites"), 401)


async def test_a_site_shows_its_details_and_hides_from_those_not_granted(live: Live):
    r = await live.get("viewer", "/api/v1/sites/hq")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": "hq",
        "name": "Headquarters",
        "timezone": "Europe/London",
        "area_m2": 2400,
        "latitude": None,
        "longitude": None,
        "spaces": 2,
        "equipment": 2,
        "points": 5,
        "central": None,  # at an edge: no central's lag
    }
    for path in ("", "/spaces", "/equipment", "/equipment/fc-1"):
        hidden = problem(await live.get("viewer", f"/api/v1/sites/lab{path}"), 404)
        missing = problem(await live.get("viewer", f"/api/v1/sites/annex{path}"), 404)
        assert hidden == {**missing, "detail": "no site 'lab'", "instance": f"/api/v1/sites/lab{path}"}
    problem(await live.get("labviewer", "/api/v1/sites/hq/equipment"), 404)


async def test_spaces_and_equipment_are_listed(live: Live):
    spaces = (await live.get("viewer", "/api/v1/sites/hq/spaces")).json()["items"]
    assert spaces == [
        {"id": "floor-1", "name": "", "kind": "floor", "parent": None, "area_m2": None},
        {"id": "zone-1", "name": "", "kind": "zone", "parent": "floor-1", "area_m2": None},
    ]
    assert (await live.get("viewer", "/api/v1/sites/hq/spaces/zone-1")).json()["parent"] == "floor-1"
    problem(await live.get("viewer", "/api/v1/sites/hq/spaces/roof"), 404)
    assert item_ids(await live.get("viewer", "/api/v1/sites/hq/equipment")) == ["ahu-1", "vav-1"]
    ahu = (await live.get("viewer", "/api/v1/sites/hq/equipment/ahu-1")).json()
    assert (
        ahu["type"] == "ahu" and ahu["space"] == "floor-1" and ahu["points"] == ["sat", "sat-sp", "fan-cmd"]
    )
    body = problem(await live.get("viewer", "/api/v1/sites/hq/equipment/chiller-1"), 404)
    assert body["detail"] == "no equipment 'chiller-1' in site 'hq'"


async def test_spaces_are_created_changed_and_deleted_in_the_yaml_file(live: Live):
    r = await live.post(
        "fm", "/api/v1/sites/hq/spaces", json={"id": "room-2", "kind": "room", "parent": "floor-1"}
    )
    assert r.status_code == 201, r.text
    assert [s.id for s in load_site(live.folder / "hq.yaml").spaces] == ["floor-1", "zone-1", "room-2"]
    problem(await live.post("fm", "/api/v1/sites/hq/spaces", json={"id": "room-2"}), 409)
    r = await live.patch("fm", "/api/v1/sites/hq/spaces/room-2", json={"name": "Meeting room", "area_m2": 30})
    assert r.status_code == 200 and r.json()["name"] == "Meeting room", r.text
    room = next(s for s in load_site(live.folder / "hq.yaml").spaces if s.id == "room-2")
    assert room.name == "Meeting room" and room.area_m2 == 30
    problem(await live.patch("fm", "/api/v1/sites/hq/spaces/room-2", json={"area_m2": -1}), 422)
    # A space in use stays.
    body = problem(await live.delete("fm", "/api/v1/sites/hq/spaces/floor-1"), 409)
    assert "ahu-1" in body["detail"] and "zone-1" in body["detail"]
    assert (await live.delete("fm", "/api/v1/sites/hq/spaces/room-2")).status_code == 204
    assert [s.id for s in load_site(live.folder / "hq.yaml").spaces] == ["floor-1", "zone-1"]
    problem(await live.get("viewer", "/api/v1/sites/hq/spaces/room-2"), 404)


async def test_equipment_is_created_changed_and_deleted_in_the_yaml_file(live: Live):
    new = {
        "id": "mtr-1",
        "type": "meter",
        "name": "Main meter",
        "space": "floor-1",
        "points": [{"name": "kw", "unit": "kW", "binding": "sim://mtr-1/kw?wave=constant&value=42"}],
    }
    r = await live.post("admin", "/api/v1/sites/hq/equipment", json=new)
    assert r.status_code == 201, r.text
    assert r.json()["points"] == ["kw"]
    assert "mtr-1" in [e.id for e in load_site(live.folder / "hq.yaml").equipment]
    problem(await live.post("admin", "/api/v1/sites/hq/equipment", json=new), 409)
    body = problem(
        await live.post("admin", "/api/v1/sites/hq/equipment", json={**new, "id": "m2", "type": "toaster"}),
        422,
    )
    assert body["errors"][0]["loc"] == ["body", "type"]
    body = problem(
        await live.post("admin", "/api/v1/sites/hq/equipment", json={"id": "m3", "space": "attic"}), 422
    )
    assert any("attic" in e["msg"] for e in body["errors"])
    r = await live.patch("fm", "/api/v1/sites/hq/equipment/mtr-1", json={"tags": ["elec"], "space": None})
    assert r.status_code == 200 and r.json()["tags"] == ["elec"] and r.json()["space"] is None, r.text
    meter = next(e for e in load_site(live.folder / "hq.yaml").equipment if e.id == "mtr-1")
    assert meter.tags == ("elec",) and meter.space is None and meter.name == "Main meter"
    problem(await live.delete("fm", "/api/v1/sites/hq/equipment/mtr-1"), 409)  # it has a point
    assert (await live.delete("fm", "/api/v1/sites/hq/points/mtr-1/kw")).status_code == 204
    assert (await live.delete("fm", "/api/v1/sites/hq/equipment/mtr-1")).status_code == 204
    assert "mtr-1" not in [e.id for e in load_site(live.folder / "hq.yaml").equipment]


async def test_viewers_and_operators_cannot_change_a_site(live: Live):
    for user in ("viewer", "operator"):
        problem(await live.post(user, "/api/v1/sites/hq/spaces", json={"id": "x"}), 403)
        problem(await live.patch(user, "/api/v1/sites/hq/equipment/ahu-1", json={"name": "x"}), 403)
        problem(await live.delete(user, "/api/v1/sites/hq/spaces/zone-1"), 403)
    problem(await live.post("fm", "/api/v1/sites/lab/spaces", json={"id": "x"}), 404)
    problem(await live.post("labviewer", "/api/v1/sites/lab/spaces", json={"id": "x"}), 403)
