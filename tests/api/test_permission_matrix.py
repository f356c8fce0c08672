"""The permission matrix: every route × every user × a granted and a not-granted site (issue 5).

The routes come from ``access_table(app)``, never from a hand list, and each
needs a row in ``CALLS`` (how to call it with a minimal valid request): a new
route without a row fails ``test_every_route_has_a_row_in_the_matrix`` with
its name. For every route and user, the expected outcome follows from the
route's declared access and the user's role on the site (``USERS`` of
``tests.api.live``):

* public → never 401 (an answer in the row's ``ok``);
* anonymous → 401 with the Bearer challenge;
* a role on the site that carries the permission → an answer in ``ok`` (2xx,
  or a 409 for a state such as "nothing to acknowledge"), never 401/403/404;
* a role on the site without the permission → 403;
* no role on the site → 404 with exactly the body a nonexistent site gets.

No answer to a user without the lab ever names what the lab holds (and the
reverse for the lab-only viewer).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from openbms.alarms.rules import HighLimitRule
from openbms.api import create_app
from openbms.api.auth.permissions import Access, access_table, require, undeclared_routes
from openbms.api.auth.roles import GLOBAL_PERMISSIONS, effective_role, role_allows
from openbms.api.ratelimit import Rate
from openbms.api.routes.web import STATIC
from tests.api.live import PASSWORD, USERS, Live, live  # noqa: F401  (the fixture)
from tests.fixtures.waiting import eventually

SITES = ("hq", "lab")
NOWHERE = "nowhere"
EVERYONE = (*USERS, "anonymous")

# ------------------------------------------------------------------------------ the world


@dataclasses.dataclass
class World:
    """The running openbms and the objects the matrix calls routes on, per site."""

    live: Live
    ids: dict[str, dict[str, str]]  # site → path parameter → value
    target_user: str  # an account the matrix changes (never one of the matrix's users)
    secrets: dict[str, tuple[str, ...]]  # site → strings only someone granted that site may read
    counter: itertools.count = dataclasses.field(default_factory=lambda: itertools.count(1))

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"

    async def ok(self, method: str, path: str, user: str = "admin", **kw: Any) -> httpx.Response:
        r = await self.live.clients[user].request(method, path, **kw)
        assert r.status_code < 300, f"setting up: {method} {path} as {user}: {r.status_code} {r.text}"
        return r


def _program(site: str, point: str, value: float) -> dict[str, Any]:
    return {"name": "hold", "period_s": 1, "constants": [{"id": "sp", "value": value}],
            "outputs": [{"id": "out", "point": f"{site}/{point}"}], "wires": [{"from": "sp", "to": "out"}]}


async def _world(live: Live) -> World:  # noqa: F811
    ctx = live.runtime.api.app.state.openbms
    # The matrix sends some 2 000 requests from one address in a minute: it checks who may do
    # what, not the rate limits (tests/api/test_auth.py does), so lift them for this instance.
    unlimited = Rate(burst=1_000_000, per_minute=1_000_000)
    ctx.settings = dataclasses.replace(ctx.settings, login_rate_ip=unlimited, login_rate_account=unlimited,
                                       write_rate_user=unlimited, write_rate_ip=unlimited)
    world = World(live, {}, "", {})
    lab = next(c for c in live.runtime.sites if c.site.id == "lab")
    rule = HighLimitRule.model_validate({"id": "lab-warm", "type": "high", "point": "lab/fc-1/temp",
                                         "limit": 15})
    await live.runtime.apply_site(lab.model_copy(update={"alarms": (rule,)}))
    await world.ok("POST", "/api/v1/sites/lab/spaces", json={"id": "lab-room", "kind": "room"})
    await world.ok("PUT", "/api/v1/sites/lab/schedules/lab-hold", json={"kind": "number", "default": 21})
    for site in SITES:
        await world.ok("PUT", f"/api/v1/sites/{site}/calendars/{site}-holidays", json={"entries": ["12-25"]})
    points = {"hq": ("ahu-1", "sat-sp", 14.0), "lab": ("fc-1", "sp", 21.0)}
    for site, (equip, name, value) in points.items():
        base = f"/api/v1/sites/{site}"
        await world.ok("PUT", f"{base}/programs/{site}-prog",
                       json={"program": _program(site, f"{equip}/{name}", value)})
        await world.ok("POST", f"{base}/programs/{site}-prog/deploy", json={"version": 1, "reason": "matrix"})
        command = await world.ok("POST", f"{base}/points/{equip}/{name}/commands",
                                 json={"value": value, "reason": "matrix"})
        world.ids[site] = {
            "site_id": site, "equip_id": equip, "name": name, "command_id": command.json()["id"],
            "space_id": {"hq": "floor-1", "lab": "lab-room"}[site],
            "alarm_id": {"hq": "zone-hot", "lab": "lab-warm"}[site],
            "schedule_id": {"hq": "ahu-occupancy", "lab": "lab-hold"}[site],
            "calendar_id": f"{site}-holidays", "program_id": f"{site}-prog",
        }
    world.secrets = {
        "hq": ("Headquarters", "ahu-1", "vav-1", "floor-1", "zone-hot", "ahu-occupancy", "hq-holidays",
               "hq-prog", world.ids["hq"]["command_id"]),
        "lab": ("Laboratory", "fc-1", "lab-room", "lab-warm", "lab-hold", "lab-holidays", "lab-prog",
                world.ids["lab"]["command_id"]),
    }
    target = await world.ok("POST", "/api/v1/users", json={
        "email": "target@example.com", "password": PASSWORD, "grants": {"hq": "viewer"}})
    world.target_user = target.json()["id"]
    engines = {site: live.runtime.alarms[site].engine for site in SITES}
    for site, engine in engines.items():
        alarm = world.ids[site]["alarm_id"]
        await eventually(lambda e=engine, a=alarm: e.get(a).state != "normal", f"{alarm} to be raised")
    return world


# ------------------------------------------------------------------------------ the calls


@dataclasses.dataclass(frozen=True)
class Req:
    """One request of the matrix: who, on which site, and the path parameters in use."""

    world: World
    user: str
    site: str
    params: dict[str, str]


Value = Any | Callable[[Req], Any]
Fresh = Callable[[Req], Awaitable[dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Call:
    """How to call a route as an allowed caller: a minimal valid request, and the answers that are fine.

    ``fresh`` makes a throwaway object before an allowed (or public) call — what
    a DELETE removes, a session a logout ends — and returns path parameters
    (``params``), a ``body`` or ``headers`` to use instead.
    """

    body: Value = None
    query: Value = None
    ok: frozenset[int] = frozenset({200})
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    fresh: Fresh | None = None


def _ok(*codes: int) -> frozenset[int]:
    return frozenset(codes)


def _email(req: Req) -> str:
    return f"{'admin' if req.user == 'anonymous' else req.user}@example.com"


async def _login(req: Req) -> dict[str, Any]:
    r = await req.world.live.clients["anonymous"].post(
        "/api/v1/auth/login", json={"email": _email(req), "password": PASSWORD})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _fresh_session(req: Req) -> dict[str, Any]:
    pair = await _login(req)
    return {"headers": {"Authorization": f"Bearer {pair['access_token']}"}}


async def _fresh_refresh(req: Req) -> dict[str, Any]:
    return {"body": {"refresh_token": (await _login(req))["refresh_token"]}}


async def _fresh_token(req: Req) -> dict[str, Any]:
    owner = "admin" if req.user == "anonymous" else req.user
    r = await req.world.ok("POST", "/api/v1/tokens", owner, json={"name": "throwaway"})
    return {"params": {"token_id": r.json()["id"]}}


async def _fresh_user(req: Req) -> dict[str, Any]:
    email = f"{req.world.unique('throwaway')}@example.com"
    r = await req.world.ok("POST", "/api/v1/users", json={"email": email, "password": PASSWORD})
    return {"params": {"user_id": r.json()["id"]}}


async def _fresh_grant(req: Req) -> dict[str, Any]:
    await req.world.ok("PUT", f"/api/v1/users/{req.world.target_user}/grants/{req.site}",
                       json={"role": "viewer"})
    return {}


async def _fresh_dry_run(req: Req) -> dict[str, Any]:
    """A dry run of the site's program (its saved version) for the GET and DELETE of its dry run."""
    await req.world.ok("POST", f"/api/v1/sites/{req.site}/programs/{req.site}-prog/dry-run",
                       json={"duration_s": 60})
    return {}


