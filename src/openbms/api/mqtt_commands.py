"""Command/response over MQTT: the API over another transport.

The service layer keeps each site's MQTT connection (``openbms.service.command_links``) and hands
every request on ``{prefix}/{site}/command/{name}/request`` to :class:`MqttCommands`, registered
when the API starts. A request is answered exactly as the REST API would answer it: the same
sign-in (``principal_for_token``), the same permission names per site (``COMMANDS``), the same
services (the arbiter through ``Services.commands``, the current-value cache, the program store)
and the same audit rows::

    payload ──▶ size ≤ max_bytes? ──▶ JSON object? ──▶ token → Principal? ──▶ correlation id?
                                                                              │ (body "id", or
                                                                              │  MQTT v5 data)
            known command? ──▶ seen before (site, user, id)? ── yes ──▶ the same response again
                                    │ no
                                    ▼
            permission on the site? ──▶ arguments ──▶ service ──▶ {"id", "ok": true, "result"}

Every refusal is an answer ``{"id", "ok": false, "error": {"code", "message", "field"}}`` and an
audit row: refusals before anything runs are ``access.denied`` rows folded per minute like the
REST API's (``openbms.api.auth.refusals``; anonymous requests too, as ``mqtt:anonymous``: anyone
who may publish on the broker can send them), and a write the arbiter refuses is a
``command.write`` row with ``refused``, as ``POST …/commands`` writes it.

**Identity.** The broker does not tell a subscriber who published a message, so the broker's
own login cannot name the openbms user: every request carries an openbms API token (or a login's
access token), in the MQTT v5 user property ``authorization: Bearer …`` or, for an MQTT 3.1.1
client, in the JSON field ``token``. Its user's roles per site decide, as for REST.

**Home Assistant.** A command Home Assistant sends on ``{prefix}/{site}/{equipment}/{point}/set``
arrives here as a request named ``homeassistant/set`` (``openbms.service.command_links`` decodes
its payload and adds the token of ``mqtt.homeassistant.token_env|token_file``): the same sign-in,
permission (``commands:write``), rate limit, arbiter and audit as ``write``, at
``mqtt.homeassistant.priority``, ``via: homeassistant`` in the audit row. A payload that is not a
value of the point is refused (``invalid``) with a ``command.write`` audit row, as the arbiter's
refusals are.

Nothing here builds a pydantic model per request on the write path; the schemas of requests and
responses (``docs/schemas/mqtt/``) come from ``openbms.api.mqtt_schemas``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from openbms.api.auth.principal import Principal, principal_for_token
from openbms.api.auth.refusals import Refusal, Refusals
from openbms.api.context import ApiContext
from openbms.api.errors import ApiError
from openbms.api.helpers import MAX_POINTS, command_source, finite
from openbms.errors import CommandError
from openbms.model.command import Command
from openbms.model.mqtt import CommandSettings, HomeAssistantSettings
from openbms.model.site import Point, SiteConfig
from openbms.service.protocols import CommandRequest, Services

__all__ = ["COMMANDS", "ERROR_CODES", "MqttCommands"]

log = logging.getLogger(__name__)

ANONYMOUS = "mqtt:anonymous"
MAX_ID = 128
_ID = re.compile(r"^[\x20-\x7e]{1,128}$")
_MAX_TOKEN = 4096

#: Every error code a response may carry, with what it means.
ERROR_CODES: Mapping[str, str] = {
    "too_large": "the request is bigger than mqtt.commands.max_bytes",
    "malformed": "the request is not a JSON object",
    "bad_id": "no correlation id (JSON id, or MQTT v5 correlation data), or not 1-128 printable ASCII",
    "unknown_command": "the topic names no command",
    "unauthorized": "no token, or a token that is unknown, revoked or expired",
    "forbidden": "the token's user lacks the command's permission on the site",
    "invalid": "an argument is missing or wrong (field names it)",
    "unknown_point": "the site has no such point",
    "refused": "the arbiter refused the command (limits, kind, read-only; field names what)",
    "not_found": "no such program or version",
    "conflict": "the program's stored version cannot be used",
    "rate_limited": "too many writes by this user: try again later",
    "unavailable": "the site or the service is not running here",
    "internal": "a fault in openbms (logged)",
}


class Refused(Exception):
    """A request answered with an error: ``code`` (``ERROR_CODES``), message and field."""

    def __init__(self, code: str, message: str, field: str | None = None, *, audit: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.audit = audit


@dataclass(slots=True)
class _Call:
    """One request being answered."""

    ctx: ApiContext
    runtime: Services
    cfg: SiteConfig
    settings: CommandSettings
    principal: Principal
    args: dict[str, Any]
    topic: str


Run = Callable[[_Call], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command: the permission it needs on the site (``openbms.api.auth.roles``), its
    arguments, whether it is a write (rate limited per user, as REST writes are) and what runs it."""

    permission: str
    fields: frozenset[str]
    write: bool
    run: Run


