"""Equipment graphics and floor plans: ``/api/v1/sites/{site}/equipment/{equip}/graphic``, ``…/plans``.

What a drawing shows is decided here, on the server: ``openbms.analytics.graphics``
generates it from the equipment type and its points' Brick classes and tags; the
dashboard draws symbols by ``kind`` and puts live values beside them. An
integrator's saved placement (``openbms.config.graphics``: a YAML file per
drawing in the site folder) moves elements:

* ``GET …/graphic`` (``points:read``): the drawing, saved positions applied;
* ``PUT …/graphic`` (``sites:write``): save positions of some elements (added to
  those saved before; an unknown element or a value outside the drawing is a 422
  naming ``elements.<id>.<field>``), audited, answers the drawing; refused (409,
  the file's problems listed) while the saved file has problems, as rewriting it
  would drop what cannot be read;
* ``DELETE …/graphic`` (``sites:write``): forget the saved layout, audited;
* ``GET …/plans`` and ``GET …/spaces/{space}/plan`` (``points:read``): floor plans.

Writes of one site's layouts take one lock (per event loop), so two saves never
lose one another; the file is written atomically in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import weakref
from typing import Any, Literal

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, Field

from openbms.analytics.graphics import Graphic, Placement, Plan, graphic, plan, plans
from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.errors import ApiError, not_found
from openbms.api.helpers import audit, runtime_of, site_config, validation_problem
from openbms.config.graphics import (
    check_placements,
    delete_layout,
    graphics_dir,
    layout_path,
    plan_path,
    read_layout,
    save_layout,
)
from openbms.errors import ConfigIssue
from openbms.model.site import SiteConfig

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["graphics"])

EquipId = Path(max_length=64, description="An equipment id.")
SpaceId = Path(max_length=64, description="A space id.")


class GraphicPointOut(BaseModel):
    id: str = Field(description="the point id (its live value is the point's)")
    role: Literal["value", "setpoint", "command", "status", "speed", "position", "alarm"]


class ElementOut(BaseModel):
    """One symbol: the box it fills (top-left x, y, and w, h) in the drawing's viewBox."""

    id: str = Field(description="stable within the template: what a saved layout refers to")
    kind: str = Field(description="duct, pipe, fan, pump, damper, filter, heating-coil, cooling-coil, valve, "
                                  "sensor, chiller, boiler, tower, meter, zone, box or label")
    x: float
    y: float
    w: float
    h: float
    label: str
    flow: Literal["air", "chw", "hw", "cw"] | None = Field(default=None, description="duct and pipe only")
    path: list[tuple[float, float]] | None = Field(default=None, description="duct and pipe only: a polyline")
    points: list[GraphicPointOut]


class GraphicOut(BaseModel):
    """An equipment's schematic, generated from its type and its points' Brick classes and tags."""

    equipment: str
    name: str
    type: str
    template: Literal["ahu", "vav", "chiller-plant", "boiler-plant", "meter", "generic"]
    width: float = Field(description="the SVG viewBox is 0 0 width height")
    height: float
    saved: bool = Field(description="some positions come from the integrator's saved layout")
    elements: list[ElementOut]
    unplaced: list[str] = Field(description="points of the equipment no element shows")


class PlanZoneOut(BaseModel):
    space: str
    name: str
    x: float
    y: float
    w: float
    h: float
    temperature: str | None = Field(description="the point measuring the zone's temperature, or null")
    low: str | None = Field(description="the heating setpoint's point (effective first), or null")
    high: str | None = Field(description="the cooling setpoint's point (the same as low for one setpoint)")
    band: tuple[float, float] | None = Field(description="the fixed band when low and high are null")
    tolerance: float = Field(description="how far past the band a zone is outside it (as /operation judges)")
    equipment: list[str] = Field(description="the equipment serving the zone")


class PlanOut(BaseModel):
    space: str
    name: str
    width: float
    height: float
    saved: bool
    zones: list[PlanZoneOut]


class PlanSummaryOut(BaseModel):
    space: str
    name: str
    zones: int


def _graphic_out(g: Graphic) -> GraphicOut:
    return GraphicOut(
        equipment=g.equipment, name=g.name, type=g.type, template=g.template, width=g.width, height=g.height,
        saved=g.saved, unplaced=list(g.unplaced),
        elements=[ElementOut(id=e.id, kind=e.kind, x=e.x, y=e.y, w=e.w, h=e.h, label=e.label, flow=e.flow,
                             path=None if e.path is None else list(e.path),
                             points=[GraphicPointOut(id=p.id, role=p.role) for p in e.points])
                  for e in g.elements])


