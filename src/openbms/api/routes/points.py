"""Points: configuration, tags and current values (``points:read``), and their changes (``points:write``).

A point's id is ``site/equipment/name``; its resource is
``/sites/{site}/points/{equipment}/{name}``. Current values come from the
runtime's current-value cache, never from a database; a writable point whose
winning slot is held by an operator or through the API carries that
``override`` (priority, who, why, since, until), from the priority arrays in
memory. Changes go through
the service's ``change_site``, which rewrites the site's YAML file and applies the
change to polling, control and history.

At a central openbms (``openbms central serve``) a point is ``writable`` when its edge's published
configuration says so, and ``remote`` is true: a command on it is queued for the edge (priority 9
to 16, 12 unless given) and run by the edge's arbiter; the centre holds no priority array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openbms.api.auth.permissions import require, visible_sites
from openbms.api.auth.principal import Principal
from openbms.api.errors import bad_request, conflict, invalid_field
from openbms.api.helpers import (
    Cursor,
    Limit,
    Page,
    audit,
    change_site,
    decode_cursor,
    find_point,
    finite,
    page,
    replace_equipment,
    runtime_of,
    site_config,
    validation_problem,
)
from openbms.api.site_index import Entry, SiteIndex, describe, site_index_built
from openbms.model.command import Command
from openbms.model.sample import Value
from openbms.model.site import (
    MAX_INTERVAL_S,
    CommandPolicy,
    Equipment,
    HistoryPolicy,
    Point,
    PointKind,
    RelinquishDefault,
    SiteConfig,
    WriteLimits,
)
from openbms.service.protocols import RemoteCommands

__all__ = ["PointDetail", "PointOverride", "PointSummary", "router"]

router = APIRouter(prefix="/api/v1", tags=["points"])

#: Through the API, no point polls faster than this (a typo must not flood a device).
MIN_POLL = 0.1

EquipId = Path(max_length=64, description="The point's equipment id.")
PointName = Path(max_length=64, description="The point's name within its equipment.")


class PointOverride(BaseModel):
    """The winning slot of a point's priority array when a person or the API holds it."""

    priority: int = Field(description="1 (highest) … 16; 8 is manual operator")
    value: Value = Field(description="the value held")
    source: str = Field(description="operator or api")
    requested_by: str = Field(description="who asked")
    reason: str
    since: float = Field(description="epoch seconds the command was made")
    expires_at: float | None = Field(description="epoch seconds it expires; null: until released")
    command_id: str


def override_of(cmd: Command) -> dict[str, Any]:
    """A ``PointOverride`` as a plain dict (point pages are encoded without the models)."""
    return {"priority": cmd.priority, "value": finite(cmd.value), "source": str(cmd.source),
            "requested_by": cmd.requested_by, "reason": cmd.reason, "since": cmd.created_at,
            "expires_at": cmd.expires_at, "command_id": cmd.id}


class PointSummary(BaseModel):
    """A point as lists show it: what it is, its current value from the cache, and its override."""

    id: str = Field(description="site/equipment/name")
    site: str
    equipment: str
    name: str
    display_name: str = Field(description="what people read: the site file's, else derived from the name")
    kind: PointKind
    unit: str | None
    precision: int = Field(description="decimals its values show: the site file's, else by unit")
    states: list[str] | None = Field(
        description="an enum point's state labels, state 1 first (its values count from 1); null for others")
    description: str
    tags: list[str]
    writable: bool = Field(description="commands may be sent to it (at a central openbms: its edge's "
                           "configuration says so)")
    remote: bool = Field(default=False, description="at a central openbms: a command goes to the site's "
                         "edge (priority 9 to 16, 12 unless given), whose arbiter runs it")
    value: Value = Field(description="the newest value, null when there is none")
    status: str | None = Field(
        description="ok, stale, fault, offline or overridden; null before the first value"
    )
    ts: float | None = Field(description="epoch seconds of the newest value")
    override: PointOverride | None = Field(
        default=None,
        description="the winning slot when an operator or the API holds it (the value is overridden); "
                    "null otherwise",
    )