# ------------------------------------------------------------------------------ arguments


def _text(args: dict[str, Any], name: str, *, required: bool = True, default: str = "",
          max_length: int = 500) -> str:
    value = args.get(name)
    if value is None:
        if required:
            raise Refused("invalid", f"{name}: required", name)
        return default
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise Refused("invalid", f"{name}: {_show(value)}; expected text of 1 to {max_length} "
                                 "characters", name)
    return value.strip()


def _int(args: dict[str, Any], name: str, low: int, high: int, default: int | None) -> int | None:
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Refused("invalid", f"{name}: {_show(value)}; expected a whole number from {low} to "
                                 f"{high}", name)
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _find(cfg: SiteConfig, pid: str) -> Point | None:
    site, _, rest = pid.partition("/")
    equip_id, _, name = rest.partition("/")
    if site != cfg.site.id:
        return None
    equip = next((e for e in cfg.equipment if e.id == equip_id), None)
    return None if equip is None else next((p for p in equip.points if p.name == name), None)


def _point(call: _Call, name: str = "point", text: str | None = None) -> tuple[str, Point]:
    """A point of the site named ``equipment/name`` or ``site/equipment/name``: its id and model."""
    raw = _text(call.args, name, max_length=400) if text is None else text
    site = call.cfg.site.id
    pid = raw if raw.count("/") == 2 else f"{site}/{raw}"
    point = _find(call.cfg, pid)
    if point is None:
        raise Refused("unknown_point", f"no point {raw!r} on site {site!r}", name)
    return pid, point


def _command_out(cmd: Command) -> dict[str, Any]:
    return {"id": cmd.id, "point": cmd.point, "value": cmd.value, "priority": cmd.priority,
            "source": str(cmd.source), "requested_by": cmd.requested_by, "reason": cmd.reason,
            "release": cmd.release, "expires_at": cmd.expires_at, "status": str(cmd.status),
            "error": cmd.error, "created_at": cmd.created_at, "updated_at": cmd.updated_at}


# ------------------------------------------------------------------------------ the commands


async def _submit(call: _Call, release: bool, via: str = "mqtt") -> dict[str, Any]:
    """A write or a release, through the arbiter, audited as ``POST …/commands`` / ``…/release``."""
    pid, _point_model = _point(call)
    args = call.args
    priority = _int(args, "priority", 1, 16, call.settings.priority)
    reason = _text(args, "reason", required=False, default="over MQTT")
    action = "command.release" if release else "command.write"
    details: dict[str, Any] = {"priority": priority, "reason": reason, "via": via}
    floor = call.settings.min_priority
    if priority is not None and priority < floor and _central(call):
        why = (f"priority {priority}: a central openbms may {'release' if release else 'write'} "
               f"at {floor} to 16 only (mqtt.commands.min_priority); 1 to {floor - 1} are this "
               "site's (life safety, its own operators)")
        await call.ctx.audit(call.principal.actor, action, pid,
                             {**details, **({} if release else {"value": args.get("value")}),
                              "refused": why})
        raise Refused("refused", why, "priority", audit=False)
    value: Any = None
    duration: float | None = None
    if not release:
        if "value" not in args:
            raise Refused("invalid", "value: required (a number, true/false or a state)", "value")
        value = args["value"]
        if not isinstance(value, bool | int | float | str) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise Refused("invalid", f"value: {_show(value)}; expected a number, true/false or a "
                                     "state", "value")
        raw = args.get("duration_s")
        if raw is not None:
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= 366 * 86400:
                raise Refused("invalid", f"duration_s: {_show(raw)}; expected seconds above 0, at "
                                         "most 366 days", "duration_s")
            duration = float(raw)
        details.update(value=value, duration_s=duration)
    who = call.principal
    try:
        if release:
            cmd = await call.runtime.commands.release(pid, priority, source=command_source(who),
                                                      requested_by=who.actor, reason=reason)
        else:
            cmd = await call.runtime.commands.command(pid, value, priority, source=command_source(who),
                                                      requested_by=who.actor, reason=reason,
                                                      duration=duration)
    except CommandError as err:
        await call.ctx.audit(who.actor, action, pid, {**details, "refused": str(err)})
        raise Refused("refused", str(err), err.field, audit=False) from None
    await call.ctx.audit(who.actor, action, pid,
                         {**details, "priority": cmd.priority, "command_id": cmd.id,
                          "status": str(cmd.status), **({"error": cmd.error} if cmd.error else {})})
    return {"command": _command_out(cmd)}