def _plan_out(p: Plan) -> PlanOut:
    return PlanOut(space=p.space, name=p.name, width=p.width, height=p.height, saved=p.saved, zones=[
        PlanZoneOut(space=z.space, name=z.name, x=z.x, y=z.y, w=z.w, h=z.h, temperature=z.temperature,
                    low=z.low, high=z.high, band=z.band, tolerance=z.tolerance, equipment=list(z.equipment))
        for z in p.zones])


def _generated(cfg: SiteConfig, equip_id: str) -> Graphic:
    g = graphic(cfg, equip_id)
    if g is None:
        raise not_found(f"no equipment {equip_id!r} in site {cfg.site.id!r}")
    return g


def _saved(cfg: SiteConfig, g: Graphic) -> dict[str, Placement]:
    """The saved placements of ``g`` that apply (a file's problems are logged and left out)."""
    path = layout_path(cfg, g.equipment)
    if path is None:
        return {}
    found = read_layout(path, g.element_ids(), g.width, g.height)
    _warn(found.issues)
    return found.placements


#: The problems last logged of each layout file: a file's problems are logged when they change,
#: not on every visit (``read_layout`` lists at most 21 per file, so this stays small).
_warned: dict[str, frozenset[str]] = {}
_WARNED_FILES = 1000


def _warn(issues: list[ConfigIssue]) -> None:
    by_file: dict[str, list[str]] = {}
    for issue in issues:
        by_file.setdefault(issue.file, []).append(str(issue))
    for name, texts in by_file.items():
        before = _warned.get(name, frozenset())
        if len(_warned) >= _WARNED_FILES and name not in _warned:
            _warned.clear()
        _warned[name] = frozenset(texts)
        for text in dict.fromkeys(texts):
            if text not in before:
                log.warning("saved layout: %s (that entry is left out; openbms check lists every problem)",
                            text)


async def _current(cfg: SiteConfig, equip_id: str) -> Graphic:
    g = _generated(cfg, equip_id)
    placements = await asyncio.to_thread(_saved, cfg, g)
    if not placements:
        return g
    placed = graphic(cfg, equip_id, placements)
    assert placed is not None
    return placed


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary())


def _lock(site_id: str) -> asyncio.Lock:
    """The one lock of a site's saved layouts (per event loop: a lock belongs to one)."""
    return _locks.setdefault(asyncio.get_running_loop(), {}).setdefault(site_id, asyncio.Lock())


def _fields(p: Placement) -> dict[str, float]:
    return {k: v for k, v in (("x", p.x), ("y", p.y), ("w", p.w), ("h", p.h)) if v is not None}


def _writable_path(cfg: SiteConfig, equip_id: str) -> pathlib.Path:
    path = layout_path(cfg, equip_id)
    if path is None:
        raise ApiError(409, f"site {cfg.site.id!r} has no site file: a layout is saved in the folder of the "
                            "site file, so this site (built in code) cannot keep one")
    return path


@router.get("/sites/{site_id}/equipment/{equip_id}/graphic", response_model=GraphicOut,
            response_model_exclude_none=True)
async def get_graphic(
    request: Request, site_id: str, equip_id: str = EquipId,
    user: Principal = require("points:read", site_param="site_id"),
) -> GraphicOut:
    """The equipment's schematic: elements by kind with their points, the saved layout applied."""
    cfg = site_config(runtime_of(request), site_id)
    return _graphic_out(await _current(cfg, equip_id))


@router.put("/sites/{site_id}/equipment/{equip_id}/graphic", response_model=GraphicOut,
            response_model_exclude_none=True)
