"""``/api/v1/tokens``: a user's long-lived API tokens for machines and scripts.

The secret is in the creation answer only; the database keeps its SHA-256.
A token acts as its user, with at most ``role`` on every site if one is set.
Creating one needs a login session: a token cannot mint tokens.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import authenticated, session_only
from openbms.api.auth.principal import Principal
from openbms.api.context import client_addr, get_context
from openbms.api.errors import not_found
from openbms.api.helpers import Cursor, Limit, Page, decode_cursor, page
from openbms.api.routes.users import Role
from openbms.db import accounts

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    """A name to recognise the token by, an optional narrower role, an optional lifetime."""

    name: str = Field(min_length=1, max_length=200)
    role: Role | None = Field(
        default=None, description="At most this role on every site (default: the user's)."
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    """An API token without its secret."""

    id: str
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it.")
    role: Role | None
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None


class TokenCreated(TokenOut):
    """A new token; ``token`` is shown this once."""

    token: str


def _out(row: dict[str, Any]) -> TokenOut:
    return TokenOut(**{k: row[k] for k in TokenOut.model_fields})


@router.post("", response_model=TokenCreated, status_code=201)
async def create_token(
    body: TokenCreate, request: Request, user: Principal = authenticated()
) -> TokenCreated:
    """A new API token for the caller. Keep the ``token``: it cannot be shown again."""
    await session_only(request, user)
    ctx = get_context(request)
    now = ctx.now()
    expires = now + body.expires_in_days * 86400 if body.expires_in_days else None
    secret, row = await ctx.run(
        accounts.create_api_token,
        ctx.engine,
        user.user_id,
        body.name,
        role=body.role,
        expires_at=expires,
        now=now,
    )
    await ctx.audit(
        user.actor,
        "token.create",
        row["id"],
        {"user_id": user.user_id, "name": body.name, "role": body.role, "expires_at": expires},
        client_addr(request),
    )
    return TokenCreated(**_out(row).model_dump(), token=secret)


@router.get("", response_model=Page[TokenOut])
async def list_tokens(
    request: Request, limit: int = Limit, cursor: str | None = Cursor, user: Principal = authenticated()
) -> Page[TokenOut]:
    """The caller's API tokens, newest first, revoked ones included."""
    ctx = get_context(request)
    pos = decode_cursor(cursor, {"c": float, "i": str})
    after = (float(pos["c"]), pos["i"]) if pos else None
    rows = await ctx.run(accounts.list_api_tokens, ctx.engine, user.user_id, after=after, limit=limit + 1)
    items, nxt = page(rows, limit, lambda r: {"c": r["created_at"], "i": r["id"]})
    return Page[TokenOut](items=[_out(r) for r in items], next_cursor=nxt)


@router.delete("/{token_id}", status_code=204, response_class=Response)
async def revoke_token(token_id: str, request: Request, user: Principal = authenticated()) -> Response:
    """Revoke a token at once: one's own, or anyone's for an admin on every site."""
    ctx = get_context(request)
    owner = None if user.can("users:admin") else user.user_id
    row = await ctx.run(accounts.revoke_api_token, ctx.engine, token_id, now=ctx.now(), user_id=owner)
    if row is None:
        raise not_found(f"no API token {token_id!r}")
    await ctx.audit(
        user.actor,
        "token.revoke",
        token_id,
        {"user_id": row["user_id"], "name": row["name"]},
        client_addr(request),
    )
    return Response(status_code=204)
