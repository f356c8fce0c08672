"""Who is on a WebSocket: the token checked at connect, and the user read again while it stays open.

At connect the token is checked like a request's bearer token. Afterwards
the connection lives as long as what the token stood for: the user exists
and is enabled, the login session was not logged out (a JWT's own 15-minute
expiry does not cut an open stream), an API token was not revoked nor
expired; the grants are read afresh each time.
"""

from __future__ import annotations

import dataclasses

from openbms.api.auth.principal import Principal, principal_for_token
from openbms.api.context import ApiContext
from openbms.db.accounts import api_token_holder, session_holder

__all__ = ["authenticate_token", "reload_principal"]

_MAX_TOKEN = 4096


async def authenticate_token(ctx: ApiContext, token: str | None) -> Principal | None:
    """The principal of a token presented at connect, or None."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    return await principal_for_token(ctx, token)


def _reload(ctx: ApiContext, principal: Principal, token: str, now: float) -> Principal | None:
    if principal.via == "api_token":
        holder = api_token_holder(ctx.engine, token, now)
    else:
        holder = session_holder(ctx.engine, principal.user_id, principal.session_id)
    if holder is None or holder.user["id"] != principal.user_id:
        return None
    return dataclasses.replace(principal, grants=holder.grants)


async def reload_principal(ctx: ApiContext, principal: Principal, token: str) -> Principal | None:
    """``principal`` with its grants read again, or None if the user, session or token is gone."""
    return await ctx.run(_reload, ctx, principal, token, ctx.now())
