"""The HTTP API: FastAPI on uvicorn, in the runtime's process.

    app.py        ``create_app``: the app, its middleware and OpenAPI document
    server.py     ``ApiServer``: uvicorn in the runtime's event loop
    routes/       one module per resource, each a ``router``; ``routes.ROUTERS`` is what is mounted
    auth/         who may call: passwords, tokens, accounts, roles, the permission every route
                  declares (``public``, ``authenticated``, ``require``), refusals, WebSocket auth
    ws/           the live stream's protocol and sessions (its route is ``routes/ws.py``)
    helpers.py    what routes share: the running site, cursor pages, validation problems, config edits
    errors.py     problem+json: ``ApiError`` and the handlers
    context.py    ``ApiContext``, the state one app holds (settings, database, caches, metrics)

The rest (settings, rate limits, body limits, metrics, history tails, the
site index) are the request machinery those use.
"""

from __future__ import annotations

from openbms.api.app import create_app
from openbms.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
