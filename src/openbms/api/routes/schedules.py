"""``/api/v1`` routes: a site's schedules and holiday calendars, their values now and to come.

Schedules and calendars live in the site file: a change builds the site's new
configuration and hands it to the service's ``change_site``, which checks it, writes
the YAML file (the previous one kept as ``.bak``) and restarts the site's
schedule runner. A change is checked field by field first, so a mistake is a
422 problem naming the field (``["body", "weekly", "monday", 0, "time"]``).
When a schedule is deleted, or stops targeting a point or moves to another
priority, the slots it held are released, so no value is left behind.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.context import client_addr, get_context
from openbms.api.errors import conflict, invalid_field, not_found
from openbms.api.helpers import (
    Cursor,
    Limit,
    Page,
    change_site,
    keyset_page,
    runtime_of,
    site_config,
    validation_problem,
)
from openbms.config.checks import check_control
from openbms.control.schedules import Transition, next_transition, transitions, value_at
from openbms.model.calendar import Calendar
from openbms.model.fields import PointKind
from openbms.model.sample import Value
from openbms.model.schedule import Schedule, ScheduleException, Weekly
from openbms.model.site import SiteConfig
from openbms.service.protocols import RemoteCommands, Services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["schedules"])

_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
#: The longest window ``…/transitions`` computes.
MAX_WINDOW_S = 366 * 86400.0
DEFAULT_WINDOW_S = 48 * 3600.0
MAX_TIME = 1e10  # epoch seconds: the year 2286

# ------------------------------------------------------------------------------ models


class TransitionOut(BaseModel):
    """From ``ts`` (epoch seconds) the value is ``value`` (null: released), because of ``source``."""

    ts: float
    local: str = Field(description="The same instant in the schedule's time zone (ISO 8601).")
    value: Value
    source: str = Field(description="'weekly', 'exception:<name>' or 'default'")


class ScheduleView(BaseModel):
    """A schedule as configured, the value in force now and the next change."""

    schedule: Schedule
    timezone: str = Field(description="The time zone its events are read in (its own, else the site's).")
    current: TransitionOut = Field(description="The value now, and the event that set it.")
    next: TransitionOut | None = Field(description="The next change, within 400 days.")


class TransitionsOut(BaseModel):
    """Every change of value with ``since <= ts < until``, and the value in force at ``since``."""

    schedule_id: str
    timezone: str
    since: float
    until: float
    initial: TransitionOut = Field(description="The value in force at 'since', and why.")
    transitions: list[TransitionOut]


class ScheduleBody(BaseModel):
    """A schedule (see docs/schedules.md); ``id`` and ``site`` come from the URL and may be left out."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    site: str | None = None
    name: str = ""
    timezone: str | None = Field(None, description="IANA time zone; the site's when null.")
    kind: PointKind = "number"
    default: Value = Field(None, description="The value when nothing is scheduled; null releases.")
    priority: int = Field(12, ge=1, le=16)
    targets: list[str] = Field(default_factory=list, max_length=1000)
    weekly: Weekly = Weekly()
    exceptions: list[ScheduleException] = Field(default_factory=list, max_length=1000)


class CalendarBody(Calendar):
    """A calendar (``{name, entries: [date rules]}``); ``id`` comes from the URL and may be left out."""

    id: str | None = None  # type: ignore[assignment]


# ------------------------------------------------------------------------------ helpers


def _site_file(request: Request, site_id: str) -> tuple[Services, SiteConfig]:
    runtime = runtime_of(request)
    return runtime, site_config(runtime, site_id)


def _tz(schedule: Schedule, cfg: SiteConfig) -> str:
    return schedule.timezone or cfg.site.timezone


def _transition(t: Transition, tz: str) -> TransitionOut:
    local = dt.datetime.fromtimestamp(t.ts, ZoneInfo(tz)).isoformat()
    return TransitionOut(ts=t.ts, local=local, value=t.value, source=t.source)


def _view(schedule: Schedule, cfg: SiteConfig, now: float) -> ScheduleView:
    tz = _tz(schedule, cfg)
    _value, why = value_at(schedule, now, cfg.calendars, timezone=tz)
    upcoming = next_transition(schedule, now, cfg.calendars, timezone=tz)
    return ScheduleView(schedule=schedule, timezone=tz, current=_transition(why, tz),
                        next=None if upcoming is None else _transition(upcoming, tz))


def _schedule(cfg: SiteConfig, schedule_id: str) -> Schedule:
    for s in cfg.schedules:
        if s.id == schedule_id:
            return s
    raise not_found(f"no schedule {schedule_id!r} on site {cfg.site.id!r}")