class PointDetail(PointSummary):
    """A point's whole configuration, its current value and, when writable, its priority array."""

    brick: str | None
    limits: WriteLimits | None
    relinquish_default: float | bool | str | None
    command: CommandPolicy
    binding: str | None
    poll: float | None
    history: HistoryPolicy
    priority_array: list[Value] | None = Field(
        default=None, description="the 16 slots, priority 1 first (null where empty); writable points only"
    )
    effective: Value = Field(default=None, description="the value the arbiter wants (writable points only)")


class PointCreate(Point):
    """A new point: its equipment and its configuration."""

    equipment: str = Field(max_length=64, description="the id of the equipment the point belongs to")
    poll: float | None = Field(default=None, ge=MIN_POLL, le=MAX_INTERVAL_S,
                               description="seconds; default from the driver")


class PointPatch(BaseModel):
    """Fields of a point to change; the others stay. ``null`` clears an optional field.

    No number may be NaN or infinite (JSON has neither, but some clients write them).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: PointKind | None = None
    unit: str | None = None
    display_name: str | None = None
    precision: int | None = None
    description: str | None = None
    tags: list[str] | None = None
    brick: str | None = None
    states: list[str] | None = None
    writable: bool | None = None
    limits: WriteLimits | None = None
    relinquish_default: RelinquishDefault = None
    command: CommandPolicy | None = None
    binding: str | None = None
    poll: float | None = Field(default=None, ge=MIN_POLL, le=MAX_INTERVAL_S)
    history: HistoryPolicy | None = None


def _edge_writable(request: Request) -> Callable[[str], bool | None]:
    """Whether a point may be written at its edge (a central openbms); None: not an edge's point."""
    runtime = runtime_of(request)
    if not isinstance(runtime, RemoteCommands):
        return lambda _pid: None
    remote = runtime

    def writable(pid: str) -> bool | None:
        return remote.edge_writable(pid) if remote.remote_site(pid.split("/", 1)[0]) else None
    return writable


def _matches(
    entry: Entry,
    equipment: str | None,
    tags: Sequence[str],
    kind: str | None,
    writable: bool | None,
    q: str | None,
    at_edge: Callable[[str], bool | None] = lambda _pid: None,
) -> bool:
    pid, _site, equip, point = entry
    if equipment is not None and equip.id != equipment:
        return False
    if kind is not None and point.kind != kind:
        return False
    if writable is not None:
        edge = at_edge(pid)
        if (point.writable if edge is None else edge) != writable:
            return False
    if tags and not set(tags) <= set(point.tags):
        return False
    if q:
        needle = q.casefold()
        return (needle in pid.casefold() or needle in point.description.casefold()
                or needle in (point.brick or "").casefold())
    return True


