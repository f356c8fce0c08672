"""``/api/v1/sites/{site}/annotations``: what happened to points over a range, to mark on their trends.

For the points asked and ``[since, until)`` (default: the 24 hours up to the
runtime's clock), time-stamped annotations, oldest first:

    alarm events ─▶ kind "alarm", action raised (raise, reactivate) | cleared (return)
                                         | acknowledged (ack)
    commands     ─▶ kind "override", action start (a value) | release | expiry (it expired)

Only overrides count: commands an operator or the API gave (schedules, logic
and optimisers write every day; their work is the trend itself). Access:
``history:read`` on the site, as for the trend; alarm events need
``alarms:read`` too and commands ``commands:read`` (every role that reads
history has both today; a role without one gets the other kind only).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.errors import invalid_field
from openbms.api.helpers import parse_time, requested_points, runtime_of, site_config
from openbms.api.site_index import site_index
from openbms.model.command import Command, CommandSource, CommandStatus
from openbms.service.protocols import Services

__all__ = ["MAX_ANNOTATIONS", "router"]

router = APIRouter(prefix="/api/v1", tags=["history"])

#: At most this many annotations in one answer (the newest kept); ``truncated`` says when more happened.
MAX_ANNOTATIONS = 1000
#: Timed overrides given up to this long before ``since`` are read too, for their expiry in the range.
LOOKBACK = 7 * 86_400.0
#: At most this many pages of the site's alarm events in the range, and of each point's stored
#: commands in it (schedules and programs write many), are read: past it, ``truncated``.
MAX_PAGES = 20
_ALARM_ACTIONS = {"raise": "raised", "reactivate": "raised", "return": "cleared", "ack": "acknowledged"}
_PEOPLE = frozenset({CommandSource.OPERATOR, CommandSource.API})
_PAGE = 500
DEFAULT_SPAN = 86_400.0
_ALARM_TITLES = {"raised": "Alarm raised", "cleared": "Alarm cleared", "acknowledged": "Alarm acknowledged"}


class AnnotationOut(BaseModel):
    """One thing that happened to a point at ``ts``."""

    ts: float = Field(description="epoch s, the runtime's clock")
    point: str
    kind: Literal["alarm", "override"]
    action: Literal["raised", "cleared", "acknowledged", "start", "release", "expiry"]
    title: str = Field(description="one line a person reads (a tooltip, a list entry)")
    who: str = ""
    detail: str = Field("", description="the alarm's message or note, the override's reason")


class AnnotationsOut(BaseModel):
    """The annotations of some points over ``[since, until)``, oldest first."""

    site: str
    since: float
    until: float
    annotations: list[AnnotationOut]
    truncated: bool = Field(description=f"more happened than the {MAX_ANNOTATIONS} given (the newest)")


async def _alarms(services: Services, site_id: str, points: set[str], since: float, until: float
                  ) -> tuple[list[dict[str, Any]], bool]:
    out: list[dict[str, Any]] = []
    after: tuple[float, int] | None = None
    for _page in range(MAX_PAGES):  # newest first, page by page, until the range or the cap is done
        rows = await services.alarm_events(site_id, since=since, until=until, after=after, limit=_PAGE)
        for r in rows:
            action = _ALARM_ACTIONS.get(r["action"])
            if action is None or r["point_id"] not in points:
                continue
            if len(out) == MAX_ANNOTATIONS:
                return out, True
            detail = r["note"] if action == "acknowledged" and r["note"] else r["message"]
            out.append({"ts": r["ts"], "point": r["point_id"], "kind": "alarm", "action": action,
                        "title": f"{_ALARM_TITLES[action]}: {r['alarm_id']}", "who": r["who"] or "",
                        "detail": detail or ""})
        if len(rows) < _PAGE:
            return out, False
        after = (rows[-1]["ts"], rows[-1]["id"])
    return out, True


def _override_events(cmd: Command, since: float, until: float) -> list[dict[str, Any]]:
    base = {"point": cmd.point, "kind": "override", "who": cmd.requested_by, "detail": cmd.reason}
    out: list[dict[str, Any]] = []
    if cmd.status == CommandStatus.FAILED:
        return out
    if since <= cmd.created_at < until:
        if cmd.release:
            out.append({**base, "ts": cmd.created_at, "action": "release",
                        "title": f"Override released at priority {cmd.priority}"})
        else:
            until_text = "" if cmd.expires_at is None else " (timed)"
            out.append({**base, "ts": cmd.created_at, "action": "start",
                        "title": f"Overridden to {cmd.value} at priority {cmd.priority}{until_text}"})
    if cmd.status == CommandStatus.EXPIRED and since <= cmd.updated_at < until:
        out.append({**base, "ts": cmd.updated_at, "action": "expiry",
                    "title": f"Override to {cmd.value} at priority {cmd.priority} expired"})
    return out


async def _commands(services: Services, site_id: str, point: str, status: str | None, start: float,
                    end: float) -> tuple[list[Command], bool]:
    """The point's stored commands created in ``[start, end)`` (of one status), read back from ``end``
    newest first; True when the page bound cut them."""
    out: list[Command] = []
    after = (end, "")  # created before end: nothing newer is read
    for _page in range(MAX_PAGES):
        cmds = await services.commands.recent(site_id, point=point, status=status, after=after, limit=_PAGE)
        out.extend(c for c in cmds if c.created_at >= start)
        if len(cmds) < _PAGE or cmds[-1].created_at < start:
            return out, False
        after = (cmds[-1].created_at, cmds[-1].id)
    return out, True


async def _overrides(services: Services, site_id: str, points: list[str], since: float, until: float
                     ) -> tuple[list[dict[str, Any]], bool]:
    out: list[dict[str, Any]] = []
    cut = False
    for pid in points:
        # Commands given in the range (schedules and programs write many: read only the range), then
        # timed overrides given before it that expired in it (few: by their status).
        made, cut_made = await _commands(services, site_id, pid, None, since, until)
        expired, cut_expired = await _commands(services, site_id, pid, CommandStatus.EXPIRED.value,
                                               since - LOOKBACK, since)
        cut |= cut_made or cut_expired
        for cmd in made + expired:
            if cmd.source in _PEOPLE:
                out.extend(_override_events(cmd, since, until))
    return out, cut or len(out) > MAX_ANNOTATIONS


@router.get("/sites/{site_id}/annotations", response_model=AnnotationsOut)
async def get_annotations(
    request: Request,
    site_id: str,
    points: list[str] = Query(..., description="Points: equipment/name or site/equipment/name, comma lists."),
    since: str | None = Query(None, max_length=64, description="Start (ISO 8601, epoch s); default −24 h."),
    until: str | None = Query(None, max_length=64, description="End (ISO 8601 or epoch s); default now."),
    user: Principal = require("history:read", site_param="site_id"),
) -> Any:
    """Alarm events and overrides of the points over the range, oldest first, to annotate their trends."""
    services = runtime_of(request)
    index = site_index(site_config(services, site_id))
    pids = [entry[0] for entry in requested_points(site_id, points, index.entry)]
    end = parse_time(until, "until")
    end = services.clock.now() if end is None else end
    start = parse_time(since, "since")
    start = end - DEFAULT_SPAN if start is None else start
    if start >= end:
        raise invalid_field(["query", "since"], "expected a time before until")
    found: list[dict[str, Any]] = []
    truncated = False
    if user.can("alarms:read", site_id):
        got, cut = await _alarms(services, site_id, set(pids), start, end)
        found += got
        truncated |= cut
    if user.can("commands:read", site_id):
        got, cut = await _overrides(services, site_id, pids, start, end)
        found += got
        truncated |= cut
    found.sort(key=lambda a: a["ts"])
    if len(found) > MAX_ANNOTATIONS:
        found, truncated = found[-MAX_ANNOTATIONS:], True
    return {"site": site_id, "since": start, "until": end, "annotations": found, "truncated": truncated}
