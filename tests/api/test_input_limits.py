"""Hostile input through the real API: tampered cursors, odd asset names, oversized bodies.

Each answers a clear 4xx problem (never a 500) and the API keeps serving.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from openbms.api import ApiSettings, create_app
from openbms.api.auth.passwords import Passwords
from openbms.db.accounts import create_user
from tests.api.conftest import PASSWORD, Api, FakeClock, serve
from tests.api.live import Live, live  # noqa: F401


def tampered(raw: str) -> str:
    """A cursor of ``raw`` JSON, encoded as the API encodes its own."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


#: Cursors that decode to JSON objects of the wrong shape, each a 400 on every paginated route.
BAD_CURSORS = (
    '{"c":"abc","i":"x"}',
    '{"c":1.5,"i":{"x":1}}',
    '{"c":NaN,"i":"x"}',
    '{"c":1e400,"i":"x"}',
    '{"id":1000000000000000000000000000000}',
    '{"email":["a"]}',
    '{"t":true,"id":"x","ts":1,"after":{"a":1}}',
    '{"id":-1e999}',
)


def assert_bad_cursor(r, where: str) -> None:
    assert r.status_code == 400, f"{where}: {r.status_code} {r.text}"
    assert r.headers["content-type"] == "application/problem+json"
    assert "invalid cursor" in r.json()["detail"]


@pytest.mark.parametrize("raw", BAD_CURSORS)
async def test_a_tampered_cursor_on_tokens_users_and_audit_is_a_400(api: Api, raw: str):
    session = await api.bearer("admin@example.com")
    for path in ("/api/v1/tokens", "/api/v1/users", "/api/v1/audit"):
        r = await api.client.get(path, params={"cursor": tampered(raw)}, headers=session)
        assert_bad_cursor(r, f"{path} {raw}")
    assert (await api.client.get("/api/v1/tokens", headers=session)).status_code == 200


async def test_a_tampered_cursor_on_the_site_lists_is_a_400(live: Live):  # noqa: F811
    for path in ("/api/v1/sites/hq/commands", "/api/v1/sites/hq/alarms/history",
                 "/api/v1/sites/hq/points", "/api/v1/sites"):
        # The first is well formed: a route that does not name its fields takes it for a first page.
        for raw in BAD_CURSORS[1:]:
            r = await live.get("admin", path, params={"cursor": tampered(raw)})
            assert_bad_cursor(r, f"{path} {raw}")
    assert (await live.get("admin", "/api/v1/sites/hq/commands")).status_code == 200


async def test_the_tokens_cursor_the_api_gave_still_pages(api: Api):
    session = await api.bearer("admin@example.com")
    for name in ("a", "b", "c"):
        await api.client.post("/api/v1/tokens", headers=session, json={"name": name})
    first = (await api.client.get("/api/v1/tokens", params={"limit": 2}, headers=session)).json()
    rest = (await api.client.get("/api/v1/tokens", params={"cursor": first["next_cursor"]},
                                 headers=session)).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None


# ---------------------------------------------------------------------- dashboard files


@pytest.mark.parametrize("name", ["%00", "a%00b.js", "x" * 5000, "x/" * 2000 + "a.js",
                                  "%C0%AE%C0%AE/secret", "..%2F..%2Fpyproject.toml", "%2F"])
async def test_an_odd_asset_name_is_a_404_not_a_500(api: Api, name: str):
    r = await api.client.get(f"/assets/{name}")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"
    detail = r.json()["detail"]
    assert "no dashboard file" in detail and len(detail) < 300
    assert (await api.client.get("/api/v1/health")).status_code == 200


# ---------------------------------------------------------------------- request bodies


def _streamed(size: int, chunk: int = 64 * 1024):
    async def body() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            n = min(chunk, size - sent)
            sent += n
            yield b" " * n
    return body()


async def test_a_body_over_the_limit_is_a_413_by_content_length(api: Api):
    session = await api.bearer("admin@example.com")
    body = json.dumps({"name": "x" * (2 << 20)})
    r = await api.client.post("/api/v1/tokens", headers=session, content=body)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "1048576 bytes" in r.json()["detail"]
    assert api.audit("token.create") == []
    assert (await api.client.get("/api/v1/tokens", headers=session)).status_code == 200


async def test_a_streamed_body_over_the_limit_is_a_413_without_content_length(api: Api):
    session = await api.bearer("admin@example.com")
    headers = {**session, "Content-Type": "application/json"}
    r = await api.client.post("/api/v1/tokens", headers=headers, content=_streamed(10 << 20))
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert api.audit("token.create") == []


async def test_a_body_over_the_limit_is_refused_before_login(api: Api):
    r = await api.client.post("/api/v1/auth/login", content=b"{" + b" " * (2 << 20) + b"}",
                              headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert api.audit("auth.login_failed") == []


async def test_a_body_under_the_limit_is_served(api: Api):
    session = await api.bearer("admin@example.com")
    r = await api.client.post("/api/v1/auth/password", headers=session,
                              json={"current_password": "x" * 1000, "new_password": "y" * 12,
                                    "pad": " " * 900_000})
    assert r.status_code == 422, r.text  # read whole and judged: the wrong current password


async def test_the_body_limit_is_configurable_and_larger_for_programs(engine):
    from openbms.api.app import BodyLimits

    app = create_app(engine=engine, settings=ApiSettings(now=FakeClock()),
                     body_limits=BodyLimits(default=1000, programs=5000))
    create_user(engine, "admin@example.com", Passwords().hash(PASSWORD), grants={"*": "admin"})
    served = await serve(app)
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            await _check_small_limits(client)
    finally:
        await served.stop()


async def _check_small_limits(client: httpx.AsyncClient) -> None:
    login = await client.post("/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD})
    session = {"Authorization": f"Bearer {login.json()['access_token']}"}
    r = await client.post("/api/v1/tokens", headers=session, json={"name": "x" * 2000})
    assert r.status_code == 413 and "1000 bytes" in r.json()["detail"]
    # A program route takes the larger limit: past the body check, refused for the missing site.
    r = await client.post("/api/v1/sites/nowhere/programs/validate", headers=session,
                          json={"pad": "x" * 3000})
    assert r.status_code == 404, r.text
    r = await client.post("/api/v1/sites/nowhere/programs/validate", headers=session,
                          json={"pad": "x" * 6000})
    assert r.status_code == 413 and "5000 bytes" in r.json()["detail"]


async def test_without_credentials_a_body_is_held_to_64_kib_whatever_the_route(api: Api):
    # FastAPI decodes a body before it checks who sent it: an anonymous megabyte to a program route
    # would have the event loop decode it (1.6 s for 8 MiB) before answering 401.
    r = await api.client.post("/api/v1/sites/hq/programs/validate", content=b"[" + b"0," * 50_000 + b"0]",
                              headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and f"{64 << 10} bytes" in r.json()["detail"], r.text
    r = await api.client.post("/api/v1/sites/hq/programs/validate", json={"pad": "x" * 1000})
    assert r.status_code == 401  # small: read, then refused for the missing sign-in
    session = await api.bearer("admin@example.com")
    r = await api.client.post("/api/v1/sites/nowhere/programs/validate", headers=session,
                              json={"pad": "x" * (1 << 20)})
    assert r.status_code == 404, r.text  # signed in: the program routes' 2 MiB
