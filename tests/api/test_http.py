"""problem+json everywhere, offline /docs, OpenAPI, health and metrics."""

from __future__ import annotations

import re
from types import SimpleNamespace

from openbms.historian.base import HistorianStats
from openbms.runtime.bus import Bus
from openbms.runtime.clock import WallClock
from tests.api.conftest import Api, MakeApi

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


async def test_unknown_routes_wrong_methods_and_bad_bodies_are_problem_json(api: Api):
    unknown = await api.client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert set(unknown.json()) == PROBLEM_KEYS
    assert unknown.json()["instance"] == "/api/v1/nothing-here" and unknown.json()["status"] == 404
    method = await api.client.delete("/api/v1/auth/login")
    assert method.status_code == 405 and set(method.json()) == PROBLEM_KEYS
    bad = await api.client.post("/api/v1/auth/login", json={"email": "a@b.c"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    body = bad.json()
    assert set(body) == PROBLEM_KEYS | {"errors"}
    assert body["errors"] == [{"loc": ["body", "password"], "msg": "Field required", "type": "missing"}]
    not_json = await api.client.post(
        "/api/v1/auth/login", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422 and "errors" in not_json.json()


async def test_docs_work_offline(api: Api):
    html = (await api.client.get("/docs")).text
    assert "swagger-ui" in html.lower()
    external = [u for u in re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", html) if not u.startswith(api.url)]
    assert external == []
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert len(assets) == 3
    for asset in assets:
        r = await api.client.get(asset)
        assert r.status_code == 200 and len(r.content) > 1000, asset
    assert (await api.client.get("/docs/static/../../etc/passwd")).status_code == 404
    assert (await api.client.get("/docs/static/secrets.txt")).status_code == 404


async def test_openapi_describes_bearer_security_and_problem_errors(api: Api):
    schema = (await api.client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = schema["paths"]
    assert paths["/api/v1/users"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/api/v1/auth/login"]["post"]
    assert paths["/api/v1/auth/login"]["post"]["responses"]["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert "/docs" not in paths


async def test_health_answers_without_login(api: Api):
    r = await api.client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["components"] == {"state_db": {"status": "ok"}}


class _FakeRuntime:
    """Just what health and metrics read from the running system (``Services``)."""

    state = None
    clock = WallClock()

    def __init__(self) -> None:
        self.bus = Bus()
        self.bus.subscribe_callback("*", lambda samples: None, name="historian")
        self.historian = SimpleNamespace(stats=lambda: HistorianStats(10, 0, 9, 1, 0, 3, 0))

    def health(self) -> dict[str, dict[str, object]]:
        return {}

    def status(self) -> SimpleNamespace:
        return SimpleNamespace(
            points=4, devices=2, devices_offline=1, samples=10, stored=9, backlog=1, dropped=0
        )


async def test_health_and_metrics_report_the_runtime(make_api: MakeApi, engine):
    from openbms.api import ApiSettings, create_app
    from tests.api.conftest import serve

    app = create_app(_FakeRuntime(), engine=engine, settings=ApiSettings())
    served = await serve(app)
    try:
        import httpx

        async with httpx.AsyncClient(base_url=served.url) as client:
            health = (await client.get("/api/v1/health")).json()
            assert health["status"] == "degraded"
            assert health["components"]["drivers"] == {
                "status": "degraded",
                "devices": 2,
                "offline": 1,
                "points": 4,
            }
            text = (await client.get("/metrics")).text
    finally:
        await served.stop()
    assert "openbms_historian_stored_total 9" in text and "openbms_historian_backlog 1" in text
    assert 'openbms_bus_subscriber_total{subscriber="historian",what="delivered"} 0' in text


async def test_metrics_count_requests_by_route_and_login_failures(api: Api):
    await api.client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "wrong password"}
    )
    await api.client.get("/api/v1/users/some-id")
    r = await api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'openbms_api_requests_total{route="/api/v1/auth/login",method="POST",status="401"} 1' in text
    assert 'openbms_api_requests_total{route="/api/v1/users/{user_id}",method="GET",status="401"} 1' in text
    assert "openbms_api_login_failures_total 1" in text
    assert "# TYPE openbms_api_requests_total counter" in text
