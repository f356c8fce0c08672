"""``/api/v1/sites``: the sites a user may see, their spaces and equipment (``sites:read``, ``sites:write``).

At a central openbms (``openbms central serve``) each site also says how far behind the centre is
on it (``central``: the newest stored sample's time, the lag, its edge's status, and ``behind``
past the centre's threshold); ``null`` at an edge.

Changes go through the service's ``change_site``: the site's YAML file is rewritten
and the running site follows, so the file and the API never disagree. A
space or equipment still in use (by equipment, child spaces or points) is a
409; delete or move what uses it first.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openbms.api.auth.permissions import require, visible_sites
from openbms.api.auth.principal import Principal
from openbms.api.errors import conflict, not_found
from openbms.api.helpers import (
    Cursor,
    Limit,
    Page,
    audit,
    change_site,
    find_equipment,
    keyset_page,
    replace_equipment,
    runtime_of,
    site_config,
    validation_problem,
)
from openbms.model.site import MAX_VALUE, Equipment, EquipmentType, SiteConfig, Space
from openbms.service.protocols import RemoteSites, Services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["sites"])

SpaceId = Path(max_length=64, description="A space id.")
EquipId = Path(max_length=64, description="An equipment id.")


class SiteOut(BaseModel):
    """A site (building) and how much it holds."""

    id: str
    name: str
    timezone: str
    area_m2: float | None
    latitude: float | None
    longitude: float | None
    spaces: int = Field(description="number of spaces")
    equipment: int = Field(description="number of equipment")
    points: int = Field(description="number of points")


class SiteLagOut(BaseModel):
    """How far behind a central openbms is on a site (its edge's samples)."""

    newest_ts: float | None = Field(description="epoch seconds of the site's newest sample received or "
                                    "stored at the centre; null before the first")
    lag_s: float | None = Field(description="the centre's clock less newest_ts; null before the "
                                "first sample")
    online: bool | None = Field(description="its edge's last bridge status; null: never heard")
    behind: bool = Field(description="lag_s is past warn_s, or no sample has come yet")
    warn_s: float = Field(description="the centre's threshold for behind (seconds)")


class SiteStatusOut(SiteOut):
    """A site, and at a central openbms how far behind the centre is on it."""

    central: SiteLagOut | None = Field(
        default=None, description="at a central openbms: the lag of the site's samples; null at an edge")


class EquipmentOut(BaseModel):
    """An equipment and the names of its points (``/sites/{site}/points/{equipment}/{name}``)."""

    id: str
    type: EquipmentType
    name: str
    space: str | None
    feeds: list[str]
    tags: list[str]
    points: list[str]


class EquipmentPatch(BaseModel):
    """Fields of an equipment to change; the others stay. Points change through the points resource."""

    model_config = ConfigDict(extra="forbid")

    type: EquipmentType | None = None
    name: str | None = None
    space: str | None = None
    feeds: list[str] | None = None
    tags: list[str] | None = None


class SpacePatch(BaseModel):
    """Fields of a space to change; the others stay."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str | None = None
    kind: Literal["building", "floor", "zone", "room", "outdoor"] | None = None
    parent: str | None = None
    area_m2: float | None = Field(default=None, gt=0, le=MAX_VALUE)


def site_out(cfg: SiteConfig) -> SiteOut:
    s = cfg.site
    return SiteOut(
        id=s.id,
        name=s.name,
        timezone=s.timezone,
        area_m2=s.area_m2,
        latitude=s.latitude,
        longitude=s.longitude,
        spaces=len(cfg.spaces),
        equipment=len(cfg.equipment),
        points=sum(len(e.points) for e in cfg.equipment),
    )


def _status_out(runtime: Services, cfg: SiteConfig) -> SiteStatusOut:
    lag = runtime.site_lag(cfg.site.id) if isinstance(runtime, RemoteSites) else None
    central = None if lag is None else SiteLagOut(
        newest_ts=lag.newest, lag_s=lag.lag_s, online=lag.online, behind=lag.behind, warn_s=lag.warn_s)
    return SiteStatusOut(**site_out(cfg).model_dump(), central=central)


def equipment_out(e: Equipment) -> EquipmentOut:
    return EquipmentOut(
        id=e.id,
        type=e.type,
        name=e.name,
        space=e.space,
        feeds=list(e.feeds),
        tags=list(e.tags),
        points=[p.name for p in e.points],
    )


# ---------------------------------------------------------------------- sites


@router.get("/sites", response_model=Page[SiteStatusOut])
async def list_sites(
    request: Request, limit: int = Limit, cursor: str | None = Cursor, user: Principal = require("sites:read")
) -> Page[SiteStatusOut]:
    """The sites the caller may see, by id (at a central openbms, with each one's lag)."""
    runtime = runtime_of(request)
    visible = set(visible_sites(user, [s.site.id for s in runtime.sites], "sites:read"))
    cfgs = sorted((s for s in runtime.sites if s.site.id in visible), key=lambda s: s.site.id)
    items, next_cursor = keyset_page(cfgs, lambda s: [s.site.id], limit, cursor)
    return Page[SiteStatusOut](items=[_status_out(runtime, s) for s in items], next_cursor=next_cursor)


@router.get("/sites/{site_id}", response_model=SiteStatusOut)
async def get_site(
    request: Request, site_id: str, user: Principal = require("sites:read", site_param="site_id")
) -> SiteStatusOut:
    """One site (at a central openbms, with its lag)."""
    runtime = runtime_of(request)
    return _status_out(runtime, site_config(runtime, site_id))


# ---------------------------------------------------------------------- spaces


@router.get("/sites/{site_id}/spaces", response_model=Page[Space])
async def list_spaces(
    request: Request,
    site_id: str,
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("sites:read", site_param="site_id"),
) -> Page[Space]:
    """The site's spaces, by id."""
    spaces = sorted(site_config(runtime_of(request), site_id).spaces, key=lambda s: s.id)
    items, next_cursor = keyset_page(spaces, lambda s: [s.id], limit, cursor)
    return Page[Space](items=items, next_cursor=next_cursor)


def _find_space(cfg: SiteConfig, space_id: str) -> Space:
    for space in cfg.spaces:
        if space.id == space_id:
            return space
    raise not_found(f"no space {space_id!r} in site {cfg.site.id!r}")


@router.get("/sites/{site_id}/spaces/{space_id}", response_model=Space)
async def get_space(
    request: Request,
    site_id: str,
    space_id: str = SpaceId,
    user: Principal = require("sites:read", site_param="site_id"),
) -> Space:
    """One space."""
    return _find_space(site_config(runtime_of(request), site_id), space_id)


@router.post("/sites/{site_id}/spaces", response_model=Space, status_code=201)
async def create_space(
    request: Request,
    site_id: str,
    body: Space,
    user: Principal = require("sites:write", site_param="site_id"),
) -> Space:
    """Add a space (409 if its id is taken)."""

    def change(cfg: SiteConfig) -> SiteConfig:
        if any(s.id == body.id for s in cfg.spaces):
            raise conflict(f"site {site_id!r} already has a space {body.id!r}")
        return cfg.model_copy(update={"spaces": (*cfg.spaces, body)})

    cfg = await change_site(request, site_id, change)
    await audit(request, user, "space.create", f"{site_id}/{body.id}", body.model_dump(mode="json"))
    return _find_space(cfg, body.id)


@router.patch("/sites/{site_id}/spaces/{space_id}", response_model=Space)
async def update_space(
    request: Request,
    site_id: str,
    body: SpacePatch,
    space_id: str = SpaceId,
    user: Principal = require("sites:write", site_param="site_id"),
) -> Space:
    """Change a space's name, kind, parent or area."""
    changes = body.model_dump(exclude_unset=True)

    def change(cfg: SiteConfig) -> SiteConfig:
        old = _find_space(cfg, space_id)
        try:
            new = Space.model_validate({**old.model_dump(), **changes})
        except ValidationError as err:
            raise validation_problem(err) from err
        return cfg.model_copy(update={"spaces": tuple(new if s.id == space_id else s for s in cfg.spaces)})

    cfg = await change_site(request, site_id, change)
    await audit(request, user, "space.update", f"{site_id}/{space_id}", changes)
    return _find_space(cfg, space_id)


@router.delete("/sites/{site_id}/spaces/{space_id}", status_code=204, response_class=Response)
async def delete_space(
    request: Request,
    site_id: str,
    space_id: str = SpaceId,
    user: Principal = require("sites:write", site_param="site_id"),
) -> Response:
    """Remove a space no equipment and no other space refers to (else 409)."""

    def change(cfg: SiteConfig) -> SiteConfig:
        _find_space(cfg, space_id)
        users = [f"equipment {e.id!r}" for e in cfg.equipment if e.space == space_id]
        users += [f"space {s.id!r}" for s in cfg.spaces if s.parent == space_id]
        if users:
            raise conflict(f"space {space_id!r} is still used by {', '.join(users)}: move them first")
        return cfg.model_copy(update={"spaces": tuple(s for s in cfg.spaces if s.id != space_id)})

    await change_site(request, site_id, change, removal=True)
    await audit(request, user, "space.delete", f"{site_id}/{space_id}", {})
    return Response(status_code=204)


# ---------------------------------------------------------------------- equipment


@router.get("/sites/{site_id}/equipment", response_model=Page[EquipmentOut])
async def list_equipment(
    request: Request,
    site_id: str,
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("sites:read", site_param="site_id"),
) -> Page[EquipmentOut]:
    """The site's equipment, by id."""
    equipment = sorted(site_config(runtime_of(request), site_id).equipment, key=lambda e: e.id)
    items, next_cursor = keyset_page(equipment, lambda e: [e.id], limit, cursor)
    return Page[EquipmentOut](items=[equipment_out(e) for e in items], next_cursor=next_cursor)


@router.get("/sites/{site_id}/equipment/{equip_id}", response_model=EquipmentOut)
async def get_equipment(
    request: Request,
    site_id: str,
    equip_id: str = EquipId,
    user: Principal = require("sites:read", site_param="site_id"),
) -> EquipmentOut:
    """One equipment."""
    return equipment_out(find_equipment(site_config(runtime_of(request), site_id), equip_id))


@router.post("/sites/{site_id}/equipment", response_model=EquipmentOut, status_code=201)
async def create_equipment(
    request: Request,
    site_id: str,
    body: Equipment,
    user: Principal = require("sites:write", site_param="site_id"),
) -> EquipmentOut:
    """Add an equipment, optionally with its points (409 if its id is taken)."""
    equip = body

    def change(cfg: SiteConfig) -> SiteConfig:
        if any(e.id == equip.id for e in cfg.equipment):
            raise conflict(f"site {site_id!r} already has an equipment {equip.id!r}")
        return cfg.model_copy(update={"equipment": (*cfg.equipment, equip)})

    cfg = await change_site(request, site_id, change)
    await audit(request, user, "equipment.create", f"{site_id}/{equip.id}", body.model_dump(mode="json"))
    return equipment_out(find_equipment(cfg, equip.id))


@router.patch("/sites/{site_id}/equipment/{equip_id}", response_model=EquipmentOut)
async def update_equipment(
    request: Request,
    site_id: str,
    body: EquipmentPatch,
    equip_id: str = EquipId,
    user: Principal = require("sites:write", site_param="site_id"),
) -> EquipmentOut:
    """Change an equipment's type, name, space, feeds or tags."""
    changes = body.model_dump(exclude_unset=True)

    def change(cfg: SiteConfig) -> SiteConfig:
        old = find_equipment(cfg, equip_id)
        try:
            new = Equipment.model_validate({**old.model_dump(), **changes})
        except ValidationError as err:
            raise validation_problem(err) from err
        return replace_equipment(cfg, new)

    cfg = await change_site(request, site_id, change)
    await audit(request, user, "equipment.update", f"{site_id}/{equip_id}", changes)
    return equipment_out(find_equipment(cfg, equip_id))


@router.delete("/sites/{site_id}/equipment/{equip_id}", status_code=204, response_class=Response)
async def delete_equipment(
    request: Request,
    site_id: str,
    equip_id: str = EquipId,
    user: Principal = require("sites:write", site_param="site_id"),
) -> Response:
    """Remove an equipment that has no points left and is in no other equipment's ``feeds`` (else 409)."""

    def change(cfg: SiteConfig) -> SiteConfig:
        equip = find_equipment(cfg, equip_id)
        if equip.points:
            raise conflict(
                f"equipment {equip_id!r} still has {len(equip.points)} point(s): delete them first"
            )
        fed = [e.id for e in cfg.equipment if equip_id in e.feeds]
        if fed:
            raise conflict(f"equipment {equip_id!r} is still in the feeds of {', '.join(map(repr, fed))}")
        return cfg.model_copy(update={"equipment": tuple(e for e in cfg.equipment if e.id != equip_id)})

    await change_site(request, site_id, change, removal=True)
    await audit(request, user, "equipment.delete", f"{site_id}/{equip_id}", {})
    return Response(status_code=204)
