"""``/api/v1/auth``: login, refresh (rotating), logout, password change, and who am I."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import authenticated, public, session_only
from openbms.api.auth.principal import Principal
from openbms.api.auth.roles import ALL_SITES, GLOBAL_PERMISSIONS, PERMISSIONS, ROLE_PERMISSIONS
from openbms.api.auth.tokens import encode_access_token
from openbms.api.context import ApiContext, client_addr, get_context
from openbms.api.errors import ApiError, invalid_field, unauthorized
from openbms.db import accounts
from openbms.db.accounts import AccountError

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_BAD_LOGIN = "wrong e-mail or password"


class LoginRequest(BaseModel):
    """E-mail and password."""

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class TokenPair(BaseModel):
    """A 15-minute access token (send it as ``Authorization: Bearer``) and a 7-day refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class RefreshRequest(BaseModel):
    """The refresh token of the last login or refresh (each one works once)."""

    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutRequest(BaseModel):
    """Which sessions to end: the current one (default), that of ``refresh_token``, or ``everywhere``."""

    refresh_token: str | None = Field(default=None, max_length=512)
    everywhere: bool = False


class PasswordChange(BaseModel):
    """The current password and the new one."""

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)
    revoke_tokens: bool = Field(
        default=False, description="Also revoke every one of your API tokens (they are kept otherwise)."
    )


class Me(BaseModel):
    """The caller: identity, grants, and the permissions they give on each granted site."""

    id: str
    email: str
    name: str
    via: Literal["session", "api_token"]
    token_role: str | None
    grants: dict[str, str]
    permissions: dict[str, list[str]]


def _pair(ctx: ApiContext, user_id: str, family: str, refresh: str, now: float) -> TokenPair:
    s = ctx.settings
    access, _claims = encode_access_token(
        ctx.secret, s.algorithm, sub=user_id, sid=family, now=now, ttl=s.access_ttl, issuer=s.issuer
    )
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=int(s.access_ttl))


@router.post("/login", response_model=TokenPair, dependencies=[public()])
async def login(body: LoginRequest, request: Request) -> TokenPair:
    """Log in; the answer is the same 401 for an unknown account, a wrong password or a locked account."""
    ctx, addr, s = get_context(request), client_addr(request), get_context(request).settings
    ctx.limiter.hit("login-ip", addr or "?", s.login_rate_ip)
    try:
        email = accounts.normalize_email(body.email)
    except AccountError:
        email = body.email.strip().lower()
    ctx.limiter.hit("login-account", email, s.login_rate_account)
    now = ctx.now()
    user = await ctx.run(accounts.find_user, ctx.engine, email=email)
    # Always verify (a dummy hash for unknown accounts), so timing tells nothing either.
    ok = await ctx.run(ctx.passwords.verify, user["password_hash"] if user else None, body.password)
    reason = None
    if user is None:
        reason = "unknown account"
    elif user["locked_until"] is not None and user["locked_until"] > now:
        reason = "account locked"
    elif not ok:
        reason = "wrong password"
    elif user["disabled"]:
        reason = "account disabled"
    if reason is not None:
        details: dict[str, object] = {"reason": reason}
        if user is not None and reason == "wrong password":
            locked = await ctx.run(
                accounts.record_login_failure,
                ctx.engine,
                user["id"],
                addr,
                now=now,
                window=s.lockout_window,
                threshold=s.lockout_failures,
                duration=s.lockout_duration,
            )
            if locked:
                details["locked_until"] = now + s.lockout_duration
        ctx.metrics.login_failures += 1
        await ctx.audit(email, "auth.login_failed", email, details, addr)
        raise unauthorized(_BAD_LOGIN)
    assert user is not None
    new_hash = (
        await ctx.run(ctx.passwords.hash, body.password)
        if ctx.passwords.needs_rehash(user["password_hash"])
        else None
    )
    await ctx.run(accounts.record_login_success, ctx.engine, user["id"], now=now, new_hash=new_hash)
    refresh, family = await ctx.run(
        accounts.start_session, ctx.engine, user["id"], now=now, ttl=s.refresh_ttl, remote_addr=addr
    )
    ctx.metrics.logins += 1
    await ctx.audit(
        user["email"],
        "auth.login",
        user["email"],
        {"user_id": user["id"], "session": family, **({"rehashed": True} if new_hash else {})},
        addr,
    )
    return _pair(ctx, user["id"], family, refresh, now)


