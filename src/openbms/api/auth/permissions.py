"""Every route declares who may call it: ``public()``, ``authenticated()`` or ``require(permission)``.

The declaration is a FastAPI dependency that carries an ``Access`` record, so
``access_table(app)`` can list every route with what it requires, and
``undeclared_routes(app)`` names any route that forgot (the permission-matrix
test fails on those). A router looks like::

    router = APIRouter(prefix="/api/v1", tags=["points"])

    @router.get("/sites/{site_id}/points")
    async def list_points(site_id: str, user: Principal = require("points:read", site_param="site_id")):
        ...

    @router.get("/health", dependencies=[public()])
    async def health(): ...

With a site (``site_param`` names a path or query parameter, or ``site_of``
computes it from the request), a caller with no role on that site gets the
same 404 as for a site that does not exist — never a 403 that would confirm
it exists; a caller who sees the site but lacks the permission gets 403.
Either refusal is audited (``access.denied``, folded per minute: see
``openbms.api.auth.refusals``).
Without a site, the caller needs the permission on at least one site, and the
route filters what it returns with ``visible_sites``. Writes (any method but
GET, HEAD, OPTIONS) are rate limited per user and per client address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, FastAPI
from starlette.requests import HTTPConnection

from openbms.api.auth.principal import Principal, authenticate
from openbms.api.auth.refusals import Refusal, Refusals
from openbms.api.auth.roles import GLOBAL_PERMISSIONS, PERMISSIONS, ROLE_PERMISSIONS, ROLES
from openbms.api.context import client_addr, get_context
from openbms.api.errors import ApiError, forbidden, site_not_found

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "Access",
    "Principal",
    "RouteAccess",
    "access_of",
    "access_table",
    "authenticated",
    "public",
    "refusals",
    "refused",
    "require",
    "session_only",
    "undeclared_routes",
    "visible_sites",
]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ACCESS_ATTR = "__openbms_access__"


@dataclass(frozen=True, slots=True)
class Access:
    """What a route requires: nothing, a login, or a permission (on the site named by ``site_param``)."""

    kind: Literal["public", "authenticated", "permission"]
    permission: str | None = None
    site_param: str | None = None

    def __str__(self) -> str:
        if self.kind != "permission":
            return self.kind
        return f"{self.permission} on {{{self.site_param}}}" if self.site_param else str(self.permission)


PUBLIC = Access("public")
AUTHENTICATED = Access("authenticated")


def _mark(fn: Callable[..., Any], access: Access) -> Any:
    setattr(fn, _ACCESS_ATTR, access)
    return Depends(fn)


def public() -> Any:
    """Declare a route open to anyone (health, metrics, login, docs)."""

    def _public() -> None:
        return None

    return _mark(_public, PUBLIC)


def authenticated() -> Any:
    """Declare a route open to any logged-in user; the dependency's value is the Principal."""

    async def _authenticated(conn: HTTPConnection) -> Principal:
        principal = await authenticate(conn)
        _limit_writes(conn, principal)
        return principal

    return _mark(_authenticated, AUTHENTICATED)


def require(
    permission: str,
    *,
    site_param: str | None = None,
    site_of: Callable[[HTTPConnection], str | None] | None = None,
    check_site_exists: bool = True,
) -> Any:
    """Declare that a route needs ``permission`` (on a site); the dependency's value is the Principal.

    ``site_param`` names the path (or else query) parameter holding the site
    id; ``site_of`` computes it instead (from a point id, say). An unknown
    permission fails at import time, not at request time.
    """
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}: add it to openbms.api.auth.roles.PERMISSIONS")
    if permission in GLOBAL_PERMISSIONS and (site_param or site_of):
        raise ValueError(f"{permission!r} is not about one site: declare it without site_param")

    def site_id_of(conn: HTTPConnection) -> str | None:
        if site_of is not None:
            return site_of(conn)
        if site_param is None:
            return None
        value = conn.path_params.get(site_param)
        if value is None:
            value = conn.query_params.get(site_param)
        return None if value is None else str(value)

    async def _require(conn: HTTPConnection) -> Principal:
        principal = await authenticate(conn)
        _limit_writes(conn, principal)
        site_id = site_id_of(conn)
        if permission in GLOBAL_PERMISSIONS or site_id is None:
            if not principal.can(permission):
                raise await refused(conn, principal, forbidden(f"this needs the {permission!r} permission"),
                                    "lacks the permission", permission=permission)
            return principal
        if not principal.sees(site_id):
            raise await refused(conn, principal, site_not_found(site_id), "no role on the site",
                                permission=permission, site=site_id)
        if check_site_exists and not await get_context(conn).site_exists(site_id):
            raise site_not_found(site_id)
        if not principal.can(permission, site_id):
            raise await refused(
                conn, principal, forbidden(f"this needs the {permission!r} permission on site {site_id!r}"),
                "lacks the permission on the site", permission=permission, site=site_id)
        return principal

    _require.__name__ = f"require_{permission.replace(':', '_')}"
    return _mark(
        _require, Access("permission", permission, site_param or ("<computed>" if site_of else None))
    )


