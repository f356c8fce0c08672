"""``/api/v1`` routes: commands to writable points, their status, and priority arrays.

Every write goes through the arbiter: ``POST …/commands`` fills a slot of the
point's priority array (8, manual operator, unless the body names another),
optionally for ``duration_s`` seconds, and ``POST …/release`` empties one. A
request the arbiter refuses (out of limits, wrong kind, read-only point) is a
422 problem with its reason, and nothing is written. Every request — refused
ones too — is recorded in the audit log; the commands themselves are kept in
the ``commands`` table, which ``GET …/commands`` reads.

At a central openbms (``openbms central serve``) a site's commands are its edge's: the running
system is also :class:`~openbms.service.protocols.RemoteCommands`, and on a remote site ``POST
…/commands`` and ``…/release`` queue the command for the edge (priority 9 to 16, 12 unless
given; it expires unsent after ``DEFAULT_EXPIRES_S``), and ``GET …/commands`` lists the queue's,
each with its ``delivery``, the edge's ``answer`` and the ``changes`` the edge's bridge sent of
the command it made of it, and the commands the edge made itself (its operators, schedules,
programs: ``origin`` ``edge``), from their changes. The edge's arbiter runs them all.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, ValidationError, field_validator

from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.context import client_addr, get_context
from openbms.api.errors import ApiError, invalid_field, not_found
from openbms.api.helpers import (
    Cursor,
    Limit,
    Page,
    command_source,
    decode_cursor,
    find_point,
    page,
    runtime_of,
    site_config,
)
from openbms.errors import CommandError
from openbms.model.command import Command
from openbms.model.fields import state_number
from openbms.model.sample import Value
from openbms.model.site import Point
from openbms.service.protocols import EdgeCommand, RemoteCommand, RemoteCommands, Services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["commands"])

log = logging.getLogger(__name__)
_UNREADABLE: set[str] = set()  # sites whose edge sent a command change the API cannot show (said once)

CommandStatusName = Literal["pending", "executing", "completed", "failed", "superseded", "expired"]
_POINT = "/sites/{site_id}/points/{equip_id}/{name}"


class CommandRequest(BaseModel):
    """Set a point: ``value`` at ``priority`` (8 by default), for ``duration_s`` seconds if given."""

    value: bool | int | float | str = Field(
        description="A number, true/false, or an enum state (its label, or its number counting from 1). "
                    "To release, POST …/release.")
    priority: int | None = Field(None, ge=1, le=16, description="1 (highest) … 16; 8 is manual operator.")
    duration_s: float | None = Field(
        None, gt=0, le=366 * 86400, description="A timed override: released by itself after this long.")
    reason: str = Field(min_length=1, max_length=500, description="Why: kept with the command.")

    @field_validator("value", mode="before")
    @classmethod
    def _finite(cls, value: object) -> object:
        # JSON has no NaN or infinities, but some clients write them; one clear error rather
        # than one per member of the union. The bound (|x| <= 1e9) is the arbiter's, which
        # refuses with the reason and records the refusal.
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number: expected a number, true/false "
                             "or a state")
        return value


class ReleaseRequest(BaseModel):
    """Empty the slot at ``priority`` (8 by default): the next slot or the relinquish default takes over."""

    priority: int | None = Field(None, ge=1, le=16)
    reason: str = Field(min_length=1, max_length=500)


class CommandOut(BaseModel):
    """A command and its status (``pending → executing → completed | failed | superseded | expired``)."""

    id: str
    point: str
    value: Value
    priority: int
    source: str
    requested_by: str
    reason: str
    release: bool
    expires_at: float | None
    status: CommandStatusName
    error: str
    created_at: float
    updated_at: float
    delivery: Literal["queued", "sending", "answered", "unanswered", "expired",
                      "superseded"] | None = Field(
        default=None, description="At a central openbms, a command for a site's edge: queued (waiting for "
                          "the edge), sending, answered (the edge's answer decides status), "
                          "unanswered (no answer in time: it may have run), expired (never sent) "
                          "or superseded (a central schedule's or program's newer value was "
                          "queued before it was sent: never sent)")
    answer: dict[str, Any] | None = Field(
        default=None,
        description="At a central openbms: the edge's answer (ok and its command, or its error)")
    edge: dict[str, Any] | None = Field(
        default=None,
        description="At a central openbms: the edge's newest change of its command (after the "
                    "answer: a held-back write completed, a timed override expired)")
    changes: list[dict[str, Any]] | None = Field(
        default=None,
        description="At a central openbms: every change of the edge's command the centre holds, "
                    "oldest first (its lifecycle at the edge: status, error, updated_at...)")
    origin: Literal["central", "edge"] | None = Field(
        default=None,
        description="At a central openbms: made at the centre and sent to the edge, or made by the "
                    "edge itself (its operators, schedules, programs); null at an edge")


class Slot(BaseModel):
    """One level of a priority array; every field but ``priority`` is null while it is empty."""

    priority: int
    value: Value = None
    command_id: str | None = None
    source: str | None = None
    requested_by: str | None = None
    reason: str | None = None
    since: float | None = None
    expires_at: float | None = None


class PriorityArray(BaseModel):
    """A writable point's 16 slots, the winning one and the value the device is given."""

    point: str
    effective: Value
    active_priority: int | None = Field(description="The winning slot; null: the relinquish default holds")
    relinquish_default: Value
    slots: list[Slot]