def _check(cfg: SiteConfig, section: str, index: int, request: Request) -> None:
    """The whole-site checks of the changed configuration; problems of the changed entry by field.

    At a central openbms a site's schedules target the points its edge lets write, at the
    centre's priorities (``RemoteCommands``)."""
    runtime = runtime_of(request)
    errors = []
    if isinstance(runtime, RemoteCommands) and runtime.remote_site(cfg.site.id):
        problems = check_control(cfg, writable=runtime.edge_writable,
                                 min_priority=runtime.edge_min_priority())
    else:
        problems = check_control(cfg)
    for loc, message in problems:
        if len(loc) >= 2 and loc[0] == section and loc[1] == index:
            where: list[str | int] = ["body", *loc[2:]]
        else:
            where = ["body"]
        errors.append({"loc": where, "msg": message, "type": "value_error"})
    if errors:
        raise validation_problem(errors)


# ------------------------------------------------------------------------------ schedules


@router.get("/sites/{site_id}/schedules", response_model=Page[ScheduleView])
async def list_schedules(
    site_id: str, request: Request, limit: int = Limit, cursor: str | None = Cursor,
    user: Principal = require("schedules:read", site_param="site_id"),
) -> Page[ScheduleView]:
    """The site's schedules by id, each with its value now and its next change."""
    runtime, cfg = _site_file(request, site_id)
    found = sorted(cfg.schedules, key=lambda s: s.id)
    items, next_cursor = keyset_page(found, lambda s: [s.id], limit, cursor)
    now = runtime.clock.now()
    return Page[ScheduleView](items=[_view(s, cfg, now) for s in items], next_cursor=next_cursor)


@router.get("/sites/{site_id}/schedules/{schedule_id}", response_model=ScheduleView)
async def get_schedule(
    site_id: str, schedule_id: str, request: Request,
    user: Principal = require("schedules:read", site_param="site_id"),
) -> ScheduleView:
    """A schedule, its value now (and why) and its next change."""
    runtime, cfg = _site_file(request, site_id)
    return _view(_schedule(cfg, schedule_id), cfg, runtime.clock.now())


@router.get("/sites/{site_id}/schedules/{schedule_id}/transitions", response_model=TransitionsOut)
async def schedule_transitions(
    site_id: str, schedule_id: str, request: Request,
    since: float | None = Query(None, description="Epoch seconds (default: now)."),
    until: float | None = Query(None, description="Epoch seconds, excluded (default: 48 h after since)."),
    user: Principal = require("schedules:read", site_param="site_id"),
) -> TransitionsOut:
    """What the schedule will do (or did): every change of value in a window, at most a year long."""
    runtime, cfg = _site_file(request, site_id)
    schedule = _schedule(cfg, schedule_id)
    start = runtime.clock.now() if since is None else since
    end = start + DEFAULT_WINDOW_S if until is None else until
    if not 0 <= start <= MAX_TIME:  # also refuses NaN
        raise invalid_field(["query", "since"], "expected a time in epoch seconds, from 0 (1970)")
    if not start < end <= start + MAX_WINDOW_S:
        raise invalid_field(["query", "until"], "'until' must come after 'since', at most "
                            f"{MAX_WINDOW_S / 86400:g} days after it")
    tz = _tz(schedule, cfg)
    _value, why = value_at(schedule, start, cfg.calendars, timezone=tz)
    changes = transitions(schedule, start, end, cfg.calendars, timezone=tz)
    return TransitionsOut(schedule_id=schedule.id, timezone=tz, since=start, until=end,
                          initial=_transition(why, tz), transitions=[_transition(t, tz) for t in changes])


@router.put("/sites/{site_id}/schedules/{schedule_id}", response_model=ScheduleView,
            responses={201: {"model": ScheduleView, "description": "Created"}})
async def put_schedule(
    site_id: str, body: ScheduleBody, request: Request, response: Response,
    schedule_id: str = Path(pattern=_ID_PATTERN, max_length=64),
    user: Principal = require("schedules:write", site_param="site_id"),
) -> ScheduleView:
    """Create (201) or replace (200) a schedule; it is written to the site file and runs at once."""
    if body.id is not None and body.id != schedule_id:
        raise invalid_field(["body", "id"], f"the id {body.id!r} differs from the URL's {schedule_id!r}")
    if body.site is not None and body.site != site_id:
        raise invalid_field(["body", "site"], f"the site {body.site!r} differs from the URL's {site_id!r}")
    fields = {name: getattr(body, name) for name in ScheduleBody.model_fields if name not in ("id", "site")}
    try:
        schedule = Schedule.model_validate({**fields, "id": schedule_id, "site": site_id})
    except ValidationError as err:
        raise validation_problem(err, strip_value_error=False) from None
    old: Schedule | None = None

    async def put(cfg: SiteConfig) -> SiteConfig:
        nonlocal old
        old = next((s for s in cfg.schedules if s.id == schedule_id), None)
        if old is None:
            schedules = (*cfg.schedules, schedule)
        else:
            schedules = tuple(schedule if s.id == schedule_id else s for s in cfg.schedules)
        changed = cfg.model_copy(update={"schedules": schedules})
        index = next(i for i, s in enumerate(schedules) if s.id == schedule_id)
        await get_context(request).run(_check, changed, "schedules", index, request)
        return changed

    cfg = await change_site(request, site_id, put, edges=False)
    await get_context(request).audit(
        user.actor, "schedule.create" if old is None else "schedule.update", f"{site_id}/{schedule_id}",
        {"schedule": schedule.model_dump(mode="json", exclude_defaults=True)}, client_addr(request))
    if old is None:
        response.status_code = 201
    return _view(_schedule(cfg, schedule_id), cfg, runtime_of(request).clock.now())


