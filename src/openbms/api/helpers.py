"""What the routes share: the running site, cursor pagination, validation problems, configuration edits.

One function per job, with one signature: a route that needs one of these
imports it from here rather than writing its own.

**The running site.** ``runtime_of(request)`` is the running system, typed
as the services it offers (:class:`~openbms.service.protocols.Services`; a
503 problem when the API runs without one: tests, tools);
``site_config(runtime, site_id)`` the
configuration a site runs with; ``find_equipment`` and ``find_point`` look
in it (404 problems).

**Cursor pagination.** List endpoints answer
``{"items": [...], "next_cursor": "..." | null}``. A cursor is opaque to
clients (base64url of a small JSON document, the sort key of the last item
sent); a cursor that does not decode is a 400. Keyset pagination, not
offsets: pages stay stable while rows are appended. Rows from SQL, fetched
with ``limit + 1``, go through ``page``; a list kept in memory (sites,
schedules, alarms…), sorted by its key, through ``keyset_page``::

    @router.get("", response_model=Page[Thing])
    def list_things(limit: int = Limit, cursor: str | None = Cursor):
        after = decode_cursor(cursor, {"id": str})   # {} on the first page
        rows = query(after_id=after.get("id"), limit=limit + 1)
        return page(rows, limit, lambda row: {"id": row.id})

A client can send anything as a cursor, so a decoded one is checked before a
query sees it: a flat object of strings, booleans, finite numbers and integers
a database column holds (never NaN, an infinity or a 30-digit integer), or short
lists of them (a sort key); given ``fields``, exactly those keys with those
types. Anything else is the same 400.

**Validation problems.** ``validation_problem`` is the field-level 422
(``{loc, msg, type}`` each) for a body checked by hand: from a pydantic
``ValidationError`` or from field errors already in that shape.

**Configuration edits** go one way only: a route hands a function from the
running ``SiteConfig`` to a new one to the service's ``change_site``
(``change_site`` here turns its refusals into problems), which holds the one
configuration lock from reading the site to applying the result, validates
it, writes the site's YAML file, syncs the state database and applies it. So
the YAML files (configuration as code) and the API never disagree, and two
concurrent edits never lose one another.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Query
from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection, Request

from openbms.api.auth.principal import Principal
from openbms.api.context import client_addr, get_context
from openbms.api.errors import ApiError, invalid_field, not_found, site_not_found
from openbms.errors import ConfigError
from openbms.model.site import Equipment, Point, SiteConfig
from openbms.service.protocols import RemoteCommands, Services

__all__ = [
    "MAX_JSON_ROWS",
    "MAX_POINTS",
    "VALIDATION",
    "Cursor",
    "Limit",
    "Page",
    "audit",
    "change_site",
    "command_source",
    "decode_cursor",
    "encode_cursor",
    "find_equipment",
    "find_point",
    "finite",
    "keyset_page",
    "page",
    "parse_site_time",
    "parse_time",
    "replace_equipment",
    "requested_points",
    "runtime_of",
    "site_config",
    "validation_problem",
]

T = TypeVar("T")
SiteT = TypeVar("SiteT", bound=SiteConfig)

VALIDATION = "urn:openbms:problem:validation-error"

#: Points one history, energy or annotations request may name.
MAX_POINTS = 100
#: Rows one JSON answer of history or energy may carry.
MAX_JSON_ROWS = 200_000
_LATEST = 253_402_300_799.0  # 9999-12-31T23:59:59Z


# ------------------------------------------------------------------------------ query values

def parse_time(text: str | None, name: str) -> float | None:
    """Epoch seconds from epoch seconds or ISO 8601 (without an offset: UTC); 422 if neither."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise invalid_field(
                ["query", name], "expected ISO 8601 (2024-05-01T08:00:00Z) or epoch seconds"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        value = dt.timestamp()
    if not (math.isfinite(value) and 0 <= value <= _LATEST):
        raise invalid_field(["query", name], "expected a time between 1970 and 9999")
    return value


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_site_time(text: str | None, name: str, timezone: str) -> float | None:
    """As :func:`parse_time`, except that a date alone (``2025-03-01``) is that day's midnight in
    the site's time zone: energy and M&V periods are the site's local days."""
    if text is not None and _DATE.fullmatch(text.strip()):
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            raise invalid_field(["query", name], f"{text.strip()!r} is no date: expected YYYY-MM-DD, "
                                "ISO 8601 or epoch seconds") from None
        return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).timestamp()
    return parse_time(text, name)