def _summary_rows(request: Request, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (a SiteIndex's descriptions) with each point's current value, status, time and
    override."""
    runtime = runtime_of(request)
    get = runtime.cache.getter()
    held = runtime.commands.override
    at_edge = _edge_writable(request)
    out = []
    for row in rows:
        sample = get(row["id"])
        cmd = held(row["id"]) if row["writable"] else None
        override = None if cmd is None else override_of(cmd)
        edge = at_edge(row["id"])
        if edge is not None:  # a central openbms: the edge's point, written there
            row = {**row, "writable": edge, "remote": True}
        if sample is None:
            out.append({**row, "value": None, "status": None, "ts": None, "override": override})
        else:
            out.append({**row, "value": sample.value, "status": sample.status, "ts": sample.ts,
                        "override": override})
    return out


#: Encoded unfiltered pages kept per site index (they are dropped with the index).
_MAX_PAGES = 64


def _page(
    request: Request,
    indexes: Sequence[SiteIndex],
    filters: tuple[str | None, Sequence[str], str | None, bool | None, str | None],
    limit: int,
    cursor: str | None,
) -> Response:
    """A page of points of ``indexes`` matching ``filters``, after ``cursor``, as JSON.

    Built from plain dicts and encoded with orjson (NaN and infinities become
    null), not through the response model: a page is a hundred points, asked
    for every few seconds by every open dashboard.
    """
    after = decode_cursor(cursor, {"after": str}).get("after")
    if after is not None and not isinstance(after, str):
        raise bad_request("invalid cursor: pass the next_cursor of the previous page as it was")
    equipment, tags, kind, writable, q = filters
    unfiltered = equipment is None and not tags and kind is None and writable is None and not q
    if len(indexes) == 1 and unfiltered:
        index = indexes[0]
        start = index.after(after)
        # Many dashboards show the same page: it is encoded once per change of the values or
        # of the priority arrays (a page says which values are overridden).
        runtime = runtime_of(request)
        cache = runtime.cache
        version = cache.version
        arrays = (cache, runtime.commands.version)
        hit = index.pages.get((start, limit))
        if hit is None or hit[0] != arrays or hit[1] != version:
            rows = index.described[start : start + limit + 1]
            if len(index.pages) >= _MAX_PAGES:
                index.pages.clear()
            hit = index.pages[(start, limit)] = (arrays, version, _encode_page(request, rows, limit))
        return Response(hit[2], media_type="application/json")
    at_edge = _edge_writable(request)
    found = [
        entry
        for index in indexes
        for entry in index.entries
        if (after is None or entry[0] > after)
        and (unfiltered or _matches(entry, *filters, at_edge=at_edge))
    ]
    if len(indexes) > 1:
        found.sort(key=lambda entry: entry[0])
    rows = [describe(*entry) for entry in found[: limit + 1]]
    return Response(_encode_page(request, rows, limit), media_type="application/json")


def _encode_page(request: Request, rows: Sequence[dict[str, Any]], limit: int) -> bytes:
    """The page of ``rows`` (fetched with ``limit + 1``) with current values, as JSON."""
    items, next_cursor = page(rows, limit, lambda row: {"after": row["id"]})
    return orjson.dumps({"items": _summary_rows(request, items), "next_cursor": next_cursor})


def _detail(request: Request, site_id: str, equip: Equipment, point: Point) -> PointDetail:
    runtime = runtime_of(request)
    pid = f"{site_id}/{equip.id}/{point.name}"
    (summary,) = _summary_rows(request, [describe(pid, site_id, equip, point)])
    summary["value"] = finite(summary["value"])
    priority_array = effective = None
    if point.writable and runtime.commands.controls(pid):
        priority_array = [finite(None if c is None else c.value) for c in runtime.commands.slots(pid)]
        effective = finite(runtime.commands.effective(pid))
    config = point.model_dump(exclude={"name", "display_name", "kind", "unit", "precision", "states",
                                       "description", "tags", "writable"})
    return PointDetail(**summary, priority_array=priority_array, effective=effective,
                       **config)


TagQuery = Query([], description="Only points with this tag; repeat it for points with all of them.")
TextQuery = Query(None, max_length=200,
                  description="Text in the point's id, description or Brick class (any case).")
KindQuery = Query(None, description="Only points of this kind.")
WritableQuery = Query(None, description="Only writable (true) or read-only (false) points.")


@router.get("/sites/{site_id}/points", response_model=Page[PointSummary])
async def list_points(
    request: Request,
    site_id: str,
    equipment: str | None = Query(None, max_length=64, description="Only the points of this equipment."),
    tag: list[str] = TagQuery,
    kind: PointKind | None = KindQuery,
    writable: bool | None = WritableQuery,
    q: str | None = TextQuery,
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("points:read", site_param="site_id"),
) -> Response:
    """The site's points with their current values, by id, filtered."""
    index = await site_index_built(site_config(runtime_of(request), site_id))
    return _page(request, [index], (equipment, tag, kind, writable, q), limit, cursor)


@router.get("/points", response_model=Page[PointSummary])
async def search_points(
    request: Request,
    site: str | None = Query(None, max_length=64, description="Only the points of this site."),
    equipment: str | None = Query(None, max_length=64, description="Only the points of this equipment."),
    tag: list[str] = TagQuery,
    kind: PointKind | None = KindQuery,
    writable: bool | None = WritableQuery,
    q: str | None = TextQuery,
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("points:read", site_param="site"),
) -> Response:
    """Points of every site the caller may see (or of ``site``), by id, filtered."""
    runtime = runtime_of(request)
    wanted = (
        [site] if site is not None else visible_sites(user, [s.site.id for s in runtime.sites], "points:read")
    )
    indexes = [await site_index_built(s) for s in runtime.sites if s.site.id in wanted]
    return _page(request, indexes, (equipment, tag, kind, writable, q), limit, cursor)


@router.get("/sites/{site_id}/points/{equip_id}/{name}", response_model=PointDetail)
async def get_point(
    request: Request,
    site_id: str,
    equip_id: str = EquipId,
    name: str = PointName,
    user: Principal = require("points:read", site_param="site_id"),
) -> PointDetail:
    """A point: configuration, current value, and priority array if writable."""
    equip, point = find_point(site_config(runtime_of(request), site_id), equip_id, name)
    return _detail(request, site_id, equip, point)


@router.post("/sites/{site_id}/points", response_model=PointDetail, status_code=201)
async def create_point(
    request: Request,
    site_id: str,
    body: PointCreate,
    response: Response,
    user: Principal = require("points:write", site_param="site_id"),
) -> PointDetail:
    """Add a point to an equipment (409 if the equipment has a point of that name)."""
    point = Point.model_validate(body.model_dump(exclude={"equipment"}))

    def change(cfg: SiteConfig) -> SiteConfig:
        equip = next((e for e in cfg.equipment if e.id == body.equipment), None)
        if equip is None:
            raise invalid_field(
                ["body", "equipment"], f"site {site_id!r} has no equipment {body.equipment!r}"
            )
        if any(p.name == point.name for p in equip.points):
            raise conflict(f"equipment {equip.id!r} already has a point {point.name!r}")
        return replace_equipment(cfg, equip.model_copy(update={"points": (*equip.points, point)}))

    cfg = await change_site(request, site_id, change)
    pid = f"{site_id}/{body.equipment}/{point.name}"
    await audit(request, user, "point.create", pid, point.model_dump(mode="json", exclude_defaults=True))
    response.headers["Location"] = f"/api/v1/sites/{site_id}/points/{body.equipment}/{point.name}"
    equip, created = find_point(cfg, body.equipment, point.name)
    return _detail(request, site_id, equip, created)


@router.patch("/sites/{site_id}/points/{equip_id}/{name}", response_model=PointDetail)
async def update_point(
    request: Request,
    site_id: str,
    body: PointPatch,
    equip_id: str = EquipId,
    name: str = PointName,
    user: Principal = require("points:write", site_param="site_id"),
) -> PointDetail:
    """Change a point's configuration (a nested object such as ``limits`` is replaced whole)."""
    changes = body.model_dump(exclude_unset=True)

    def change(cfg: SiteConfig) -> SiteConfig:
        equip, old = find_point(cfg, equip_id, name)
        try:
            new = Point.model_validate({**old.model_dump(), **changes})
        except ValidationError as err:
            raise validation_problem(err) from err
        points = tuple(new if p.name == name else p for p in equip.points)
        return replace_equipment(cfg, equip.model_copy(update={"points": points}))

    cfg = await change_site(request, site_id, change)
    await audit(
        request,
        user,
        "point.update",
        f"{site_id}/{equip_id}/{name}",
        body.model_dump(mode="json", exclude_unset=True),
    )
    equip, point = find_point(cfg, equip_id, name)
    return _detail(request, site_id, equip, point)


@router.delete("/sites/{site_id}/points/{equip_id}/{name}", status_code=204, response_class=Response)
async def delete_point(
    request: Request,
    site_id: str,
    equip_id: str = EquipId,
    name: str = PointName,
    user: Principal = require("points:write", site_param="site_id"),
) -> Response:
    """Remove a point (a 409 lists what still refers to it: schedules, alarms)."""

    def change(cfg: SiteConfig) -> SiteConfig:
        equip, _point = find_point(cfg, equip_id, name)
        points = tuple(p for p in equip.points if p.name != name)
        return replace_equipment(cfg, equip.model_copy(update={"points": points}))

    await change_site(request, site_id, change, removal=True)
    await audit(request, user, "point.delete", f"{site_id}/{equip_id}/{name}", {})
    return Response(status_code=204)