def _central(call: _Call) -> bool:
    """Whether the request is the central openbms's (its user is in ``commands.central_users``)."""
    email = call.principal.email.casefold()
    return any(email == user.casefold() for user in call.settings.central_users)


async def _write(call: _Call) -> dict[str, Any]:
    return await _submit(call, release=False)


async def _release(call: _Call) -> dict[str, Any]:
    return await _submit(call, release=True)


async def _homeassistant_set(call: _Call) -> dict[str, Any]:
    """Home Assistant's command (decoded by the service): a write at ``homeassistant.priority``,
    or, for a payload that is not a value of the point, a refusal audited as the arbiter's are."""
    pid, _model = _point(call)
    assert call.cfg.mqtt is not None  # only a site with an mqtt: section gets one
    priority = call.cfg.mqtt.homeassistant.priority
    reason = "from Home Assistant"
    refused = call.args.get("refused")
    if refused is not None or "value" not in call.args:
        why = str(refused or "no value")
        await call.ctx.audit(call.principal.actor, "command.write", pid, {
            "priority": priority, "reason": reason, "via": "homeassistant", "refused": why})
        raise Refused("invalid", why, "value", audit=False)
    call.args = {"point": call.args["point"], "value": call.args["value"], "priority": priority,
                 "reason": reason}
    return await _submit(call, release=False, via="homeassistant")


async def _read(call: _Call) -> dict[str, Any]:
    names = call.args.get("points")
    if isinstance(names, str):  # one point, or a comma list (the command line's --arg)
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, list) or not names or len(names) > MAX_POINTS or not all(
            isinstance(n, str) for n in names):
        raise Refused("invalid", f"points: expected a list of 1 to {MAX_POINTS} point names "
                                 "(equipment/name)", "points")
    get = call.runtime.cache.getter()
    values = []
    for name in names:
        pid, _model = _point(call, "points", name)
        sample = get(pid)
        values.append({"point": pid, "value": None, "status": None, "ts": None} if sample is None
                      else {"point": pid, "value": finite(sample.value), "status": sample.status,
                            "ts": sample.ts})
    return {"values": values}


async def _priority_array(call: _Call) -> dict[str, Any]:
    pid, point = _point(call)
    if not point.writable:
        raise Refused("invalid", f"point {pid!r} is not writable: it has no priority array", "point")
    held = call.runtime.commands.slots(pid)
    slots = [{"priority": i + 1, "value": None, "command_id": None, "source": None,
              "requested_by": None, "reason": None, "since": None, "expires_at": None} if c is None
             else {"priority": i + 1, "value": c.value, "command_id": c.id, "source": str(c.source),
                   "requested_by": c.requested_by, "reason": c.reason, "since": c.created_at,
                   "expires_at": c.expires_at}
             for i, c in enumerate(held)]
    active = next((i + 1 for i, c in enumerate(held) if c is not None), None)
    return {"point": pid, "effective": call.runtime.commands.effective(pid),
            "active_priority": active, "relinquish_default": point.relinquish_value, "slots": slots}


def _programs(call: _Call) -> tuple[Any, Any]:
    runtime = call.runtime
    if runtime.program_store is None or runtime.programs is None:
        raise Refused("unavailable", "the logic program engine is not running")
    return runtime.program_store, runtime.programs


async def _program_get(call: _Call) -> dict[str, Any]:
    from openbms.api.routes.programs import program_detail, program_info  # the REST route's own answer
    from openbms.control.programs import ProgramError

    store, _engine = _programs(call)
    site = call.cfg.site.id
    program_id = _text(call.args, "program", max_length=200)
    version = _int(call.args, "version", 1, 2**31, None)
    info = await call.ctx.run(program_info, store, site, program_id)
    try:
        stored = await call.ctx.run(store.get, program_id, version, site=site)
    except ProgramError as err:
        if any(i.message.endswith("is stored") for i in err.issues):
            raise Refused("not_found", f"program {program_id!r} has no version {version}",
                          "version") from None
        raise Refused("conflict", f"program {program_id!r}: its version cannot be used: {err}") from None
    return {"program": program_detail(info, stored, call.runtime).model_dump(mode="json")}