async def _fresh_template(req: Req) -> dict[str, Any]:
    """A template made from the site's program, for the routes of one template."""
    site, equip, name = req.site, req.params["equip_id"], req.params["name"]
    template = req.world.unique("tmpl")
    await req.world.ok("PUT", f"/api/v1/sites/{site}/program-templates/{template}",
                       json={"program": _program(site, f"{equip}/{name}", 20), "equipment": equip})
    return {"params": {"template_id": template}}


async def _fresh_program_override(req: Req) -> dict[str, Any]:
    """An override of the site's program's output, for the DELETE that ends it."""
    await req.world.ok("POST", f"/api/v1/sites/{req.site}/programs/{req.site}-prog/overrides",
                       json={"port": "out", "value": 16, "duration_s": 60, "reason": "matrix"})
    return {}


def _fresh_config(kind: str) -> Fresh:
    async def make(req: Req) -> dict[str, Any]:
        w, site = req.world, req.site
        new = w.unique("tmp")
        base = f"/api/v1/sites/{site}"
        if kind == "space":
            await w.ok("POST", f"{base}/spaces", json={"id": new})
            return {"params": {"space_id": new}}
        if kind == "equipment":
            await w.ok("POST", f"{base}/equipment", json={"id": new})
            return {"params": {"equip_id": new}}
        if kind == "point":
            equip = w.ids[site]["equip_id"]
            await w.ok("POST", f"{base}/points", json={"equipment": equip, "name": new})
            return {"params": {"equip_id": equip, "name": new}}
        await w.ok("PUT", f"{base}/{kind}/{new}", json={})
        return {"params": {f"{kind[:-1]}_id": new}}

    return make


