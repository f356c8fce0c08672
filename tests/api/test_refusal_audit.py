"""Refusals for lack of permission are audited (who, what, which site, why), folded so a flood stays small."""

from __future__ import annotations

from typing import Any

from openbms.api.auth.refusals import ACTION
from tests.api.conftest import Api

COMMAND = "/api/v1/sites/hq/points/ahu-1/sat-sp/commands"


async def _audit_rows(api: Api, admin: dict[str, str]) -> list[dict[str, Any]]:
    """The access.denied rows as the audit API shows them (newest first)."""
    r = await api.client.get("/api/v1/audit", params={"action": ACTION, "limit": 1000}, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_viewers_command_a_cross_site_read_and_a_self_grant_are_audited(api: Api):
    viewer_id = api.add_user("viewer@example.com", {"hq": "viewer"})
    api.add_user("lab@example.com", {"lab": "operator"})
    viewer = await api.bearer("viewer@example.com")
    lab = await api.bearer("lab@example.com")
    admin = await api.bearer("admin@example.com")

    r = await api.client.post(COMMAND, headers=viewer, json={"value": 20, "priority": 8})
    assert r.status_code == 403
    r = await api.client.get("/api/v1/sites/hq/points", headers=lab)
    assert r.status_code == 404
    r = await api.client.put(f"/api/v1/users/{viewer_id}/grants/*", headers=viewer, json={"role": "admin"})
    assert r.status_code == 403

    rows = {(e["actor"], e["details"]["route"]): e for e in await _audit_rows(api, admin)}
    command = rows[("viewer@example.com", "/api/v1/sites/{site_id}/points/{equip_id}/{name}/commands")]
    assert command["target"] == "hq" and command["remote_addr"] == "127.0.0.1"
    assert {k: command["details"][k] for k in ("method", "site", "permission", "reason", "status", "count")} \
        == {"method": "POST", "site": "hq", "permission": "commands:write",
            "reason": "lacks the permission on the site", "status": 403, "count": 1}
    cross = rows[("lab@example.com", "/api/v1/sites/{site_id}/points")]
    assert (cross["details"]["site"], cross["details"]["reason"], cross["details"]["status"]) \
        == ("hq", "no role on the site", 404)
    grant = rows[("viewer@example.com", "/api/v1/users/{user_id}/grants/{site_id}")]
    assert (grant["details"]["permission"], grant["details"]["reason"], grant["details"]["path"]) \
        == ("users:admin", "lacks the permission", f"/api/v1/users/{viewer_id}/grants/*")
    assert len(rows) == 3


async def test_a_token_where_a_login_is_needed_is_audited(api: Api):
    admin = await api.bearer("admin@example.com")
    token = (await api.client.post("/api/v1/tokens", headers=admin, json={"name": "ci"})).json()["token"]
    machine = {"Authorization": f"Bearer {token}"}
    assert (await api.client.post("/api/v1/tokens", headers=machine, json={"name": "x"})).status_code == 403
    [row] = await _audit_rows(api, admin)
    assert (row["details"]["reason"], row["details"]["via"]) == ("needs a login session", "api_token")


async def test_a_flood_of_refusals_is_one_row_per_minute_with_its_count(api: Api):
    api.add_user("lab@example.com", {"lab": "viewer"})
    lab = await api.bearer("lab@example.com")
    admin = await api.bearer("admin@example.com")
    for _ in range(150):
        assert (await api.client.get("/api/v1/sites/hq/points", headers=lab)).status_code == 404
    [row] = await _audit_rows(api, admin)
    assert row["details"]["count"] == 150

    api.clock.advance(60)  # the next minute starts a new row
    for _ in range(3):
        await api.client.get("/api/v1/sites/hq/points", headers=lab)
    rows = await _audit_rows(api, admin)
    assert [e["details"]["count"] for e in rows] == [3, 150]


async def test_refusals_varying_the_site_stay_bounded_per_user(api: Api):
    api.add_user("lab@example.com", {"lab": "viewer"})
    lab = await api.bearer("lab@example.com")
    admin = await api.bearer("admin@example.com")
    for i in range(200):
        r = await api.client.get(f"/api/v1/sites/made-up-{i}/points", headers=lab)
        assert r.status_code == 404
    rows = await _audit_rows(api, admin)
    assert len(rows) == 21  # 20 kinds a minute, then one row for the rest
    assert sum(e["details"]["count"] for e in rows) == 200
    [other] = [e for e in rows if e["details"]["route"] == "(other refusals)"]
    assert other["details"]["count"] == 180 and other["actor"] == "lab@example.com"


async def test_a_granted_request_and_an_unknown_site_for_an_all_sites_admin_are_not_refusals(api: Api):
    admin = await api.bearer("admin@example.com")
    assert (await api.client.get("/api/v1/users", headers=admin)).status_code == 200
    assert (await api.client.get("/api/v1/sites/nowhere/points", headers=admin)).status_code == 404
    assert await _audit_rows(api, admin) == []


async def test_counts_are_written_every_ten_seconds_and_at_shutdown(engine):
    import httpx

    from openbms.api import ApiSettings, create_app
    from openbms.api.auth.passwords import Passwords
    from openbms.db.accounts import create_user
    from tests.api.conftest import PASSWORD, FakeClock, add_sites, serve

    clock = FakeClock(1_000_020.0)  # 20 s into a minute
    app = create_app(engine=engine, settings=ApiSettings(now=clock))
    create_user(engine, "lab@example.com", Passwords().hash(PASSWORD), grants={"lab": "viewer"})
    add_sites(engine, "hq", "lab")
    served = await serve(app)
    api = Api(app, httpx.AsyncClient(base_url=served.url, timeout=30), served.url, engine, clock)
    try:
        lab = await api.bearer("lab@example.com")
        for _ in range(4):
            await api.client.get("/api/v1/sites/hq/points", headers=lab)
        assert [e["details"]["count"] for e in api.audit(ACTION)] == [1]  # not yet written
        clock.advance(10)
        await api.client.get("/api/v1/sites/hq/points", headers=lab)
        assert [e["details"]["count"] for e in api.audit(ACTION)] == [5]
        await api.client.get("/api/v1/sites/hq/points", headers=lab)
    finally:
        await api.client.aclose()
        await served.stop()
    assert [e["details"]["count"] for e in api.audit(ACTION)] == [6]
