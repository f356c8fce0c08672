"""``/api/v1/ws``: the live stream of point values, alarms and command status (see docs/api.md).

The route is declared ``authenticated`` for the permission registry, but the
check happens in the handler, after accepting: a browser cannot send an
``Authorization`` header on a WebSocket, and only an accepted connection can
tell it why it is refused (close 4401 or 4403, with a reason).
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Depends, FastAPI, WebSocket

from openbms.api.auth.permissions import _ACCESS_ATTR, AUTHENTICATED
from openbms.api.auth.principal import bearer_token
from openbms.api.auth.websocket import authenticate_token
from openbms.api.context import get_context
from openbms.api.ws.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    ProtocolError,
    WsSettings,
    parse,
)
from openbms.api.ws.session import WsHub, WsSession

__all__ = ["router", "ws_hub", "ws_settings"]

router = APIRouter(tags=["ws"])

_AUTH_HINT = 'send the token as ?token=… or first as {"type": "auth", "token": "…"}'


def _authenticated_by_handler() -> None:
    """Checks nothing itself: ``stream`` authenticates after accepting (see the module docstring)."""


# The registry's mark of ``authenticated()``, without its header-only check.
setattr(_authenticated_by_handler, _ACCESS_ATTR, AUTHENTICATED)


def ws_settings(app: FastAPI) -> WsSettings:
    """The stream's settings: ``app.state.ws_settings`` if set, else the defaults."""
    settings = getattr(app.state, "ws_settings", None)
    return settings if isinstance(settings, WsSettings) else WsSettings()


def ws_hub(app: FastAPI) -> WsHub:
    """The app's open streams and counters (made on first use)."""
    hub = getattr(app.state, "ws_hub", None)
    if not isinstance(hub, WsHub):
        hub = app.state.ws_hub = WsHub()
    return hub


async def _refuse(ws: WebSocket, hub: WsHub, code: int, reason: str) -> None:
    hub.refused += 1
    with contextlib.suppress(Exception):
        await ws.close(code, reason)


async def _first_message_token(ws: WebSocket, settings: WsSettings, hub: WsHub) -> str | None:
    """The token of a first ``auth`` message; None once the connection is refused or gone."""
    try:
        message = await asyncio.wait_for(ws.receive(), settings.auth_timeout)
    except TimeoutError:
        await _refuse(ws, hub, CLOSE_UNAUTHENTICATED, f"authentication timed out: {_AUTH_HINT}")
        return None
    if message["type"] == "websocket.disconnect":
        return None
    try:
        req = parse(message.get("text") or message.get("bytes") or b"", settings.max_message_bytes)
    except ProtocolError:
        req = None
    if req is None or req.type != "auth" or req.token is None:
        await _refuse(ws, hub, CLOSE_UNAUTHENTICATED, f"authentication required: {_AUTH_HINT}")
        return None
    return req.token


@router.websocket("/api/v1/ws", dependencies=[Depends(_authenticated_by_handler)])
async def stream(websocket: WebSocket) -> None:
    """Authenticate, then serve subscriptions until either side closes."""
    ctx = get_context(websocket)
    settings = ws_settings(websocket.app)
    hub = ws_hub(websocket.app)
    await websocket.accept()
    token = websocket.query_params.get("token") or bearer_token(websocket)
    if token is None:
        token = await _first_message_token(websocket, settings, hub)
        if token is None:
            return
    principal = await authenticate_token(ctx, token)
    if principal is None:
        await _refuse(websocket, hub, CLOSE_UNAUTHENTICATED, "invalid or expired token")
        return
    if not principal.grants:
        await _refuse(websocket, hub, CLOSE_FORBIDDEN, "you have no role on any site")
        return
    if ctx.runtime is None:
        await _refuse(websocket, hub, 1011, "no runtime: the stream needs `openbms run`")
        return
    await WsSession(websocket, ctx, ctx.runtime, principal, token, settings, hub).run()