_SITE = "/api/v1/sites/{site_id}"
_POINT = _SITE + "/points/{equip_id}/{name}"
_ALARM = _SITE + "/alarms/{alarm_id}"
_PROGRAM = _SITE + "/programs/{program_id}"
_TEMPLATE = {"template_id": "matrix"}  # made by an allowed call's fresh template, or by the PUT

#: Every route the app has, (method, path) → how the matrix calls it.
CALLS: dict[tuple[str, str], Call] = {
    # public
    ("POST", "/api/v1/sites/{site_id}/webhooks/rest/{name}"): Call(
        params={"name": "rest"}, body={}, ok=_ok(401, 404)),  # admitted by its signature only
    ("GET", "/api/v1/health"): Call(),
    ("GET", "/metrics"): Call(),
    ("GET", "/openapi.json"): Call(),
    ("GET", "/docs"): Call(),
    ("GET", "/docs/static/{name}"): Call(params={"name": "swagger-ui.css"}),
    ("GET", "/"): Call(),
    # the dashboard's files exist once it is built (make web); a source checkout without it answers 404
    ("GET", "/assets/{name}"): Call(
        params={"name": next((p.name for p in sorted((STATIC / "assets").glob("*.css"))), "none.css")},
        ok=_ok(200) if any((STATIC / "assets").glob("*.css")) else _ok(404)),
    ("POST", "/api/v1/auth/login"): Call(body=lambda r: {"email": _email(r), "password": PASSWORD}),
    ("POST", "/api/v1/auth/refresh"): Call(fresh=_fresh_refresh),
    # any logged-in user
    ("POST", "/api/v1/auth/logout"): Call(ok=_ok(204), fresh=_fresh_session),
    ("POST", "/api/v1/auth/password"): Call(
        body={"current_password": PASSWORD, "new_password": PASSWORD}, ok=_ok(204)),
    ("GET", "/api/v1/auth/me"): Call(),
    ("POST", "/api/v1/tokens"): Call(body={"name": "matrix"}, ok=_ok(201)),
    ("GET", "/api/v1/tokens"): Call(),
    ("DELETE", "/api/v1/tokens/{token_id}"): Call(ok=_ok(204), params={"token_id": "none"},
                                                  fresh=_fresh_token),
    ("WEBSOCKET", "/api/v1/ws"): Call(),  # see test_the_websocket_admits_every_signed_in_user_only
    # users:admin, audit:read
    ("GET", "/api/v1/users"): Call(),
    ("POST", "/api/v1/users"): Call(
        body=lambda r: {"email": f"{r.world.unique('new')}@example.com", "password": PASSWORD}, ok=_ok(201)),
    ("GET", "/api/v1/users/{user_id}"): Call(),
    ("PATCH", "/api/v1/users/{user_id}"): Call(body={"name": "Target"}),
    ("DELETE", "/api/v1/users/{user_id}"): Call(ok=_ok(204), fresh=_fresh_user),
    ("PUT", "/api/v1/users/{user_id}/grants/{site_id}"): Call(body={"role": "viewer"}),
    ("DELETE", "/api/v1/users/{user_id}/grants/{site_id}"): Call(ok=_ok(204), fresh=_fresh_grant),
    ("GET", "/api/v1/audit"): Call(),
    # sites, spaces, equipment
    ("GET", "/api/v1/sites"): Call(),
    ("GET", _SITE): Call(),
    ("GET", _SITE + "/spaces"): Call(),
    ("GET", _SITE + "/spaces/{space_id}"): Call(),
    ("POST", _SITE + "/spaces"): Call(body=lambda r: {"id": r.world.unique("space")}, ok=_ok(201)),
    ("PATCH", _SITE + "/spaces/{space_id}"): Call(body={"name": "Matrix"}),
    ("DELETE", _SITE + "/spaces/{space_id}"): Call(ok=_ok(204), fresh=_fresh_config("space")),
    ("GET", _SITE + "/equipment"): Call(),
    ("GET", _SITE + "/equipment/{equip_id}"): Call(),
    ("POST", _SITE + "/equipment"): Call(body=lambda r: {"id": r.world.unique("equip")}, ok=_ok(201)),
    ("PATCH", _SITE + "/equipment/{equip_id}"): Call(body={"name": "Matrix"}),
    ("DELETE", _SITE + "/equipment/{equip_id}"): Call(ok=_ok(204), fresh=_fresh_config("equipment")),
    # points, history, devices
    ("GET", _SITE + "/points"): Call(),
    ("GET", "/api/v1/points"): Call(query=lambda r: {"site": r.site}),
    ("GET", _POINT): Call(),
    ("POST", _SITE + "/points"): Call(
        body=lambda r: {"equipment": r.params["equip_id"], "name": r.world.unique("point")}, ok=_ok(201)),
    ("PATCH", _POINT): Call(body={"description": "matrix"}),
    ("DELETE", _POINT): Call(ok=_ok(204), fresh=_fresh_config("point")),
    ("GET", _SITE + "/history"): Call(
        query=lambda r: {"points": f"{r.params['equip_id']}/{r.params['name']}"}),
    ("GET", _SITE + "/energy"): Call(),
    ("GET", _SITE + "/analytics/consumption"): Call(),
    ("GET", _SITE + "/analytics/peaks"): Call(),
    ("GET", _SITE + "/analytics/cost"): Call(ok=_ok(200, 422)),  # 422: the matrix's sites have no tariff
    ("GET", "/api/v1/analytics/consumption"): Call(query=lambda r: {"sites": r.site}),
    ("GET", _SITE + "/analytics/forecast"): Call(),
    ("GET", _SITE + "/analytics/forecast/scores"): Call(),
    # M&V: the matrix's sites have no meter, so an allowed caller gets the 422 naming meter=
    ("GET", _SITE + "/analytics/baseline"): Call(
        query={"meter": "none/kwh", "start": "2026-01-01", "end": "2026-01-10"}, ok=_ok(422)),
    ("GET", _SITE + "/analytics/savings"): Call(
        query={"meter": "none/kwh", "baseline_start": "2026-01-01", "baseline_end": "2026-01-10",
               "start": "2026-01-10", "end": "2026-01-20"}, ok=_ok(422)),
    ("GET", _SITE + "/analytics/anomalies"): Call(),
    ("GET", _SITE + "/annotations"): Call(
        query=lambda r: {"points": f"{r.params['equip_id']}/{r.params['name']}"}),
    ("GET", _SITE + "/devices"): Call(),
    # commands
    ("POST", _POINT + "/commands"): Call(body=lambda r: {"value": 16 if r.site == "hq" else 22,
                                                         "reason": "matrix"}, ok=_ok(201)),
    ("POST", _POINT + "/release"): Call(body={"reason": "matrix"}, ok=_ok(201)),
    ("GET", _POINT + "/priority-array"): Call(),
    ("GET", _SITE + "/overrides"): Call(),
    ("GET", _SITE + "/operation"): Call(),
    # equipment graphics and floor plans (the lab's fc-1 is drawn as a generic box, hq's ahu-1 as an AHU)
    ("GET", _SITE + "/equipment/{equip_id}/graphic"): Call(),
    ("PUT", _SITE + "/equipment/{equip_id}/graphic"): Call(
        body=lambda r: {"elements": {"supply-fan" if r.site == "hq" else "equipment": {"x": 10, "y": 10}}}),
    ("DELETE", _SITE + "/equipment/{equip_id}/graphic"): Call(),
    ("GET", _SITE + "/plans"): Call(),
    ("GET", _SITE + "/spaces/{space_id}/plan"): Call(),
    ("GET", _SITE + "/commands"): Call(),
    ("GET", _SITE + "/commands/{command_id}"): Call(),
    # alarms: acknowledging twice, or unshelving what is not shelved, is a 409 about the state
    ("GET", _SITE + "/alarms"): Call(),
    ("GET", _SITE + "/alarms/history"): Call(),
    ("POST", _SITE + "/alarms/ack"): Call(body=lambda r: {"ids": [r.params["alarm_id"]]}),
    ("GET", _ALARM): Call(),
    ("POST", _ALARM + "/ack"): Call(body={}, ok=_ok(200, 409)),
    ("POST", _ALARM + "/notes"): Call(body={"note": "matrix"}, ok=_ok(201)),
    ("POST", _ALARM + "/shelve"): Call(body={"duration_s": 60, "reason": "matrix"}),
    ("POST", _ALARM + "/unshelve"): Call(body={}, ok=_ok(200, 409)),
    # schedules and calendars: PUT creates (201) or replaces (200)
    ("GET", _SITE + "/schedules"): Call(),
    ("GET", _SITE + "/schedules/{schedule_id}"): Call(),
    ("GET", _SITE + "/schedules/{schedule_id}/transitions"): Call(),
    ("PUT", _SITE + "/schedules/{schedule_id}"): Call(body={}, params={"schedule_id": "matrix"},
                                                      ok=_ok(200, 201)),
    ("DELETE", _SITE + "/schedules/{schedule_id}"): Call(ok=_ok(204), fresh=_fresh_config("schedules")),
    ("GET", _SITE + "/calendars"): Call(),
    ("GET", _SITE + "/calendars/{calendar_id}"): Call(),
    ("PUT", _SITE + "/calendars/{calendar_id}"): Call(body={}, params={"calendar_id": "matrix"},
                                                      ok=_ok(200, 201)),
    ("DELETE", _SITE + "/calendars/{calendar_id}"): Call(ok=_ok(204), fresh=_fresh_config("calendars")),
    # programs: a rollback with no earlier deployment is a 409 about the state
    ("GET", _SITE + "/programs"): Call(),
    ("POST", _SITE + "/programs/validate"): Call(
        body=lambda r: {"id": r.params["program_id"], "site": r.site,
                        **_program(r.site, f"{r.params['equip_id']}/{r.params['name']}", 20)}),
    ("GET", _PROGRAM): Call(),
    ("GET", _PROGRAM + "/versions"): Call(),
    ("PUT", _PROGRAM): Call(
        body=lambda r: {"program": _program(r.site, f"{r.params['equip_id']}/{r.params['name']}", 20)},
        ok=_ok(200, 201)),  # 200: the same document as the latest version (a second allowed user)
    ("POST", _PROGRAM + "/deploy"): Call(body={"version": 1, "reason": "matrix"}),
    ("POST", _PROGRAM + "/rollback"): Call(ok=_ok(200, 409)),
    ("POST", _PROGRAM + "/disable"): Call(),
    ("POST", _PROGRAM + "/enable"): Call(),
    ("GET", "/api/v1/blocks"): Call(),  # the block catalogue: any signed-in user
    ("POST", _PROGRAM + "/dry-run"): Call(body={"duration_s": 60}, ok=_ok(201)),
    ("GET", _PROGRAM + "/dry-run"): Call(fresh=_fresh_dry_run),
    ("DELETE", _PROGRAM + "/dry-run"): Call(ok=_ok(204), fresh=_fresh_dry_run),
    ("GET", _SITE + "/program-templates"): Call(),
    ("GET", _SITE + "/program-templates/{template_id}"): Call(params=_TEMPLATE, fresh=_fresh_template),
    ("PUT", _SITE + "/program-templates/{template_id}"): Call(
        body=lambda r: {"program": _program(r.site, f"{r.params['equip_id']}/{r.params['name']}", 20),
                        "equipment": r.params["equip_id"]},
        params=_TEMPLATE, ok=_ok(200, 201)),
    ("DELETE", _SITE + "/program-templates/{template_id}"): Call(ok=_ok(204), params=_TEMPLATE,
                                                               fresh=_fresh_template),
    ("POST", _SITE + "/program-templates/{template_id}/apply"): Call(body={}, params=_TEMPLATE,
                                                                     fresh=_fresh_template),
    ("POST", _PROGRAM + "/overrides"): Call(
        body={"port": "out", "value": 16, "duration_s": 60, "reason": "matrix"}, ok=_ok(201)),
    ("GET", _PROGRAM + "/overrides"): Call(),
    ("DELETE", _PROGRAM + "/overrides/{port}"): Call(params={"port": "out"}, ok=_ok(204),
                                                     fresh=_fresh_program_override),
    ("POST", _SITE + "/programs/replay"): Call(  # yesterday, hourly: it reads, never writes
        body=lambda r: {"program": _program(r.site, f"{r.params['equip_id']}/{r.params['name']}", 20),
                        "step_s": 3600}),
    # the emulated building's faults: the matrix's runtime runs no emulator, so an admin gets the 409
    ("GET", "/api/v1/emulator/faults"): Call(ok=_ok(409)),
    ("PUT", "/api/v1/emulator/faults/{fault_id}"): Call(body={}, params={"fault_id": "chiller-trip:ch-1"},
                                                      ok=_ok(409)),
    ("DELETE", "/api/v1/emulator/faults/{fault_id}"): Call(params={"fault_id": "chiller-trip:ch-1"},
                                                         ok=_ok(409)),
}


