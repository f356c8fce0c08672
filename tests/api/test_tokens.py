"""API tokens: shown once, stored hashed, act as their user (narrowed), refused once revoked or expired."""

from __future__ import annotations

import sqlalchemy as sa

from openbms.db.accounts import token_hash
from openbms.db.schema import api_tokens
from tests.api.conftest import Api


async def test_a_token_is_shown_once_stored_hashed_and_acts_as_its_user(api: Api):
    session = await api.bearer("admin@example.com")
    r = await api.client.post("/api/v1/tokens", headers=session, json={"name": "backup script"})
    assert r.status_code == 201
    created = r.json()
    secret = created["token"]
    assert secret.startswith("obms_") and created["prefix"] == secret[:12]
    with api.engine.connect() as conn:
        [row] = conn.execute(sa.select(api_tokens)).mappings().all()
    assert row["token_hash"] == token_hash(secret) and secret not in {str(v) for v in row.values()}
    listed = (await api.client.get("/api/v1/tokens", headers=session)).json()["items"]
    assert [t["id"] for t in listed] == [created["id"]] and "token" not in listed[0]
    me = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert (
        me.status_code == 200
        and me.json()["via"] == "api_token"
        and me.json()["email"] == "admin@example.com"
    )
    assert [e["target"] for e in api.audit("token.create")] == [created["id"]]


async def test_a_revoked_token_is_refused(api: Api):
    session = await api.bearer("admin@example.com")
    created = (await api.client.post("/api/v1/tokens", headers=session, json={"name": "ci"})).json()
    machine = {"Authorization": f"Bearer {created['token']}"}
    assert (await api.client.get("/api/v1/users", headers=machine)).status_code == 200
    assert (await api.client.delete(f"/api/v1/tokens/{created['id']}", headers=session)).status_code == 204
    assert (await api.client.get("/api/v1/users", headers=machine)).status_code == 401
    assert (await api.client.delete("/api/v1/tokens/no-such-token", headers=session)).status_code == 404
    assert len(api.audit("token.revoke")) == 1


async def test_a_token_role_narrows_the_user_and_a_token_cannot_mint_tokens(api: Api):
    session = await api.bearer("admin@example.com")
    created = (
        await api.client.post("/api/v1/tokens", headers=session, json={"name": "dashboard", "role": "viewer"})
    ).json()
    machine = {"Authorization": f"Bearer {created['token']}"}
    me = (await api.client.get("/api/v1/auth/me", headers=machine)).json()
    assert me["token_role"] == "viewer" and "commands:write" not in me["permissions"]["*"]
    assert (await api.client.get("/api/v1/users", headers=machine)).status_code == 403
    assert (await api.client.post("/api/v1/tokens", headers=machine, json={"name": "x"})).status_code == 403
    r = await api.client.post(
        "/api/v1/auth/password",
        headers=machine,
        json={"current_password": "whatever12", "new_password": "whatever123"},
    )
    assert r.status_code == 403


async def test_a_token_expires(api: Api):
    session = await api.bearer("admin@example.com")
    created = (
        await api.client.post("/api/v1/tokens", headers=session, json={"name": "temp", "expires_in_days": 1})
    ).json()
    machine = {"Authorization": f"Bearer {created['token']}"}
    assert (await api.client.get("/api/v1/auth/me", headers=machine)).status_code == 200
    api.clock.advance(86400)
    assert (await api.client.get("/api/v1/auth/me", headers=machine)).status_code == 401


async def test_a_disabled_user_s_tokens_stop_working(api: Api):
    uid = api.add_user("bot@example.com", {"hq": "operator"})
    bot = await api.bearer("bot@example.com")
    created = (await api.client.post("/api/v1/tokens", headers=bot, json={"name": "bot"})).json()
    admin = await api.bearer("admin@example.com")
    assert (await api.client.delete(f"/api/v1/users/{uid}", headers=admin)).status_code == 204
    for headers in (bot, {"Authorization": f"Bearer {created['token']}"}):
        assert (await api.client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    # An admin on every site may revoke anyone's token.
    assert (await api.client.delete(f"/api/v1/tokens/{created['id']}", headers=admin)).status_code == 204


async def test_token_list_pages_newest_first(api: Api):
    session = await api.bearer("admin@example.com")
    ids = []
    for i in range(3):
        ids.append(
            (await api.client.post("/api/v1/tokens", headers=session, json={"name": f"t{i}"})).json()["id"]
        )
        api.clock.advance(1)
    first = (await api.client.get("/api/v1/tokens?limit=2", headers=session)).json()
    second = (
        await api.client.get(f"/api/v1/tokens?limit=2&cursor={first['next_cursor']}", headers=session)
    ).json()
    assert [t["id"] for t in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