def requested_points(site_id: str, requested: Sequence[str], find: Callable[[str], T | None]) -> list[T]:
    """What ``find`` gives for each point named by ``requested`` (``equip/name`` or
    ``site/equip/name``, repeated or comma lists), once each, in order; 404 for one it does not
    know or of another site (the same answer), 422 for none or more than ``MAX_POINTS``."""
    wanted = [token for item in requested for raw in item.split(",") if (token := raw.strip())]
    if not wanted:
        raise invalid_field(["query", "points"], "name at least one point: points=equipment/name,…")
    out: dict[str, T] = {}
    for token in wanted:
        pid = token if token.count("/") == 2 else f"{site_id}/{token}"
        found = find(pid) if pid.startswith(f"{site_id}/") else None
        if found is None:
            raise not_found(f"no point {token!r}")
        out[pid] = found
    if len(out) > MAX_POINTS:
        raise invalid_field(["query", "points"], f"at most {MAX_POINTS} points per request, not {len(out)}")
    return list(out.values())


# ------------------------------------------------------------------------------ the running site


def runtime_of(conn: HTTPConnection) -> Services:
    """The running system's services; a 503 problem when the API runs without one (tests, tools)."""
    runtime = get_context(conn).runtime
    if runtime is None:
        raise ApiError(503, "this API runs without a building runtime: no sites are loaded")
    return runtime


def site_config(runtime: Services, site_id: str) -> SiteConfig:
    """The configuration ``site_id`` runs with; the site 404 when it does not run here."""
    cfg = runtime.site(site_id)
    if cfg is None:
        raise site_not_found(site_id)
    return cfg


def find_equipment(cfg: SiteConfig, equip_id: str) -> Equipment:
    """An equipment of the site, or 404."""
    for equip in cfg.equipment:
        if equip.id == equip_id:
            return equip
    raise not_found(f"no equipment {equip_id!r} in site {cfg.site.id!r}")


def find_point(cfg: SiteConfig, equip_id: str, name: str) -> tuple[Equipment, Point]:
    """A point of the site by equipment and name, or 404 (the same for an unknown equipment).

    Its id is ``cfg.point_id(equip, point)``.
    """
    for equip in cfg.equipment:
        if equip.id == equip_id:
            for point in equip.points:
                if point.name == name:
                    return equip, point
    raise not_found(f"no point {f'{cfg.site.id}/{equip_id}/{name}'!r}")


def command_source(user: Principal) -> str:
    """``api`` for a machine (an API token), ``operator`` for a person signed in."""
    return "api" if user.via == "api_token" else "operator"


def finite(value: Any) -> Any:
    """``value``, or None for NaN and infinities (JSON has no such numbers)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


# ------------------------------------------------------------------------------ cursor pagination


Limit = Query(100, ge=1, le=1000, description="At most this many items.")
Cursor = Query(None, max_length=512, description="The next_cursor of the previous page.")


class Page(BaseModel, Generic[T]):
    """One page of a list, and the cursor of the next one (null on the last page)."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque cursor for ``position``."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INVALID = "invalid cursor: pass the next_cursor of the previous page as it was"
_INT64 = 1 << 63

#: What a cursor field may be: ``float`` takes integers too; ``int`` never takes a bool.
FieldType = type[str] | type[int] | type[float] | type[bool]


#: The most fields of a sort key held as a list (keyset pages: ``{"k": [class, ts, id]}``).
_MAX_KEY = 8


def _field(value: Any) -> bool:
    """A scalar, or a short flat list of scalars (a sort key)."""
    if isinstance(value, list):
        return len(value) <= _MAX_KEY and all(_scalar(v) for v in value)
    return _scalar(value)


def _scalar(value: Any) -> bool:
    if isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -_INT64 <= value < _INT64
    return isinstance(value, float) and math.isfinite(value)


def _fits(value: Any, kind: FieldType) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def decode_cursor(cursor: str | None, fields: Mapping[str, FieldType] | None = None) -> dict[str, Any]:
    """The position a cursor stands for; ``{}`` for none; a 400 problem for a bad one.

    With ``fields`` (name → type), a cursor must hold exactly those fields, of those types.
    """
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ApiError(400, _INVALID) from err
    if not isinstance(position, dict) or not all(_field(v) for v in position.values()):
        raise ApiError(400, _INVALID)
    if fields is not None and (
        position.keys() != fields.keys() or not all(_fits(position[k], t) for k, t in fields.items())
    ):
        raise ApiError(400, _INVALID)
    return position


