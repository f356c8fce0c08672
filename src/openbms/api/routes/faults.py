"""``/api/v1/emulator/faults``: the emulated building's faults, injected and cleared live (admins only).

Only a process that runs the building emulator (``openbms demo``) has them:
its wiring hands the Runtime a fault control (``openbms.service.faults``);
elsewhere these routes answer 409. The API does not import the emulator.
Faults show alarms and fault detection working on a demo: a tripped chiller
raises its alarm, a stuck damper moves the supply air. Every injection and
clearing is audited (``emulator.fault_inject``, ``emulator.fault_clear``).
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.errors import conflict, invalid_field, not_found
from openbms.api.helpers import audit, runtime_of
from openbms.service.faults import FaultControl, FaultInfo, UnknownFault

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/emulator/faults", tags=["emulator"])

#: Injecting a fault changes the building for everyone: the admins' global permission.
_ADMIN = "users:admin"


class Fault(BaseModel):
    """One fault the emulated building can have, and whether it has it now."""

    id: str = Field(description="kind:target, e.g. chiller-trip:ch-1 or failed-sensor:ahu-1/oat")
    kind: str = Field(description="stuck-damper, failed-sensor, fouled-coil or chiller-trip")
    target: str
    label: str
    description: str
    parameter: str | None = Field(description="the fault's number (position, reading, capacity), if any")
    unit: str | None
    minimum: float | None
    maximum: float | None
    default: float | None = Field(description="the number used when an injection gives none")
    active: bool
    value: float | None = Field(description="the number in force while active")


class FaultList(BaseModel):
    """Every fault of the emulated building; ``active`` counts those in force."""

    items: list[Fault]
    active: int


class Injection(BaseModel):
    """The fault's number (default: the fault's ``default``)."""

    value: float | None = None


def _out(info: FaultInfo) -> Fault:
    return Fault(id=info.id, kind=info.kind, target=info.target, label=info.label,
                 description=info.description, parameter=info.parameter, unit=info.unit,
                 minimum=info.minimum, maximum=info.maximum, default=info.default, active=info.active,
                 value=info.value)


def _control(request: Request) -> FaultControl:
    control = runtime_of(request).faults
    if control is None:
        raise conflict("this openbms runs no emulated building: faults are injected in 'openbms demo'")
    return control


@router.get("", response_model=FaultList)
async def list_faults(request: Request, user: Principal = require(_ADMIN)) -> FaultList:
    """Every fault of the emulated building, the active ones with their value."""
    items = [_out(f) for f in _control(request).faults()]
    return FaultList(items=items, active=sum(f.active for f in items))


@router.put("/{fault_id:path}", response_model=Fault)
async def inject_fault(request: Request, fault_id: str, body: Injection,
                       user: Principal = require(_ADMIN)) -> Fault:
    """Inject the fault from the building's next step on (an active one takes the new value)."""
    control = _control(request)
    if body.value is not None and not math.isfinite(body.value):
        raise invalid_field(["body", "value"], "expected a finite number")
    try:
        info = control.inject(fault_id, body.value)
    except UnknownFault as err:
        raise not_found(str(err)) from None
    except ValueError as err:
        raise invalid_field(["body", "value"], str(err)) from None
    await audit(request, user, "emulator.fault_inject", fault_id, {"value": info.value})
    return _out(info)


@router.delete("/{fault_id:path}", response_model=Fault)
async def clear_fault(request: Request, fault_id: str, user: Principal = require(_ADMIN)) -> Fault:
    """Repair the fault (a fault that is not active stays so)."""
    control = _control(request)
    try:
        info = control.clear(fault_id)
    except UnknownFault as err:
        raise not_found(str(err)) from None
    await audit(request, user, "emulator.fault_clear", fault_id, {})
    return _out(info)
