"""``/api/v1/sites/{site}/devices``: health of the devices serving a site's points (``devices:read``).

The running system tracks health per device (``driver://device``,
``Services.site_devices``); a site's devices are those its points' bindings
name. Unit mismatches are reported for the site's own points only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.helpers import Cursor, Limit, Page, keyset_page, runtime_of, site_config

__all__ = ["DeviceOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["devices"])


class DeviceOut(BaseModel):
    """What the driver manager knows about one device."""

    id: str = Field(description="driver://device")
    driver: str
    device: str
    state: str = Field(description="unknown (not polled yet), ok or offline")
    points: int = Field(description="how many of the site's points it serves")
    last_ok: float | None = Field(description="epoch seconds of the last good answer")
    last_error: str | None
    consecutive_failures: int
    reads: int
    errors: int = Field(description="failed reads")
    point_faults: int
    subscribed: bool
    unit_mismatches: list[str]


@router.get("/sites/{site_id}/devices", response_model=Page[DeviceOut])
async def list_devices(
    request: Request,
    site_id: str,
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("devices:read", site_param="site_id"),
) -> Page[DeviceOut]:
    """The devices of the site's points and their health, by id."""
    runtime = runtime_of(request)
    site_config(runtime, site_id)  # 404 for a site that does not run here
    devices = []
    for report in runtime.site_devices(site_id):
        h = report.health
        own = tuple(f"{pid}:" for pid in report.points)
        devices.append(
            DeviceOut(
                id=report.id,
                driver=h.driver,
                device=h.device,
                state=h.state,
                points=len(report.points),
                last_ok=h.last_ok,
                last_error=h.last_error,
                consecutive_failures=h.consecutive_failures,
                reads=h.reads,
                errors=h.read_errors,
                point_faults=h.point_faults,
                subscribed=h.subscribed,
                unit_mismatches=[m for m in h.unit_mismatches if m.startswith(own)],
            )
        )
    items, next_cursor = keyset_page(devices, lambda d: [d.id], limit, cursor)
    return Page[DeviceOut](items=items, next_cursor=next_cursor)
