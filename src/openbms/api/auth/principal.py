"""Who is calling: the bearer token of a request, checked, becomes a ``Principal``.

Two kinds of bearer token: a JWT access token (from a login; 15 minutes;
its session must not have been logged out) and an API token (``obms_…``,
long-lived, stored hashed, optionally narrowed to a lower role). Either way
the user must exist and be enabled, and the grants are read afresh, so a
revoked role or a disabled account takes effect at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from starlette.requests import HTTPConnection

from openbms.api.auth.roles import ALL_SITES, GLOBAL_PERMISSIONS, effective_role, role_allows
from openbms.api.auth.tokens import InvalidToken, decode_access_token
from openbms.api.context import ApiContext, get_context
from openbms.api.errors import ApiError, unauthorized
from openbms.db.accounts import API_TOKEN_PREFIX, api_token_holder, session_holder

__all__ = ["Principal", "authenticate", "bearer_token", "principal_for_token"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user, with the site grants held at the time of the request."""

    user_id: str
    email: str
    name: str
    grants: Mapping[str, str] = field(default_factory=dict)
    via: Literal["session", "api_token"] = "session"
    session_id: str | None = None
    token_id: str | None = None
    token_role: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return self.email

    def role_on(self, site_id: str) -> str | None:
        """The role on ``site_id`` (the ``"*"`` grant counts; an API token's role caps it)."""
        return effective_role(self.grants, site_id, self.token_role)

    def sees(self, site_id: str) -> bool:
        """Whether the user holds any role on ``site_id``."""
        return site_id != ALL_SITES and self.role_on(site_id) is not None

    def can(self, permission: str, site_id: str | None = None) -> bool:
        """Whether the user has ``permission`` on ``site_id`` (None: on at least one site)."""
        if permission in GLOBAL_PERMISSIONS:
            return role_allows(self.role_on(ALL_SITES), permission)
        if site_id is None:
            return any(role_allows(self.role_on(s), permission) for s in self.grants)
        return self.sees(site_id) and role_allows(self.role_on(site_id), permission)

    def sites_with(self, permission: str, site_ids: Iterable[str]) -> list[str]:
        """Those of ``site_ids`` on which the user has ``permission``, in order."""
        return [s for s in site_ids if self.can(permission, s)]


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _load(ctx: ApiContext, token: str, now: float) -> tuple[Principal, float] | None:
    """The principal and when its token expires (on the API's clock), or None."""
    if token.startswith(API_TOKEN_PREFIX):
        holder = api_token_holder(ctx.engine, token, now)
        if holder is None or holder.token is None:
            return None
        user, row = holder.user, holder.token
        ends = row["expires_at"] if row["expires_at"] is not None else float("inf")
        return Principal(
            user["id"],
            user["email"],
            user["name"],
            holder.grants,
            via="api_token",
            token_id=row["id"],
            token_role=row["role"],
        ), float(ends)
    s = ctx.settings
    try:
        claims = decode_access_token(token, ctx.secret, s.algorithm, now=now, issuer=s.issuer)
    except InvalidToken:
        return None
    holder = session_holder(ctx.engine, claims.sub, claims.sid)
    if holder is None:
        return None
    user = holder.user
    return Principal(
        user["id"],
        user["email"],
        user["name"],
        holder.grants,
        via="session",
        session_id=claims.sid,
        token_id=claims.jti,
    ), float(claims.exp)


async def principal_for_token(ctx: ApiContext, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None (for the WebSocket, which has no headers to spare).

    A sign-in is kept for ``auth_cache_s`` seconds (default 2): a burst of requests
    with one token reads the user, session and grants once. Changes made through the
    API empty the cache at once; changes made elsewhere (``openbms user``) take
    effect within those seconds. An access token past its expiry is never served.
    """
    ttl = ctx.settings.auth_cache_s
    if ttl > 0:
        hit = ctx.principals.get(token)
        if hit is not None and hit[1] > time.monotonic() and ctx.now() < hit[2]:
            return hit[0]
    generation = ctx.access_generation
    loaded = await ctx.once(("principal", token, generation), _load, ctx, token, ctx.now())
    if loaded is None:
        return None
    principal, ends = loaded
    if ttl > 0 and generation == ctx.access_generation:
        if len(ctx.principals) > 10_000:
            ctx.principals.clear()
        ctx.principals[token] = (principal, time.monotonic() + ttl, ends)  # never past the token's expiry
    return principal


async def authenticate(conn: HTTPConnection) -> Principal:
    """The caller of ``conn``, or a 401 problem. Done once per request."""
    cached = getattr(conn.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = bearer_token(conn)
    if token is None:
        raise unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    if len(token) > 4096:
        raise unauthorized("invalid or expired token")
    principal = await principal_for_token(get_context(conn), token)
    if principal is None:
        raise unauthorized("invalid or expired token")
    conn.state.principal = principal
    return principal


def require_session(principal: Principal) -> None:
    """403 unless the caller logged in with a password (API tokens may not manage credentials)."""
    if principal.via != "session":
        raise ApiError(403, "this needs a login session, not an API token")