@router.delete("/sites/{site_id}/schedules/{schedule_id}", status_code=204)
async def delete_schedule(
    site_id: str, schedule_id: str, request: Request,
    user: Principal = require("schedules:write", site_param="site_id"),
) -> Response:
    """Delete a schedule from the site file; the slots it held are released."""
    async def delete(cfg: SiteConfig) -> SiteConfig:
        _schedule(cfg, schedule_id)  # 404
        return cfg.model_copy(update={"schedules": tuple(s for s in cfg.schedules if s.id != schedule_id)})

    await change_site(request, site_id, delete, removal=True, edges=False)
    await get_context(request).audit(user.actor, "schedule.delete", f"{site_id}/{schedule_id}", {},
                                     client_addr(request))
    return Response(status_code=204)


# ------------------------------------------------------------------------------ calendars


@router.get("/sites/{site_id}/calendars", response_model=Page[Calendar])
async def list_calendars(
    site_id: str, request: Request, limit: int = Limit, cursor: str | None = Cursor,
    user: Principal = require("schedules:read", site_param="site_id"),
) -> Page[Calendar]:
    """The site's holiday calendars by id."""
    _runtime, cfg = _site_file(request, site_id)
    found = sorted(cfg.calendars, key=lambda c: c.id)
    items, next_cursor = keyset_page(found, lambda c: [c.id], limit, cursor)
    return Page[Calendar](items=items, next_cursor=next_cursor)


def _calendar(cfg: SiteConfig, calendar_id: str) -> Calendar:
    for c in cfg.calendars:
        if c.id == calendar_id:
            return c
    raise not_found(f"no calendar {calendar_id!r} on site {cfg.site.id!r}")


@router.get("/sites/{site_id}/calendars/{calendar_id}", response_model=Calendar)
async def get_calendar(
    site_id: str, calendar_id: str, request: Request,
    user: Principal = require("schedules:read", site_param="site_id"),
) -> Calendar:
    """A holiday calendar."""
    _runtime, cfg = _site_file(request, site_id)
    return _calendar(cfg, calendar_id)


@router.put("/sites/{site_id}/calendars/{calendar_id}", response_model=Calendar,
            responses={201: {"model": Calendar, "description": "Created"}})
async def put_calendar(
    site_id: str, body: CalendarBody, request: Request, response: Response,
    calendar_id: str = Path(pattern=_ID_PATTERN, max_length=64),
    user: Principal = require("schedules:write", site_param="site_id"),
) -> Calendar:
    """Create (201) or replace (200) a calendar; the schedules that use it follow at once."""
    if body.id is not None and body.id != calendar_id:
        raise invalid_field(["body", "id"], f"the id {body.id!r} differs from the URL's {calendar_id!r}")
    calendar = Calendar(id=calendar_id, name=body.name, entries=body.entries)
    old: Calendar | None = None

    async def put(cfg: SiteConfig) -> SiteConfig:
        nonlocal old
        old = next((c for c in cfg.calendars if c.id == calendar_id), None)
        calendars = ((*cfg.calendars, calendar) if old is None
                     else tuple(calendar if c.id == calendar_id else c for c in cfg.calendars))
        changed = cfg.model_copy(update={"calendars": calendars})
        index = next(i for i, c in enumerate(calendars) if c.id == calendar_id)
        await get_context(request).run(_check, changed, "calendars", index, request)
        return changed

    await change_site(request, site_id, put, edges=False)
    await get_context(request).audit(
        user.actor, "calendar.create" if old is None else "calendar.update", f"{site_id}/{calendar_id}",
        {"calendar": calendar.model_dump(mode="json", exclude_defaults=True)}, client_addr(request))
    if old is None:
        response.status_code = 201
    return calendar


@router.delete("/sites/{site_id}/calendars/{calendar_id}", status_code=204)
async def delete_calendar(
    site_id: str, calendar_id: str, request: Request,
    user: Principal = require("schedules:write", site_param="site_id"),
) -> Response:
    """Delete a calendar no schedule uses (409 naming the schedules that do)."""
    async def delete(cfg: SiteConfig) -> SiteConfig:
        _calendar(cfg, calendar_id)  # 404
        users = [s.id for s in cfg.schedules if any(ref == calendar_id for _j, ref in s.calendar_refs())]
        if users:
            raise conflict(f"calendar {calendar_id!r} is used by schedule(s) {', '.join(users)}")
        return cfg.model_copy(update={"calendars": tuple(c for c in cfg.calendars if c.id != calendar_id)})

    await change_site(request, site_id, delete, removal=True, edges=False)
    await get_context(request).audit(user.actor, "calendar.delete", f"{site_id}/{calendar_id}", {},
                                     client_addr(request))
    return Response(status_code=204)
