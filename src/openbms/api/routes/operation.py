"""``/api/v1/sites/{site}/operation``: what the building is doing, per equipment (``points:read``).

Each equipment's occupancy, heating or cooling, whether it runs, its key
values (point ids: the dashboard shows their live values), its zone against
the comfort band, and what a schedule holds on while it does not run: worked
out by ``openbms.analytics.operation`` from the points' tags, the current-value
cache and the priority arrays, so the dashboard keeps no domain logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from openbms.analytics.operation import EquipmentOperation, site_operation
from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.helpers import runtime_of, site_config
from openbms.errors import CommandError
from openbms.model.command import Command

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["points"])


class KeyValueOut(BaseModel):
    label: str = Field(description="what the value is: zone temperature, supply air…")
    point: str = Field(description="its point id (its value is the point's)")


class ComfortOut(BaseModel):
    """A zone temperature against the band its heating and cooling setpoints make."""

    point: str
    value: float
    low: float | None = Field(description="the heating setpoint (effective, else occupied/unoccupied)")
    high: float | None = Field(description="the cooling setpoint")
    state: Literal["below", "within", "above"] = Field(
        description="below or above: more than 1 °C (1.8 °F) past the band")


class ScheduledOnOut(BaseModel):
    """A point a schedule holds on while none of the equipment's run sensors says it runs."""

    point: str
    schedule: str = Field(description="who wrote the slot: schedule:<id>")
    priority: int
    winning_priority: int | None = Field(description="the slot that wins now; null: the relinquish default")
    winning_source: str | None


class EquipmentOperationOut(BaseModel):
    """What one equipment is doing; null where its points do not tell."""

    id: str
    type: str
    name: str
    occupancy: Literal["occupied", "unoccupied"] | None
    conditioning: Literal["heating", "cooling", "heating and cooling", "idle"] | None
    running: bool | None
    key_values: list[KeyValueOut]
    comfort: ComfortOut | None
    scheduled_on_but_off: list[ScheduledOnOut]


class SiteOperation(BaseModel):
    """Every equipment of the site, and the counts an overview leads with."""

    site: str
    zones_outside_comfort: int
    off_while_scheduled_on: int
    equipment: list[EquipmentOperationOut]


def _out(op: EquipmentOperation) -> EquipmentOperationOut:
    return EquipmentOperationOut(
        id=op.id, type=op.type, name=op.name, occupancy=op.occupancy, conditioning=op.conditioning,
        running=op.running, key_values=[KeyValueOut(label=k.label, point=k.point) for k in op.key_values],
        comfort=None if op.comfort is None else ComfortOut(
            point=op.comfort.point, value=op.comfort.value, low=op.comfort.low, high=op.comfort.high,
            state=op.comfort.state),
        scheduled_on_but_off=[ScheduledOnOut(
            point=s.point, schedule=s.schedule, priority=s.priority, winning_priority=s.winning_priority,
            winning_source=s.winning_source) for s in op.scheduled_on_but_off])


@router.get("/sites/{site_id}/operation", response_model=SiteOperation)
async def get_operation(
    site_id: str, request: Request,
    user: Principal = require("points:read", site_param="site_id"),
) -> SiteOperation:
    """What each equipment of the site is doing now: mode, key values, comfort, schedule misses."""
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    commands = runtime.commands

    def slots(point: str) -> Sequence[Command | None]:
        try:
            return commands.slots(point)
        except (CommandError, RuntimeError):  # no priority array (yet): nothing holds it
            return ()

    found = site_operation(cfg, runtime.cache.getter(), slots)
    outside = [op for op in found if op.comfort is not None and op.comfort.state != "within"]
    return SiteOperation(
        site=site_id,
        zones_outside_comfort=len(outside),
        off_while_scheduled_on=sum(1 for op in found if op.scheduled_on_but_off),
        equipment=[_out(op) for op in found])
