"""The Modbus driver's settings (``drivers: modbus:``): one table, checked without pymodbus.

::

    drivers:
      modbus:
        timeout: 2              # seconds per request (every driver's common keys apply)
        gap: 8                  # defaults for every device, each overridable per device
        devices:
          meter-1: {host: 10.0.0.5, port: 502, unit: 1, order: CDAB, max_registers: 60}
          meter-2: {host: 10.0.0.5, unit: 2}     # same gateway: one shared connection

A row of ``DEVICE_SETTINGS`` is a key, its type, its default and its bounds:
adding a row adds a setting. Every problem is reported at its key, so
``openbms check`` names its line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openbms.drivers.modbus.points import ORDERS

__all__ = ["DEVICE_SETTINGS", "DeviceConfig", "read_devices", "settings_problems"]

PLACE = "drivers: modbus"


@dataclass(frozen=True, slots=True)
class Setting:
    """One key of a device (or its default for every device): type, default, bounds."""

    key: str
    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    shared: bool = True  # may be given once for every device, at the driver's level


DEVICE_SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, None, shared=False),
    Setting("port", int, 502, 1, 65535, shared=False),
    Setting("unit", int, 1, 0, 255, shared=False),
    Setting("order", str, "ABCD"),
    Setting("gap", int, 8, 0, 124),  # unused registers a merged read may carry
    Setting("max_registers", int, 125, 1, 125),
    Setting("max_bits", int, 2000, 1, 2000),
    Setting("delay", float, 0.0, 0, 60),  # seconds between two requests to the device
    Setting("profile", str, None, shared=False),  # its model's register map (profiles.py)
)
_BY_KEY = {s.key: s for s in DEVICE_SETTINGS}
_SHARED = tuple(s.key for s in DEVICE_SETTINGS if s.shared)
#: Every driver's settings (``DriverSettings``), allowed beside the Modbus ones.
COMMON = ("enabled", "poll_interval", "timeout", "retries", "max_backoff")
_EXPECTED = {str: "text", int: "a whole number", float: "a number"}

Problem = tuple[tuple[str | int, ...], str]


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One device's settings, defaults filled in."""

    name: str
    host: str
    port: int
    unit: int
    order: str
    gap: int
    max_registers: int
    max_bits: int
    delay: float
    profile: str | None = None

    @property
    def gateway(self) -> tuple[str, int]:
        """The TCP endpoint its requests go through (shared by every unit id behind it)."""
        return (self.host, self.port)


def _value(s: Setting, value: Any, where: str) -> tuple[Any, str | None]:
    if s.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, s.kind) or isinstance(value, bool):
        return None, f"{where}: {s.key}: {value!r}; expected {_EXPECTED[s.kind]}"
    if isinstance(value, str):
        if s.key == "order" and value.upper() not in ORDERS:
            return None, f"{where}: order: {value!r}; expected one of {', '.join(ORDERS)}"
        if s.key in ("host", "profile") and not value.strip():
            what = "a host name or IP address" if s.key == "host" else "a profile's name"
            return None, f"{where}: {s.key}: empty; expected {what}"
        return (value.upper() if s.key == "order" else value), None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None, f"{where}: {s.key}: {value!r}; expected a finite number"
        if (s.low is not None and value < s.low) or (s.high is not None and value > s.high):
            return None, f"{where}: {s.key}: {value:g}; expected {s.low:g} to {s.high:g}"
    return value, None


def settings_problems(settings: Mapping[str, Any]) -> list[Problem]:
    """Every problem of the ``drivers: modbus:`` settings, each at its key."""
    out: list[Problem] = []
    for key in settings:
        if key != "devices" and key not in _SHARED and key not in COMMON:
            out.append(((key,), f"{PLACE}: unknown setting {key}; expected devices, "
                                f"{', '.join(_SHARED)} (or {', '.join(COMMON)})"))
    for key in _SHARED:
        if settings.get(key) is not None:
            problem = _value(_BY_KEY[key], settings[key], PLACE)[1]
            if problem:
                out.append(((key,), problem))
    devices = settings.get("devices")
    if devices is None:
        return out
    if not isinstance(devices, Mapping):
        out.append((("devices",), f"{PLACE}: devices: expected a mapping of device names to "
                                  "{host, port, unit}"))
        return out
    for name, device in devices.items():
        where = f"{PLACE}: devices: {name}"
        if not isinstance(device, Mapping):
            out.append((("devices", name), f"{where}: expected a mapping such as "
                                           "{host: 10.0.0.5, port: 502, unit: 1}"))
            continue
        for key in device:
            if key not in _BY_KEY:
                out.append((("devices", name, key), f"{where}: unknown setting {key}; expected "
                                                    f"{', '.join(_BY_KEY)}"))
        if device.get("host") is None:
            out.append((("devices", name), f"{where}: no host; expected host: NAME_OR_ADDRESS"))
        for s in DEVICE_SETTINGS:
            if device.get(s.key) is not None:
                problem = _value(s, device[s.key], where)[1]
                if problem:
                    out.append((("devices", name, s.key), problem))
    return out


def read_devices(settings: Mapping[str, Any]) -> dict[str, DeviceConfig]:
    """Every device's settings; ``ValueError`` with the first problem when there is one."""
    problems = settings_problems(settings)
    if problems:
        raise ValueError(problems[0][1])
    out = {}
    for name, device in (settings.get("devices") or {}).items():
        given: dict[str, Any] = {}
        for s in DEVICE_SETTINGS:
            raw = device.get(s.key)
            if raw is None and s.shared:
                raw = settings.get(s.key)
            given[s.key] = s.default if raw is None else _value(s, raw, PLACE)[0]
        out[str(name)] = DeviceConfig(name=str(name), **given)
    return out
