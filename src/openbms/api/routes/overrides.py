"""``/api/v1/sites/{site}/overrides``: the slots of the site's priority arrays people hold (``points:read``).

An override is a slot held by a manual source: an operator signed in, or a
machine through the API (``openbms.service.protocols.MANUAL_SOURCES``), at any
priority; schedules, logic programs and optimisers are the building's own
control and are not listed. Each says who holds it, why, since and until when,
and whether it wins (the point's value is then the override's). It is read from
the priority arrays in memory (``Commands.overrides``), never from the command
table; releasing one is ``POST …/points/{equip}/{name}/release`` with its
priority and a reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.helpers import Cursor, Limit, Page, finite, keyset_page, runtime_of, site_config
from openbms.api.site_index import SiteIndex, site_index
from openbms.model.sample import Value
from openbms.model.site import PointKind
from openbms.service.protocols import Override

__all__ = ["OverrideOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["commands"])


class OverrideOut(BaseModel):
    """A slot of a point's priority array held by an operator or through the API."""

    point: str = Field(description="site/equipment/name")
    equipment: str
    name: str
    display_name: str = Field(description="the point's name as people read it")
    kind: PointKind
    unit: str | None
    precision: int = Field(description="decimals the point's values show")
    states: list[str] | None = Field(description="an enum point's states (its values count from 1)")
    priority: int = Field(description="1 (highest) … 16; 8 is manual operator")
    value: Value = Field(description="the value held")
    source: str = Field(description="operator or api")
    requested_by: str = Field(description="who asked")
    reason: str
    since: float = Field(description="epoch seconds the command was made")
    expires_at: float | None = Field(description="epoch seconds it expires; null: until released")
    winning: bool = Field(description="the highest slot held: the point's value is this override's")
    command_id: str


def _out(index: SiteIndex, held: Override) -> OverrideOut:
    cmd = held.command
    i = index.position(cmd.point)
    assert i is not None  # filtered by the route
    _pid, _site, equip, point = index.entries[i]
    return OverrideOut(
        point=cmd.point, equipment=equip.id, name=point.name, display_name=point.label,
        kind=point.kind, unit=point.unit, precision=point.decimals,
        states=list(point.states) if point.states is not None else None, priority=cmd.priority,
        value=finite(cmd.value), source=str(cmd.source), requested_by=cmd.requested_by,
        reason=cmd.reason, since=cmd.created_at, expires_at=cmd.expires_at, winning=held.winning,
        command_id=cmd.id)


@router.get("/sites/{site_id}/overrides", response_model=Page[OverrideOut])
async def list_overrides(
    site_id: str, request: Request,
    equipment: str | None = Query(None, max_length=64, description="Only the overrides of this equipment."),
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("points:read", site_param="site_id"),
) -> Page[OverrideOut]:
    """The site's active overrides, by point then priority (the winning slot of a point first)."""
    runtime = runtime_of(request)
    index = site_index(site_config(runtime, site_id))
    found = [
        o for o in runtime.commands.overrides(site_id)
        if (equipment is None or o.command.point.startswith(f"{site_id}/{equipment}/"))
        and index.position(o.command.point) is not None
    ]
    items, next_cursor = keyset_page(found, lambda o: [o.command.point, o.command.priority], limit, cursor)
    return Page[OverrideOut](items=[_out(index, o) for o in items], next_cursor=next_cursor)
