"""The security flows on PostgreSQL: the same tables and transactions must hold there."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import PASSWORD, MakeApi

pytestmark = pytest.mark.service


@pytest.fixture
def state_url(postgres_url: str) -> str:
    return postgres_url


async def test_login_lockout_refresh_reuse_tokens_and_audit_on_postgresql(make_api: MakeApi):
    api = await make_api()
    email = f"pg-{uuid.uuid4().hex[:8]}@example.com"
    uid = api.add_user(email, {"*": "admin"})
    pair = await api.login(email)
    rotated = (
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).json()
    assert (
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).status_code == 401
    assert (
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    ).status_code == 401
    session = await api.bearer(email)
    token = (await api.client.post("/api/v1/tokens", headers=session, json={"name": "pg"})).json()
    machine = {"Authorization": f"Bearer {token['token']}"}
    assert (await api.client.get("/api/v1/users", headers=machine)).status_code == 200
    assert (await api.client.delete(f"/api/v1/tokens/{token['id']}", headers=session)).status_code == 204
    assert (await api.client.get("/api/v1/users", headers=machine)).status_code == 401
    for _ in range(5):
        await api.client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password"})
    r = await api.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 401
    audit = (await api.client.get("/api/v1/audit", headers=session, params={"actor": email})).json()["items"]
    actions = {e["action"] for e in audit}
    assert {
        "auth.login",
        "auth.refresh_reuse",
        "token.create",
        "token.revoke",
        "auth.login_failed",
    } <= actions
    users = (await api.client.get(f"/api/v1/users/{uid}", headers=session)).json()
    assert users["locked"] is True
