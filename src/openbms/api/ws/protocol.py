"""The messages of the ``/api/v1/ws`` stream: settings, close codes, parsing and encoding. No I/O.

A client sends JSON objects with a ``type``:

* ``{"type": "auth", "token": "…"}`` — first message, when the token is not in the URL.
* ``{"type": "subscribe", "id": 1, "points": ["hq/ahu-1/*"], "sites": ["lab"],
  "alarms": ["*"], "commands": ["hq"]}`` — any of the four lists (a single string
  or, for ``alarms``/``commands``, ``true`` for every site, also do).
* ``{"type": "unsubscribe", …}`` — the same lists, or ``"all": true``.
* ``{"type": "ping"}`` (answered ``pong``) and ``{"type": "pong"}`` (ignored).

Anything else is answered with an ``error`` message; the connection stays open.
The server sends ``ready``, then ``clock`` (``now``, ``now_ts``, ``clock_rate``:
the building's time, as ``GET /api/v1/health`` tells it), then replies,
``samples`` (a snapshot carries the clock's fields too), ``alarm``, ``command``
and, on a quiet stream, ``ping`` (with the clock's fields).
``parse`` never raises anything but ``ProtocolError``, whatever the client sends:
a message over ``max_message_bytes`` (64 KiB) is ``too_large``, one nested
deeper than ``MAX_DEPTH`` levels is ``too_deep``, one that is not JSON ``bad_json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_TOO_SLOW",
    "CLOSE_UNAUTHENTICATED",
    "MAX_DEPTH",
    "MAX_MESSAGE_BYTES",
    "ProtocolError",
    "Request",
    "WsSettings",
    "encode",
    "literal_site",
    "parse",
]

#: Close codes (4000 + the HTTP status they mirror; 4008: fell too far behind).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4008

_MAX_PATTERN = 256
_MAX_ID = 100
_MAX_TOKEN = 4096
#: The most bytes of one client message (200 patterns of 256 characters fit in 64 KiB).
MAX_MESSAGE_BYTES = 64 * 1024
#: The deepest nesting of a client message's JSON (a subscribe is 2 deep).
MAX_DEPTH = 8
_SHOWN = 60
_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class WsSettings:
    """How the stream batches, re-checks and drops.

    ``stall_timeout``: a send blocked that long (the client's TCP window and our
    write buffer are full) drops the client. ``recheck_interval``: how often
    the user, session and grants are read again. Tests put their own in
    ``app.state.ws_settings``.
    """

    interval: float = 0.1
    auth_timeout: float = 10.0
    recheck_interval: float = 5.0
    stall_timeout: float = 10.0
    idle_ping: float = 25.0
    close_timeout: float = 2.0
    queue_maxlen: int = 10_000
    event_maxlen: int = 1_000
    max_patterns: int = 200
    max_pending_replies: int = 1_000
    max_samples_per_message: int = 5_000
    max_message_bytes: int = MAX_MESSAGE_BYTES


class ProtocolError(Exception):
    """A client message the server cannot act on; answered with an ``error`` message."""

    def __init__(self, code: str, message: str, request_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def as_message(self) -> dict[str, Any]:
        """The ``error`` message telling the client."""
        msg: dict[str, Any] = {"type": "error", "error": self.code, "message": self.message}
        if self.request_id is not None:
            msg["id"] = self.request_id
        return msg


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed client message."""

    type: Literal["auth", "subscribe", "unsubscribe", "ping", "pong"]
    id: str | int | None = None
    token: str | None = None
    points: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    all: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


def literal_site(pattern: str) -> str | None:
    """The site of a point pattern when it names one (``hq/ahu-1/*`` → ``hq``), else None (``*``)."""
    site = pattern.partition("/")[0]
    return None if _GLOB & set(site) else site