def page(
    rows: Sequence[T], limit: int, position_of: Callable[[T], dict[str, Any]]
) -> tuple[list[T], str | None]:
    """Items and next cursor, from ``rows`` fetched with ``limit + 1`` (the extra tells there is more)."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return items, (encode_cursor(position_of(items[-1])) if more and items else None)


def keyset_page(
    items: Sequence[T],
    key: Callable[[T], list[Any]],
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """A page of ``items`` (already sorted by ``key``, ascending) after ``cursor``, and the next cursor.

    The cursor holds the sort key of the last item sent, so a page stays
    right while items come and go (unlike an offset).
    """
    position = decode_cursor(cursor)
    after = position.get("k")
    if position:
        if position.keys() != {"k"} or not isinstance(after, list) or not after:
            raise ApiError(400, _INVALID)
        try:
            items = [i for i in items if key(i) > after]
        except TypeError as err:
            raise ApiError(400, _INVALID) from err
    return page(items[: limit + 1], limit, lambda item: {"k": key(item)})


# ------------------------------------------------------------------------------ validation problems


def validation_problem(
    errors: ValidationError | Sequence[Mapping[str, Any]],
    prefix: Sequence[str | int] = ("body",),
    *,
    strip_value_error: bool = True,
) -> ApiError:
    """The 422 validation problem with its field-level list (``{loc, msg, type}`` each).

    ``errors`` is a pydantic ``ValidationError`` (of a body merged or rebuilt by
    the route; each location goes under ``prefix``) or field errors already in
    that shape (taken as they are). ``strip_value_error=False`` keeps pydantic's
    "Value error, " before a validator's message, as FastAPI's own 422 for a
    request body does (the schedule routes validate their body by hand and
    answer as FastAPI would).
    """
    if isinstance(errors, ValidationError):
        head = list(prefix)
        fields = [
            {
                "loc": head + [p if isinstance(p, int) else str(p) for p in e["loc"]],
                "msg": str(e["msg"]).removeprefix("Value error, ") if strip_value_error else str(e["msg"]),
                "type": str(e["type"]),
            }
            for e in errors.errors(include_url=False, include_context=False, include_input=False)
        ]
    else:
        fields = [dict(e) for e in errors]
    return ApiError(422, f"{len(fields)} invalid field(s)", type=VALIDATION, errors=fields)


def _config_problem(err: ConfigError, removal: bool) -> ApiError:
    # The file, line and column point into a YAML file the caller never wrote (and
    # name a server path): the message says what is wrong, in the site's terms.
    errors = [{"loc": ["body"], "msg": issue.message, "type": "config_error"} for issue in err.issues]
    if removal:  # no body to blame: what is left refers to what goes
        detail = "; ".join(issue.message for issue in err.issues)
        return ApiError(409, f"still in use: {detail}", errors=errors)
    return ApiError(
        422,
        f"the change makes the site configuration invalid: {len(errors)} problem(s)",
        type=VALIDATION,
        errors=errors,
    )


# ------------------------------------------------------------------------------ configuration edits

async def change_site(
    request: Request, site_id: str, change: Callable[[SiteConfig], SiteConfig | Awaitable[SiteConfig]], *,
    removal: bool = False, edges: bool = True,
) -> SiteConfig:
    """Apply ``change`` to the running configuration of ``site_id``; the configuration now running.

    ``change`` may raise ``ApiError`` (404, 409, 422). A change the whole site
    rejects (references, bindings, units) is a 422 listing every problem, or
    for a ``removal`` (a DELETE, which has no body to blame) a 409. ``edges``: the change
    is of a part an edge owns (its points, equipment, spaces): at a central openbms, on a
    site served from its edge, a 409 ``site-at-edge`` before anything is checked (schedules and
    calendars pass ``edges=False``: the centre keeps its own).
    """
    runtime = runtime_of(request)
    site_config(runtime, site_id)  # 404 for a site that does not run here
    if edges and isinstance(runtime, RemoteCommands) and runtime.remote_site(site_id):
        raise ApiError(409, f"site {site_id!r}: its configuration is its edge's; change it at the "
                            "edge, which publishes it to the centre (the centre changes only its "
                            "own schedules and calendars)", type="urn:openbms:problem:site-at-edge")
    try:
        return await runtime.change_site(site_id, change)
    except ConfigError as err:
        raise _config_problem(err, removal) from err


def replace_equipment(cfg: SiteT, equip: Equipment) -> SiteT:
    """``cfg`` with ``equip`` replacing the equipment of the same id (private attributes kept)."""
    return cfg.model_copy(
        update={"equipment": tuple(equip if e.id == equip.id else e for e in cfg.equipment)}
    )


async def audit(request: Request, user: Principal, action: str, target: str, details: dict[str, Any]) -> None:
    """Record a configuration change."""
    await get_context(request).audit(user.actor, action, target, details, client_addr(request))