async def _program_deploy(call: _Call) -> dict[str, Any]:
    from openbms.api.routes.programs import current_program, program_info
    from openbms.control.programs import ProgramError

    store, engine = _programs(call)
    site = call.cfg.site.id
    program_id = _text(call.args, "program", max_length=200)
    version = _int(call.args, "version", 1, 2**31, None)
    if version is None:
        raise Refused("invalid", "version: required (the version to deploy)", "version")
    reason = _text(call.args, "reason", max_length=2000)
    ctx = call.ctx
    await ctx.run(program_info, store, site, program_id)
    try:
        stored = await ctx.run(store.get, program_id, version, site=site)
    except ProgramError:
        raise Refused("not_found", f"program {program_id!r} has no version {version}", "version") from None
    try:  # validated and compiled in a worker thread; the store changes only when it can run
        prepared = await ctx.run(engine.prepare, stored.program, stored.version)
    except ProgramError as err:
        first = err.issues[0] if err.issues else None
        raise Refused("invalid", f"version {version} cannot run: {len(err.issues)} problem(s)"
                                 + (f"; {first.path}: {first.message}" if first else ""),
                      "version") from None
    await ctx.run(store.deploy, program_id, version, call.principal.actor, site=site, reason=reason)
    engine.install(prepared)
    detail = await current_program(ctx, store, call.runtime, site, program_id)
    return {"program": detail.model_dump(mode="json")}


async def _config(call: _Call) -> dict[str, Any]:
    from openbms.api.routes.sites import equipment_out, site_out  # as GET /sites/… show them

    cfg = call.cfg
    return {"site": site_out(cfg).model_dump(mode="json"),
            "spaces": [s.model_dump(mode="json") for s in sorted(cfg.spaces, key=lambda s: s.id)],
            "equipment": [equipment_out(e).model_dump(mode="json")
                          for e in sorted(cfg.equipment, key=lambda e: e.id)]}


#: The longest range a ``history`` request may cover, in days.
MAX_HISTORY_DAYS = 31
#: The most samples one ``history`` samples answer carries (its ``limit``), and its default.
MAX_HISTORY_SAMPLES = 10_000
DEFAULT_HISTORY_SAMPLES = 1_000
#: The most points one ``history`` counts request names, and the most point-hours it may cover.
MAX_COUNT_POINTS = 5_000
MAX_COUNT_CELLS = 200_000
#: The most alarm or command changes one ``history`` events answer carries (its ``limit``), and
#: its default.
MAX_HISTORY_EVENTS = 1_000
DEFAULT_HISTORY_EVENTS = 500
#: The kinds of change an ``events`` request asks for.
EVENT_KINDS = ("alarm", "command")
_HOUR = 3600.0


