"""Points over real HTTP: filters, search across sites, pagination, and changes that reach the YAML file."""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from openbms.config import load_site
from openbms.model.sample import Sample
from tests.api.live import Live, live  # noqa: F401

HQ_POINTS = ["hq/ahu-1/fan-cmd", "hq/ahu-1/sat", "hq/ahu-1/sat-sp", "hq/vav-1/zone-sp", "hq/vav-1/zone-temp"]


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


def ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


async def test_points_list_with_current_values_from_the_cache(live: Live):
    await eventually(lambda: live.runtime.cache.get("hq/vav-1/zone-temp"))
    r = await live.get("viewer", "/api/v1/sites/hq/points")
    assert ids(r) == HQ_POINTS
    assert r.json()["next_cursor"] is None
    zone = next(p for p in r.json()["items"] if p["id"] == "hq/vav-1/zone-temp")
    assert zone["value"] == 29 and zone["status"] == "ok" and zone["ts"] > 0
    assert zone["site"] == "hq" and zone["equipment"] == "vav-1" and zone["name"] == "zone-temp"
    assert zone["unit"] == "degC" and zone["tags"] == ["zone", "air", "temp", "sensor"]


async def test_a_repeated_page_shows_each_new_value(live: Live):
    """Pages are encoded once per change of the current values, never served older than them."""
    await eventually(lambda: live.runtime.cache.get("hq/vav-1/zone-temp"))

    async def zone() -> dict[str, Any]:
        r = await live.get("viewer", "/api/v1/sites/hq/points")
        return next(p for p in r.json()["items"] if p["id"] == "hq/vav-1/zone-temp")

    for value in (12.5, float("nan"), 13.25):
        ts = live.runtime.clock.now() + 3600  # newer than anything the poll delivers meanwhile
        live.runtime.cache.update([Sample("hq/vav-1/zone-temp", ts, value, "stale")])
        first, again = await zone(), await zone()
        expected = None if value != value else value
        assert first == again and first["value"] == expected and first["ts"] == ts
        assert first["status"] == "stale"


async def test_writable_false_alone_filters(live: Live):
    r = await live.get("viewer", "/api/v1/sites/hq/points", params={"writable": "false"})
    items = r.json()["items"]
    assert items and not any(p["writable"] for p in items)
    r = await live.get("viewer", "/api/v1/points", params={"writable": "false"})
    assert r.json()["items"] and not any(p["writable"] for p in r.json()["items"])


async def test_points_filter_by_equipment_tags_kind_writable_and_text(live: Live):
    base = "/api/v1/sites/hq/points"
    assert ids(await live.get("viewer", base, params={"equipment": "vav-1"})) == [
        "hq/vav-1/zone-sp",
        "hq/vav-1/zone-temp",
    ]
    assert ids(await live.get("viewer", base, params={"tag": "temp"})) == [
        "hq/ahu-1/sat",
        "hq/ahu-1/sat-sp",
        "hq/vav-1/zone-temp",
    ]
    # Repeated tags: every one must match.
    assert ids(await live.get("viewer", base, params=[("tag", "temp"), ("tag", "sensor")])) == [
        "hq/ahu-1/sat",
        "hq/vav-1/zone-temp",
    ]
    assert ids(await live.get("viewer", base, params=[("tag", "temp"), ("tag", "nothing")])) == []
    assert ids(await live.get("viewer", base, params={"kind": "bool"})) == ["hq/ahu-1/fan-cmd"]
    assert ids(await live.get("viewer", base, params={"writable": "true"})) == [
        "hq/ahu-1/fan-cmd",
        "hq/ahu-1/sat-sp",
        "hq/vav-1/zone-sp",
    ]
    assert ids(await live.get("viewer", base, params={"writable": "false", "tag": "air"})) == [
        "hq/ahu-1/sat",
        "hq/vav-1/zone-temp",
    ]
    assert ids(await live.get("viewer", base, params={"q": "ZONE"})) == [
        "hq/vav-1/zone-sp",
        "hq/vav-1/zone-temp",
    ]
    assert ids(await live.get("viewer", base, params={"q": "sat-"})) == ["hq/ahu-1/sat-sp"]
    # The Brick class too (the editor's point search finds points by it), in any case.
    assert ids(await live.get("viewer", base, params={"q": "zone_air_temperature"})) == ["hq/vav-1/zone-temp"]


async def test_points_paginate_with_a_cursor(live: Live):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await live.get("operator", "/api/v1/sites/hq/points", params=params)
        seen += ids(r)
        pages += 1
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == HQ_POINTS and pages == 3
    assert_problem(await live.get("operator", "/api/v1/sites/hq/points", params={"cursor": "%%%"}), 400)
    assert_problem(await live.get("operator", "/api/v1/sites/hq/points", params={"limit": 0}), 422)


