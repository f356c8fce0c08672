"""The Modbus driver's settings (``drivers: modbus:``): one table, checked without pymodbus.

::

    drivers:
      modbus:
        timeout: 2              # seconds per request (every driver's common keys apply)
        gap: 8                  # defaults for every device, each overridable per device
        devices:
          meter-1: {host: 10.0.0.5, port: 502, unit: 1, order: CDAB, max_registers: 60}
          meter-2: {host: 10.0.0.5, unit: 2}     # same gateway: one shared connection
          vfd-1: {transport: rtu, port: /dev/ttyUSB0, baudrate: 9600, parity: N, unit: 3}
          vfd-2: {transport: rtu, port: /dev/ttyUSB0, baudrate: 9600, parity: N, unit: 4}
          pump-1: {transport: rtu-over-tcp, host: 10.0.0.9, port: 4001, unit: 1}

A device's ``transport`` says how its requests travel: ``tcp`` (Modbus TCP,
the default), ``rtu`` (a serial line: ``port`` is its device path, with the
line's ``baudrate``, ``parity``, ``stopbits`` and ``bytesize``) or
``rtu-over-tcp`` (a serial gateway that passes RTU frames over TCP). Devices
with the same ``Endpoint`` share one connection; devices on one serial line
must agree on its settings, and a gateway's port speaks one framing.

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

__all__ = ["DEVICE_SETTINGS", "TRANSPORTS", "DeviceConfig", "Endpoint", "read_devices",
           "settings_problems"]

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
    Setting("transport", str, "tcp", shared=False),  # TRANSPORTS
    Setting("host", str, None, shared=False),
    Setting("port", int, 502, 1, 65535, shared=False),  # a serial device path for transport: rtu
    Setting("unit", int, 1, 0, 255, shared=False),
    Setting("order", str, "ABCD"),
    Setting("gap", int, 8, 0, 124),  # unused registers a merged read may carry
    Setting("max_registers", int, 125, 1, 125),
    Setting("max_bits", int, 2000, 1, 2000),
    Setting("delay", float, 0.0, 0, 60),  # seconds between two requests to the device
    Setting("profile", str, None, shared=False),  # its model's register map (profiles.py)
    # A serial line's settings (transport: rtu only), given on each device on the line (they must
    # agree); the defaults are the Modbus serial line specification's: 19200 baud, even parity,
    # 8 data bits, 1 stop bit.
    Setting("baudrate", int, 19200, 50, 4_000_000, shared=False),
    Setting("parity", str, "E", shared=False),
    Setting("stopbits", int, 1, 1, 2, shared=False),
    Setting("bytesize", int, 8, 7, 8, shared=False),
)
#: How a device's requests travel: Modbus TCP, RTU on a serial line, RTU frames over TCP.
TRANSPORTS = ("tcp", "rtu", "rtu-over-tcp")
#: The keys of a serial line (transport: rtu), refused on a device reached over TCP.
SERIAL = ("baudrate", "parity", "stopbits", "bytesize")
PARITIES = {"N": "none", "E": "even", "O": "odd"}
_BY_KEY = {s.key: s for s in DEVICE_SETTINGS}
_SHARED = tuple(s.key for s in DEVICE_SETTINGS if s.shared)
#: Every driver's settings (``DriverSettings``), allowed beside the Modbus ones.
COMMON = ("enabled", "poll_interval", "timeout", "retries", "max_backoff")
_EXPECTED = {str: "text", int: "a whole number", float: "a number"}

Problem = tuple[tuple[str | int, ...], str]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests go: a TCP gateway (``host``, ``port``), or a serial line (``host`` is its
    device path, with the line's settings). Devices with equal endpoints share one connection."""

    transport: str
    host: str
    port: int = 502
    baudrate: int = 19200
    parity: str = "E"
    stopbits: int = 1
    bytesize: int = 8

    @property
    def frame_gap(self) -> float:
        """Seconds of silence a serial line needs between two frames: 3.5 characters, and 1.75 ms
        above 19200 baud (the Modbus serial line specification); none over TCP."""
        if self.transport != "rtu":
            return 0.0
        if self.baudrate > 19200:
            return 0.00175
        bits = 1 + self.bytesize + (self.parity != "N") + self.stopbits
        return 3.5 * bits / self.baudrate

    def __str__(self) -> str:
        if self.transport == "rtu":
            return self.host
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'rtu+tcp://' if self.transport == 'rtu-over-tcp' else ''}{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One device's settings, defaults filled in (``port`` is a serial device path for
    ``transport: rtu``, and ``host`` is then empty)."""

    name: str
    transport: str
    host: str
    port: int | str
    unit: int
    order: str
    gap: int
    max_registers: int
    max_bits: int
    delay: float
    profile: str | None = None
    baudrate: int = 19200
    parity: str = "E"
    stopbits: int = 1
    bytesize: int = 8

    @property
    def gateway(self) -> tuple[str, int]:
        """Where its requests go: its gateway's (host, port), or (its serial line's device, 0)."""
        return (self.endpoint.host, self.endpoint.port)

    @property
    def endpoint(self) -> Endpoint:
        """The connection its requests go through (shared by every unit id behind it)."""
        if self.transport == "rtu":
            return Endpoint("rtu", str(self.port), 0, self.baudrate, self.parity, self.stopbits,
                            self.bytesize)
        return Endpoint(self.transport, self.host, int(self.port))


def _value(s: Setting, value: Any, where: str) -> tuple[Any, str | None]:
    if s.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, s.kind) or isinstance(value, bool):
        return None, f"{where}: {s.key}: {value!r}; expected {_EXPECTED[s.kind]}"
    if isinstance(value, str):
        if s.key == "order" and value.upper() not in ORDERS:
            return None, f"{where}: order: {value!r}; expected one of {', '.join(ORDERS)}"
        if s.key == "transport" and value.lower() not in TRANSPORTS:
            return None, (f"{where}: transport: {value!r}; expected {', '.join(TRANSPORTS[:-1])} "
                          f"or {TRANSPORTS[-1]}")
        if s.key == "parity" and value.upper() not in PARITIES:
            return None, (f"{where}: parity: {value!r}; expected N, E or O "
                          "(none, even, odd)")
        if s.key in ("host", "profile") and not value.strip():
            what = "a host name or IP address" if s.key == "host" else "a profile's name"
            return None, f"{where}: {s.key}: empty; expected {what}"
        if s.key in ("order", "parity"):
            return value.upper(), None
        return (value.lower() if s.key == "transport" else value), None
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
        transport, problem = ("tcp", None) if device.get("transport") is None else \
            _value(_BY_KEY["transport"], device["transport"], where)
        for key in device:
            if key not in _BY_KEY:
                known = _keys(transport or "tcp", "transport" in device)
                out.append((("devices", name, key), f"{where}: unknown setting {key}; expected "
                                                    f"{', '.join(known)}"))
        if problem:  # how its other keys read depends on it: they wait for a transport that is
            out.append((("devices", name, "transport"), problem))
            continue
        if transport == "rtu":
            out += _serial_problems(device, name, where)
        else:
            if device.get("host") is None:
                out.append((("devices", name), f"{where}: no host; expected host: NAME_OR_ADDRESS"))
            for key in SERIAL:
                if device.get(key) is not None:
                    out.append((("devices", name, key), f"{where}: {key} is a serial line's "
                                f"setting; expected transport: rtu with it ({transport} has none)"))
        for s in DEVICE_SETTINGS:
            if s.key == "transport" or (transport == "rtu" and s.key in ("port", "host")):
                continue
            if device.get(s.key) is not None:
                problem = _value(s, device[s.key], where)[1]
                if problem:
                    if s.key == "port" and isinstance(device[s.key], str):
                        problem += " (a serial port needs transport: rtu)"
                    out.append((("devices", name, s.key), problem))
    if not out:
        out += _shared_problems(settings)
    return out


def _keys(transport: str, explicit: bool) -> list[str]:
    """A device's keys for its transport (``transport`` itself when the device gives it)."""
    out = []
    for key in _BY_KEY:
        if key == "transport" and not explicit:
            continue
        if (transport == "rtu" and key == "host") or (transport != "rtu" and key in SERIAL):
            continue
        out.append(key)
    return out