def _when(body: dict[str, Any], name: str, where: str) -> float:
    """``body[name]``: an ISO 8601 time with its offset (``Z`` or ``+hh:mm``) or UTC epoch seconds."""
    from datetime import datetime

    field = f"{where}.{name}"
    value = body.get(name)
    if value is None:
        raise Refused("invalid", f"{field}: required (an ISO 8601 time such as "
                                 "2026-12-07T10:00:00Z, or UTC epoch seconds)", field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value < 1e11:
            raise Refused("invalid", f"{field}: {_show(value)}; expected UTC epoch seconds", field)
        return float(value)
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            raise Refused("invalid", f"{field}: {_show(value)} has no time zone; add Z (UTC) or "
                                     "an offset such as +01:00", field)
        if parsed is not None:
            return parsed.timestamp()
    raise Refused("invalid", f"{field}: {_show(value)}; expected an ISO 8601 time such as "
                             "2026-12-07T10:00:00Z, or UTC epoch seconds", field)


def _range(body: dict[str, Any], where: str) -> tuple[float, float]:
    since, until = _when(body, "since", where), _when(body, "until", where)
    if not until > since:
        raise Refused("invalid", f"{where}.until: it must be after since (the range is "
                                 "[since, until))", f"{where}.until")
    if until - since > MAX_HISTORY_DAYS * 86400:
        raise Refused("invalid", f"{where}: the range covers {(until - since) / 86400:.1f} days; at "
                                 f"most {MAX_HISTORY_DAYS} in one request", f"{where}.until")
    return since, until


def _form(call: _Call, name: str, allowed: frozenset[str]) -> dict[str, Any]:
    body = call.args[name]
    if not isinstance(body, dict):
        raise Refused("invalid", f"{name}: expected an object with {', '.join(sorted(allowed))}", name)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Refused("invalid", f"{name}.{unknown[0]}: not an argument (expected "
                                 f"{', '.join(sorted(allowed))})", f"{name}.{unknown[0]}")
    return body


async def _history(call: _Call) -> dict[str, Any]:
    """The edge's history, read-only: per point and hour the samples it holds (``counts``, from
    the hourly rollups), one point's samples in time order, page by page (``samples``), or its
    alarm or command changes as its bridge publishes them, page by page (``events``)."""
    forms = [name for name in ("counts", "samples", "events") if call.args.get(name) is not None]
    if len(forms) != 1:
        raise Refused("invalid", "expected exactly one of counts (per point and hour, how many "
                                 "samples), samples (one point's samples) or events (alarm or "
                                 "command changes)", forms[1] if forms else "counts")
    if forms[0] == "counts":
        return await _history_counts(call)
    if forms[0] == "events":
        return await _history_events(call)
    return await _history_samples(call)


async def _history_counts(call: _Call) -> dict[str, Any]:
    body = _form(call, "counts", frozenset({"since", "until", "points"}))
    since, until = _range(body, "counts")
    start, end = math.floor(since / _HOUR) * _HOUR, math.ceil(until / _HOUR) * _HOUR
    names = body.get("points")
    if names is None:
        site = call.cfg.site.id
        pids = [f"{site}/{e.id}/{p.name}" for e in call.cfg.equipment for p in e.points]
    else:
        if not isinstance(names, list) or not names or len(names) > MAX_COUNT_POINTS or not all(
                isinstance(n, str) for n in names):
            raise Refused("invalid", f"counts.points: expected a list of 1 to {MAX_COUNT_POINTS} "
                                     "point names (equipment/name)", "counts.points")
        pids = [_point(call, "counts.points", name)[0] for name in names]
    hours = round((end - start) / _HOUR)
    if len(pids) * hours > MAX_COUNT_CELLS:
        raise Refused("invalid", f"counts: {len(pids)} points × {hours} hours is more than "
                                 f"{MAX_COUNT_CELLS:,} point-hours in one request; name fewer "
                                 "points or ask a shorter range", "counts.points")
    historian = call.runtime.historian
    out = []
    for pid in dict.fromkeys(pids):
        series = await historian.rollups(pid, "hour", start, end)
        out.append({"point": pid, "hours": [[s, int(c)] for s, c in
                                            zip(series.start.tolist(), series.count.tolist(),
                                                strict=True) if c > 0]})
    return {"since": start, "until": end, "points": out}


async def _history_samples(call: _Call) -> dict[str, Any]:
    from openbms.model.sample import STATUSES

    body = _form(call, "samples", frozenset({"point", "since", "until", "limit", "after"}))
    raw = body.get("point")
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 400:
        raise Refused("invalid", "samples.point: " + ("required" if raw is None else _show(raw))
                      + "; expected a point, equipment/name or site/equipment/name", "samples.point")
    pid, _model = _point(call, "samples.point", raw.strip())
    since, until = _range(body, "samples")
    limit = body.get("limit", DEFAULT_HISTORY_SAMPLES)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY_SAMPLES:
        raise Refused("invalid", f"samples.limit: {_show(limit)}; expected a whole number from 1 to "
                                 f"{MAX_HISTORY_SAMPLES}", "samples.limit")
    after = body.get("after")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int | float)
                              or not math.isfinite(after)):
        raise Refused("invalid", f"samples.after: {_show(after)}; expected the next cursor of the "
                                 "previous answer", "samples.after")
    low = since if after is None else max(since, float(after))
    rows = await call.runtime.historian.raw_rows(pid, low, until, limit + 2)
    if after is not None:
        rows = [r for r in rows if r[0] > after]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"point": pid, "samples": [[ts, finite(v), STATUSES[st]] for ts, v, st in rows],
            "next": rows[-1][0] if more else None}