async def test_search_across_sites_never_shows_a_site_not_granted(live: Live):
    everything = ids(await live.get("admin", "/api/v1/points", params={"tag": "temp"}))
    assert "lab/fc-1/temp" not in everything  # lab's temp has no tags
    all_ids = ids(await live.get("admin", "/api/v1/points"))
    assert all_ids == [*HQ_POINTS, "lab/fc-1/sp", "lab/fc-1/temp"]
    viewer = ids(await live.get("viewer", "/api/v1/points"))
    assert viewer == HQ_POINTS
    assert ids(await live.get("viewer", "/api/v1/points", params={"q": "fc-1"})) == []
    assert ids(await live.get("viewer", "/api/v1/points", params={"q": "temp"})) == ["hq/vav-1/zone-temp"]
    assert ids(await live.get("admin", "/api/v1/points", params={"q": "temp"})) == [
        "hq/vav-1/zone-temp",
        "lab/fc-1/temp",
    ]
    assert ids(await live.get("labviewer", "/api/v1/points")) == ["lab/fc-1/sp", "lab/fc-1/temp"]
    assert ids(await live.get("admin", "/api/v1/points", params={"site": "lab", "writable": "true"})) == [
        "lab/fc-1/sp"
    ]
    # Naming the hidden site answers like a site that does not exist.
    hidden = assert_problem(await live.get("viewer", "/api/v1/points", params={"site": "lab"}), 404)
    missing = assert_problem(await live.get("viewer", "/api/v1/points", params={"site": "annex"}), 404)
    assert hidden["detail"] == "no site 'lab'" and missing["detail"] == "no site 'annex'"
    assert {**hidden, "detail": ""} == {**missing, "detail": ""}


async def test_a_viewer_of_hq_gets_404_for_lab_points_like_for_unknown_ones(live: Live):
    for path in ("/api/v1/sites/{}/points", "/api/v1/sites/{}/points/fc-1/temp"):
        hidden = assert_problem(await live.get("viewer", path.format("lab")), 404)
        missing = assert_problem(await live.get("viewer", path.format("annex")), 404)
        assert hidden == {**missing, "detail": "no site 'lab'", "instance": path.format("lab")}
    assert_problem(await live.get("labviewer", "/api/v1/sites/hq/points"), 404)
    assert (await live.get("labviewer", "/api/v1/sites/lab/points/fc-1/temp")).status_code == 200
    assert_problem(await live.get("anonymous", "/api/v1/sites/hq/points"), 401)


async def test_a_point_shows_its_configuration_value_and_priority_array(live: Live):
    await eventually(lambda: live.runtime.cache.get("hq/ahu-1/sat-sp"))
    r = await live.get("viewer", "/api/v1/sites/hq/points/ahu-1/sat-sp")
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["id"] == "hq/ahu-1/sat-sp" and p["writable"] is True
    assert p["limits"]["min"] == 10 and p["limits"]["max"] == 18 and p["relinquish_default"] == 13
    assert p["binding"].startswith("sim://ahu-1/sat-sp") and p["command"]["priority"] == 16
    assert p["value"] == 13 and p["status"] == "ok"
    assert len(p["priority_array"]) == 16 and p["effective"] == 13
    sensor = (await live.get("viewer", "/api/v1/sites/hq/points/ahu-1/sat")).json()
    assert sensor["priority_array"] is None and sensor["limits"] is None
    body = assert_problem(await live.get("viewer", "/api/v1/sites/hq/points/ahu-1/nope"), 404)
    assert body["detail"] == "no point 'hq/ahu-1/nope'"


NEW_POINT = {
    "equipment": "ahu-1",
    "name": "mat",
    "unit": "degC",
    "description": "mixed air temperature",
    "tags": ["mixed", "air", "temp", "sensor"],
    "binding": "sim://ahu-1/mat?wave=constant&value=17.5",
}


async def test_a_created_point_is_in_the_yaml_file_and_gets_polled(live: Live):
    r = await live.post("fm", "/api/v1/sites/hq/points", json=NEW_POINT)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/v1/sites/hq/points/ahu-1/mat"
    assert r.json()["id"] == "hq/ahu-1/mat" and r.json()["description"] == "mixed air temperature"
    on_disk = load_site(live.folder / "hq.yaml")
    equip = next(e for e in on_disk.equipment if e.id == "ahu-1")
    assert [p.name for p in equip.points][-1] == "mat"
    assert "hq/ahu-1/mat" in ids(await live.get("viewer", "/api/v1/sites/hq/points", params={"tag": "mixed"}))
    # The unfiltered list (served from an index of the site's points) has it too.
    assert "hq/ahu-1/mat" in ids(await live.get("viewer", "/api/v1/sites/hq/points", params={"limit": 1000}))
    sample = await eventually(lambda: live.runtime.cache.get("hq/ahu-1/mat"))
    assert sample is not None and sample.value == 17.5
    got = (await live.get("viewer", "/api/v1/sites/hq/points/ahu-1/mat")).json()
    assert got["value"] == 17.5 and got["status"] == "ok"
    # The other sites and points keep working: lab's file is untouched.
    assert "mat" not in (live.folder / "lab.yaml").read_text()
    # A second point of the same name is a conflict.
    assert_problem(await live.post("fm", "/api/v1/sites/hq/points", json=NEW_POINT), 409)


