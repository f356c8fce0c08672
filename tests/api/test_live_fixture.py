"""The shared live fixture: a runtime with the API, and a signed-in client per role."""

from __future__ import annotations

from tests.api.live import live  # noqa: F401  (the fixture)


async def test_every_role_is_signed_in_and_sees_its_own_identity(live):  # noqa: F811
    for user in ("admin", "fm", "operator", "viewer", "labviewer"):
        r = await live.get(user, "/api/v1/auth/me")
        assert r.status_code == 200, r.text
        assert r.json()["email"] == f"{user}@example.com"
    r = await live.get("anonymous", "/api/v1/auth/me")
    assert r.status_code == 401
    assert live.runtime.arbiter is not None and "hq/ahu-1/sat-sp" in live.runtime.arbiter.controlled()
