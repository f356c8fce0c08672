"""Commands over HTTP: override, timed override, release, refusals, status and priority arrays."""

from __future__ import annotations

import asyncio

import pytest

from openbms.model.binding import parse_binding
from tests.api.live import live  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

ZONE_SP = "/api/v1/sites/hq/points/vav-1/zone-sp"
ZONE_SP_BINDING = parse_binding("sim://vav-1/zone-sp?wave=constant&value=22")


def _audit(live, action):  # noqa: F811
    import sqlalchemy as sa

    from openbms.db.schema import audit_log

    with live.runtime.state.connect() as conn:
        rows = conn.execute(sa.select(audit_log).where(audit_log.c.action == action)
                            .order_by(audit_log.c.id)).mappings()
        return [dict(r) for r in rows]


async def test_an_operator_overrides_for_ten_minutes_then_releases(live):  # noqa: F811
    r = await live.post("operator", f"{ZONE_SP}/commands",
                        json={"value": 25, "priority": 8, "duration_s": 600, "reason": "hot call"})
    assert r.status_code == 201, r.text
    cmd = r.json()
    assert cmd["point"] == "hq/vav-1/zone-sp" and cmd["value"] == 25 and cmd["priority"] == 8
    assert cmd["requested_by"] == "operator@example.com" and cmd["source"] == "operator"
    assert cmd["status"] == "completed" and cmd["reason"] == "hot call"
    assert cmd["expires_at"] == pytest.approx(cmd["created_at"] + 600)

    r = await live.get("viewer", f"{ZONE_SP}/priority-array")
    assert r.status_code == 200, r.text
    array = r.json()
    assert array["effective"] == 25 and array["active_priority"] == 8 and array["relinquish_default"] == 22
    assert len(array["slots"]) == 16
    slot = array["slots"][7]
    assert slot == {"priority": 8, "value": 25, "command_id": cmd["id"], "source": "operator",
                    "requested_by": "operator@example.com", "reason": "hot call",
                    "since": cmd["created_at"], "expires_at": cmd["expires_at"]}
    assert all(s["value"] is None and s["command_id"] is None for i, s in enumerate(array["slots"]) if i != 7)
    sim = live.runtime.drivers["sim"]
    assert sim.effective(ZONE_SP_BINDING) == 25
    await eventually(lambda: getattr(live.runtime.cache.get("hq/vav-1/zone-sp"), "value", None) == 25,
                     "the polled value to follow the override")

    r = await live.post("operator", f"{ZONE_SP}/release", json={"priority": 8, "reason": "cooled down"})
    assert r.status_code == 201, r.text
    assert r.json()["release"] is True and r.json()["status"] == "completed"
    array = (await live.get("operator", f"{ZONE_SP}/priority-array")).json()
    assert array["active_priority"] is None and array["effective"] == 22
    assert all(s["value"] is None for s in array["slots"])
    assert sim.effective(ZONE_SP_BINDING) == 22

    r = await live.get("viewer", f"/api/v1/sites/hq/commands/{cmd['id']}")
    assert r.status_code == 200 and r.json()["status"] == "superseded"  # the release took its slot
    writes = _audit(live, "command.write")
    assert writes[-1]["actor"] == "operator@example.com" and writes[-1]["target"] == "hq/vav-1/zone-sp"
    assert writes[-1]["details"]["command_id"] == cmd["id"] and writes[-1]["details"]["duration_s"] == 600
    assert writes[-1]["remote_addr"] == "127.0.0.1"
    assert _audit(live, "command.release")[-1]["details"]["reason"] == "cooled down"


async def test_a_timed_override_expires_by_itself(live):  # noqa: F811
    r = await live.post("fm", f"{ZONE_SP}/commands",
                        json={"value": 24.5, "duration_s": 0.3, "reason": "short test"})
    assert r.status_code == 201, r.text
    assert r.json()["priority"] == 8  # an operator's default

    async def expired() -> bool:
        got = await live.get("fm", f"/api/v1/sites/hq/commands/{r.json()['id']}")
        return got.json()["status"] == "expired"

    for _ in range(200):
        if await expired():
            break
        await asyncio.sleep(0.05)
    assert await expired()
    assert (await live.get("fm", f"{ZONE_SP}/priority-array")).json()["effective"] == 22