def refusals(conn: HTTPConnection) -> Refusals:
    """The app's audit of refusals (made on first use)."""
    found = getattr(conn.app.state, "refusals", None)
    if not isinstance(found, Refusals):
        found = conn.app.state.refusals = Refusals()
    return found


async def refused(
    conn: HTTPConnection,
    principal: Principal,
    error: ApiError,
    reason: str,
    *,
    permission: str | None = None,
    site: str | None = None,
) -> ApiError:
    """Audit that ``principal`` was refused ``conn`` for ``reason``; ``error``, for the caller to raise."""
    route = getattr(conn.scope.get("route"), "path", None) or conn.url.path
    refusal = Refusal(
        actor=principal.actor,
        method=str(conn.scope.get("method") or conn.scope["type"].upper()),
        route=str(route)[:200],
        path=conn.url.path,
        site=site,
        reason=reason,
        status=error.status,
        permission=permission,
        via=principal.via,
        remote_addr=client_addr(conn),
    )
    await refusals(conn).record(get_context(conn), refusal)
    return error


async def session_only(conn: HTTPConnection, principal: Principal) -> None:
    """A 403 (audited) unless the caller logged in with a password: API tokens may not manage credentials."""
    if principal.via != "session":
        raise await refused(conn, principal, ApiError(403, "this needs a login session, not an API token"),
                            "needs a login session")


def _limit_writes(conn: HTTPConnection, principal: Principal) -> None:
    method = conn.scope.get("method")
    if conn.scope["type"] != "http" or method in _SAFE_METHODS:
        return
    ctx = get_context(conn)
    ctx.limiter.hit("write-user", principal.user_id, ctx.settings.write_rate_user)
    ctx.limiter.hit("write-ip", client_addr(conn) or "?", ctx.settings.write_rate_ip)


def visible_sites(principal: Principal, site_ids: Iterable[str], permission: str = "sites:read") -> list[str]:
    """Those of ``site_ids`` the user may see (with ``permission``), for lists, searches and exports."""
    return principal.sites_with(permission, site_ids)


# ---------------------------------------------------------------------- the registry


@dataclass(frozen=True, slots=True)
class RouteAccess:
    """One route (path and methods) and the access it declared."""

    path: str
    methods: tuple[str, ...]
    access: tuple[Access, ...]


def _flat_routes(app: FastAPI) -> Iterator[Any]:
    """Every route of ``app``, included routers flattened (FastAPI ≥ 0.16x keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI flattens app.routes itself
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def access_of(route: Any) -> tuple[Access, ...]:
    """The access declarations of a route (its own and its routers' dependencies), possibly none."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return ()
    found: list[Access] = []
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        access = getattr(dep.call, _ACCESS_ATTR, None)
        if isinstance(access, Access) and access not in found:
            found.append(access)
        stack.extend(dep.dependencies)
    return tuple(found)


def access_table(app: FastAPI) -> list[RouteAccess]:
    """Every route of ``app`` with its declared access, for docs and the permission-matrix test."""
    table = []
    for route in _flat_routes(app):
        methods = tuple(sorted(getattr(route, "methods", None) or ("WEBSOCKET",)))
        path = getattr(route, "path_format", None) or getattr(route, "path", None) or repr(route)
        table.append(RouteAccess(path, methods, access_of(route)))
    return table


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes that declare no access at all: each is a bug."""
    return [f"{' '.join(r.methods)} {r.path}" for r in access_table(app) if not r.access]
