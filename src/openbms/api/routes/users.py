"""``/api/v1/users``: accounts and their site roles (``users:admin``, i.e. admins on every site).

Accounts are disabled, never deleted, so the audit log keeps naming real
people. An admin cannot disable themselves or drop their own all-sites role:
the last way in is not lost by a slip.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.auth.roles import ALL_SITES
from openbms.api.context import ApiContext, client_addr, get_context
from openbms.api.errors import ApiError, conflict, invalid_field, not_found
from openbms.api.helpers import Cursor, Limit, Page, decode_cursor, page
from openbms.db import accounts
from openbms.db.accounts import AccountError

__all__ = ["Role", "router"]

router = APIRouter(prefix="/api/v1/users", tags=["users"])

Role = Literal["viewer", "operator", "facility_manager", "admin"]
SiteId = Path(
    min_length=1,
    max_length=64,
    pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.-]*)$",
    description="A site id, or * for every site.",
)


class UserOut(BaseModel):
    """A user account (never its password hash)."""

    id: str
    email: str
    name: str
    disabled: bool
    locked: bool
    grants: dict[str, Role] = Field(description="Site id (or *) → role.")
    created_at: float
    updated_at: float
    last_login_at: float | None


class UserCreate(BaseModel):
    """A new account: e-mail, password (at least 10 characters), and its roles per site."""

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    name: str = Field(default="", max_length=200)
    grants: dict[str, Role] = Field(default_factory=dict, description="Site id (or *) → role.")


class UserUpdate(BaseModel):
    """Fields to change; absent ones stay."""

    email: str | None = Field(default=None, min_length=3, max_length=254)
    name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    disabled: bool | None = None
    revoke_tokens: bool = Field(
        default=False,
        description="Also revoke every API token of the user (a new password or disabling keeps them).",
    )


class GrantIn(BaseModel):
    """The role to hold on the site."""

    role: Role


class GrantOut(BaseModel):
    """A user's role on a site."""

    user_id: str
    site_id: str
    role: Role


def _out(row: dict[str, Any], now: float, grants: dict[str, str] | None = None) -> UserOut:
    locked = row["locked_until"] is not None and row["locked_until"] > now
    return UserOut(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        disabled=bool(row["disabled"]),
        locked=locked,
        grants=grants if grants is not None else row.get("grants", {}),  # type: ignore[arg-type]
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_login_at=row["last_login_at"],
    )


async def _get(ctx: ApiContext, user_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    found = await ctx.run(accounts.user_with_grants, ctx.engine, user_id)
    if found is None:
        raise not_found(f"no user {user_id!r}")
    return found


def _refused(err: AccountError, field: str) -> ApiError:
    if err.reason == "exists":
        return conflict(str(err))
    if err.reason == "not_found":
        return not_found(str(err))
    return invalid_field(["body", field], str(err))


@router.get("", response_model=Page[UserOut])
async def list_users(
    request: Request,
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("users:admin"),
) -> Page[UserOut]:
    """Every account, by e-mail."""
    ctx = get_context(request)
    after = decode_cursor(cursor, {"email": str}).get("email")
    rows = await ctx.run(accounts.list_users, ctx.engine, after_email=after, limit=limit + 1)
    items, nxt = page(rows, limit, lambda r: {"email": r["email"]})
    now = ctx.now()
    return Page[UserOut](items=[_out(r, now) for r in items], next_cursor=nxt)


@router.post("", response_model=UserOut, status_code=201)
async def create_user(
    body: UserCreate, request: Request, user: Principal = require("users:admin")
) -> UserOut:
    """A new account with its site roles."""
    ctx = get_context(request)
    try:
        accounts.check_password(body.password, ctx.settings.password_min_length)
    except AccountError as err:
        raise _refused(err, "password") from err
    for site in body.grants:
        try:
            accounts.check_site(site)
        except AccountError as err:
            raise invalid_field(["body", "grants", site], str(err)) from err
    password_hash = await ctx.run(ctx.passwords.hash, body.password)
    try:
        row = await ctx.run(
            accounts.create_user,
            ctx.engine,
            body.email,
            password_hash,
            name=body.name,
            grants=dict(body.grants),
            by=user.actor,
            now=ctx.now(),
        )
    except AccountError as err:
        raise _refused(err, "email") from err
    await ctx.audit(
        user.actor,
        "user.create",
        row["email"],
        {"user_id": row["id"], "name": row["name"], "grants": dict(body.grants)},
        client_addr(request),
    )
    return _out(row, ctx.now(), dict(body.grants))


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: str, request: Request, user: Principal = require("users:admin")) -> UserOut:
    """One account."""
    ctx = get_context(request)
    row, grants = await _get(ctx, user_id)
    return _out(row, ctx.now(), grants)


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: str, body: UserUpdate, request: Request, user: Principal = require("users:admin")
) -> UserOut:
    """Change e-mail, name, password or disabled; a new password or disabling ends the user's sessions.

    API tokens are kept unless ``revoke_tokens`` is true (a disabled user's tokens are
    refused until the account is enabled again).
    """
    ctx = get_context(request)
    before, grants = await _get(ctx, user_id)
    if body.disabled and user_id == user.user_id:
        raise conflict("you cannot disable your own account")
    password_hash = None
    if body.password is not None:
        try:
            accounts.check_password(body.password, ctx.settings.password_min_length)
        except AccountError as err:
            raise _refused(err, "password") from err
        password_hash = await ctx.run(ctx.passwords.hash, body.password)
    now = ctx.now()
    try:
        row = await ctx.run(
            accounts.update_user,
            ctx.engine,
            user_id,
            email=body.email,
            name=body.name,
            password_hash=password_hash,
            disabled=body.disabled,
            now=now,
        )
    except AccountError as err:
        raise _refused(err, "email") from err
    if password_hash is not None:
        await ctx.run(accounts.revoke_sessions, ctx.engine, user_id, now=now)
    changes: dict[str, Any] = {
        k: {"from": before[k], "to": row[k]} for k in ("email", "name", "disabled") if before[k] != row[k]
    }
    if password_hash is not None:
        changes["password"] = "changed"
    if body.revoke_tokens:
        changes["tokens_revoked"] = await ctx.run(accounts.revoke_api_tokens, ctx.engine, user_id, now=now)
    action = "user.update"
    if "disabled" in changes:
        action = "user.disable" if row["disabled"] else "user.enable"
    await ctx.audit(
        user.actor, action, row["email"], {"user_id": user_id, "changes": changes}, client_addr(request)
    )
    return _out(row, now, grants)


