"""``/api/v1/health`` (liveness and component status) and ``/metrics`` (Prometheus): no login needed.

Neither tells anything about sites, points or users: counts and states only.
With a runtime attached, health says ``degraded`` with its reasons when the
data folder's disk is low, the historian's oldest unstored sample is too old
or its writes fail, samples were dropped, devices are offline, or the event
loop lags (see ``openbms.service.health``).

Health also tells the server's clock, the one every client measures ranges
and ages from: ``now`` (ISO 8601, UTC offset), ``now_ts`` (epoch seconds)
and ``clock_rate`` (its seconds per real second: 1 in real time, the demo's
speed, 0 for a clock moved by hand), so a client can follow it between calls.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from openbms import __version__
from openbms.api.auth.permissions import public
from openbms.api.context import ApiContext, get_context, iso_time
from openbms.db import ping
from openbms.service.protocols import Services

__all__ = ["router"]

router = APIRouter(tags=["health"])

_STARTED = time.monotonic()


class Health(BaseModel):
    """``ok``, ``degraded`` (running, something is wrong) or ``down`` (answered with 503).

    ``reasons`` lists what is wrong, each prefixed by its component; each
    component has its own ``status``, ``reasons`` (when it checks any) and figures.
    """

    status: Literal["ok", "degraded", "down"]
    version: str
    uptime: float
    reasons: list[str] = []
    components: dict[str, dict[str, Any]]
    now: str = Field(description="the server's (the building's) current time, ISO 8601 with its UTC offset")
    now_ts: float = Field(description="the same instant in epoch seconds")
    clock_rate: float = Field(
        description="seconds of the server's clock per real second: 1 in real time, N in a demo run "
        "N times faster, 0 for a clock that moves only when told to"
    )


def _db_ok(ctx: ApiContext) -> bool:
    try:
        engine = ctx.engine
    except RuntimeError:  # no state database (yet)
        return False
    return ping(engine)


def _runtime_components(runtime: Services) -> dict[str, dict[str, Any]]:
    st = runtime.status()
    out = dict(runtime.health())  # disk, event loop and historian, with reasons and figures
    out["drivers"] = {
        "status": "degraded" if st.devices_offline else "ok",
        "devices": st.devices,
        "offline": st.devices_offline,
        "points": st.points,
    }
    return out


@router.get(
    "/api/v1/health",
    response_model=Health,
    dependencies=[public()],
    responses={503: {"model": Health, "description": "The state database does not answer."}},
)
async def health(request: Request) -> Any:
    """Liveness, and the state of each component when a runtime is attached."""
    ctx = get_context(request)
    db = await ctx.run(_db_ok, ctx)
    components: dict[str, dict[str, Any]] = {"state_db": {"status": "ok" if db else "down"}}
    if ctx.runtime is not None:
        try:
            components.update(_runtime_components(ctx.runtime))
        except Exception as err:  # a status that cannot be read is itself a finding, not a 500
            components["runtime"] = {"status": "degraded", "error": type(err).__name__}
    try:
        clock = ctx.clock_fields()
    except Exception as err:  # a clock that cannot be read is a finding too: tell the wall's time
        components["clock"] = {"status": "degraded", "error": type(err).__name__}
        clock = {"now": iso_time(ctx.now()), "now_ts": ctx.now(), "clock_rate": 1.0}
    status: Literal["ok", "degraded", "down"] = "ok"
    if not db:
        status = "down"
    elif any(c["status"] != "ok" for c in components.values()):
        status = "degraded"
    reasons = [f"{name}: {why}" for name, c in components.items() for why in c.get("reasons", ())]
    drivers = components.get("drivers", {})
    if drivers.get("offline"):
        reasons.append(f"drivers: {drivers['offline']} of {drivers['devices']} devices offline")
    if not db:
        reasons.insert(0, "state_db: the state database does not answer")
    body = Health(
        **clock,
        status=status,
        version=__version__,
        uptime=round(time.monotonic() - _STARTED, 3),
        reasons=reasons,
        components=components,
    )
    return JSONResponse(body.model_dump(), status_code=503 if status == "down" else 200)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    dependencies=[public()],
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text format: requests by route and status, logins, rate limiting, bus and historian."""
    ctx = get_context(request)
    return PlainTextResponse(
        ctx.metrics.render(ctx.runtime, ctx.limiter.limited),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )
