"""Home Assistant MQTT discovery: the site's points as Home Assistant entities, with no YAML.

Home Assistant reads retained *config* messages on
``{discovery_prefix}/{component}/{node}/{object}/config`` and makes an entity
of each. openbms announces every point of a site that has an ``mqtt:`` section
with ``homeassistant.enabled``:

- a number it reads is a ``sensor`` (with Home Assistant's device class and
  unit where openbms's unit has one: °C, %, ppm, kW, kWh, Pa…), a boolean a
  ``binary_sensor``, an enumeration a ``sensor`` showing the state's label;
- a writable number is a ``number`` (its limits as min and max), a writable
  boolean a ``switch``, a writable enumeration a ``select``.

The entity's state is the telemetry bridge's per-point message
(``{prefix}/{site}/{equipment}/{point}``, JSON with ``value`` and ``status``);
it is unavailable when the site's bridge is offline (its retained status) or
the point is ``offline`` or ``fault``. A writable entity's commands arrive on
``{prefix}/{site}/{equipment}/{point}/set`` and :func:`decode_command` turns
the payload into the value openbms writes, through the arbiter, at the
configured priority. Each piece of equipment is one Home Assistant device.

This module builds the messages; the link publishes them (retained), and an
empty retained message removes an entity whose point is gone
(:func:`removed`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from openbms.model.mqtt import MqttSettings
from openbms.model.sample import FAULT, OFFLINE, Value
from openbms.model.site import Equipment, Point, SiteConfig
from openbms.model.units import lookup

__all__ = ["CommandRefused", "command_topic", "decode_command", "discovery", "removed", "state_topic"]

#: openbms unit → (Home Assistant unit, device class, state class). Only units Home Assistant
#: knows for that device class; any other unit is shown as openbms writes it, with no class.
_HA_UNITS: dict[str, tuple[str, str | None, str]] = {
    "degC": ("°C", "temperature", "measurement"),
    "degF": ("°F", "temperature", "measurement"),
    "K": ("K", "temperature", "measurement"),
    "%RH": ("%", "humidity", "measurement"),
    "ppm": ("ppm", None, "measurement"),  # carbon_dioxide when the point is a CO2 one (below)
    "W": ("W", "power", "measurement"),
    "kW": ("kW", "power", "measurement"),
    "MW": ("MW", "power", "measurement"),
    "Wh": ("Wh", "energy", "total_increasing"),
    "kWh": ("kWh", "energy", "total_increasing"),
    "MWh": ("MWh", "energy", "total_increasing"),
    "Pa": ("Pa", "pressure", "measurement"),
    "hPa": ("hPa", "pressure", "measurement"),
    "kPa": ("kPa", "pressure", "measurement"),
    "mbar": ("mbar", "pressure", "measurement"),
    "bar": ("bar", "pressure", "measurement"),
    "psi": ("psi", "pressure", "measurement"),
    "V": ("V", "voltage", "measurement"),
    "mV": ("mV", "voltage", "measurement"),
    "A": ("A", "current", "measurement"),
    "mA": ("mA", "current", "measurement"),
    "Hz": ("Hz", "frequency", "measurement"),
    "lx": ("lx", "illuminance", "measurement"),
    "%": ("%", None, "measurement"),
}
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


class CommandRefused(ValueError):
    """A Home Assistant command payload that is not a value of its point."""


def state_topic(settings: MqttSettings, site: str, equipment: str, point: str) -> str:
    """The bridge's per-point topic, which an entity reads its state from."""
    return f"{settings.prefix}/{site}/{equipment}/{point}"


def command_topic(settings: MqttSettings, site: str, equipment: str, point: str) -> str:
    """Where Home Assistant sends a writable entity's commands."""
    return f"{state_topic(settings, site, equipment, point)}/set"


def _component(point: Point) -> str:
    if point.writable:
        return {"bool": "switch", "enum": "select"}.get(point.kind, "number")
    return "binary_sensor" if point.kind == "bool" else "sensor"


def _part(id_: str) -> str:
    """An id (``[a-z0-9_.-]``) as a part of an object id: ``_`` (the parts' separator) becomes
    ``U`` and ``.`` (not allowed there) ``D``; ids are lowercase, so no two ids give one part."""
    return _SAFE.sub("_", id_.replace("_", "U").replace(".", "D"))


def _object_id(*ids: str) -> str:
    """The object id of a point (``site, equipment, point``) or a device (``site, equipment``):
    ``hq_ahu-1_sat``; one for each, however the ids place their underscores and dots
    (``ahu_1``/``sat`` and ``ahu``/``1_sat`` made one before: one entity, one config topic)."""
    return "_".join(_part(i) for i in ids)


def _config_topic(settings: MqttSettings, component: str, site: str, equipment: str,
                  point: str) -> str:
    return (f"{settings.homeassistant.discovery_prefix}/{component}/{_SAFE.sub('_', site)}/"
            f"{_object_id(site, equipment, point)}/config")