def _out(cmd: Command) -> CommandOut:
    return CommandOut(
        id=cmd.id, point=cmd.point, value=cmd.value, priority=cmd.priority, source=str(cmd.source),
        requested_by=cmd.requested_by, reason=cmd.reason, release=cmd.release,
        expires_at=cmd.expires_at, status=str(cmd.status),  # type: ignore[arg-type]
        error=cmd.error, created_at=cmd.created_at, updated_at=cmd.updated_at)


_STATUSES = frozenset(CommandStatusName.__args__)  # type: ignore[attr-defined]
#: A central command's delivery → the command status the API tells (an answer decides the rest).
_DELIVERY: dict[str, CommandStatusName] = {"queued": "pending", "sending": "executing",
                                           "expired": "expired", "unanswered": "failed",
                                           "superseded": "superseded"}


def _remote_out(cmd: RemoteCommand) -> CommandOut:
    """A central command as the API tells commands: its status from its delivery or the edge's answer."""
    status: CommandStatusName = _DELIVERY.get(cmd.delivery, "failed")
    error = ""
    expires: float | None = None
    # The edge's answer as it sent it (any JSON): only an object is read, and shown
    answer = cmd.answer if isinstance(cmd.answer, dict) else {}
    if cmd.delivery == "answered":
        edge = _made(answer)
        if isinstance(cmd.edge, dict) and cmd.edge.get("status") in _STATUSES:
            edge = cmd.edge  # what the edge did after it answered (its command changes)
        if isinstance(edge, dict) and edge.get("status") in _STATUSES:
            status, error = edge["status"], str(edge.get("error") or "")
            at = edge.get("expires_at")
            expires = float(at) if isinstance(at, int | float) else None
        elif not isinstance(cmd.answer, dict):
            error = f"the edge's answer is not an object: {str(cmd.answer)[:200]}"
        else:
            why = answer.get("error")
            why = why if isinstance(why, dict) else {"message": str(why or "")}
            error = f"the edge refused it: {why.get('code', '?')}: {why.get('message', '')}"
    elif cmd.delivery == "unanswered":
        error = "sent, no answer from the edge in time: it may have run"
    elif cmd.delivery == "expired":
        error = "expired before its edge was online: never sent"
    elif cmd.delivery == "superseded":
        error = "a newer value of its schedule or program was queued before it was sent: never sent"
    return CommandOut(
        id=cmd.id, point=cmd.point, value=cmd.value, priority=cmd.priority, source="central",
        requested_by=cmd.requested_by, reason=cmd.reason, release=cmd.release, expires_at=expires,
        status=status, error=error, created_at=cmd.created_at, updated_at=cmd.updated_at,
        delivery=cmd.delivery, answer=answer or None,  # type: ignore[arg-type]
        edge=cmd.edge if isinstance(cmd.edge, dict) else None,
        changes=list(cmd.changes), origin="central")


def _edge_outs(site_id: str, cmds: list[EdgeCommand]) -> list[CommandOut]:
    """The edge's own commands the API can show; one that is not a command (a change the edge's
    bridge should never send) is left out, and said once per site."""
    return [out for out in (_shown(site_id, cmd) for cmd in cmds) if out is not None]