@router.post("/refresh", response_model=TokenPair, dependencies=[public()])
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    """A new token pair for a refresh token, which is spent; spending one twice ends its whole session."""
    ctx, addr, s = get_context(request), client_addr(request), get_context(request).settings
    ctx.limiter.hit("refresh-ip", addr or "?", s.write_rate_ip)
    now = ctx.now()
    outcome = await ctx.run(
        accounts.rotate_refresh, ctx.engine, body.refresh_token, now=now, ttl=s.refresh_ttl, remote_addr=addr
    )
    if outcome.status == "reused":
        assert outcome.user_id is not None
        ctx.metrics.refresh_reuse += 1
        user = await ctx.run(accounts.find_user, ctx.engine, user_id=outcome.user_id)
        who = str(user["email"]) if user else outcome.user_id
        await ctx.audit(
            who,
            "auth.refresh_reuse",
            who,
            {"user_id": outcome.user_id, "session": outcome.family_id, "revoked": "session"},
            addr,
        )
        raise unauthorized("this refresh token was already used: the session has been ended, log in again")
    if outcome.status != "ok":
        raise unauthorized("invalid or expired refresh token")
    assert outcome.user_id and outcome.family_id and outcome.token
    return _pair(ctx, outcome.user_id, outcome.family_id, outcome.token, now)


@router.post("/logout", status_code=204, response_class=Response)
async def logout(
    request: Request, body: LogoutRequest | None = None, user: Principal = authenticated()
) -> Response:
    """End the current session (its access and refresh tokens), another one, or all of the user's."""
    ctx, now = get_context(request), get_context(request).now()
    body = body or LogoutRequest()
    if body.everywhere:
        await ctx.run(accounts.revoke_sessions, ctx.engine, user.user_id, now=now)
        ended = "all"
    else:
        family = user.session_id
        if body.refresh_token:
            found = await ctx.run(accounts.refresh_family_of, ctx.engine, body.refresh_token)
            family = found[1] if found and found[0] == user.user_id else None
            if family is None:
                raise unauthorized("invalid refresh token")
        if family is None:
            raise ApiError(400, "an API token has no session: pass refresh_token, or everywhere=true")
        await ctx.run(accounts.revoke_family, ctx.engine, family, now=now, user_id=user.user_id)
        ended = family
    await ctx.audit(
        user.actor,
        "auth.logout",
        user.actor,
        {"user_id": user.user_id, "session": ended},
        client_addr(request),
    )
    return Response(status_code=204)


@router.post("/password", status_code=204, response_class=Response)
async def change_password(
    body: PasswordChange, request: Request, user: Principal = authenticated()
) -> Response:
    """Change one's password (the current one is required); every other session of the user ends.

    API tokens are kept unless ``revoke_tokens`` is true.
    """
    await session_only(request, user)
    ctx, addr, s = get_context(request), client_addr(request), get_context(request).settings
    now = ctx.now()
    row = await ctx.run(accounts.find_user, ctx.engine, user_id=user.user_id)
    assert row is not None
    if not await ctx.run(ctx.passwords.verify, str(row["password_hash"]), body.current_password):
        # A stolen access token must not become a way to guess the password: this counts as a failed login.
        await ctx.run(
            accounts.record_login_failure,
            ctx.engine,
            user.user_id,
            addr,
            now=now,
            window=s.lockout_window,
            threshold=s.lockout_failures,
            duration=s.lockout_duration,
        )
        ctx.metrics.login_failures += 1
        await ctx.audit(
            user.actor, "auth.password_change_failed", user.actor, {"reason": "wrong password"}, addr
        )
        raise invalid_field(["body", "current_password"], "the current password is wrong")
    try:
        accounts.check_password(body.new_password, s.password_min_length)
    except AccountError as err:
        raise invalid_field(["body", "new_password"], str(err)) from err
    new_hash = await ctx.run(ctx.passwords.hash, body.new_password)
    await ctx.run(accounts.update_user, ctx.engine, user.user_id, password_hash=new_hash, now=now)
    ended = await ctx.run(
        accounts.revoke_sessions, ctx.engine, user.user_id, now=now, except_family=user.session_id
    )
    details: dict[str, Any] = {"user_id": user.user_id, "other_sessions_ended": ended}
    if body.revoke_tokens:
        details["tokens_revoked"] = await ctx.run(
            accounts.revoke_api_tokens, ctx.engine, user.user_id, now=now
        )
    await ctx.audit(user.actor, "auth.password_change", user.actor, details, addr)
    return Response(status_code=204)


@router.get("/me", response_model=Me)
async def me(user: Principal = authenticated()) -> Me:
    """Who the caller is, and what they may do where."""
    permissions = {
        site: sorted(
            p
            for p in PERMISSIONS
            if p in ROLE_PERMISSIONS[role] and (site == ALL_SITES or p not in GLOBAL_PERMISSIONS)
        )
        for site in user.grants
        if (role := user.role_on(site)) is not None
    }
    return Me(
        id=user.user_id,
        email=user.email,
        name=user.name,
        via=user.via,
        token_role=user.token_role,
        grants=dict(user.grants),
        permissions=permissions,
    )