async def test_patching_limits_persists_and_delete_removes_the_point(live: Live):
    path = "/api/v1/sites/hq/points/vav-1/zone-sp"
    r = await live.patch("fm", path, json={"limits": {"min": 18, "max": 26}, "description": "zone setpoint"})
    assert r.status_code == 200, r.text
    assert r.json()["limits"]["min"] == 18 and r.json()["limits"]["max"] == 26
    on_disk = {pid: p for pid, _e, p in load_site(live.folder / "hq.yaml").points()}
    zone_sp = on_disk["hq/vav-1/zone-sp"]
    assert zone_sp.limits is not None and (zone_sp.limits.min, zone_sp.limits.max) == (18, 26)
    assert zone_sp.description == "zone setpoint" and zone_sp.relinquish_default == 22  # the rest stays
    assert (await live.get("viewer", path)).json()["limits"]["max"] == 26

    r = await live.delete("admin", "/api/v1/sites/hq/points/ahu-1/sat")
    assert r.status_code == 204, r.text
    assert "hq/ahu-1/sat" not in {pid for pid, _e, _p in load_site(live.folder / "hq.yaml").points()}
    assert_problem(await live.get("viewer", "/api/v1/sites/hq/points/ahu-1/sat"), 404)
    assert "hq/ahu-1/sat" not in ids(await live.get("viewer", "/api/v1/sites/hq/points"))
    assert_problem(await live.delete("admin", "/api/v1/sites/hq/points/ahu-1/sat"), 404)


async def test_invalid_points_are_422_problems_with_field_errors(live: Live):
    base = "/api/v1/sites/hq/points"
    before = (live.folder / "hq.yaml").read_text()
    body = assert_problem(await live.post("fm", base, json={**NEW_POINT, "name": "Bad Name"}), 422)
    assert body["errors"][0]["loc"] == ["body", "name"]
    body = assert_problem(await live.post("fm", base, json={**NEW_POINT, "kind": "enum"}), 422)
    assert "states" in body["errors"][0]["msg"]
    body = assert_problem(await live.post("fm", base, json={**NEW_POINT, "colour": "red"}), 422)
    assert body["errors"][0]["loc"] == ["body", "colour"]
    body = assert_problem(await live.post("fm", base, json={**NEW_POINT, "equipment": "chiller-9"}), 422)
    assert body["errors"][0]["loc"] == ["body", "equipment"]
    # What only the whole site can tell (here: a driver nobody knows) comes from the configuration check.
    body = assert_problem(await live.post("fm", base, json={**NEW_POINT, "binding": "nodriver://x/y"}), 422)
    assert body["errors"] and all(e["loc"] == ["body"] for e in body["errors"])
    assert "hq.yaml" not in str(body) and str(live.folder) not in str(body)
    body = assert_problem(
        await live.patch("fm", f"{base}/ahu-1/sat-sp", json={"limits": {"min": 20, "max": 10}}), 422
    )
    assert body["errors"][0]["loc"][:2] == ["body", "limits"]
    body = assert_problem(await live.patch("fm", f"{base}/ahu-1/sat", json={"limits": {"max": 3}}), 422)
    assert "writable" in body["errors"][0]["msg"]
    assert_problem(await live.patch("fm", f"{base}/ahu-1/sat", json={"name": "renamed"}), 422)
    assert (live.folder / "hq.yaml").read_text() == before


async def test_only_facility_managers_and_admins_change_points_of_their_sites(live: Live):
    base = "/api/v1/sites/hq/points"
    for user in ("viewer", "operator"):
        assert_problem(await live.post(user, base, json=NEW_POINT), 403)
        assert_problem(await live.patch(user, f"{base}/ahu-1/sat", json={"description": "x"}), 403)
        assert_problem(await live.delete(user, f"{base}/ahu-1/sat"), 403)
    # A viewer of lab only does not learn hq exists; a facility manager of hq cannot touch lab.
    assert_problem(await live.post("labviewer", base, json=NEW_POINT), 404)
    assert_problem(await live.delete("fm", "/api/v1/sites/lab/points/fc-1/sp"), 404)
    assert (await live.get("admin", "/api/v1/sites/lab/points/fc-1/sp")).status_code == 200


async def test_a_point_still_used_by_a_schedule_or_an_alarm_is_not_deleted(live: Live):
    body = assert_problem(await live.delete("fm", "/api/v1/sites/hq/points/ahu-1/fan-cmd"), 409)
    assert "ahu-occupancy" in body["detail"] and body["errors"]
    body = assert_problem(await live.delete("fm", "/api/v1/sites/hq/points/vav-1/zone-temp"), 409)
    assert "zone-hot" in body["detail"]
    assert "fan-cmd" in (live.folder / "hq.yaml").read_text()
    # Nor does a point poll its device flat out because of a typo.
    body = assert_problem(
        await live.post("fm", "/api/v1/sites/hq/points", json={**NEW_POINT, "poll": 1e-9}), 422
    )
    assert body["errors"][0]["loc"] == ["body", "poll"]