def _serial_problems(device: Mapping[str, Any], name: str, where: str) -> list[Problem]:
    """A serial device's own problems: its port is a device path, and it has no host."""
    out: list[Problem] = []
    port = device.get("port")
    if port is None:
        out.append((("devices", name), f"{where}: no port; expected port: /dev/ttyUSB0 (the serial "
                                       "line's device) with transport: rtu"))
    elif not isinstance(port, str) or not port.strip():
        out.append((("devices", name, "port"), f"{where}: port: {port!r}; expected the serial "
                                               "line's device path, such as /dev/ttyUSB0"))
    if device.get("host") is not None:
        out.append((("devices", name, "host"), f"{where}: host: a serial device has none; expected "
                                               "port: /dev/… alone, or transport: rtu-over-tcp "
                                               "for a gateway at a host"))
    return out


def _shared_problems(settings: Mapping[str, Any]) -> list[Problem]:
    """Devices that share a connection must agree on it: one serial line's settings, one
    gateway port's framing."""
    out: list[Problem] = []
    seen: dict[tuple[Any, ...], DeviceConfig] = {}
    for config in _configs(settings).values():
        where = f"{PLACE}: devices: {config.name}"
        if config.transport == "rtu":
            first = seen.setdefault(("rtu", config.port), config)
            for key in SERIAL:
                mine, theirs = getattr(config, key), getattr(first, key)
                if mine != theirs:
                    given = settings["devices"][config.name]
                    at = ("devices", config.name, key) if given.get(key) is not None \
                        else ("devices", config.name)
                    out.append((at, f"{where}: {key}: {mine}; device {first.name} on the same "
                                    f"line {config.port} has {theirs}, and a serial line has one "
                                    f"{key}"))
        else:
            first = seen.setdefault(("tcp", config.host, config.port), config)
            if first.transport != config.transport:
                given = settings["devices"][config.name]
                at = ("devices", config.name, "transport") if given.get("transport") is not None \
                    else ("devices", config.name)
                out.append((at, f"{where}: transport: {config.transport}; device {first.name} at "
                                f"the same {config.host}:{config.port} has {first.transport}, and "
                                "one port speaks one framing"))
    return out


def read_devices(settings: Mapping[str, Any]) -> dict[str, DeviceConfig]:
    """Every device's settings; ``ValueError`` with the first problem when there is one."""
    problems = settings_problems(settings)
    if problems:
        raise ValueError(problems[0][1])
    return _configs(settings)


def _configs(settings: Mapping[str, Any]) -> dict[str, DeviceConfig]:
    """Every device's settings with defaults filled in (the settings have no problem)."""
    out = {}
    for name, device in (settings.get("devices") or {}).items():
        given: dict[str, Any] = {}
        rtu = str(device.get("transport") or "").lower() == "rtu"
        for s in DEVICE_SETTINGS:
            raw = device.get(s.key)
            if raw is None and s.shared:
                raw = settings.get(s.key)
            if s.key == "port" and rtu:
                given[s.key] = raw
            elif s.key == "host" and rtu:
                given[s.key] = ""
            else:
                given[s.key] = s.default if raw is None else _value(s, raw, PLACE)[0]
        out[str(name)] = DeviceConfig(name=str(name), **given)
    return out