def _strings(value: Any, what: str, rid: str | int | None, *, allow_true: bool = False) -> tuple[str, ...]:
    if value is None:
        return ()
    if allow_true and value is True:
        return ("*",)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        hint = "a string, a list of strings or true" if allow_true else "a string or a list of strings"
        raise ProtocolError("invalid", f"{what!r} must be {hint}", rid)
    for v in value:
        if not v or len(v) > _MAX_PATTERN or any(c.isspace() or ord(c) < 32 for c in v):
            raise ProtocolError("invalid", f"{what!r}: {_shown(v)} is not a valid pattern", rid)
    return tuple(dict.fromkeys(value))


def _size(data: str | bytes, most: int) -> int:
    """The bytes of ``data`` (UTF-8 for text), counted only as far as needed to compare with ``most``."""
    if isinstance(data, bytes) or len(data) * 4 <= most or len(data) > most:
        return len(data)
    return len(data.encode("utf-8", "surrogatepass"))


def _depth_within(value: Any, most: int) -> bool:
    """Whether ``value`` nests at most ``most`` lists and objects deep (without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        if depth > most:
            return False
        stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return True


def _shown(value: Any) -> str:
    scalar = isinstance(value, str | int | float | bool) or value is None
    text = repr(value) if scalar else type(value).__name__
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def parse(data: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Request:
    """A client message, or ``ProtocolError`` saying what is wrong with it (never another exception)."""
    if _size(data, max_bytes) > max_bytes:
        raise ProtocolError("too_large", f"a message has at most {max_bytes} bytes")
    try:
        msg = json.loads(data)
    except RecursionError:
        raise ProtocolError("too_deep", f"a message nests at most {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ProtocolError("bad_json", f"not a JSON message: {str(err)[:200]}") from None
    if not _depth_within(msg, MAX_DEPTH):
        raise ProtocolError("too_deep", f"a message nests at most {MAX_DEPTH} levels")
    if not isinstance(msg, dict):
        raise ProtocolError("invalid", "a message is a JSON object with a 'type'")
    rid = msg.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)
                            or len(str(rid)) > _MAX_ID):
        raise ProtocolError("invalid", "'id' must be a short string or an integer")
    kind = msg.get("type")
    if kind == "auth":
        token = msg.get("token")
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
            raise ProtocolError("invalid", "'auth' needs a 'token' string", rid)
        return Request("auth", rid, token=token)
    if kind in ("ping", "pong"):
        return Request(kind, rid)
    if kind in ("subscribe", "unsubscribe"):
        unknown = set(msg) - {"type", "id", "points", "sites", "alarms", "commands", "all"}
        if unknown:
            shown = ", ".join(_shown(k) for k in sorted(unknown)[:5]) + (", …" if len(unknown) > 5 else "")
            raise ProtocolError("invalid", f"unknown field(s): {shown}", rid)
        everything = msg.get("all", False)
        if (kind == "subscribe" and "all" in msg) or not isinstance(everything, bool):
            raise ProtocolError("invalid", "'all' is only for unsubscribe, and is true or false", rid)
        req = Request(
            kind,
            rid,
            points=_strings(msg.get("points"), "points", rid),
            sites=_strings(msg.get("sites"), "sites", rid),
            alarms=_strings(msg.get("alarms"), "alarms", rid, allow_true=True),
            commands=_strings(msg.get("commands"), "commands", rid, allow_true=True),
            all=everything,
        )
        if not (req.points or req.sites or req.alarms or req.commands or req.all):
            raise ProtocolError("invalid", f"{kind!r} needs 'points', 'sites', 'alarms' or 'commands'", rid)
        for site in req.sites:
            if literal_site(site) != site:
                raise ProtocolError("invalid", f"'sites' takes site ids, not patterns: {site!r}", rid)
        return req
    raise ProtocolError(
        "unknown_type", f"unknown message type {_shown(kind)}: auth, subscribe, unsubscribe or ping", rid
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def encode(msg: Mapping[str, Any]) -> str:
    """Compact JSON; NaN and infinities (not JSON) become null."""
    try:
        return json.dumps(msg, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_finite(msg), separators=(",", ":"), default=str)