# ------------------------------------------------------------------------------ expectations


def _app() -> FastAPI:
    """The app as ``openbms run`` builds it (its routes do not depend on the database)."""
    return create_app(engine=sa.create_engine("sqlite://"))


def _routes(app: FastAPI) -> list[tuple[str, str, Access]]:
    found = []
    for route in access_table(app):
        assert len(route.access) == 1, f"{route.path} declares {len(route.access)} kinds of access"
        found.extend((method, route.path, route.access[0]) for method in route.methods if method != "HEAD")
    return found


ROUTES = _routes(_app())


def expected(access: Access, user: str, site: str | None) -> str:
    """``public``, ``allowed``, ``unauthorized`` (401), ``forbidden`` (403) or ``hidden`` (the site 404)."""
    if access.kind == "public":
        return "public"
    if user == "anonymous":
        return "unauthorized"
    if access.kind == "authenticated":
        return "allowed"
    grants = USERS[user]
    permission = str(access.permission)
    if permission in GLOBAL_PERMISSIONS:
        return "allowed" if role_allows(effective_role(grants, "*"), permission) else "forbidden"
    if access.site_param is None or site is None:  # filtered by visible_sites
        held = any(role_allows(effective_role(grants, s), permission) for s in SITES)
        return "allowed" if held else "forbidden"
    role = effective_role(grants, site)
    if role is None:
        return "hidden"
    return "allowed" if role_allows(role, permission) else "forbidden"


