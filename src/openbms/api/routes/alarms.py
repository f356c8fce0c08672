"""``/api/v1`` routes: a site's alarms — list, acknowledge, annotate, shelve — and their history.

Alarms are those of the site's running alarm engine; their ids are the ids of
the rules in the site file. Acknowledgements, notes and shelving are made in
the caller's name and recorded in the audit log (``alarm.ack``,
``alarm.note``, ``alarm.shelve``, ``alarm.unshelve``) as well as in the
alarm's own history. ``GET …/alarms/history`` reads the stored events (the
``alarm_events`` table), which the engine writes moments after they happen.

At a central openbms (``openbms central serve``) a site's alarms are its edge's: the list and one
alarm are each alarm's latest changes as the edge's bridge sent them (``central_events``), folded
into its state, with ``remote`` true; the history is those changes, newest first. They are
acknowledged, noted and shelved at the edge, by its operators: those requests are refused here
(409, ``urn:openbms:problem:alarm-at-edge``) and change nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, ValidationError, model_validator

from openbms.alarms.engine import ALARM_STATES, Alarm, AlarmEngine, AlarmError
from openbms.api.auth.permissions import require
from openbms.api.auth.principal import Principal
from openbms.api.context import client_addr, get_context
from openbms.api.errors import ApiError, conflict, invalid_field, not_found
from openbms.api.helpers import Cursor, Limit, Page, decode_cursor, keyset_page, page, runtime_of, site_config
from openbms.model.sample import Value
from openbms.service.protocols import RemoteSites

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["alarms"])

log = logging.getLogger(__name__)
_UNREADABLE: set[str] = set()  # sites whose edge sent an alarm change the API cannot show (said once)

AlarmState = Literal["normal", "active-unacked", "active-acked", "returned-unacked"]
assert set(ALARM_STATES) == set(AlarmState.__args__)  # type: ignore[attr-defined]
AlarmAction = Literal["raise", "reactivate", "return", "repeat", "flapping", "ack", "note", "shelve",
                      "unshelve", "reannunciate"]


class NoteOut(BaseModel):
    """A note an operator added."""

    ts: float
    who: str
    text: str


class TransitionOut(BaseModel):
    """One line of an alarm's recent history (the latest 100 are kept in memory)."""

    ts: float
    action: str
    from_state: str
    to_state: str
    value: Value = None
    who: str | None = None
    note: str | None = None


class AlarmOut(BaseModel):
    """An alarm: its rule, state, acknowledgement, shelving, notes and recent history."""

    id: str
    site: str
    rule_id: str
    point: str
    name: str
    priority: int
    alarm_class: str
    event_type: bool
    state: AlarmState
    value: Value
    message: str
    active_since: float | None
    changed_ts: float | None
    acked_by: str | None
    acked_ts: float | None
    shelved: bool
    shelved_until: float | None
    shelved_by: str | None
    shelve_reason: str | None
    flapping: bool
    flap_count: int
    count: int
    notes: list[NoteOut]
    history: list[TransitionOut]
    source: str = Field("rule", description="'rule': the site's alarm rules; else the service that raised "
                        "it ('analytics': anomaly detection)")
    context: dict[str, Any] | None = Field(
        None, description="A service's evidence (anomaly detection: expected and actual kWh, the period, "
        "a chart path); null for a rule's alarm")
    remote: bool = Field(
        False, description="At a central openbms: the edge's alarm, from the changes its bridge sent; it is "
        "acknowledged, noted and shelved at the edge only")


class AckRequest(BaseModel):
    """Acknowledge, optionally with a note."""

    note: str | None = Field(None, max_length=2000)


class BulkAckRequest(BaseModel):
    """Acknowledge several alarms of the site at once."""

    ids: list[str] = Field(min_length=1, max_length=1000)
    note: str | None = Field(None, max_length=2000)


class BulkAckResult(BaseModel):
    """What became of one alarm of a bulk acknowledgement."""

    id: str
    acknowledged: bool
    state: AlarmState | None = None
    error: str | None = None


class BulkAckOut(BaseModel):
    """One result per id, in the order given."""

    results: list[BulkAckResult]