async def _history_events(call: _Call) -> dict[str, Any]:
    """The site's alarm changes (its stored alarm events) or command changes (its stored commands,
    each at its latest change) in ``[since, until)``, in time order, each as the bridge publishes
    it (``AlarmService._on_event``, ``Runtime._command_changed``), so the centre keys it alike."""
    body = _form(call, "events", frozenset({"since", "until", "kind", "limit", "after"}))
    kind = body.get("kind")
    if kind not in EVENT_KINDS:
        raise Refused("invalid", "events.kind: " + ("required" if kind is None else _show(kind))
                      + f"; expected one of {', '.join(EVENT_KINDS)}", "events.kind")
    since, until = _range(body, "events")
    limit = body.get("limit", DEFAULT_HISTORY_EVENTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY_EVENTS:
        raise Refused("invalid", f"events.limit: {_show(limit)}; expected a whole number from 1 to "
                                 f"{MAX_HISTORY_EVENTS}", "events.limit")
    after = _event_cursor(body.get("after"), kind)
    site = call.cfg.site.id
    events: list[dict[str, Any]]
    if kind == "alarm":
        rows = await call.runtime.alarm_events(
            site, since=since, until=until, limit=limit + 1, oldest_first=True,
            after=None if after is None else (after[0], int(after[1])))
        more = len(rows) > limit
        rows = rows[:limit]
        events = [_alarm_change(site, row) for row in rows]
        last = (rows[-1]["ts"], rows[-1]["id"]) if rows else None
    else:
        cmds = await call.runtime.commands.updated(site, since, until, after=after, limit=limit + 1)
        more = len(cmds) > limit
        cmds = cmds[:limit]
        events = [_command_change(cmd) for cmd in cmds]
        last = (cmds[-1].updated_at, cmds[-1].id) if cmds else None
    return {"kind": kind, "since": since, "until": until, "events": events,
            "next": f"{last[0]!r}|{last[1]}" if more and last is not None else None}


def _event_cursor(raw: Any, kind: str) -> tuple[float, str] | None:
    """The ``after`` of an events request: the ``next`` of the previous answer, ``time|id``."""
    if raw is None:
        return None
    ts, bar, key = raw.partition("|") if isinstance(raw, str) and len(raw) <= 200 else ("", "", "")
    try:
        when = float(ts)
    except ValueError:
        when = math.nan
    if not (bar and key and math.isfinite(when) and (kind == "command" or key.isdigit())):
        raise Refused("invalid", f"events.after: {_show(raw)}; expected the next of the previous "
                                 f"answer (of the same kind)", "events.after")
    return when, key


def _alarm_change(site: str, row: dict[str, Any]) -> dict[str, Any]:
    """A stored alarm event as ``AlarmService._on_event`` published it: ``AlarmEvent.to_dict()``
    (its fields in order) and ``site``. The table keeps None as empty text for who and note (the
    engine never publishes empty text there); ``shelved`` and ``flap_count`` are kept since schema
    0006 (read as false and 0 in rows written before)."""
    return {"alarm_id": row["alarm_id"], "rule_id": row["rule_id"], "point": row["point_id"],
            "ts": row["ts"], "action": row["action"], "from_state": row["from_state"],
            "to_state": row["to_state"], "value": row["value"], "message": row["message"],
            "who": row["who"] or None, "note": row["note"] or None, "priority": row["priority"],
            "alarm_class": row["alarm_class"], "shelved": bool(row.get("shelved") or False),
            "flap_count": int(row.get("flap_count") or 0), "site": site}


def _command_change(cmd: Command) -> dict[str, Any]:
    """A stored command as ``Runtime._command_changed`` publishes its change (its latest one)."""
    return {"id": cmd.id, "point": cmd.point, "value": cmd.value, "priority": cmd.priority,
            "release": cmd.release, "status": str(cmd.status), "error": cmd.error,
            "source": str(cmd.source), "requested_by": cmd.requested_by,
            "updated_at": cmd.updated_at}


_COMMON = frozenset({"id", "token"})

#: Every command: the topic level ``{name}`` → what it needs and does. The permissions are the
#: REST routes' own (``POST …/commands`` needs ``commands:write``, ``GET …/priority-array``
#: ``points:read``…), so a role may do the same over MQTT as over HTTP.
COMMANDS: Mapping[str, CommandSpec] = {
    "write": CommandSpec("commands:write",
                         _COMMON | {"point", "value", "priority", "duration_s", "reason"}, True, _write),
    "release": CommandSpec("commands:write", _COMMON | {"point", "priority", "reason"}, True, _release),
    "read": CommandSpec("points:read", _COMMON | {"points"}, False, _read),
    "priority-array": CommandSpec("points:read", _COMMON | {"point"}, False, _priority_array),
    "program-get": CommandSpec("programs:read", _COMMON | {"program", "version"}, False, _program_get),
    "program-deploy": CommandSpec("programs:deploy", _COMMON | {"program", "version", "reason"}, True,
                                  _program_deploy),
    "config": CommandSpec("sites:read", _COMMON, False, _config),
    "history": CommandSpec("history:read", _COMMON | {"counts", "samples", "events"}, False,
                           _history),
}

#: Home Assistant's commands (``HomeAssistantSettings.COMMAND``): not a command a client may name.
_HOMEASSISTANT = CommandSpec("commands:write", frozenset({"id", "point", "value", "refused"}), True,
                             _homeassistant_set)

_STATUS = {"too_large": 413, "malformed": 400, "bad_id": 400, "unknown_command": 404,
           "unauthorized": 401, "forbidden": 403, "invalid": 422, "unknown_point": 404}
_API_CODES = {404: "not_found", 409: "conflict", 422: "invalid", 429: "rate_limited",
              503: "unavailable"}


# ------------------------------------------------------------------------------ the handler


class MqttCommands:
    """Answers the command requests of every site (``Services.serve_command_requests``)."""

    def __init__(self, ctx: ApiContext, refusals: Refusals) -> None:
        self.ctx = ctx
        self.refusals = refusals
        #: (site, user, correlation id) → the response sent, and when (``ctx.now()``): duplicates
        #: get it again. In flight, a future: a duplicate waits for the first answer.
        self._seen: OrderedDict[tuple[str, str, str, bytes], tuple[float, Any]] = OrderedDict()
        #: Requests answered from memory (a duplicate correlation id), since the start.
        self.duplicates = 0

    async def handle(self, request: CommandRequest) -> bytes:
        """The response to ``request`` (JSON bytes); never raises for what a client sends."""
        cid: Any = None
        principal: Principal | None = None
        try:
            runtime = self.ctx.runtime
            cfg = runtime.site(request.site) if runtime is not None else None
            if runtime is None or cfg is None or cfg.mqtt is None:
                raise Refused("unavailable", f"site {request.site!r} does not run here", audit=False)
            settings = cfg.mqtt.commands
            token = _bearer(request.authorization)
            if len(request.payload) > settings.max_bytes:
                principal = await self._principal(token)
                raise Refused("too_large", f"the request has {len(request.payload)} bytes; at most "
                                           f"{settings.max_bytes} (mqtt.commands.max_bytes)")
            try:
                doc = orjson.loads(request.payload)
            except orjson.JSONDecodeError as err:
                principal = await self._principal(token)
                raise Refused("malformed", f"not JSON: {err}") from None
            if not isinstance(doc, dict):
                principal = await self._principal(token)
                raise Refused("malformed", f"expected a JSON object, not {type(doc).__name__}")
            if token is None and doc.get("token") is not None:
                token = doc["token"] if isinstance(doc["token"], str) else ""
            principal = await self._principal(token)
            cid, key = _correlation(doc, request.correlation)
            spec = _spec(request.name)
            if spec is None:
                raise Refused("unknown_command", f"no command {request.name!r}: expected one of "
                                                 f"{', '.join(COMMANDS)}")
            if principal is None:
                raise Refused("unauthorized", "no token: send an openbms API token as the MQTT v5 user "
                                              "property 'authorization: Bearer <token>' or the JSON "
                              "field 'token'" if not token else "invalid, revoked or expired token")
            who = f"{principal.user_id}/{principal.token_role or ''}"  # a narrowed token: its own ids
            call = _Call(self.ctx, runtime, cfg, settings, principal, doc, request.topic)
            if not spec.write:  # a read sent again is answered again: only writes run at most once
                return await self._run(spec, call, cid)
            # The command is part of the key: a write never gets the answer of an earlier read
            # (or release) that used the same id.
            return await self._once((request.site, who, request.name, key),
                                    lambda: self._run(spec, call, cid))
        except Refused as refused:
            if refused.audit:
                await self._refusal(request, principal, refused)
            return _error(cid, refused.code, refused.message, refused.field)
        except Exception:
            log.exception("mqtt command %s on %s failed", request.name, request.topic)
            return _error(cid, "internal", "the request failed inside openbms (see its log)", None)

    async def _principal(self, token: str | None) -> Principal | None:
        if not token or len(token) > _MAX_TOKEN:
            return None
        return await principal_for_token(self.ctx, token)

    async def _once(self, key: tuple[str, str, str, bytes], answer: Callable[[], Awaitable[bytes]]) -> bytes:
        """``answer()`` once per ``key`` while it is remembered; the same bytes to a duplicate."""
        now = self.ctx.now()
        seen = self._seen.get(key)
        if seen is not None:
            self.duplicates += 1
            kept = seen[1]
            return kept if isinstance(kept, bytes) else await kept
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._seen[key] = (now, future)
        try:
            body = await answer()
        except BaseException as err:
            self._seen.pop(key, None)
            future.set_exception(err)
            future.exception()  # retrieved: a duplicate waiting on it re-raises it
            raise
        future.set_result(body)
        self._seen[key] = (now, body)
        return body

    def _forget(self, settings: CommandSettings) -> None:
        """Keep at most ``remember`` ids, none older than ``remember_s``."""
        seen, oldest = self._seen, self.ctx.now() - settings.remember_s
        while seen and (len(seen) > settings.remember or next(iter(seen.values()))[0] < oldest):
            _key, (_at, kept) = seen.popitem(last=False)
            if not isinstance(kept, bytes):  # in flight: keep it (it finishes soon)
                seen[_key] = (_at, kept)
                break

    async def _run(self, spec: CommandSpec, call: _Call, cid: Any) -> bytes:
        self._forget(call.settings)
        site = call.cfg.site.id
        principal = call.principal
        try:
            if not principal.can(spec.permission, site):
                why = ("no role on the site" if not principal.sees(site)
                       else "lacks the permission on the site")
                raise Refused("forbidden", f"{why}: {spec.permission!r} on site {site!r} is needed",
                              None)
            unknown = sorted(set(call.args) - spec.fields)
            if unknown:
                raise Refused("invalid", f"{unknown[0]}: not an argument of this command (expected "
                                         f"{', '.join(sorted(spec.fields))})", unknown[0])
            if spec.write:
                settings = self.ctx.settings
                self.ctx.limiter.hit("write-user", principal.user_id, settings.write_rate_user)
            result = await spec.run(call)
        except ApiError as err:  # from a REST helper reused (programs), or the rate limiter
            code = _API_CODES.get(err.status, "internal")
            field = None
            if err.errors:
                loc = err.errors[0].get("loc") or []
                field = str(loc[-1]) if loc else None
            raise Refused(code, err.detail or str(err), field, audit=code != "rate_limited") from None
        return orjson.dumps({"id": cid, "ok": True, "result": result})

    async def _refusal(self, request: CommandRequest, principal: Principal | None, refused: Refused) -> None:
        """The ``access.denied`` audit row of a request refused before it ran (folded per minute)."""
        spec = _spec(request.name)
        permission = spec.permission if spec is not None else None
        reason = f"mqtt {refused.code}: {refused.message}"[:300]
        await self.refusals.record(self.ctx, Refusal(
            actor=principal.actor if principal is not None else ANONYMOUS, method="MQTT",
            route=f"command/{request.name[:60]}", path=request.topic[:200], site=request.site,
            reason=reason, status=_STATUS.get(refused.code, 400), permission=permission,
            via=principal.via if principal is not None else "mqtt"))


def _spec(name: str) -> CommandSpec | None:
    return _HOMEASSISTANT if name == HomeAssistantSettings.COMMAND else COMMANDS.get(name)


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def _correlation(doc: dict[str, Any], data: bytes | None) -> tuple[Any, bytes]:
    """The response's ``id`` and the key that recognises a duplicate: the JSON ``id``, else the
    MQTT v5 correlation data."""
    cid = doc.get("id")
    if cid is None:
        if data is None:
            raise Refused("bad_id", "id: required (a correlation id of 1 to 128 printable ASCII "
                                    "characters), unless the MQTT v5 correlation data is given", "id")
        if not 0 < len(data) <= MAX_ID:  # each one is remembered: bounded as the JSON id is
            raise Refused("bad_id", f"the MQTT v5 correlation data has {len(data)} bytes; expected "
                                    f"1 to {MAX_ID}", "id")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            text = data.hex()
        return text[:MAX_ID * 2], b"c" + data
    if not isinstance(cid, str) or not _ID.match(cid):
        raise Refused("bad_id", f"id: {_show(cid)}; expected 1 to {MAX_ID} printable ASCII characters",
                      "id")
    return cid, b"i" + cid.encode()


def _error(cid: Any, code: str, message: str, field: str | None) -> bytes:
    return orjson.dumps({"id": cid if isinstance(cid, str) else None, "ok": False,
                         "error": {"code": code, "message": message, "field": field}})