async def test_out_of_limits_is_refused_with_the_reason_and_nothing_is_written(live):  # noqa: F811
    r = await live.post("operator", f"{ZONE_SP}/commands", json={"value": 35, "reason": "too hot"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert "hq/vav-1/zone-sp" in r.json()["detail"] and "35" in r.json()["detail"]
    assert "max" in r.json()["detail"]
    # The refusal names its field, so a form shows it beside the value (without the point id).
    assert r.json()["errors"] == [{"loc": ["body", "value"], "type": "command_refused",
                                   "msg": "35 is above the point's maximum 28 degC"}]
    assert live.runtime.arbiter.priority_array("hq/vav-1/zone-sp") == [None] * 16
    assert live.runtime.drivers["sim"].effective(ZONE_SP_BINDING) == 22
    refused = _audit(live, "command.write")[-1]
    assert refused["details"]["refused"] == r.json()["detail"]
    failed = (await live.get("operator", "/api/v1/sites/hq/commands?status=failed")).json()["items"]
    assert failed[0]["value"] == 35 and failed[0]["error"] == r.json()["detail"]


async def test_wrong_kind_read_only_and_unknown_points(live):  # noqa: F811
    r = await live.post("operator", "/api/v1/sites/hq/points/ahu-1/fan-cmd/commands",
                        json={"value": 3.5, "reason": "x"})
    assert r.status_code == 422 and "fan-cmd" in r.json()["detail"]
    assert r.json()["errors"][0]["loc"] == ["body", "value"]
    r = await live.post("operator", "/api/v1/sites/hq/points/vav-1/zone-temp/commands",
                        json={"value": 21, "reason": "x"})
    assert r.status_code == 422 and "not writable" in r.json()["detail"]
    assert "errors" not in r.json()  # about the point, not one field
    r = await live.post("operator", "/api/v1/sites/hq/points/vav-9/zone-sp/commands",
                        json={"value": 21, "reason": "x"})
    assert r.status_code == 404
    r = await live.get("operator", "/api/v1/sites/hq/points/vav-1/zone-temp/priority-array")
    assert r.status_code == 404
    # Schema errors are field by field: no reason, a priority out of range, a null value.
    r = await live.post("operator", f"{ZONE_SP}/commands", json={"value": None, "priority": 17})
    assert r.status_code == 422
    locs = {tuple(e["loc"][:2]) for e in r.json()["errors"]}
    assert {("body", "reason"), ("body", "priority"), ("body", "value")} <= locs


async def test_viewers_cannot_command_and_other_sites_stay_hidden(live):  # noqa: F811
    body = {"value": 23, "reason": "x"}
    r = await live.post("viewer", f"{ZONE_SP}/commands", json=body)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = await live.post("viewer", f"{ZONE_SP}/release", json={"reason": "x"})
    assert r.status_code == 403
    hidden = await live.post("labviewer", f"{ZONE_SP}/commands", json=body)
    missing = await live.post("labviewer", "/api/v1/sites/annex/points/vav-1/zone-sp/commands", json=body)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == "no site 'hq'"
    assert (await live.get("labviewer", "/api/v1/sites/hq/commands")).status_code == 404
    assert (await live.get("labviewer", f"{ZONE_SP}/priority-array")).status_code == 404
    assert (await live.get("anonymous", "/api/v1/sites/hq/commands")).status_code == 401
    r = await live.post("operator", "/api/v1/sites/lab/points/fc-1/sp/commands", json=body)
    assert r.status_code == 404
    assert live.runtime.arbiter.priority_array("hq/vav-1/zone-sp") == [None] * 16


async def test_commands_list_filters_and_pages_newest_first(live):  # noqa: F811
    for v in (23, 24, 25):
        r = await live.post("operator", f"{ZONE_SP}/commands", json={"value": v, "reason": f"step {v}"})
        assert r.status_code == 201
    r = await live.post("admin", "/api/v1/sites/lab/points/fc-1/sp/commands",
                        json={"value": 20, "reason": "lab"})
    assert r.status_code == 201
    first = (await live.get("viewer", "/api/v1/sites/hq/commands?limit=2&point=hq/vav-1/zone-sp")).json()
    assert [c["value"] for c in first["items"]] == [25, 24]
    assert first["items"][1]["status"] == "superseded"
    second = (await live.get("viewer", "/api/v1/sites/hq/commands",
                             params={"limit": 2, "point": "hq/vav-1/zone-sp",
                                     "cursor": first["next_cursor"]})).json()
    assert [c["value"] for c in second["items"]] == [23] and second["next_cursor"] is None
    everything = (await live.get("admin", "/api/v1/sites/hq/commands")).json()["items"]
    assert all(c["point"].startswith("hq/") for c in everything)  # lab's command is not in hq's list
    done = (await live.get("viewer", "/api/v1/sites/hq/commands",
                           params={"status": "completed", "point": "hq/vav-1/zone-sp"})).json()["items"]
    assert [c["value"] for c in done] == [25]
    r = await live.get("viewer", "/api/v1/sites/hq/commands?point=lab/fc-1/sp")
    assert r.status_code == 422
    assert (await live.get("viewer", "/api/v1/sites/hq/commands?cursor=@@")).status_code == 400
    lab_cmd = (await live.get("admin", "/api/v1/sites/lab/commands")).json()["items"][0]
    assert (await live.get("admin", f"/api/v1/sites/hq/commands/{lab_cmd['id']}")).status_code == 404
    assert (await live.get("viewer", "/api/v1/sites/hq/commands/nope")).status_code == 404


async def test_an_api_token_commands_as_source_api(live):  # noqa: F811
    r = await live.post("operator", "/api/v1/tokens", json={"name": "script"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    client = live.clients["anonymous"]
    r = await client.post(f"{ZONE_SP}/commands", json={"value": 21, "reason": "script"},
                          headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "api" and r.json()["requested_by"] == "operator@example.com"