class NoteRequest(BaseModel):
    """A note to add to the alarm."""

    note: str = Field(min_length=1, max_length=2000)


class ShelveRequest(BaseModel):
    """Shelve until a time (``until``, epoch seconds) or for ``duration_s`` seconds — one of the two."""

    until: float | None = Field(None, description="Epoch seconds; at most 7 days ahead.")
    duration_s: float | None = Field(None, gt=0)
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _one_end(self) -> ShelveRequest:
        if (self.until is None) == (self.duration_s is None):
            raise ValueError("give either 'until' (epoch seconds) or 'duration_s', not both or neither")
        return self


class UnshelveRequest(BaseModel):
    """End shelving now, optionally with a note."""

    note: str | None = Field(None, max_length=2000)


class AlarmEventOut(BaseModel):
    """A stored alarm event."""

    id: int
    alarm_id: str
    rule_id: str
    point: str
    ts: float
    action: str
    from_state: str
    to_state: str
    value: Value
    message: str
    who: str
    note: str
    priority: int
    alarm_class: str


def _remote(request: Request, site_id: str) -> RemoteSites | None:
    """The centre's view when ``site_id``'s alarms are its edge's (``openbms central serve``)."""
    runtime = runtime_of(request)
    site_config(runtime, site_id)
    if isinstance(runtime, RemoteSites) and runtime.remote_site(site_id):
        return runtime
    return None


def _at_edge(site_id: str, what: str) -> ApiError:
    return ApiError(409, f"site {site_id!r}'s alarms are its edge's: {what} them at the edge (its "
                    "own API or dashboard); the centre shows them and changes nothing",
                    type="urn:openbms:problem:alarm-at-edge", title="Alarms are handled at the edge")


def _unreadable(site_id: str, what: str, err: ValidationError) -> None:
    """An edge's change the API cannot show is left out, and said once per site."""
    if site_id not in _UNREADABLE:
        _UNREADABLE.add(site_id)
        first = err.errors()[0]
        log.warning("central: site %s: %s is left out of the API: %s: %s (such changes of this "
                    "site are not logged again)", site_id, what,
                    ".".join(str(x) for x in first["loc"]), first["msg"])


async def _remote_alarms(remote: RemoteSites, site_id: str) -> list[AlarmOut]:
    out = []
    for a in await remote.remote_alarms(site_id):
        try:
            out.append(AlarmOut.model_validate({**a, "site": site_id, "remote": True}))
        except ValidationError as err:
            _unreadable(site_id, f"alarm {a.get('id')!r}", err)
    return out


def _engine(request: Request, site_id: str) -> AlarmEngine | None:
    runtime = runtime_of(request)
    site_config(runtime, site_id)
    return runtime.alarm_engine(site_id)


def _existing(request: Request, site_id: str, alarm_id: str) -> AlarmEngine:
    engine = _engine(request, site_id)
    if engine is None:
        raise not_found(f"no alarm {alarm_id!r} on site {site_id!r}")
    try:
        engine.get(alarm_id)
    except AlarmError:
        raise not_found(f"no alarm {alarm_id!r} on site {site_id!r}") from None
    return engine


def _out(site_id: str, alarm: Alarm) -> AlarmOut:
    return AlarmOut.model_validate({**alarm.to_dict(), "site": site_id})


async def _audit(request: Request, user: Principal, action: str, site_id: str, alarm_id: str,
                 details: dict[str, Any]) -> None:
    await get_context(request).audit(user.actor, action, f"{site_id}/{alarm_id}", details,
                                     client_addr(request))


