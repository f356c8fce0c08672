"""What a password change, a reset and a disable do to failed logins, sessions and API tokens.

The decision (docs/api.md, "Accounts and tokens"): a new password, by the user
or an admin, forgets the failed logins and ends the other sessions; API tokens
are kept unless ``revoke_tokens`` is asked; a disable ends the sessions and
refuses the tokens while it lasts, and ``revoke_tokens`` ends them for good.
"""

from __future__ import annotations

from typer.testing import CliRunner

from openbms.api.auth.passwords import Passwords
from openbms.cli.main import app as cli
from openbms.db import migrate, open_state
from openbms.db.accounts import create_api_token, create_user, user_row
from tests.api.conftest import PASSWORD, Api

NEW = "a brand new password"


async def _fail_logins(api: Api, email: str, n: int) -> None:
    for _ in range(n):
        r = await api.client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password!"})
        assert r.status_code == 401


async def _token(api: Api, email: str, password: str = PASSWORD) -> dict[str, str]:
    session = await api.bearer(email, password)
    r = await api.client.post("/api/v1/tokens", headers=session, json={"name": "script"})
    assert r.status_code == 201
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def _works(api: Api, headers: dict[str, str]) -> bool:
    r = await api.client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


async def test_an_admin_reset_forgets_the_failed_logins(api: Api):
    api.add_user("ops@example.com", {"hq": "operator"})
    await _fail_logins(api, "ops@example.com", 4)  # one short of the lockout (5)
    admin = await api.bearer("admin@example.com")
    uid = (await api.client.get("/api/v1/users", headers=admin)).json()["items"][1]["id"]
    r = await api.client.patch(f"/api/v1/users/{uid}", headers=admin, json={"password": NEW})
    assert r.status_code == 200
    await _fail_logins(api, "ops@example.com", 2)  # counted from zero: not locked
    assert (await api.login("ops@example.com", NEW))["access_token"]


async def test_a_cli_reset_forgets_the_failed_logins_too(api: Api, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    try:
        create_user(engine, "ops@example.com", Passwords().hash(PASSWORD), grants={"hq": "operator"})
        from openbms.db.accounts import record_login_failure

        with engine.connect() as conn:
            uid = user_row(conn, email="ops@example.com")["id"]  # type: ignore[index]
        for _ in range(4):
            record_login_failure(engine, uid, None, now=1000.0, window=900, threshold=5, duration=900)
        _token_secret, _row = create_api_token(engine, uid, "script", now=1000.0)
        monkeypatch.setenv("OPENBMS_DATABASE_URL", url)
        r = CliRunner().invoke(cli, ["user", "passwd", "ops@example.com", "--revoke-tokens"],
                               input=f"{NEW}\n{NEW}\n")
        assert r.exit_code == 0, r.output
        assert "1 API token(s) revoked" in r.output
        assert not record_login_failure(engine, uid, None, now=1001.0, window=900, threshold=5, duration=900)
        from openbms.db.schema import api_tokens

        with engine.connect() as conn:
            assert [t.revoked_at is not None for t in conn.execute(api_tokens.select())] == [True]
        off = CliRunner().invoke(cli, ["user", "disable", "ops@example.com"])
        assert off.exit_code == 0, off.output
        with engine.connect() as conn:
            assert user_row(conn, email="ops@example.com")["disabled"]  # type: ignore[index]
        on = CliRunner().invoke(cli, ["user", "enable", "ops@example.com"])
        assert on.exit_code == 0, on.output
        with engine.connect() as conn:
            assert not user_row(conn, email="ops@example.com")["disabled"]  # type: ignore[index]
        missing = CliRunner().invoke(cli, ["user", "disable", "nobody@example.com"])
        assert missing.exit_code == 1 and "no user" in missing.output
    finally:
        engine.dispose()


async def test_a_password_change_keeps_tokens_unless_asked(api: Api):
    api.add_user("ops@example.com", {"hq": "operator"})
    kept = await _token(api, "ops@example.com")
    session = await api.bearer("ops@example.com")
    r = await api.client.post("/api/v1/auth/password", headers=session,
                              json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 204
    assert await _works(api, kept)
    r = await api.client.post("/api/v1/auth/password", headers=session,
                              json={"current_password": NEW, "new_password": PASSWORD, "revoke_tokens": True})
    assert r.status_code == 204
    assert not await _works(api, kept)
    assert api.audit("auth.password_change")[-1]["details"]["tokens_revoked"] == 1


async def test_an_admin_reset_or_disable_revokes_tokens_when_asked(api: Api):
    uid = api.add_user("ops@example.com", {"hq": "operator"})
    admin = await api.bearer("admin@example.com")
    first = await _token(api, "ops@example.com")
    r = await api.client.patch(f"/api/v1/users/{uid}", headers=admin, json={"password": NEW})
    assert r.status_code == 200 and await _works(api, first)
    r = await api.client.patch(f"/api/v1/users/{uid}", headers=admin, json={"password": PASSWORD,
                                                                           "revoke_tokens": True})
    assert r.status_code == 200 and not await _works(api, first)
    assert api.audit("user.update")[-1]["details"]["changes"]["tokens_revoked"] == 1

    # A disable refuses the tokens while it lasts; re-enabled, a token not revoked works again.
    second = await _token(api, "ops@example.com")
    assert (await api.client.delete(f"/api/v1/users/{uid}", headers=admin)).status_code == 204
    assert not await _works(api, second)
    r = await api.client.patch(f"/api/v1/users/{uid}", headers=admin, json={"disabled": False})
    assert r.status_code == 200 and await _works(api, second)
    r = await api.client.delete(f"/api/v1/users/{uid}", headers=admin, params={"revoke_tokens": "true"})
    assert r.status_code == 204 and api.audit("user.disable")[-1]["details"]["tokens_revoked"] == 1
    r = await api.client.patch(f"/api/v1/users/{uid}", headers=admin, json={"disabled": False})
    assert r.status_code == 200 and not await _works(api, second)