def _shown(site_id: str, cmd: EdgeCommand) -> CommandOut | None:
    """``cmd`` as the API shows it; None (said once per site) when it cannot be shown."""
    try:
        return _edge_out(cmd)
    except (ValidationError, TypeError, ValueError) as err:
        if site_id not in _UNREADABLE:
            _UNREADABLE.add(site_id)
            log.warning("central: site %s: the edge's command %r is left out of the API: %s "
                        "(such changes of this site are not logged again)", site_id, cmd.id,
                        str(err).splitlines()[0])
        return None


def _edge_out(cmd: EdgeCommand) -> CommandOut:
    """A command the edge made itself, as its newest change says (its first change dates it: the
    centre's time of it, ``created_at``, which orders the list)."""
    last = cmd.changes[-1]
    status = last.get("status")
    expires = last.get("expires_at")
    return CommandOut(
        id=cmd.id, point=str(last.get("point", "")), value=last.get("value"),
        priority=int(last.get("priority") or 16), source=str(last.get("source") or "edge"),
        requested_by=str(last.get("requested_by") or ""), reason=str(last.get("reason") or ""),
        release=bool(last.get("release")),
        expires_at=float(expires) if isinstance(expires, int | float) else None,
        status=status if status in _STATUSES else "failed",  # type: ignore[arg-type]
        error=str(last.get("error") or ""), created_at=cmd.created_at,
        updated_at=float(last.get("updated_at") or 0.0), edge=last, changes=list(cmd.changes),
        origin="edge")


#: The most rows one read of a source of the centre's command list asks for (a status filter
#: reads batch after batch, each twice the last, from the page's size up to this).
_BATCH_MAX = 1000
Key = tuple[float, str]


class _Source:
    """One source of the centre's command list (its queue, or the edge's own commands), read
    newest first in batches after a position, as the API shows them (None: one left out)."""

    def __init__(self, read: Callable[[Key | None, int], Awaitable[list[tuple[Key, CommandOut | None]]]],
                 after: Key | None, size: int) -> None:
        self.read = read
        self.after = after
        self.size = size
        self.buffer: deque[tuple[Key, CommandOut | None]] = deque()
        self.done = False

    async def head(self) -> CommandOut | None:
        """The newest command not yet taken; None: there is none left."""
        while True:
            while self.buffer and self.buffer[0][1] is None:
                self.buffer.popleft()
            if self.buffer:
                return self.buffer[0][1]
            if self.done:
                return None
            got = await self.read(self.after, self.size)
            self.done = len(got) < self.size
            if got:
                self.after = got[-1][0]
            self.buffer.extend(got)
            self.size = min(self.size * 2, max(_BATCH_MAX, self.size))


async def _remote_page(remote: RemoteCommands, site_id: str, *, point: str | None,
                       status: str | None, after: Key | None, limit: int) -> list[CommandOut]:
    """Up to ``limit + 1`` of the site's commands at a central openbms after ``after``, newest
    first by (created_at, id): the centre's queued ones and the edge's own, each read in
    PostgreSQL after the cursor (``limit + 1`` at first) and merged. ``status`` is derived here
    (from delivery, answer and changes), so with it batches are read until the page is full or
    both sources are exhausted."""

    async def central(at: Key | None, size: int) -> list[tuple[Key, CommandOut | None]]:
        found = await remote.remote_commands(site_id, point=point, after=at, limit=size)
        return [((c.created_at, c.id), _remote_out(c)) for c in found]

    async def edge(at: Key | None, size: int) -> list[tuple[Key, CommandOut | None]]:
        found = await remote.edge_commands(site_id, point=point, after=at, limit=size)
        return [((c.created_at, c.id), _shown(site_id, c)) for c in found]

    sources = (_Source(central, after, limit + 1), _Source(edge, after, limit + 1))
    out: list[CommandOut] = []
    while len(out) <= limit:
        heads = [(await s.head(), s) for s in sources]
        ready = [(c, s) for c, s in heads if c is not None]
        if not ready:
            break
        cmd, source = max(ready, key=lambda h: (h[0].created_at, h[0].id))
        source.buffer.popleft()
        if status is None or cmd.status == status:
            out.append(cmd)
    return out