def _site_scoped(access: Access) -> bool:
    return access.kind == "permission" and access.site_param is not None


# ------------------------------------------------------------------------------ the tests


def _uncovered(app: FastAPI) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Routes of ``app`` without a row in ``CALLS``, and rows for routes ``app`` does not have."""
    routes = {(method, path) for method, path, _access in _routes(app)}
    return sorted(routes - set(CALLS)), sorted(set(CALLS) - routes)


def test_every_route_has_a_row_in_the_matrix():
    missing, stale = _uncovered(_app())
    assert not missing, f"routes the permission matrix does not cover (add a row to CALLS): {missing}"
    assert not stale, f"rows of CALLS for routes that no longer exist: {stale}"


def test_a_new_route_without_a_row_is_named():
    extra = APIRouter(prefix="/api/v1")

    @extra.get("/sites/{site_id}/gadgets")
    async def gadgets(site_id: str, user: Any = require("sites:read", site_param="site_id")) -> None: ...

    app = create_app(engine=sa.create_engine("sqlite://"), routers=[extra])
    assert _uncovered(app) == ([("GET", "/api/v1/sites/{site_id}/gadgets")], [])


def test_every_route_declares_its_access():
    assert undeclared_routes(_app()) == []


def _fill(path: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, f"no filler for a parameter of {path}"
    return path


def _value(v: Value, req: Req) -> Any:
    return v(req) if callable(v) else v


def _without_instance(r: httpx.Response) -> str:
    """The body, less the ``instance`` of a problem (it repeats the request's own path)."""
    try:
        body = r.json()
    except ValueError:
        return r.text
    if isinstance(body, dict):
        body.pop("instance", None)
    return json.dumps(body)


async def _send(world: World, method: str, path: str, call: Call, user: str, site: str,
                outcome: str, like: str | None = None) -> tuple[httpx.Response, str]:
    """Call the route on ``site`` with the objects of ``like`` (by default, of the site itself)."""
    params = {**world.ids[like or site], "user_id": world.target_user,
              "token_id": "none", **call.params}
    req = Req(world, user, site, params)
    body, headers = _value(call.body, req), None
    if call.fresh is not None and outcome in ("allowed", "public"):
        made = await call.fresh(req)
        params.update(made.get("params", {}))
        body = made.get("body", body)
        headers = made.get("headers")
    url = _fill(path, {**params, "site_id": site})
    kw: dict[str, Any] = {"params": _value(call.query, req), "headers": headers}
    if body is not None:
        kw["json"] = body
    return await world.live.clients[user].request(method, url, **kw), url


async def test_every_route_answers_every_user_as_its_declared_access_says(live: Live):  # noqa: F811
    world = await _world(live)
    failures: list[str] = []
    checked = 0
    # Logouts and password changes end sessions: they go last, each user's own sessions untouched
    # until then (a logout ends a fresh session; a password change keeps the caller's).
    last = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password")}
    order = sorted(ROUTES, key=lambda r: (r[:2] in last, r[0] == "DELETE"))
    for method, path, access in order:
        if method == "WEBSOCKET":
            continue
        call = CALLS[(method, path)]
        sites: tuple[str | None, ...] = SITES if _site_scoped(access) else (None,)
        for site, user in itertools.product(sites, EVERYONE):
            outcome = expected(access, user, site)
            r, url = await _send(world, method, path, call, user, site or "hq", outcome)
            checked += 1
            where = f"{method} {url} as {user} (expected {outcome}): {r.status_code} {r.text[:300]}"
            if outcome in ("allowed", "public"):
                if r.status_code not in call.ok:
                    failures.append(where)
            elif outcome == "unauthorized":
                if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
                    failures.append(where)
            elif outcome == "forbidden":
                if r.status_code != 403:
                    failures.append(where)
            else:
                assert site is not None
                ref, _ = await _send(world, method, path, call, user, NOWHERE, outcome, like=site)
                # The same request on a site that does not exist, its site id replaced by this one.
                want = json.loads(json.dumps(ref.json()).replace(NOWHERE, site))
                if r.status_code != 404 or ref.status_code != 404 or r.json() != want:
                    failures.append(f"{where}; a nonexistent site answers {ref.status_code} {ref.text}")
            if access.kind != "public":
                text = _without_instance(r)
                for other in SITES:
                    if user != "admin" and effective_role(USERS.get(user, {}), other) is None:
                        leaked = [s for s in world.secrets[other] if s in text]
                        if leaked:
                            failures.append(f"{where}: names {leaked} of site {other!r}")
    assert not failures, f"{len(failures)} of {checked} answers are wrong:\n" + "\n".join(failures)
    assert checked > 500


async def test_the_websocket_admits_every_signed_in_user_only(live: Live):  # noqa: F811
    """The one WebSocket route (``authenticated``): a token admits, no token is refused with 4401."""
    (access,) = [a for m, p, a in ROUTES if m == "WEBSOCKET"]
    url = live.url.replace("http://", "ws://") + "/api/v1/ws"
    for user in EVERYONE:
        assert expected(access, user, None) == ("unauthorized" if user == "anonymous" else "allowed")
        if user == "anonymous":
            async with connect(url) as ws:
                await ws.send(json.dumps({"type": "subscribe", "points": ["*"]}))
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
            continue
        token = live.clients[user].headers["Authorization"].removeprefix("Bearer ")
        async with connect(f"{url}?token={token}") as ws:
            await ws.ping()
            assert ws.close_code is None, user