@router.delete("/{user_id}", status_code=204, response_class=Response)
async def disable_user(
    user_id: str,
    request: Request,
    revoke_tokens: bool = Query(False, description="Also revoke every API token of the user."),
    user: Principal = require("users:admin"),
) -> Response:
    """Disable an account and end its sessions (accounts are never deleted: the audit log keeps naming them).

    Its API tokens are refused while it is disabled, and revoked for good with ``revoke_tokens=true``.
    """
    ctx = get_context(request)
    before, _grants = await _get(ctx, user_id)
    if user_id == user.user_id:
        raise conflict("you cannot disable your own account")
    details: dict[str, Any] = {"user_id": user_id}
    if not before["disabled"]:
        await ctx.run(accounts.update_user, ctx.engine, user_id, disabled=True, now=ctx.now())
    if revoke_tokens:
        details["tokens_revoked"] = await ctx.run(
            accounts.revoke_api_tokens, ctx.engine, user_id, now=ctx.now()
        )
    if not before["disabled"] or revoke_tokens:
        await ctx.audit(user.actor, "user.disable", before["email"], details, client_addr(request))
    return Response(status_code=204)


@router.put("/{user_id}/grants/{site_id}", response_model=GrantOut)
async def grant(
    user_id: str,
    body: GrantIn,
    request: Request,
    site_id: str = SiteId,
    user: Principal = require("users:admin"),
) -> GrantOut:
    """Give the user a role on a site (``*``: every site), replacing the one held there."""
    ctx = get_context(request)
    target, _grants = await _get(ctx, user_id)
    if user_id == user.user_id and site_id == ALL_SITES and body.role != "admin":
        raise conflict("you cannot lower your own role on every site")
    previous = await ctx.run(
        accounts.set_grant, ctx.engine, user_id, site_id, body.role, by=user.actor, now=ctx.now()
    )
    await ctx.audit(
        user.actor,
        "user.grant",
        target["email"],
        {"user_id": user_id, "site": site_id, "role": body.role, "previous": previous},
        client_addr(request),
    )
    return GrantOut(user_id=user_id, site_id=site_id, role=body.role)


@router.delete("/{user_id}/grants/{site_id}", status_code=204, response_class=Response)
async def revoke(
    user_id: str, request: Request, site_id: str = SiteId, user: Principal = require("users:admin")
) -> Response:
    """Take the user's role on a site away."""
    ctx = get_context(request)
    target, grants = await _get(ctx, user_id)
    if site_id not in grants:
        raise not_found(f"user {target['email']!r} holds no role on {site_id!r}")
    if user_id == user.user_id and site_id == ALL_SITES:
        raise conflict("you cannot remove your own role on every site")
    previous = await ctx.run(accounts.revoke_grant, ctx.engine, user_id, site_id)
    await ctx.audit(
        user.actor,
        "user.revoke",
        target["email"],
        {"user_id": user_id, "site": site_id, "previous": previous},
        client_addr(request),
    )
    return Response(status_code=204)
