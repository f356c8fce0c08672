"""Login, lockout, access-token checks, refresh rotation and reuse, logout, password change."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from openbms.api.app import SECRET_STATE_KEY
from openbms.db import load_state
from tests.api.conftest import PASSWORD, Api, FakeClock, MakeApi

PROBLEM = "application/problem+json"


async def test_login_answers_a_bearer_token_pair_and_me_tells_who_and_what(api: Api):
    r = await api.client.post("/api/v1/auth/login", json={"email": "Admin@Example.com", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    me = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "admin@example.com" and me.json()["grants"] == {"*": "admin"}
    assert "users:admin" in me.json()["permissions"]["*"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["typ"] == "access" and claims["exp"] - claims["iat"] == 900 and claims["jti"]
    [entry] = api.audit("auth.login")
    assert entry["actor"] == "admin@example.com" and entry["remote_addr"] == "127.0.0.1"


async def test_wrong_password_and_unknown_account_get_the_same_401(api: Api):
    wrong = await api.client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "x" * 12}
    )
    nobody = await api.client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x" * 12}
    )
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()
    assert wrong.headers["content-type"] == PROBLEM and wrong.headers["www-authenticate"] == "Bearer"
    failed = api.audit("auth.login_failed")
    assert [f["details"]["reason"] for f in failed] == ["wrong password", "unknown account"]
    assert all(f["remote_addr"] == "127.0.0.1" for f in failed)


async def test_five_failures_lock_the_account_for_15_minutes_with_the_same_answer(api: Api):
    bad = {"email": "admin@example.com", "password": "not the password"}
    answers = [await api.client.post("/api/v1/auth/login", json=bad) for _ in range(5)]
    assert [a.status_code for a in answers] == [401] * 5
    locked = await api.client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
    )
    assert locked.status_code == 401 and locked.json() == answers[0].json()
    assert api.audit("auth.login_failed")[-1]["details"]["reason"] == "account locked"
    api.clock.advance(14 * 60)
    assert (
        await api.client.post("/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD})
    ).status_code == 401
    api.clock.advance(61)
    await api.login("admin@example.com")


async def test_failures_spread_over_more_than_15_minutes_do_not_lock(api: Api):
    bad = {"email": "admin@example.com", "password": "not the password"}
    for _ in range(4):
        await api.client.post("/api/v1/auth/login", json=bad)
    api.clock.advance(15 * 60 + 1)
    await api.client.post("/api/v1/auth/login", json=bad)
    await api.login("admin@example.com")


async def test_access_token_expires_after_15_minutes(api: Api):
    headers = await api.bearer("admin@example.com")
    api.clock.advance(14 * 60 + 59)
    assert (await api.client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    api.clock.advance(1)
    r = await api.client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_tampered_foreign_and_alg_none_tokens_are_refused(api: Api):
    token = (await api.login("admin@example.com"))["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    secret = load_state(api.engine, SECRET_STATE_KEY)
    forged = {
        "tampered payload": f"{header}.{_b64({**claims, 'sub': 'someone-else'})}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg none, signature kept": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}",
        "other algorithm": jwt.encode(claims, secret, algorithm="HS512"),
        "other key": jwt.encode(claims, "k" * 64, algorithm="HS256"),
        "refresh typ": jwt.encode({**claims, "typ": "refresh"}, secret, algorithm="HS256"),
        "no exp": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, secret, algorithm="HS256"),
        "garbage": "not-a-token",
    }
    for name, bad in forged.items():
        r = await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, name
    assert (
        await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    assert (await api.client.get("/api/v1/auth/me")).status_code == 401


async def test_refresh_rotates_and_a_reused_token_revokes_the_whole_family(api: Api):
    first = await api.login("admin@example.com")
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (
        await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    ).status_code == 200
    # The first refresh token is replayed (stolen?): refused, and the family is ended.
    reuse = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    again = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401
    me = await api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert me.status_code == 401
    [entry] = api.audit("auth.refresh_reuse")
    assert entry["actor"] == "admin@example.com" and entry["remote_addr"] == "127.0.0.1"
    # Another login (another family) is untouched.
    await api.login("admin@example.com")


async def test_refresh_token_expires_after_7_days(api: Api):
    pair = await api.login("admin@example.com")
    api.clock.advance(7 * 86400)
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401


async def test_logout_ends_the_session_access_and_refresh(api: Api):
    pair = await api.login("admin@example.com")
    other = await api.login("admin@example.com")
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await api.client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await api.client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert (await api.client.get("/api/v1/auth/me", headers=other_headers)).status_code == 200
    assert (
        await api.client.post("/api/v1/auth/logout", headers=other_headers, json={"everywhere": True})
    ).status_code == 204
    assert (await api.client.get("/api/v1/auth/me", headers=other_headers)).status_code == 401
    assert len(api.audit("auth.logout")) == 2


async def test_password_change_needs_the_current_one_and_ends_other_sessions(api: Api):
    mine = await api.bearer("admin@example.com")
    elsewhere = await api.bearer("admin@example.com")
    wrong = await api.client.post(
        "/api/v1/auth/password",
        headers=mine,
        json={"current_password": "nope nope nope", "new_password": "a new password"},
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["loc"] == ["body", "current_password"]
    short = await api.client.post(
        "/api/v1/auth/password", headers=mine, json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert short.status_code == 422 and short.json()["errors"][0]["loc"] == ["body", "new_password"]
    ok = await api.client.post(
        "/api/v1/auth/password",
        headers=mine,
        json={"current_password": PASSWORD, "new_password": "a new password"},
    )
    assert ok.status_code == 204
    assert (await api.client.get("/api/v1/auth/me", headers=mine)).status_code == 200
    assert (await api.client.get("/api/v1/auth/me", headers=elsewhere)).status_code == 401
    bad = await api.client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
    )
    assert bad.status_code == 401
    await api.login("admin@example.com", "a new password")
    assert len(api.audit("auth.password_change")) == 1


async def test_login_is_rate_limited_per_address_with_retry_after(make_api: MakeApi):
    from openbms.api.settings import Rate

    api = await make_api(login_rate_ip=Rate(burst=3, per_minute=6))
    body = {"email": "nobody@example.com", "password": "whatever12"}
    codes = [(await api.client.post("/api/v1/auth/login", json=body)).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    r = await api.client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 429 and r.headers["content-type"] == PROBLEM
    assert r.headers["retry-after"] == "10"
    api.clock.advance(10)
    assert (await api.client.post("/api/v1/auth/login", json=body)).status_code == 401


async def test_writes_are_rate_limited_per_user(make_api: MakeApi):
    from openbms.api.settings import Rate

    api = await make_api(write_rate_user=Rate(burst=2, per_minute=60))
    api.add_user("admin@example.com", {"*": "admin"})
    headers = await api.bearer("admin@example.com")
    codes = [
        (await api.client.post("/api/v1/tokens", headers=headers, json={"name": f"t{i}"})).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]
    assert (
        await api.client.get("/api/v1/tokens", headers=headers)
    ).status_code == 200  # reads are not limited


async def test_admin_from_environment_is_created_then_updated(make_api: MakeApi, monkeypatch):
    monkeypatch.setenv("OPENBMS_ADMIN_EMAIL", "ops@example.com")
    monkeypatch.setenv("OPENBMS_ADMIN_PASSWORD", "first password")
    api = await make_api()
    me = await api.client.get(
        "/api/v1/auth/me", headers=await api.bearer("ops@example.com", "first password")
    )
    assert me.json()["grants"] == {"*": "admin"}
    monkeypatch.setenv("OPENBMS_ADMIN_PASSWORD", "second password")
    again = await make_api()
    await again.login("ops@example.com", "second password")
    r = await again.client.post(
        "/api/v1/auth/login", json={"email": "ops@example.com", "password": "first password"}
    )
    assert r.status_code == 401


async def test_a_short_admin_password_from_the_environment_stops_the_start(engine, monkeypatch):
    from openbms.api import create_app
    from openbms.api.server import ApiServer
    from openbms.db.accounts import AccountError

    monkeypatch.setenv("OPENBMS_ADMIN_EMAIL", "ops@example.com")
    monkeypatch.setenv("OPENBMS_ADMIN_PASSWORD", "short")
    app = create_app(engine=engine)
    with pytest.raises(AccountError, match="at least 10 characters"):
        async with app.router.lifespan_context(app):
            pass
    server = ApiServer(app, "127.0.0.1", 0, log_level="critical")
    with pytest.raises(RuntimeError, match=r"did not start.*at least 10 characters"):
        await server.start()


async def test_the_generated_secret_is_kept_so_a_restart_keeps_sessions(make_api: MakeApi):
    clock = FakeClock()
    first = await make_api(clock=clock)
    first.add_user("admin@example.com", {"*": "admin"})
    headers = await first.bearer("admin@example.com")
    second = await make_api(clock=clock)
    assert (await second.client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert len(load_state(first.engine, SECRET_STATE_KEY)) >= 64


async def test_a_configured_secret_must_be_long_enough(make_api: MakeApi, engine):
    from openbms.api.app import resolve_secret
    from openbms.api.settings import ApiSettings

    with pytest.raises(ValueError, match="too short"):
        resolve_secret(engine, ApiSettings(secret_key="short"))
    api = await make_api(secret_key="s" * 40)
    api.add_user("admin@example.com", {"*": "admin"})
    token = (await api.login("admin@example.com"))["access_token"]
    jwt.decode(token, "s" * 40, algorithms=["HS256"], issuer="openbms", options={"verify_exp": False})