def _edge_ids(cmds: list[RemoteCommand]) -> set[str]:
    """The ids of the edge's commands made of the centre's (their answers name them)."""
    out = set()
    for c in cmds:
        made = _made(c.answer)
        if isinstance(made, dict) and made.get("id"):
            out.add(str(made["id"]))
    return out


def _made(answer: object) -> object:
    """The command an edge's ``ok`` answer says it made (None when the answer says none)."""
    if not isinstance(answer, dict) or not answer.get("ok"):
        return None
    result = answer.get("result")
    return result.get("command") if isinstance(result, dict) else None


#: Characters of a refused text value shown in the answer and kept in the audit row.
_SHOWN = 64


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _text_refused(point_id: str, point: Point, value: Value) -> CommandError | None:
    """At the centre, the refusal the edge's arbiter would answer to a text ``value``, at once.

    Text is only ever a state label of an enum point (``Arbiter._checked``: a bool point takes
    true or false, a number point a number), so an accepted text is as long as a label of the
    point as its edge published it; any other text, however long, was queued for the edge to
    refuse. Numbers and true/false are left to the edge (the centre's copy has no limits).
    """
    if not isinstance(value, str):
        return None
    shown = repr(_cut(value)) + (f" ({len(value)} characters)" if len(value) > _SHOWN else "")
    if point.kind == "enum":
        states = point.states or ()
        if state_number(states, value) is not None:
            return None
        return CommandError(f"{point_id}: expected a state 1–{len(states)} or one of "
                            f"{', '.join(states)}; not {shown}", field="value")
    expected = "true or false" if point.kind == "bool" else "a number"
    return CommandError(f"{point_id}: expected {expected}, not {shown}", field="value")


def _remote(runtime: Services, site_id: str) -> RemoteCommands | None:
    """The centre's queue when ``site_id``'s commands go to its edge (``openbms central serve``)."""
    if isinstance(runtime, RemoteCommands) and runtime.remote_site(site_id):
        return runtime
    return None


async def _submit(request: Request, user: Principal, site_id: str, equip_id: str, name: str,
                  value: Value, priority: int | None, duration_s: float | None, reason: str,
                  release: bool) -> CommandOut:
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    equip, point = find_point(cfg, equip_id, name)
    point_id = cfg.point_id(equip, point)
    ctx = get_context(request)
    action = "command.release" if release else "command.write"
    details: dict[str, Any] = {"priority": priority, "reason": reason}
    if not release:
        details.update(value=value, duration_s=duration_s)
    remote = _remote(runtime, site_id)
    try:
        if remote is not None:
            refused = None if release else _text_refused(point_id, point, value)
            if refused is not None:
                details["value"] = _cut(str(value))  # not the whole text in the audit log
                raise refused
            queued = await remote.submit_remote(point_id, value, priority, release=release,
                                                duration=duration_s, reason=reason,
                                                requested_by=user.actor)
            await ctx.audit(user.actor, action, point_id,
                            {**details, "priority": queued.priority, "command_id": queued.id,
                             "status": queued.delivery, "via": "central"}, client_addr(request))
            return _remote_out(queued)
        if release:
            cmd = await runtime.commands.release(point_id, priority, source=command_source(user),
                                                requested_by=user.actor, reason=reason)
        else:
            cmd = await runtime.commands.command(point_id, value, priority, source=command_source(user),
                                                requested_by=user.actor, reason=reason,
                                                duration=duration_s)
    except CommandError as err:
        await ctx.audit(user.actor, action, point_id, {**details, "refused": str(err)}, client_addr(request))
        text = str(err).removeprefix(f"{point_id}: ")
        raise ApiError(422, str(err), type="urn:openbms:problem:command-refused",
                       title="Command refused",
                       errors=[{"loc": ["body", err.field], "msg": text, "type": "command_refused"}]
                       if err.field else None) from err
    await ctx.audit(user.actor, action, point_id,
                    {**details, "priority": cmd.priority, "command_id": cmd.id, "status": str(cmd.status),
                     **({"error": cmd.error} if cmd.error else {})},
                    client_addr(request))
    return _out(cmd)


