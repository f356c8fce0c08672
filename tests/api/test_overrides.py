"""Overrides over HTTP: the site-wide list, and the override every point value carries (issue 14, item 2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.service.runtime import Runtime
from tests.api.live import PASSWORD, live, password_hash  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

HQ = "/api/v1/sites/hq"
ZONE_SP = f"{HQ}/points/vav-1/zone-sp"
SAT_SP = f"{HQ}/points/ahu-1/sat-sp"
FAN = f"{HQ}/points/ahu-1/fan-cmd"


async def _command(live, user, path, **body):  # noqa: F811
    r = await live.post(user, f"{path}/commands", json=body)
    assert r.status_code == 201, r.text
    return r.json()


QUIET = """\
site: {id: q, timezone: UTC}
drivers:
  sim: {poll_interval: 3600}
equipment:
  - id: ahu
    points:
      - {name: temp, unit: degC, binding: "sim://ahu/temp?wave=constant&value=20"}
      - {name: sp, unit: degC, writable: true, relinquish_default: 21, binding: "sim://ahu/sp?wave=constant&value=21"}
"""


@pytest.fixture
async def quiet(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A site polled once an hour (its values, and so its cached point pages, stay put), and an admin."""
    (tmp_path / "q.yaml").write_text(QUIET)
    runtime = Runtime(load_sites(tmp_path), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        create_user(runtime.state, "admin@example.com", password_hash(), grants={"*": "admin"})
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            r = await client.post("/api/v1/auth/login",
                                  json={"email": "admin@example.com", "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            yield client
    finally:
        await runtime.stop()


def _by_id(items):
    return {p["id"]: p for p in items}


async def test_the_list_names_each_slot_people_hold_with_who_why_until_and_the_winner(live):  # noqa: F811
    hot = await _command(live, "operator", ZONE_SP, value=25, priority=8, duration_s=600, reason="hot call")
    under = await _command(live, "fm", ZONE_SP, value=21, priority=12, reason="summer setting")
    # A machine through an API token is an override too (source api).
    r = await live.post("fm", "/api/v1/tokens", json={"name": "bms"})
    assert r.status_code == 201, r.text
    machine = live.clients["anonymous"].headers.copy()
    machine["Authorization"] = f"Bearer {r.json()['token']}"
    r = await live.clients["anonymous"].post(f"{SAT_SP}/commands", headers=machine,
                                             json={"value": 15, "priority": 9, "reason": "trim"})
    assert r.status_code == 201, r.text

    r = await live.get("viewer", f"{HQ}/overrides")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    assert [(o["point"], o["priority"], o["winning"]) for o in body["items"]] == [
        ("hq/ahu-1/sat-sp", 9, True), ("hq/vav-1/zone-sp", 8, True), ("hq/vav-1/zone-sp", 12, False)]
    first = body["items"][1]
    assert first == {
        "point": "hq/vav-1/zone-sp", "equipment": "vav-1", "name": "zone-sp",
        "display_name": "Zone setpoint", "kind": "number", "unit": "degC", "precision": 1,
        "states": None, "priority": 8, "value": 25, "source": "operator",
        "requested_by": "operator@example.com", "reason": "hot call", "since": hot["created_at"],
        "expires_at": hot["expires_at"], "winning": True, "command_id": hot["id"]}
    assert first["expires_at"] == pytest.approx(hot["created_at"] + 600)
    assert body["items"][2]["command_id"] == under["id"] and body["items"][2]["expires_at"] is None
    assert body["items"][0]["source"] == "api"

    r = await live.get("viewer", f"{HQ}/overrides", params={"equipment": "ahu-1"})
    assert [o["point"] for o in r.json()["items"]] == ["hq/ahu-1/sat-sp"]


async def test_a_schedule_slot_is_not_an_override(live):  # noqa: F811
    await eventually(lambda: live.runtime.commands.slots("hq/ahu-1/fan-cmd")[11] is not None,
                     "the schedule to write the fan")
    array = (await live.get("viewer", f"{FAN}/priority-array")).json()
    assert array["active_priority"] == 12 and array["slots"][11]["source"] == "schedule"
    assert (await live.get("viewer", f"{HQ}/overrides")).json()["items"] == []
    fan = _by_id((await live.get("viewer", f"{HQ}/points")).json()["items"])["hq/ahu-1/fan-cmd"]
    assert fan["override"] is None


async def test_the_list_pages_by_cursor(live):  # noqa: F811
    for priority in (8, 9, 10):
        await _command(live, "operator", ZONE_SP, value=10 + priority, priority=priority, reason="p")
    seen, cursor = [], None
    for _ in range(5):
        r = await live.get("viewer", f"{HQ}/overrides", params={"limit": 1, "cursor": cursor})
        assert r.status_code == 200, r.text
        seen += [o["priority"] for o in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [8, 9, 10]
    r = await live.get("viewer", f"{HQ}/overrides", params={"cursor": "not-a-cursor"})
    assert r.status_code == 400


async def test_a_point_page_shows_an_override_as_soon_as_it_is_made_and_not_after_its_release(quiet):
    # The unfiltered page is encoded once per change of the values and kept: on this site nothing
    # is polled during the test, so only a command can tell the page it is stale.
    client = quiet
    path = "/api/v1/sites/q/points/ahu/sp"
    points = _by_id((await client.get("/api/v1/sites/q/points")).json()["items"])
    assert points["q/ahu/sp"]["override"] is None

    r = await client.post(f"{path}/commands", json={"value": 20, "duration_s": 3600, "reason": "hold"})
    assert r.status_code == 201, r.text
    cmd = r.json()
    points = _by_id((await client.get("/api/v1/sites/q/points")).json()["items"])
    assert points["q/ahu/sp"]["override"] == {
        "priority": 8, "value": 20, "source": "operator", "requested_by": "admin@example.com",
        "reason": "hold", "since": cmd["created_at"], "expires_at": cmd["expires_at"],
        "command_id": cmd["id"]}
    assert points["q/ahu/temp"]["override"] is None  # read-only
    # Search across sites carries it too, and so does the point itself.
    found = _by_id((await client.get("/api/v1/points", params={"q": "sp"})).json()["items"])
    assert found["q/ahu/sp"]["override"]["priority"] == 8
    detail = (await client.get(path)).json()
    assert detail["override"]["requested_by"] == "admin@example.com" and detail["priority_array"][7] == 20

    r = await client.post(f"{path}/release", json={"reason": "done"})
    assert r.status_code == 201, r.text
    points = _by_id((await client.get("/api/v1/sites/q/points")).json()["items"])
    assert points["q/ahu/sp"]["override"] is None
    assert (await client.get(path)).json()["override"] is None
    assert (await client.get("/api/v1/sites/q/overrides")).json()["items"] == []


async def test_only_those_who_may_read_the_site_see_its_overrides(live):  # noqa: F811
    await _command(live, "operator", ZONE_SP, value=25, reason="hot call")
    r = await live.get("labviewer", f"{HQ}/overrides")
    assert r.status_code == 404
    assert "hot call" not in r.text and "zone-sp" not in r.text
    assert (await live.get("anonymous", f"{HQ}/overrides")).status_code == 401
    assert (await live.get("labviewer", "/api/v1/sites/lab/overrides")).json()["items"] == []