@router.get("/sites/{site_id}/alarms", response_model=Page[AlarmOut])
async def list_alarms(
    site_id: str, request: Request,
    state: AlarmState | None = Query(None),
    alarm_class: str | None = Query(None, alias="class", max_length=100),
    priority: int | None = Query(None, ge=0, le=255, description="Exactly this priority."),
    max_priority: int | None = Query(None, ge=0, le=255, description="This priority or more urgent."),
    shelved: bool | None = Query(None),
    include_normal: bool = Query(False, description="Also alarms in the normal state (to shelve one)."),
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("alarms:read", site_param="site_id"),
) -> Page[AlarmOut]:
    """The site's active alarms (anything but ``normal``), most urgent first, then oldest first."""
    def wanted(a: Alarm | AlarmOut) -> bool:
        return ((state is None or a.state == state)
                and (alarm_class is None or a.alarm_class == alarm_class)
                and (priority is None or a.priority == priority)
                and (max_priority is None or a.priority <= max_priority)
                and (shelved is None or a.shelved == shelved))

    remote = _remote(request, site_id)
    if remote is not None:
        outs = [a for a in await _remote_alarms(remote, site_id)
                if (include_normal or a.state != "normal") and wanted(a)]
        outs.sort(key=_order)
        shown, next_page = keyset_page(outs, _order, limit, cursor)
        return Page[AlarmOut](items=shown, next_cursor=next_page)
    engine = _engine(request, site_id)
    alarms = [] if engine is None else (engine.alarms() if include_normal else engine.active())
    found = [a for a in alarms if wanted(a)]
    found.sort(key=_order)
    items, next_cursor = keyset_page(found, _order, limit, cursor)
    return Page[AlarmOut](items=[_out(site_id, a) for a in items], next_cursor=next_cursor)


def _order(a: Alarm | AlarmOut) -> list[Any]:
    return [a.priority, a.active_since or 0.0, a.id]  # the engine's order


@router.get("/sites/{site_id}/alarms/history", response_model=Page[AlarmEventOut])
async def alarm_history(
    site_id: str, request: Request,
    alarm_id: str | None = Query(None, max_length=200),
    action: AlarmAction | None = Query(None),
    since: float | None = Query(None, description="Epoch seconds, included."),
    until: float | None = Query(None, description="Epoch seconds, excluded."),
    limit: int = Limit,
    cursor: str | None = Cursor,
    user: Principal = require("alarms:read", site_param="site_id"),
) -> Page[AlarmEventOut]:
    """The site's stored alarm events, newest first: raises, returns, acknowledgements, notes, shelving."""
    runtime = runtime_of(request)
    after = decode_cursor(cursor, {"ts": float, "id": int})
    remote = _remote(request, site_id)
    read = runtime.alarm_events if remote is None else remote.remote_alarm_events
    rows = await read(site_id, alarm_id=alarm_id, action=action, since=since, until=until,
                      after=(after["ts"], after["id"]) if after else None, limit=limit + 1)
    items, next_cursor = page(rows, limit, lambda r: {"ts": r["ts"], "id": r["id"]})
    shown = []
    for r in items:
        try:
            shown.append(AlarmEventOut(
                id=r["id"], alarm_id=r["alarm_id"], rule_id=r["rule_id"], point=r["point_id"],
                ts=r["ts"], action=r["action"], from_state=r["from_state"], to_state=r["to_state"],
                value=r["value"], message=r["message"], who=r["who"], note=r["note"],
                priority=r["priority"], alarm_class=r["alarm_class"]))
        except ValidationError as err:  # an edge's change (a central openbms) that is not one
            _unreadable(site_id, f"a change of alarm {r['alarm_id']!r}", err)
    return Page[AlarmEventOut](items=shown, next_cursor=next_cursor)


@router.post("/sites/{site_id}/alarms/ack", response_model=BulkAckOut)
async def acknowledge_many(
    site_id: str, body: BulkAckRequest, request: Request,
    user: Principal = require("alarms:ack", site_param="site_id"),
) -> BulkAckOut:
    """Acknowledge several alarms; each result says whether it was acknowledged, or why not."""
    if _remote(request, site_id) is not None:
        raise _at_edge(site_id, "acknowledge")
    engine = _engine(request, site_id)
    results = []
    for alarm_id in body.ids:
        if engine is None:
            results.append(BulkAckResult(id=alarm_id, acknowledged=False, error="no such alarm"))
            continue
        try:
            alarm = engine.acknowledge(alarm_id, user.actor, body.note)
        except AlarmError as err:
            results.append(BulkAckResult(id=alarm_id, acknowledged=False, error=str(err)))
            continue
        results.append(BulkAckResult(id=alarm_id, acknowledged=True,
                                     state=alarm.state))  # type: ignore[arg-type]
        await _audit(request, user, "alarm.ack", site_id, alarm_id, {"note": body.note, "state": alarm.state})
    return BulkAckOut(results=results)