@router.post(_POINT + "/commands", response_model=CommandOut, status_code=201)
async def command_point(
    site_id: str, equip_id: str, name: str, body: CommandRequest, request: Request,
    user: Principal = require("commands:write", site_param="site_id"),
) -> CommandOut:
    """Command a point at a priority (8 by default), optionally for ``duration_s`` seconds.

    The answer is the command once written, held back (``executing``) or
    failed at the device (``failed``, with ``error``); a refused request is a 422.
    """
    return await _submit(request, user, site_id, equip_id, name, body.value, body.priority,
                         body.duration_s, body.reason, release=False)


@router.post(_POINT + "/release", response_model=CommandOut, status_code=201)
async def release_point(
    site_id: str, equip_id: str, name: str, body: ReleaseRequest, request: Request,
    user: Principal = require("commands:write", site_param="site_id"),
) -> CommandOut:
    """Release a point's slot at a priority (8 by default)."""
    return await _submit(request, user, site_id, equip_id, name, None, body.priority, None,
                         body.reason, release=True)


@router.get(_POINT + "/priority-array", response_model=PriorityArray)
async def priority_array(
    site_id: str, equip_id: str, name: str, request: Request,
    user: Principal = require("points:read", site_param="site_id"),
) -> PriorityArray:
    """The point's 16 slots: value, command, source, who and expiry of each, and the winner."""
    runtime = runtime_of(request)
    cfg = site_config(runtime, site_id)
    equip, point = find_point(cfg, equip_id, name)
    point_id = cfg.point_id(equip, point)
    if not point.writable:
        raise not_found(f"point {point_id!r} is not writable: it has no priority array")
    held = runtime.commands.slots(point_id)
    slots = [
        Slot(priority=i + 1) if c is None else
        Slot(priority=i + 1, value=c.value, command_id=c.id, source=str(c.source),
             requested_by=c.requested_by, reason=c.reason, since=c.created_at, expires_at=c.expires_at)
        for i, c in enumerate(held)
    ]
    active = next((i + 1 for i, c in enumerate(held) if c is not None), None)
    return PriorityArray(point=point_id, effective=runtime.commands.effective(point_id),
                         active_priority=active, relinquish_default=point.relinquish_value, slots=slots)


@router.get("/sites/{site_id}/commands", response_model=Page[CommandOut])
async def list_commands(
    site_id: str, request: Request,
    point: str | None = Query(None, max_length=200, description="A point id, site/equipment/point."),
    status: CommandStatusName | None = Query(None),
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("commands:read", site_param="site_id"),
) -> Page[CommandOut]:
    """The site's commands, newest first (refused ones included, as ``failed``)."""
    runtime = runtime_of(request)
    if point is not None and not point.startswith(f"{site_id}/"):
        raise invalid_field(["query", "point"], f"{point!r} is not a point of site {site_id!r}")
    after = decode_cursor(cursor, {"t": float, "id": str})
    remote = _remote(runtime, site_id)
    if remote is not None:  # the centre's commands for the edge and the edge's own, newest first
        found = await _remote_page(remote, site_id, point=point, status=status,
                                   after=(after["t"], after["id"]) if after else None, limit=limit)
        shown, more = page(found, limit, lambda c: {"t": c.created_at, "id": c.id})
        return Page[CommandOut](items=shown, next_cursor=more)
    stored = await runtime.commands.recent(site_id, point=point, status=status,
                                           after=(after["t"], after["id"]) if after else None,
                                           limit=limit + 1)
    items, next_cursor = page(stored, limit, lambda c: {"t": c.created_at, "id": c.id})
    return Page[CommandOut](items=[_out(c) for c in items], next_cursor=next_cursor)


@router.get("/sites/{site_id}/commands/{command_id}", response_model=CommandOut)
async def get_command(
    site_id: str, command_id: str, request: Request,
    user: Principal = require("commands:read", site_param="site_id"),
) -> CommandOut:
    """One command and its current status."""
    runtime = runtime_of(request)
    remote = _remote(runtime, site_id)
    if remote is not None:
        queued = await remote.remote_command(site_id, command_id)
        if queued is not None:
            return _remote_out(queued)
        made = _edge_outs(site_id, await remote.edge_commands(site_id, command_id=command_id))
        if not made:
            raise not_found(f"no command {command_id!r} on site {site_id!r}")
        return made[0]
    cmd = await runtime.commands.find(command_id)
    if cmd is None or not cmd.point.startswith(f"{site_id}/"):
        raise not_found(f"no command {command_id!r} on site {site_id!r}")
    return _out(cmd)