def _entity(cfg: SiteConfig, settings: MqttSettings, eq: Equipment, point: Point,
            version: str) -> tuple[str, dict[str, object]]:
    site = cfg.site.id
    component = _component(point)
    state = state_topic(settings, site, eq.id, point.name)
    entity: dict[str, object] = {
        "name": point.label,
        "unique_id": f"openbms_{_object_id(site, eq.id, point.name)}",
        "state_topic": state,
        "availability": [
            # The link's retained status, {"status": "online" | "offline", …} (its Last Will too).
            {"topic": f"{settings.prefix}/{site}/status",
             "value_template": "{{ value_json.status }}"},
            {"topic": state,
             "value_template": "{{ 'offline' if value_json.status in " + json.dumps([OFFLINE, FAULT])
                               + " else 'online' }}"},
        ],
        "availability_mode": "all",
        "device": {
            "identifiers": [f"openbms_{_object_id(site, eq.id)}"],
            "name": eq.name or f"{cfg.site.name or site} {eq.id}",
            "manufacturer": "openbms",
            "model": eq.type,
            **({"suggested_area": eq.space} if eq.space else {}),
        },
        "origin": {"name": "openbms", "sw_version": version},
        "qos": 1,
    }
    if point.kind == "bool":
        if component == "switch":
            entity.update(payload_on="ON", payload_off="OFF", state_on="ON", state_off="OFF",
                          value_template="{{ 'ON' if value_json.value else 'OFF' }}")
        else:
            entity.update(payload_on="ON", payload_off="OFF",
                          value_template="{{ 'ON' if value_json.value else 'OFF' }}")
    elif point.kind == "enum":
        states = list(point.states or ())
        # openbms numbers an enumeration's states 1–N, as BACnet does.
        entity["value_template"] = ("{% set s = " + json.dumps(states) + " %}"
                                    "{{ s[value_json.value | int - 1] if 1 <= value_json.value | int "
                                    "<= s | length else value_json.value }}")
        if component == "select":
            entity["options"] = states
        else:
            entity.update(device_class="enum", options=states)
    else:
        entity["value_template"] = "{{ value_json.value }}"
        unit = lookup(point.unit) if point.unit else None
        symbol = unit.symbol if unit else point.unit
        ha_unit, device_class, state_class = _HA_UNITS.get(symbol or "", (symbol, None, "measurement"))
        if symbol == "ppm" and "co2" in f"{point.name} {point.brick or ''}".lower():
            device_class = "carbon_dioxide"
        if ha_unit:
            entity["unit_of_measurement"] = ha_unit
        if device_class:
            entity["device_class"] = device_class
        if component == "sensor":
            entity["state_class"] = state_class
        else:
            limits = point.limits
            entity.update(mode="box", step=max(10.0 ** -point.decimals, 0.001))  # HA: step ≥ 0.001
            if limits is not None and limits.min is not None:
                entity["min"] = limits.min
            if limits is not None and limits.max is not None:
                entity["max"] = limits.max
            if device_class == "energy" or state_class != "measurement":
                entity.pop("device_class", None)  # Home Assistant's number has no energy class
    if point.writable:
        entity["command_topic"] = command_topic(settings, site, eq.id, point.name)
        entity["retain"] = False
    return _config_topic(settings, component, site, eq.id, point.name), entity


def discovery(cfg: SiteConfig, version: str = "") -> list[tuple[str, bytes]]:
    """The retained config messages announcing ``cfg``'s points: ``(topic, JSON)`` pairs, in
    the site's order; none when the site has no ``mqtt:`` section or discovery is off."""
    settings = cfg.mqtt
    if settings is None or not settings.homeassistant.enabled:
        return []
    out: list[tuple[str, bytes]] = []
    for eq in cfg.equipment:
        for point in eq.points:
            topic, entity = _entity(cfg, settings, eq, point, version)
            out.append((topic, json.dumps(entity, separators=(",", ":")).encode()))
    return out


def removed(before: Iterable[str], now: Iterable[str]) -> list[tuple[str, bytes]]:
    """Empty retained messages for the config topics of ``before`` not in ``now``: Home
    Assistant deletes those entities (a point removed from the site)."""
    keep = set(now)
    return [(topic, b"") for topic in before if topic not in keep]


def decode_command(point: Point, payload: bytes) -> Value:
    """The value a Home Assistant command payload asks for: ``ON``/``OFF`` for a switch, a
    number for a number, a state's label for a select (as a state number, 1–N). Limits are not
    checked here: the arbiter checks them, as for every write."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandRefused(f"{point.name}: the command is not UTF-8 text") from None
    if not point.writable:
        raise CommandRefused(f"{point.name}: the point is not writable")
    if point.kind == "bool":
        upper = text.upper()
        if upper in ("ON", "TRUE", "1"):
            return True
        if upper in ("OFF", "FALSE", "0"):
            return False
        raise CommandRefused(f"{point.name}: expected ON or OFF, not {text[:40]!r}")
    if point.kind == "enum":
        states = point.states or ()
        if text in states:
            return states.index(text) + 1
        raise CommandRefused(f"{point.name}: expected one of {', '.join(states)}, not {text[:40]!r}")
    try:
        value = float(text)
    except ValueError:
        raise CommandRefused(f"{point.name}: expected a number, not {text[:40]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise CommandRefused(f"{point.name}: expected a finite number, not {text[:40]!r}")
    return value