async def put_graphic(
    request: Request, site_id: str, equip_id: str = EquipId,
    body: dict[str, Any] = Body(description='{"elements": {element id: {"x", "y", "w"?, "h"?}}}'),
    user: Principal = require("sites:write", site_param="site_id"),
) -> GraphicOut:
    """Save positions (and sizes) of elements, added to those saved before; answers the drawing."""
    cfg = site_config(runtime_of(request), site_id)
    g = _generated(cfg, equip_id)
    if not isinstance(body.get("elements"), dict):
        raise validation_problem([{"loc": ["body", "elements"], "type": "value_error",
                                   "msg": "expected a mapping of element id to {x, y, w, h}"}])
    placements, problems = check_placements(body, g.element_ids(), g.width, g.height)
    if problems:
        raise validation_problem([{"loc": ["body", *loc], "msg": msg, "type": "value_error"}
                                  for loc, msg in problems])
    path = _writable_path(cfg, equip_id)
    async with _lock(site_id):
        before = await asyncio.to_thread(read_layout, path, g.element_ids(), g.width, g.height)
        if before.issues:
            raise _has_problems(cfg, before.issues)
        merged = {**before.placements, **placements}
        try:
            await asyncio.to_thread(save_layout, path, merged)
        except OSError as err:
            raise ApiError(500, f"the layout could not be saved: {err.strerror}") from err
        await audit(request, user, "graphic.save", f"{site_id}/{equip_id}",
                    {"elements": {k: _fields(p) for k, p in placements.items()}})
    placed = graphic(cfg, equip_id, merged)
    assert placed is not None
    return _graphic_out(placed)


def _has_problems(cfg: SiteConfig, issues: list[ConfigIssue]) -> ApiError:
    """409: the saved file has problems; a save would drop what it cannot read, so it is refused."""
    folder = graphics_dir(cfg)
    base = folder.parent.parent if folder is not None else None

    def shown(issue: ConfigIssue) -> str:  # relative to the site folder: no server path in an answer
        name = pathlib.Path(issue.file)
        if base is not None and name.is_relative_to(base):
            name = name.relative_to(base)
        return f"{name}:{issue.line}:{issue.column}: {issue.message}"

    where = shown(issues[0]).split(":", 1)[0]
    detail = (f"the saved layout {where} has problems, and a save would drop the entries it cannot read: fix "
              "the file (openbms check lists its problems) or reset the layout (DELETE …/graphic)")
    # The first error is the whole story (the dashboard shows it), then each problem of the file.
    return ApiError(409, detail, errors=[{"loc": [], "msg": detail, "type": "layout_problems"}, *(
        {"loc": ["file"], "msg": shown(i), "type": "layout_problem"} for i in issues)])


@router.delete("/sites/{site_id}/equipment/{equip_id}/graphic", response_model=GraphicOut,
               response_model_exclude_none=True)
async def delete_graphic(
    request: Request, site_id: str, equip_id: str = EquipId,
    user: Principal = require("sites:write", site_param="site_id"),
) -> GraphicOut:
    """Forget the saved layout: the generated drawing."""
    cfg = site_config(runtime_of(request), site_id)
    g = _generated(cfg, equip_id)
    path = layout_path(cfg, equip_id)
    if path is not None:
        async with _lock(site_id):
            removed = await asyncio.to_thread(delete_layout, path)
            if removed:
                await audit(request, user, "graphic.reset", f"{site_id}/{equip_id}", {})
    return _graphic_out(g)


@router.get("/sites/{site_id}/plans", response_model=list[PlanSummaryOut])
async def list_plans(
    request: Request, site_id: str,
    user: Principal = require("points:read", site_param="site_id"),
) -> list[PlanSummaryOut]:
    """The spaces that have a floor plan: the floors with zones (without floors, the building)."""
    cfg = site_config(runtime_of(request), site_id)
    return [PlanSummaryOut(space=p.space, name=p.name, zones=p.zones) for p in plans(cfg)]


@router.get("/sites/{site_id}/spaces/{space_id}/plan", response_model=PlanOut)
async def get_plan(
    request: Request, site_id: str, space_id: str = SpaceId,
    user: Principal = require("points:read", site_param="site_id"),
) -> PlanOut:
    """A floor plan: the space's zones as rectangles, each with its temperature and setpoint points."""
    cfg = site_config(runtime_of(request), site_id)
    found = plan(cfg, space_id)
    if found is None:
        raise not_found(f"no space {space_id!r} in site {site_id!r}")
    path = plan_path(cfg, space_id)
    if path is not None:
        saved = await asyncio.to_thread(read_layout, path, found.element_ids(), found.width, found.height)
        _warn(saved.issues)
        if saved.placements:
            placed = plan(cfg, space_id, saved.placements)
            assert placed is not None
            found = placed
    return _plan_out(found)
