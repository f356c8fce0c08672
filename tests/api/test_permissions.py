"""Roles per site: 404 (not 403) for sites not granted, 403 for a missing permission, the route registry."""

from __future__ import annotations

import itertools

import pytest
from fastapi import APIRouter, FastAPI

from openbms.api import create_app
from openbms.api.auth.permissions import (
    access_table,
    authenticated,
    public,
    require,
    undeclared_routes,
    visible_sites,
)
from openbms.api.auth.principal import Principal
from openbms.api.auth.roles import GLOBAL_PERMISSIONS, PERMISSIONS, ROLE_PERMISSIONS, ROLES, effective_role
from tests.api.conftest import Api, MakeApi, add_sites

# A tiny router, for tests only, that shows the mechanism later routers use.
demo = APIRouter(prefix="/api/v1/demo", tags=["demo"])


@demo.get("/sites/{site_id}/points")
async def demo_points(site_id: str, user: Principal = require("points:read", site_param="site_id")) -> dict:
    return {"site": site_id, "role": user.role_on(site_id)}


@demo.post("/sites/{site_id}/commands")
async def demo_command(
    site_id: str, user: Principal = require("commands:write", site_param="site_id")
) -> dict:
    return {"site": site_id, "by": user.email}


@demo.get("/points")
async def demo_search(
    site: str | None = None, user: Principal = require("points:read", site_param="site")
) -> dict:
    return {"sites": [site] if site else visible_sites(user, ["hq", "lab", "annex"], "points:read")}


@demo.get("/points/{point_id:path}")
async def demo_point(
    point_id: str,
    user: Principal = require("points:read", site_of=lambda conn: conn.path_params["point_id"].split("/")[0]),
) -> dict:
    return {"point": point_id}


@pytest.fixture
async def site_api(make_api: MakeApi) -> Api:
    api = await make_api(routers=(demo,))
    add_sites(api.engine, "hq", "lab", "annex")
    api.add_user("admin@example.com", {"*": "admin"})
    api.add_user("viewer@example.com", {"hq": "viewer"})
    api.add_user("operator@example.com", {"hq": "operator", "lab": "viewer"})
    api.add_user("siteadmin@example.com", {"hq": "admin"})
    return api


async def test_a_site_not_granted_answers_exactly_like_a_site_that_does_not_exist(site_api: Api):
    h = await site_api.bearer("viewer@example.com")
    ok = await site_api.client.get("/api/v1/demo/sites/hq/points", headers=h)
    assert ok.status_code == 200 and ok.json() == {"site": "hq", "role": "viewer"}
    hidden = await site_api.client.get("/api/v1/demo/sites/lab/points", headers=h)
    missing = await site_api.client.get("/api/v1/demo/sites/nowhere/points", headers=h)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == {
        **missing.json(),
        "detail": "no site 'lab'",
        "instance": "/api/v1/demo/sites/lab/points",
    }
    assert hidden.headers["content-type"] == missing.headers["content-type"] == "application/problem+json"
    # Even an admin on every site gets that 404 for a site that does not exist.
    admin = await site_api.bearer("admin@example.com")
    r = await site_api.client.get("/api/v1/demo/sites/nowhere/points", headers=admin)
    assert r.status_code == 404 and r.json() == missing.json()
    # A write to a hidden site is a 404 too, not a 403.
    assert (await site_api.client.post("/api/v1/demo/sites/lab/commands", headers=h)).status_code == 404


async def test_a_visible_site_without_the_permission_is_403(site_api: Api):
    viewer = await site_api.bearer("viewer@example.com")
    r = await site_api.client.post("/api/v1/demo/sites/hq/commands", headers=viewer)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    operator = await site_api.bearer("operator@example.com")
    assert (await site_api.client.post("/api/v1/demo/sites/hq/commands", headers=operator)).status_code == 200
    assert (
        await site_api.client.post("/api/v1/demo/sites/lab/commands", headers=operator)
    ).status_code == 403


