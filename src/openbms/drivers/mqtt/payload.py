"""MQTT bindings and payloads: what a ``mqtt://`` URI means, and values in and out of messages.

::

    mqtt://sensors/zone-3/temp                         plain text "21.5", "true", "on"
    mqtt://sensors/zone-3/env?field=data.temp&time=ts  JSON {"data": {"temp": 21.5}, "ts": 1700000000}
    mqtt://sensors/zone-3/env#data.temp                the same field, as a fragment
    mqtt://spBv1.0/plant/edge-1/boiler#Supply/Temp     Sparkplug B: group, node, device, metric
    mqtt://hvac/ahu-1/sp?command=hvac/ahu-1/sp/set     writable: writes go to the command topic

The topic is everything between ``mqtt://`` and ``?`` or ``#``; its first
level (the URI authority) is the device the driver manager groups health by,
unless ``device=`` names another. A topic starting ``spBv1.0/`` is Sparkplug B.
Decoder options come from the binding, else from the first ``decoders:``
entry of the driver settings whose ``match`` pattern (``+`` and ``#``
wildcards) matches the topic. Everything here is parsed once, when a point is
subscribed; per message only the prepared steps run.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openbms.errors import BindingError
from openbms.model.binding import Binding
from openbms.model.sample import Value

__all__ = ["EARLIEST", "PAYLOADS", "SPARKPLUG_PREFIX", "BadPayload", "PointSpec", "check_binding",
           "decoder_problem", "encode", "extract", "matches", "parse_time", "plain_value", "point_spec"]

PAYLOADS = ("plain", "json", "sparkplug")
KINDS = ("number", "bool", "text")
SPARKPLUG_PREFIX = "spBv1.0/"
_OPTIONS = ("payload", "field", "time", "kind", "command", "expect", "offline", "device")
_TRUE = frozenset(("true", "on", "yes"))
_FALSE = frozenset(("false", "off", "no"))
_INT = re.compile(r"^[+-]?\d+$")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
#: Integers a sample may hold as integers: the historian and the rest store 64-bit ones.
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
#: Timestamps before 2000 or more than a day ahead of the clock are not believed.
EARLIEST = 946_684_800.0


class BadPayload(ValueError):
    """A message a point cannot take: ``kind`` counts it (json, type, field, time, ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class PointSpec:
    """What one binding reads and writes, prepared once."""

    topic: str
    payload: str
    field: tuple[str | int, ...]  # JSON path, or the Sparkplug metric name as one step
    field_text: str
    time: tuple[str | int, ...]
    kind: str
    command: str
    expect: float  # seconds without a message before the point is stale (0: never)
    offline: float  # ... and offline
    device: str
    # Sparkplug B: group, edge node and device ("" for the node's own metrics)
    group: str = ""
    node: str = ""
    sp_device: str = ""


def _path(text: str, binding: Binding, what: str) -> tuple[str | int, ...]:
    text = text[2:] if text.startswith("$.") else text.lstrip("$")
    steps: list[str | int] = []
    pos = 0
    for m in _STEP.finditer(text):
        gap = text[pos:m.start()]
        if gap not in ("", "."):
            break
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not steps or pos != len(text):
        raise BindingError(f"{binding}: {what}={text!r} is not a field path: expected names "
                           "separated by dots, with [N] for list items, such as data.temp or "
                           "readings[0].value")
    return tuple(steps)


def matches(pattern: str, topic: str) -> bool:
    """Whether an MQTT topic filter (``+`` one level, ``#`` the rest) matches ``topic``."""
    p, t = pattern.split("/"), topic.split("/")
    for i, level in enumerate(p):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(p) == len(t)


def _bad_filter(pattern: str) -> bool:
    levels = pattern.split("/")
    return any(("+" in level and level != "+") or ("#" in level and level != "#")
               for level in levels) or "#" in levels[:-1]


def decoder_problem(i: int, decoder: Any) -> str | None:
    """What is wrong with the ``i``-th ``decoders:`` entry of the driver settings, or None."""
    where = f"drivers: mqtt: decoders[{i}]"
    if not isinstance(decoder, Mapping) or not decoder.get("match"):
        return (f"{where}: expected a mapping with match: TOPIC-PATTERN and options "
                f"({', '.join(_OPTIONS)})")
    pattern = str(decoder["match"])
    if _bad_filter(pattern):
        return (f"{where}: match: {pattern!r} is not an MQTT topic pattern: '+' is a whole level "
                "and '#' a whole last level (sensors/+/env, sensors/#)")
    unknown = sorted(set(map(str, decoder)) - {"match", *_OPTIONS})
    if unknown:
        return f"{where}: unknown option(s) {', '.join(unknown)}; expected {', '.join(_OPTIONS)}"
    return None


def _seconds(options: Mapping[str, Any], key: str, binding: Binding, default: float) -> float:
    raw = options.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise BindingError(f"{binding}: {key}={raw!r}: expected seconds, a number >= 0")
    return value


def point_spec(binding: Binding, decoders: Sequence[Mapping[str, Any]] = (),
               expect: float = 0.0, offline: float = 0.0) -> PointSpec:
    """Prepare a binding; BindingError says what is wrong and what was expected."""
    topic = f"{binding.device}/{binding.path}"
    if "+" in topic.split("/") or "#" in topic:
        raise BindingError(f"{binding}: the topic {topic!r} has a wildcard: a point reads one "
                           "topic (patterns belong in the driver's decoders: settings)")
    unknown = sorted(set(binding.params) - set(_OPTIONS))
    if unknown:
        raise BindingError(f"{binding}: unknown option(s) {', '.join(unknown)}; expected "
                           f"{', '.join(_OPTIONS)}")
    options: dict[str, Any] = {}
    for d in decoders:
        if matches(str(d.get("match", "")), topic):
            options.update({k: v for k, v in d.items() if k != "match"})
            break
    options.update(binding.params)
    if binding.fragment:
        options["field"] = binding.fragment
    sparkplug = topic.startswith(SPARKPLUG_PREFIX)
    payload = str(options.get("payload") or ("sparkplug" if sparkplug else
                                             "json" if options.get("field") else "plain"))
    if payload not in PAYLOADS:
        raise BindingError(f"{binding}: payload={payload!r}; expected one of {', '.join(PAYLOADS)}")
    kind = str(options.get("kind") or "number")
    if kind not in KINDS:
        raise BindingError(f"{binding}: kind={kind!r}; expected one of {', '.join(KINDS)}")
    field_text = str(options.get("field") or "")
    stale = _seconds(options, "expect", binding, expect)
    gone = _seconds(options, "offline", binding, offline or 3 * stale)
    if gone and stale and gone < stale:
        raise BindingError(f"{binding}: offline={gone:g} s is before expect={stale:g} s: a point "
                           "goes stale first, then offline")
    command = str(options.get("command") or "")
    if "+" in command.split("/") or "#" in command:
        raise BindingError(f"{binding}: command={command!r}: a command topic has no wildcards")
    if payload == "sparkplug":
        levels = topic.split("/")
        if not sparkplug or len(levels) not in (3, 4) or not field_text:
            raise BindingError(f"{binding}: a Sparkplug B binding is mqtt://spBv1.0/GROUP/NODE"
                               "[/DEVICE]#METRIC (the metric's name after '#')")
        group, node = levels[1], levels[2]
        dev = levels[3] if len(levels) == 4 else ""
        return PointSpec(topic, payload, (field_text,), field_text, (), kind, command, stale, gone,
                         str(options.get("device") or "/".join(levels[1:])), group, node, dev)
    path = _path(field_text, binding, "field") if payload == "json" else ()
    if payload == "plain" and field_text:
        raise BindingError(f"{binding}: field={field_text!r} needs payload=json")
    time_text = str(options.get("time") or "")
    if time_text and payload != "json":
        raise BindingError(f"{binding}: time={time_text!r} needs payload=json")
    when = _path(time_text, binding, "time") if time_text else ()
    return PointSpec(topic, payload, path, field_text, when, kind, command, stale, gone,
                     str(options.get("device") or binding.device))


def check_binding(binding: Binding, settings: Mapping[str, Any] | None = None) -> None:
    """Raise BindingError when the driver could not read ``binding`` with these ``drivers: mqtt:``
    settings (their ``decoders``): for configuration checks, which import no MQTT library."""
    decoders = (settings or {}).get("decoders") or ()
    for i, d in enumerate(decoders if isinstance(decoders, list) else ()):
        problem = decoder_problem(i, d)
        if problem:
            raise BindingError(f"{binding}: {problem}")
    # The driver's expect/offline are every binding's defaults (a wrong one the driver refuses).
    silences = []
    for key in ("expect", "offline"):
        value = (settings or {}).get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        silences.append(float(value) if ok and value is not None else 0.0)
    point_spec(binding, [d for d in decoders if isinstance(d, Mapping)], *silences)


# ---------------------------------------------------------------------- messages → values


def plain_value(text: str, kind: str) -> Value:
    """A plain payload's value: a number (int when it is one), a boolean word, or text."""
    if kind == "text":
        return text
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    try:
        if not word.isascii() or "_" in word:  # Python reads "1_000" and Arabic-Indic digits
            raise ValueError(word)
        number: float | int = int(word) if _INT.match(word) else float(word)
    except ValueError:
        raise BadPayload("type", f"{text[:40]!r} is not a number or a boolean") from None
    if kind == "bool":
        return bool(number)
    return _int64(number, text[:40]) if isinstance(number, int) else number


def _int64(value: int, what: str) -> float | int:
    """``value``, or a float when it is beyond a signed 64-bit integer (what downstream stores);
    BadPayload("type") when not even a float holds it."""
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    try:
        return float(value)
    except OverflowError:
        raise BadPayload("type", f"{what}: a number too large for a float") from None


def extract(doc: Any, path: tuple[str | int, ...], field_text: str) -> Any:
    """The value at ``path`` in a decoded JSON document; BadPayload("field") when it is not there."""
    node = doc
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            raise BadPayload("field", f"no field {field_text!r}") from None
    return node


def json_value(raw: Any, kind: str, field_text: str) -> Value:
    """A JSON field's value as a point value; BadPayload("type") for an object, a list, text for a
    number, ..."""
    if raw is None:
        return None
    cls = raw.__class__
    if kind == "text":
        if cls in (dict, list):
            raise BadPayload("type", f"field {field_text!r} is a JSON {cls.__name__}, not a value")
        return raw if cls is str else json.dumps(raw)
    if cls is bool:
        return raw
    if cls is float:
        return bool(raw) if kind == "bool" else raw
    if cls is int:
        return bool(raw) if kind == "bool" else _int64(raw, f"field {field_text!r}")
    if cls is str and kind == "bool" and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise BadPayload("type", f"field {field_text!r} is {json.dumps(raw)[:40]}, expected a "
                     f"{'boolean' if kind == 'bool' else 'number'}")


def parse_time(raw: Any, now: float, field_text: str) -> float:
    """A timestamp in seconds or milliseconds since the epoch, or ISO 8601 text, as epoch seconds."""
    cls = raw.__class__
    if cls is int or cls is float:
        ts = float(raw) / 1000.0 if raw > 1e11 else float(raw)  # 1e11 s is the year 5138
    elif cls is str:
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
        except ValueError:
            raise BadPayload("time", f"time field {field_text!r} is {raw[:40]!r}, not ISO 8601"
                             ) from None
        if dt.tzinfo is None:
            raise BadPayload("time", f"time field {field_text!r} is {raw[:40]!r}, without a time "
                             "zone (add Z or +00:00)")
        ts = dt.timestamp()
    else:
        raise BadPayload("time", f"time field {field_text!r} is not a number or ISO 8601 text")
    if not EARLIEST <= ts <= now + 86_400.0:
        raise BadPayload("time", f"time field {field_text!r} ({raw!r}) is before 2000 or more "
                         "than a day ahead of the clock")
    return ts


# ---------------------------------------------------------------------- values → messages


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def encode(spec: PointSpec, value: Value) -> bytes:
    """A plain or JSON command payload for ``value`` (None: an empty payload, or JSON null)."""
    if spec.payload == "plain":
        return _text(value).encode()
    doc: Any = value
    for step in reversed(spec.field):
        doc = {str(step): doc}
    return json.dumps(doc).encode()
