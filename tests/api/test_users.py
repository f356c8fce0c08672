"""User administration and the audit log, as an admin would use them."""

from __future__ import annotations

from tests.api.conftest import Api


async def test_admin_creates_updates_grants_and_disables_a_user(api: Api):
    admin = await api.bearer("admin@example.com")
    r = await api.client.post(
        "/api/v1/users",
        headers=admin,
        json={
            "email": "Ann@Example.com",
            "password": "ann's long password",
            "name": "Ann",
            "grants": {"hq": "operator"},
        },
    )
    assert r.status_code == 201
    ann = r.json()
    assert ann["email"] == "ann@example.com" and ann["grants"] == {"hq": "operator"} and not ann["disabled"]
    assert "password" not in str(ann).lower()
    ann_h = await api.bearer("ann@example.com", "ann's long password")
    r = await api.client.put(f"/api/v1/users/{ann['id']}/grants/lab", headers=admin, json={"role": "viewer"})
    assert r.status_code == 200 and r.json() == {"user_id": ann["id"], "site_id": "lab", "role": "viewer"}
    got = (await api.client.get(f"/api/v1/users/{ann['id']}", headers=admin)).json()
    assert got["grants"] == {"hq": "operator", "lab": "viewer"}
    r = await api.client.patch(f"/api/v1/users/{ann['id']}", headers=admin, json={"name": "Ann B."})
    assert r.status_code == 200 and r.json()["name"] == "Ann B."
    assert (
        await api.client.delete(f"/api/v1/users/{ann['id']}/grants/lab", headers=admin)
    ).status_code == 204
    assert (
        await api.client.delete(f"/api/v1/users/{ann['id']}/grants/lab", headers=admin)
    ).status_code == 404
    r = await api.client.patch(f"/api/v1/users/{ann['id']}", headers=admin, json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"]
    assert (await api.client.get("/api/v1/auth/me", headers=ann_h)).status_code == 401
    login = await api.client.post(
        "/api/v1/auth/login", json={"email": "ann@example.com", "password": "ann's long password"}
    )
    assert login.status_code == 401
    actions = [e["action"] for e in api.audit() if e["action"].startswith("user.")]
    assert actions == ["user.create", "user.grant", "user.update", "user.revoke", "user.disable"]
    assert all(
        e["actor"] == "admin@example.com" and e["remote_addr"] == "127.0.0.1"
        for e in api.audit()
        if e["action"].startswith("user.")
    )
    assert "ann's long password" not in str(api.audit())


async def test_user_input_errors_are_field_level_problems(api: Api):
    admin = await api.bearer("admin@example.com")
    short = await api.client.post(
        "/api/v1/users", headers=admin, json={"email": "b@example.com", "password": "short"}
    )
    assert short.status_code == 422 and short.json()["errors"][0]["loc"] == ["body", "password"]
    role = await api.client.post(
        "/api/v1/users",
        headers=admin,
        json={"email": "b@example.com", "password": "long enough pw", "grants": {"hq": "superuser"}},
    )
    assert role.status_code == 422 and role.json()["errors"][0]["loc"][:3] == ["body", "grants", "hq"]
    dup = await api.client.post(
        "/api/v1/users", headers=admin, json={"email": "ADMIN@example.com", "password": "long enough pw"}
    )
    assert dup.status_code == 409
    assert (await api.client.get("/api/v1/users/nope", headers=admin)).status_code == 404


async def test_an_admin_cannot_lock_themselves_out(api: Api):
    admin = await api.bearer("admin@example.com")
    me = (await api.client.get("/api/v1/auth/me", headers=admin)).json()
    assert (await api.client.delete(f"/api/v1/users/{me['id']}", headers=admin)).status_code == 409
    assert (await api.client.delete(f"/api/v1/users/{me['id']}/grants/*", headers=admin)).status_code == 409
    r = await api.client.put(f"/api/v1/users/{me['id']}/grants/*", headers=admin, json={"role": "viewer"})
    assert r.status_code == 409


async def test_users_and_audit_are_cursor_paginated_and_filtered(api: Api):
    for i in range(3):
        api.add_user(f"user{i}@example.com", {"hq": "viewer"})
    admin = await api.bearer("admin@example.com")
    emails, cursor = [], None
    while True:
        page = (
            await api.client.get(
                "/api/v1/users", headers=admin, params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        emails += [u["email"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert emails == sorted(
        ["admin@example.com", "user0@example.com", "user1@example.com", "user2@example.com"]
    )
    await api.client.post(
        "/api/v1/auth/login", json={"email": "user0@example.com", "password": "wrong password"}
    )
    audit = (await api.client.get("/api/v1/audit", headers=admin, params={"action": "auth.*"})).json()
    assert [e["action"] for e in audit["items"]] == ["auth.login_failed", "auth.login"]
    failed = (
        await api.client.get(
            "/api/v1/audit",
            headers=admin,
            params={"action": "auth.login_failed", "actor": "user0@example.com"},
        )
    ).json()
    assert len(failed["items"]) == 1 and failed["items"][0]["remote_addr"] == "127.0.0.1"
    first = (await api.client.get("/api/v1/audit", headers=admin, params={"limit": 1})).json()
    second = (
        await api.client.get(
            "/api/v1/audit", headers=admin, params={"limit": 1, "cursor": first["next_cursor"]}
        )
    ).json()
    assert second["items"][0]["id"] < first["items"][0]["id"]
    bad = await api.client.get("/api/v1/audit", headers=admin, params={"cursor": "!!not-a-cursor"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    viewer = await api.bearer("user1@example.com")
    assert (await api.client.get("/api/v1/audit", headers=viewer)).status_code == 403