async def test_site_from_a_query_parameter_a_computed_one_and_list_filtering(site_api: Api):
    operator = await site_api.bearer("operator@example.com")
    r = await site_api.client.get("/api/v1/demo/points", headers=operator)
    assert r.json() == {"sites": ["hq", "lab"]}
    assert (await site_api.client.get("/api/v1/demo/points?site=annex", headers=operator)).status_code == 404
    assert (await site_api.client.get("/api/v1/demo/points?site=lab", headers=operator)).status_code == 200
    assert (
        await site_api.client.get("/api/v1/demo/points/hq/ahu-1/sat", headers=operator)
    ).status_code == 200
    assert (
        await site_api.client.get("/api/v1/demo/points/annex/ahu-1/sat", headers=operator)
    ).status_code == 404
    admin = await site_api.bearer("admin@example.com")
    assert (await site_api.client.get("/api/v1/demo/points", headers=admin)).json() == {
        "sites": ["hq", "lab", "annex"]
    }


async def test_user_and_audit_administration_needs_admin_on_every_site(site_api: Api):
    site_admin = await site_api.bearer("siteadmin@example.com")
    assert (await site_api.client.get("/api/v1/demo/sites/hq/points", headers=site_admin)).status_code == 200
    assert (await site_api.client.get("/api/v1/users", headers=site_admin)).status_code == 403
    assert (await site_api.client.get("/api/v1/audit", headers=site_admin)).status_code == 403
    admin = await site_api.bearer("admin@example.com")
    assert (await site_api.client.get("/api/v1/users", headers=admin)).status_code == 200


async def test_a_role_revoked_takes_effect_on_the_next_request(site_api: Api):
    viewer = await site_api.bearer("viewer@example.com")
    admin = await site_api.bearer("admin@example.com")
    users = (await site_api.client.get("/api/v1/users", headers=admin)).json()["items"]
    uid = next(u["id"] for u in users if u["email"] == "viewer@example.com")
    assert (await site_api.client.delete(f"/api/v1/users/{uid}/grants/hq", headers=admin)).status_code == 204
    assert (await site_api.client.get("/api/v1/demo/sites/hq/points", headers=viewer)).status_code == 404


def test_every_route_of_the_app_declares_its_access():
    app = create_app(state_url="sqlite://")
    assert undeclared_routes(app) == []
    table = {(r.path, r.methods): [str(a) for a in r.access] for r in access_table(app)}
    assert table[("/api/v1/health", ("GET",))] == ["public"]
    assert table[("/api/v1/users", ("POST",))] == ["users:admin"]
    assert table[("/api/v1/auth/me", ("GET",))] == ["authenticated"]


def test_a_route_without_a_declaration_is_caught():
    forgot = APIRouter()

    @forgot.get("/api/v1/forgot")
    async def forgotten() -> dict:
        return {}

    @forgot.get("/api/v1/fine", dependencies=[public()])
    async def fine() -> dict:
        return {}

    @forgot.get("/api/v1/me-too")
    async def me_too(user: Principal = authenticated()) -> dict:
        return {}

    app = FastAPI()
    app.include_router(forgot)
    # FastAPI's own /docs and /openapi.json declare nothing either: create_app replaces them.
    assert "GET HEAD /docs" in undeclared_routes(app)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(forgot)
    assert undeclared_routes(app) == ["GET /api/v1/forgot"]


def test_declaring_an_unknown_permission_fails_at_import_time():
    with pytest.raises(KeyError, match="points:reed"):
        require("points:reed")
    with pytest.raises(ValueError, match="not about one site"):
        require("users:admin", site_param="site_id")


def test_roles_are_nested_and_global_permissions_are_admin_only():
    for lower, higher in itertools.pairwise(ROLES):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher]
    assert ROLE_PERMISSIONS["admin"] == frozenset(PERMISSIONS)
    assert all(p.endswith(":read") for p in ROLE_PERMISSIONS["viewer"])
    assert ROLE_PERMISSIONS["operator"] - ROLE_PERMISSIONS["viewer"] == {"commands:write", "alarms:ack"}
    assert not GLOBAL_PERMISSIONS & ROLE_PERMISSIONS["facility_manager"]


def test_effective_role_takes_the_higher_grant_and_a_token_caps_it():
    grants = {"*": "viewer", "hq": "operator"}
    assert effective_role(grants, "hq") == "operator"
    assert effective_role(grants, "lab") == "viewer"
    assert effective_role({"*": "admin", "hq": "viewer"}, "hq") == "admin"
    assert effective_role({"*": "admin"}, "hq", cap="viewer") == "viewer"
    assert effective_role({"hq": "viewer"}, "hq", cap="admin") == "viewer"
    assert effective_role({"hq": "admin"}, "*") is None
