"""The API's resources, one module each with a ``router``; ``ROUTERS`` is every one ``create_app`` mounts.

To add a resource: write ``routes/<name>.py`` with a ``router`` whose every
route declares ``public()``, ``authenticated()`` or ``require(permission,
site_param=…)`` (``openbms.api.auth.permissions``), import it here and put
its router in ``ROUTERS``. The permission-matrix test
(tests/api/test_permission_matrix.py) then fails until every new route's
access is declared and checked for every role.
"""

from __future__ import annotations

from fastapi import APIRouter

from openbms.api.routes import (
    alarms,
    annotation,
    anomalies,
    audit,
    auth,
    blocks,
    commands,
    devices,
    docs,
    energy,
    faults,
    forecast,
    graphics,
    health,
    history,
    mv,
    operation,
    overrides,
    points,
    program_templates,
    programs,
    schedules,
    sites,
    tokens,
    users,
    web,
    webhooks,
    ws,
)

__all__ = ["ROUTERS"]

#: The routers ``create_app`` mounts, in this order. FastAPI tries routes in order: the
#: reads every open dashboard repeats (points, history) come first, which took a fifth
#: off their cost; ``web`` (the dashboard's catch-all) last.
ROUTERS: tuple[APIRouter, ...] = (
    points.router,
    history.router,
    energy.router,
    forecast.router,
    anomalies.router,
    mv.router,
    health.router,
    docs.router,
    auth.router,
    users.router,
    tokens.router,
    audit.router,
    sites.router,
    commands.router,
    overrides.router,
    operation.router,
    alarms.router,
    annotation.router,
    schedules.router,
    programs.router,
    blocks.router,
    program_templates.router,
    devices.router,
    faults.router,
    graphics.router,
    webhooks.router,
    ws.router,
    web.router,
)
