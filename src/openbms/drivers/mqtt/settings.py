"""The MQTT driver's settings (``drivers: mqtt:``): one table, checked without the MQTT library.

::

    site file ──▶ openbms check (settings_problems: every problem, at its key)
              ──▶ MQTTDriver(settings)  (read_settings: the values, or the first problem)

A row of ``SETTINGS`` is a key, its type, its default and its bounds: adding a
row adds a setting. Secrets are read by ``connect`` when the driver is made;
here only their form is checked (a plain ``password:`` is refused), so a site
file can be checked on a machine without the secrets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openbms.drivers.mqtt.payload import decoder_problem

__all__ = ["COMMON", "SETTINGS", "Setting", "read_settings", "settings_problems"]

#: Where the settings are, at the start of every message.
PLACE = "drivers: mqtt"


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``drivers: mqtt:`` key: its type, default and allowed range (``low`` excluded when
    ``above``)."""

    key: str
    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    above: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "127.0.0.1"),
    Setting("port", int, 1883, 1, 65535),
    Setting("client_id", str, ""),
    Setting("keepalive", int, 60, 1),
    Setting("qos", int, 1, 0, 2),
    Setting("max_payload", int, 1_048_576, 0, above=True),
    Setting("expect", float, 0.0, 0),
    Setting("offline", float, 0.0, 0),
    Setting("max_age", float, 86_400.0, 0, above=True),
    Setting("reconnect_min", float, 0.5, 0, above=True),  # 0 is a reconnection storm
    Setting("decoders", list, []),
    Setting("username_env", str, None),
    Setting("username_file", str, None),
    Setting("password_env", str, None),
    Setting("password_file", str, None),
    Setting("tls", bool, False),
    Setting("ca_file", str, None),
    Setting("cert_file", str, None),
    Setting("key_file", str, None),
)
_BY_KEY = {s.key: s for s in SETTINGS}
#: Every driver's settings (``DriverSettings``), allowed beside the MQTT ones.
COMMON = ("enabled", "poll_interval", "timeout", "retries", "max_backoff")
#: Refused with the way to give them instead.
_SECRETS = ("username", "password")
_EXPECTED = {str: "text", int: "a whole number", float: "a number", list: "a list",
             bool: "true or false"}

Problem = tuple[tuple[str | int, ...], str]


def _range(s: Setting, value: float) -> str | None:
    if s.key == "qos" and value not in (0, 1, 2):
        return f"{PLACE}: qos must be 0, 1 or 2 (got {value})"
    if s.key == "port" and not 0 < value < 65536:
        return f"{PLACE}: port: {value}; expected 1 to 65535"
    if s.low is not None and (value <= s.low if s.above else value < s.low):
        if s.above:
            return f"{PLACE}: {s.key}: {value:g}; expected a number above {s.low:g}"
        if s.kind is float and s.low == 0:
            return f"{PLACE}: {s.key}: {value:g}; expected seconds, 0 or more (0: never)"
        return f"{PLACE}: {s.key}: {value:g}; expected at least {s.low:g}"
    if s.high is not None and value > s.high:
        return f"{PLACE}: {s.key}: {value:g}; expected at most {s.high:g}"
    return None


def _value(s: Setting, value: Any) -> tuple[Any, str | None]:
    """The setting's value in its type, or the problem with it."""
    if value is None:
        return s.default, None
    if s.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, s.kind) or (isinstance(value, bool) and s.kind is not bool):
        return None, f"{PLACE}: {s.key}: {value!r}; expected {_EXPECTED[s.kind]}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None, f"{PLACE}: {s.key}: {value!r}; expected a finite number"
        problem = _range(s, value)
        if problem:
            return None, problem
    return value, None


def settings_problems(settings: Mapping[str, Any]) -> list[Problem]:
    """Every problem of the ``drivers: mqtt:`` settings, each at its key (or decoder's index)."""
    out: list[Problem] = []
    for key in settings:
        if key in _SECRETS and settings[key] is not None:
            out.append(((key,), f"{PLACE}: {key}: secrets are not written in the site file; give "
                                f"{key}_env (an environment variable's name) or {key}_file (a "
                                "file)"))
        elif key not in _BY_KEY and key not in COMMON:
            out.append(((key,), f"{PLACE}: unknown setting {key}; expected "
                                f"{', '.join(_BY_KEY)} (or {', '.join(COMMON)})"))
    for s in SETTINGS:
        if s.key not in settings:
            continue
        value, problem = _value(s, settings[s.key])
        if problem:
            out.append(((s.key,), problem))
        elif s.key == "decoders":
            for i, d in enumerate(value):
                found = decoder_problem(i, d)
                if found:
                    out.append(((s.key, i), found))
    for what in _SECRETS:
        if settings.get(f"{what}_env") and settings.get(f"{what}_file"):
            out.append(((f"{what}_file",), f"{PLACE}: {what}_env and {what}_file: give one of "
                                           "them, not both"))
    if settings.get("key_file") and not settings.get("cert_file"):
        out.append((("key_file",), f"{PLACE}: key_file: a key without cert_file (the client "
                                   "certificate it goes with)"))
    return out


def read_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Every MQTT setting's value (its default when not given); ``ValueError`` with the first
    problem's message when there is one."""
    problems = settings_problems(settings)
    if problems:
        raise ValueError(problems[0][1])
    return {s.key: _value(s, settings.get(s.key))[0] for s in SETTINGS}