@router.get("/sites/{site_id}/alarms/{alarm_id}", response_model=AlarmOut)
async def get_alarm(
    site_id: str, alarm_id: str, request: Request,
    user: Principal = require("alarms:read", site_param="site_id"),
) -> AlarmOut:
    """One alarm, in any state."""
    remote = _remote(request, site_id)
    if remote is not None:
        found = [a for a in await _remote_alarms(remote, site_id) if a.id == alarm_id]
        if not found:
            raise not_found(f"no alarm {alarm_id!r} on site {site_id!r}")
        return found[0]
    return _out(site_id, _existing(request, site_id, alarm_id).get(alarm_id))


@router.post("/sites/{site_id}/alarms/{alarm_id}/ack", response_model=AlarmOut)
async def acknowledge(
    site_id: str, alarm_id: str, request: Request, body: AckRequest | None = None,
    user: Principal = require("alarms:ack", site_param="site_id"),
) -> AlarmOut:
    """Acknowledge an unacknowledged alarm (409 when there is nothing to acknowledge)."""
    if _remote(request, site_id) is not None:
        raise _at_edge(site_id, "acknowledge")
    engine = _existing(request, site_id, alarm_id)
    note = body.note if body is not None else None
    try:
        alarm = engine.acknowledge(alarm_id, user.actor, note)
    except AlarmError as err:
        raise conflict(str(err)) from None
    await _audit(request, user, "alarm.ack", site_id, alarm_id, {"note": note, "state": alarm.state})
    return _out(site_id, alarm)


@router.post("/sites/{site_id}/alarms/{alarm_id}/notes", response_model=AlarmOut, status_code=201)
async def add_note(
    site_id: str, alarm_id: str, body: NoteRequest, request: Request,
    user: Principal = require("alarms:ack", site_param="site_id"),
) -> AlarmOut:
    """Add a note to an alarm, in any state."""
    if _remote(request, site_id) is not None:
        raise _at_edge(site_id, "add notes to")
    engine = _existing(request, site_id, alarm_id)
    engine.add_note(alarm_id, user.actor, body.note)
    await _audit(request, user, "alarm.note", site_id, alarm_id, {"note": body.note})
    return _out(site_id, engine.get(alarm_id))


@router.post("/sites/{site_id}/alarms/{alarm_id}/shelve", response_model=AlarmOut)
async def shelve(
    site_id: str, alarm_id: str, body: ShelveRequest, request: Request,
    user: Principal = require("alarms:ack", site_param="site_id"),
) -> AlarmOut:
    """Shelve an alarm (in any state) until a time at most 7 days ahead: it notifies no one meanwhile."""
    if _remote(request, site_id) is not None:
        raise _at_edge(site_id, "shelve")
    engine = _existing(request, site_id, alarm_id)
    runtime = runtime_of(request)
    until = body.until if body.until is not None else runtime.clock.now() + (body.duration_s or 0.0)
    try:
        engine.shelve(alarm_id, until, user.actor, body.reason)
    except AlarmError as err:
        raise invalid_field(["body", "until" if body.until is not None else "duration_s"], str(err)) \
            from None
    await _audit(request, user, "alarm.shelve", site_id, alarm_id, {"until": until, "reason": body.reason})
    return _out(site_id, engine.get(alarm_id))


@router.post("/sites/{site_id}/alarms/{alarm_id}/unshelve", response_model=AlarmOut)
async def unshelve(
    site_id: str, alarm_id: str, request: Request, body: UnshelveRequest | None = None,
    user: Principal = require("alarms:ack", site_param="site_id"),
) -> AlarmOut:
    """End an alarm's shelving now (409 when it is not shelved); an active alarm is announced again."""
    if _remote(request, site_id) is not None:
        raise _at_edge(site_id, "unshelve")
    engine = _existing(request, site_id, alarm_id)
    note = body.note if body is not None else None
    try:
        engine.unshelve(alarm_id, user.actor, note)
    except AlarmError as err:
        raise conflict(str(err)) from None
    await _audit(request, user, "alarm.unshelve", site_id, alarm_id, {"note": note})
    return _out(site_id, engine.get(alarm_id))
