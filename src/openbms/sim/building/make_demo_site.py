"""Regenerate the demo site (``examples/demo/site.yaml``) by BACnet discovery of the emulated building.

``python -m openbms.sim.building.make_demo_site`` serves the demo building on
a free loopback port, discovers it with ``openbms.drivers.bacnet.discovery``
(Who-Is, object lists, names, units, values) and writes the site document
that ``openbms bacnet discover`` would, then applies the edits below, which
are the part a person would do by hand after a discovery:

- the site: id, name, time zone, area, location; spaces (floors and zones);
- the driver settings: the devices' static addresses at ``openbms sim
  serve``'s defaults (``127.0.20.x:47808``), so no broadcast is needed;
- equipment types, names, spaces and what each feeds;
- point names where two objects of one device guess the same name (both
  keep their object name, slugged: ``DSP``/``DSP-SP`` → ``dsp``/``dsp-sp``),
  and tags or Brick classes the name rules cannot know (``POINT_EDITS``);
- display names where the one derived from the point's name would mislead
  (``DISPLAY_NAMES``: the AHU's ``kw`` is its supply fan's);
- write limits (``LIMITS``), relinquish defaults (the value each commandable
  object had when discovered: the emulator's defaults), history deadbands by
  unit (``HISTORY``);
- the emulator's MQTT sensors (``mqtt_sensors``): an indoor-air-quality sensor
  per zone (``iaq-c1`` …) with its CO2 (JSON) and people counter (plain
  number), and the ``mqtt`` driver's settings: the demo's broker, disabled
  until ``openbms demo`` starts one (it enables it in the copy it makes);
- the emulator's Modbus devices (``modbus_devices``: the electricity and gas
  meters and the supply fan's drive, one server with three unit ids, through
  the shipped ``energy-meter`` and ``vfd`` profiles) and its REST thermostats
  (``rest_thermostats``: three zones' thermostats behind the emulated vendor
  cloud, OAuth2 with the secrets in environment variables), each driver
  disabled until ``openbms demo`` serves them (it enables them in its copy).

Everything after the ``HAND_WRITTEN`` marker line of an existing file
(programs, calendars, schedules, alarms) is kept as it is.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from openbms.sim.bacnet import DEVICE_PORT
from openbms.sim.building.live import LONDON, demo_emulator
from openbms.sim.building.modbus import MODBUS_UNITS
from openbms.sim.building.mqtt import sensor_topics
from openbms.sim.building.rest import CLIENT_ID, CLIENT_SECRET_ENV, THERMOSTAT_ZONES, WEBHOOK_SECRET_ENV

__all__ = ["HAND_WRITTEN", "build_document", "main", "render"]

#: Site files written with this line keep everything after it when regenerated.
HAND_WRITTEN = "# --- Hand-written below this line: what runs on the site -----------------------"

SITE: dict[str, Any] = {"id": "demo", "name": "Demo office (emulated building)", "timezone": "Europe/London",
        "area_m2": 4980, "latitude": LONDON.latitude, "longitude": LONDON.longitude}
SUBNET = "127.0.20"
CLIENT_ADDRESS = "127.0.0.1/8:47809"
FACADES = {"c": "core", "n": "north perimeter", "e": "east perimeter", "s": "south perimeter",
           "w": "west perimeter"}


@dataclass(frozen=True, slots=True)
class PointEdit:
    """Tags and a Brick class (and optionally a name) for objects whose name matches ``pattern``."""

    pattern: str
    tags: tuple[str, ...]
    brick: str | None = None
    name: str | None = None


POINT_EDITS: tuple[PointEdit, ...] = (
    PointEdit(r"^SF-C$", ("discharge", "fan", "run", "enable", "cmd"), "Start_Stop_Command"),
    PointEdit(r"^SF-S$", ("discharge", "fan", "run", "sensor"), "Fan_Status"),
    PointEdit(r"^SF-SPD$", ("discharge", "fan", "speed", "sensor"), "Frequency_Sensor"),
    PointEdit(r"^DSP-SP$", ("discharge", "air", "pressure", "sp"), "Supply_Air_Static_Pressure_Setpoint"),
    PointEdit(r"^RA-RH$", ("return", "air", "humidity", "sensor"), "Return_Air_Humidity_Sensor"),
    PointEdit(r"^OA-RH$", ("outside", "air", "humidity", "sensor"), "Outside_Air_Humidity_Sensor"),
    PointEdit(r"^ZN-RH$", ("zone", "air", "humidity", "sensor"), "Zone_Air_Humidity_Sensor", "zone-rh"),
    PointEdit(r"^OA-DMPR$", ("outside", "air", "damper", "sensor"), "Damper_Position_Sensor", "oa-damper"),
    PointEdit(r"^OA-MIN$", ("outside", "air", "damper", "min", "sp"), "Min_Position_Setpoint"),
    PointEdit(r"^ECON-ENABLE$", ("economizer", "enable", "cmd"), "Enable_Command"),
    PointEdit(r"^SA-FLOW$", ("discharge", "air", "flow", "sensor"), "Supply_Air_Flow_Sensor"),
    PointEdit(r"^OA-FLOW$", ("outside", "air", "flow", "sensor"), "Outside_Air_Flow_Sensor"),
    PointEdit(r"^CLG-VALVE$", ("cool", "valve", "sensor"), "Chilled_Water_Valve"),
    PointEdit(r"^(HTG-VALVE|REHEAT-VLV)$", ("heat", "valve", "sensor"), "Hot_Water_Valve"),
    # The coil a load belongs to (its graphic draws it on that coil).
    PointEdit(r"^CLG-LOAD$", ("thermal", "power", "sensor", "cool"), "Thermal_Power_Sensor"),
    PointEdit(r"^HTG-LOAD$", ("thermal", "power", "sensor", "heat"), "Thermal_Power_Sensor"),
    PointEdit(r"-LOAD$", ("thermal", "power", "sensor"), "Thermal_Power_Sensor"),
    PointEdit(r"^AIRFLOW$", ("discharge", "air", "flow", "sensor"), "Supply_Air_Flow_Sensor"),
    PointEdit(r"^AIRFLOW-SP$", ("discharge", "air", "flow", "sp"), "Supply_Air_Flow_Setpoint"),
    PointEdit(r"^DMPR-POS$", ("damper", "sensor"), "Damper_Position_Sensor"),
    PointEdit(r"^DA-T$", ("discharge", "air", "temp", "sensor"), "Discharge_Air_Temperature_Sensor", "dat"),
    PointEdit(r"^OCC-SENSOR$", ("occupied", "sensor"), "Occupancy_Sensor"),
    PointEdit(r"^OCC-MODE$", ("occupied", "cmd"), "Occupancy_Command"),
    PointEdit(r"^OCC-HTG-SP$", ("zone", "air", "temp", "heating", "occ", "sp"),
              "Occupied_Air_Temperature_Heating_Setpoint"),
    PointEdit(r"^OCC-CLG-SP$", ("zone", "air", "temp", "cooling", "occ", "sp"),
              "Occupied_Air_Temperature_Cooling_Setpoint"),
    PointEdit(r"^UNOCC-HTG-SP$", ("zone", "air", "temp", "heating", "unocc", "sp"),
              "Unoccupied_Air_Temperature_Heating_Setpoint"),
    PointEdit(r"^UNOCC-CLG-SP$", ("zone", "air", "temp", "cooling", "unocc", "sp"),
              "Unoccupied_Air_Temperature_Cooling_Setpoint"),
    PointEdit(r"^EFF-HTG-SP$", ("zone", "air", "temp", "heating", "effective", "sp"),
              "Effective_Air_Temperature_Heating_Setpoint"),
    PointEdit(r"^EFF-CLG-SP$", ("zone", "air", "temp", "cooling", "effective", "sp"),
              "Effective_Air_Temperature_Cooling_Setpoint"),
    PointEdit(r"-EN$", ("enable", "cmd"), "Enable_Command"),
    PointEdit(r"-STATUS$", ("run", "sensor"), "Run_Status"),
    PointEdit(r"-ALARM$", ("alarm", "sensor"), "Alarm"),
    PointEdit(r"-CAP$", ("capacity", "sensor"), None),
    PointEdit(r"-COP$", ("efficiency", "sensor"), "Efficiency_Sensor"),
    PointEdit(r"-EFF$", ("efficiency", "sensor"), "Efficiency_Sensor"),
    PointEdit(r"^CHW-SP$", ("chilled", "water", "leaving", "temp", "sp"),
              "Chilled_Water_Supply_Temperature_Setpoint"),
    PointEdit(r"^HW-SP$", ("hot", "water", "leaving", "temp", "sp"), "Hot_Water_Supply_Temperature_Setpoint"),
    PointEdit(r"^HWR-T$", ("hot", "water", "entering", "temp", "sensor"),
              "Hot_Water_Return_Temperature_Sensor"),
    PointEdit(r"^(GAS-KW|BLR-\d+-GAS-KW)$", ("gas", "power", "sensor"), "Power_Sensor"),
    PointEdit(r"^GAS-KWH$", ("gas", "energy", "sensor"), "Energy_Sensor"),
)

#: Display names by point name, where the one spelled out from the name would mislead or say too little.
DISPLAY_NAMES: dict[str, str] = {
    "kw": "Supply fan power",
    "fan-cmd": "Supply fan command",
    "fan-status": "Supply fan status",
    "fan-speed": "Supply fan speed",
    "oa-min": "Minimum outdoor air damper",
    "damper": "Damper position",
    "occ-mode": "Occupied mode",
    "plug-kw": "Plug load power",
}

#: Write limits by object name (regular expressions, first match).
LIMITS: tuple[tuple[str, dict[str, float]], ...] = (
    (r"^SF-C$", {"min_on": 300, "min_off": 300}),
    (r"^SA-T-SP$", {"min": 10, "max": 20, "min_interval": 60}),
    (r"^DSP-SP$", {"min": 50, "max": 500, "min_interval": 60}),
    (r"^OA-MIN$", {"min": 0, "max": 100}),
    (r"^OCC-HTG-SP$", {"min": 15, "max": 24}),
    (r"^OCC-CLG-SP$", {"min": 21, "max": 30}),
    (r"^UNOCC-HTG-SP$", {"min": 10, "max": 20}),
    (r"^UNOCC-CLG-SP$", {"min": 24, "max": 35}),
    (r"^CH-\d+-EN$", {"min_on": 900, "min_off": 600}),
    (r"^BLR-\d+-EN$", {"min_on": 300, "min_off": 300}),
    (r"^(CHWP|HWP)-\d+-EN$", {"min_on": 120, "min_off": 120}),
    (r"^CHW-SP$", {"min": 5, "max": 12, "min_interval": 60}),
    (r"^HW-SP$", {"min": 40, "max": 85, "min_interval": 60}),
)

#: History deadband by unit (with a 15-minute heartbeat); bool points keep every change.
HISTORY: dict[str, float] = {"degC": 0.1, "%": 1.0, "%RH": 1.0, "Pa": 2.0, "L/s": 5.0, "kW": 0.5,
                             "kWh": 1.0, "ppm": 20.0}

#: The demo's MQTT broker: ``openbms demo`` starts Mosquitto on this loopback port (another, and
#: writes it here, when this one is taken). Not 1883: a broker of the machine's own may run there.
MQTT_PORT = 18830
#: Seconds without a message before an MQTT sensor is stale (offline after three times that): the
#: sensors publish every simulated minute, every 6 simulated minutes at the demo's fastest (×3600).
MQTT_EXPECT = 600


def mqtt_sensors() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``mqtt`` driver's settings and one air-quality sensor equipment per zone."""
    from openbms.sim.building import Building

    settings: dict[str, Any] = {
        "enabled": False, "host": "127.0.0.1", "port": MQTT_PORT,
        "decoders": [{"match": "sensors/+/co2", "payload": "json", "field": "co2", "time": "ts"}]}
    equipment = []
    for zone in Building().layout.ids:
        co2, occupancy = sensor_topics(zone)
        label = zone.upper()
        equipment.append({
            "id": f"iaq-{zone}", "type": "sensor",
            # On its floor, not in its zone: a zone's floor plan links the one equipment serving it.
            "name": f"Indoor air quality sensor, zone {label} (MQTT)", "space": f"floor-{zone[1:]}",
            "points": [
                {"name": "co2", "display_name": "CO2", "unit": "ppm",
                 "description": f"Zone {label} CO2 (JSON on {co2})", "tags": ["zone", "air", "co2", "sensor"],
                 "brick": "CO2_Level_Sensor", "binding": f"mqtt://{co2}?expect={MQTT_EXPECT}",
                 "history": {"deadband": HISTORY["ppm"], "max_interval": 900}},
                {"name": "occupancy", "display_name": "Occupants", "unit": "count",
                 "description": f"Zone {label} people counter (plain number on {occupancy})",
                 "tags": ["zone", "occupants", "sensor"], "brick": "Occupancy_Count_Sensor",
                 "binding": f"mqtt://{occupancy}?expect={MQTT_EXPECT}"},
            ]})
    return settings, equipment


#: The emulator's Modbus TCP server (its meters and the fan's drive, three unit ids) and its vendor
#: cloud of REST thermostats: ``openbms demo`` serves them on these loopback ports (others, written
#: here, when these are taken).
MODBUS_PORT = 15020
THERMOSTATS_PORT = 18081
#: The Modbus devices' equipment: id → (type, name, tags). A meter is the BACnet meter read again over
#: Modbus: a sub-meter of it (``submeterOf:``), so the site's energy is not counted twice.
MODBUS_EQUIPMENT: dict[str, tuple[str, str, list[str]]] = {
    "elec-meter": ("meter", "Electricity meter (Modbus TCP, unit 1)",
                   ["elec", "meter", "submeterOf:meters/elec-kwh"]),
    "gas-meter": ("meter", "Gas meter (Modbus TCP, unit 2)",
                  ["gas", "meter", "submeterOf:meters/gas-kwh"]),
    "sf-vfd": ("fan", "AHU-1 supply fan drive (Modbus TCP, unit 3)", ["discharge", "fan", "vfd"]),
}


def modbus_devices() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``modbus`` driver's settings and one equipment per device of the emulator's Modbus face."""
    devices = {name: {"host": "127.0.0.1", "port": MODBUS_PORT, "unit": unit, "profile": profile}
               for unit, (name, profile) in MODBUS_UNITS.items()}
    # Polled every building minute: once a real second at the demo's x60.
    settings: dict[str, Any] = {"enabled": False, "poll_interval": 60, "timeout": 2, "devices": devices}
    equipment = [{"id": name, "type": MODBUS_EQUIPMENT[name][0], "name": MODBUS_EQUIPMENT[name][1],
                  "space": "building", "tags": MODBUS_EQUIPMENT[name][2], "profile": f"modbus://{name}"}
                 for name in devices]
    return settings, _expanded(settings, equipment)


def _expanded(settings: dict[str, Any], equipment: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The equipment with their profiles' points written out, as the site loader's expansion gives
    them: the file then loads wherever it is read, with or without the drivers' registry (which
    registers that expansion) imported, and stays in step with the shipped profiles (the demo
    site's test compares the file with what this script writes)."""
    from openbms.config._yaml import parse
    from openbms.drivers.modbus.profiles import expand_site

    data, problems, issues = expand_site({"drivers": {"modbus": settings}, "equipment": equipment}, None,
                                         parse)
    if problems or issues:
        raise RuntimeError(f"the shipped profiles do not expand: {problems or issues}")
    return [dict(eq) for eq in data["equipment"]]


def rest_thermostats() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``rest`` driver's settings and one thermostat equipment per emulated vendor device."""
    devices = {f"tstat-{zone}": {"id": vid} for vid, zone in THERMOSTAT_ZONES.items()}
    settings: dict[str, Any] = {
        "enabled": False, "base_url": f"http://127.0.0.1:{THERMOSTATS_PORT}", "profile": "thermostat",
        "auth": {"type": "oauth2", "token_url": "/oauth/token", "client_id": CLIENT_ID,
                 "client_secret_env": CLIENT_SECRET_ENV},
        "webhook": {"secret_env": WEBHOOK_SECRET_ENV},
        # Every 5 building minutes (5 real seconds at x60); webhooks bring changes at once.
        "rate_limit": 5, "poll_interval": 300, "timeout": 5, "devices": devices}
    equipment = []
    for vid, zone in THERMOSTAT_ZONES.items():
        device, label = f"tstat-{zone}", zone.upper()
        status = f"rest://{device}/status"
        equipment.append({
            "id": device, "type": "thermostat",
            "name": f"Thermostat {vid}, zone {label} (vendor cloud, REST)", "space": f"floor-{zone[1:]}",
            "points": [
                {"name": "temp", "display_name": "Room temperature", "unit": "degC",
                 "tags": ["air", "temp", "sensor"], "binding": f"{status}#temperature",
                 "history": {"deadband": HISTORY["degC"], "max_interval": 900}},
                {"name": "humidity", "display_name": "Room humidity", "unit": "%RH",
                 "tags": ["air", "humidity", "sensor"], "binding": f"{status}#humidity",
                 "history": {"deadband": HISTORY["%RH"], "max_interval": 900}},
                {"name": "sp", "display_name": "Thermostat setpoint", "unit": "degC",
                 "tags": ["air", "temp", "sp"], "writable": True, "limits": {"min": 16, "max": 26},
                 "binding": f"{status}#setpoint"},
                {"name": "mode", "display_name": "Thermostat mode", "kind": "enum",
                 "states": ["off", "heat", "cool", "auto"], "writable": True,
                 "binding": f"{status}?states=off,heat,cool,auto#mode"},
            ]})
    return settings, equipment


def _zone_spaces() -> list[dict[str, Any]]:
    from openbms.sim.building import Building

    layout = Building().layout
    spaces: list[dict[str, Any]] = [{"id": "building", "name": "Demo office", "kind": "building",
                                     "area_m2": SITE["area_m2"]}]
    floors = sorted({int(z[1:]) for z in layout.ids})
    for f in floors:
        area = sum(float(a) for z, a in zip(layout.ids, layout.area, strict=True) if int(z[1:]) == f)
        spaces.append({"id": f"floor-{f}", "name": f"Floor {f}", "kind": "floor", "parent": "building",
                       "area_m2": round(area, 1)})
    for z, a in zip(layout.ids, layout.area, strict=True):
        spaces.append({"id": f"zone-{z}", "name": f"Floor {z[1:]} {FACADES[z[0]]}", "kind": "zone",
                       "parent": f"floor-{z[1:]}", "area_m2": round(float(a), 1)})
    return spaces


def _edit_for(name: str) -> PointEdit | None:
    return next((e for e in POINT_EDITS if re.search(e.pattern, name)), None)


def _slug(text: str) -> str:
    from openbms.drivers.bacnet.discovery import slug

    return slug(text)


def build_document(devices: list[Any]) -> dict[str, Any]:
    """The demo site from discovered devices (``DeviceInfo`` with their objects), edited."""
    from openbms.drivers.bacnet.discovery import guess, site_document

    addresses = {d.instance: f"{d.address.split(':')[0]}:{DEVICE_PORT}" for d in devices}
    doc = site_document(SITE["id"], devices, {})
    doc["site"] = dict(SITE)
    # Subscribed devices are confirmed every building minute, not every poll interval: at the demo's
    # x60 that is once a real second per device, which keeps the emulator's own loop light.
    doc["drivers"] = {"bacnet": {"address": CLIENT_ADDRESS, "poll_interval": 10, "cov_confirm": 60,
                                 "timeout": 2, "devices": dict(sorted(addresses.items()))}}
    vavs = [eq["id"] for eq in doc["equipment"] if eq["id"].startswith("vav-")]
    for dev, eq in zip(devices, doc["equipment"], strict=True):
        objects = {f"bacnet://{dev.instance}/{o.type},{o.instance}": o for o in dev.objects}
        guessed = Counter(guess(o)[0] for o in dev.objects)
        eid = eq["id"]
        if eid == "ahu-1":
            eq.update(name="Air handling unit 1", space="building", feeds=vavs)
        elif eid.startswith("vav-"):
            eq.update(name=f"VAV box with reheat, zone {eid[4:].upper()}", space=f"zone-{eid[4:]}")
        elif eid == "chiller-plant":
            eq.update(type="plant", name="Chilled-water plant: chillers 1-2, pump 1", space="building",
                      feeds=["ahu-1"], tags=["chilled", "water", "plant"])
        elif eid == "boiler-plant":
            eq.update(type="plant", name="Hot-water plant: boilers 1-2, pump 1", space="building",
                      feeds=["ahu-1", *vavs], tags=["hot", "water", "plant"])
        elif eid == "meters":
            eq.update(name="Utility meters: electricity and gas", space="building",
                      tags=["elec", "gas", "meter", "siteMeter"])
        points = []
        for point in eq["points"]:
            obj = objects[point["binding"]]
            guess_name = guess(obj)[0]
            if guessed[guess_name] > 1:  # two objects guessed alike: both keep their own names
                point["name"] = _slug(obj.name)
            edit = _edit_for(obj.name)
            if edit is not None:
                point["tags"] = list(edit.tags)
                if edit.brick:
                    point["brick"] = edit.brick
                else:
                    point.pop("brick", None)
                if edit.name:
                    point["name"] = edit.name
            if point.get("writable"):
                limits = next((lim for pat, lim in LIMITS if re.search(pat, obj.name)), None)
                if limits:
                    point["limits"] = dict(limits)
                value = obj.value
                point["relinquish_default"] = (str(value) == "active" if point.get("kind") == "bool"
                                               else round(float(value), 3))
            if point["name"] in DISPLAY_NAMES:
                point["display_name"] = DISPLAY_NAMES[point["name"]]
            unit = point.get("unit")
            if unit in HISTORY:
                point["history"] = {"deadband": HISTORY[unit], "max_interval": 900}
            ordered = {k: point[k] for k in ("name", "display_name", "kind", "unit", "description", "tags",
                                             "brick", "writable", "limits", "relinquish_default", "binding",
                                             "history") if k in point}
            points.append(ordered)
        eq["points"] = points
    mqtt, sensors = mqtt_sensors()
    doc["drivers"]["mqtt"] = mqtt
    modbus, meters = modbus_devices()
    doc["drivers"]["modbus"] = modbus
    rest, thermostats = rest_thermostats()
    doc["drivers"]["rest"] = rest
    ordered_doc = {"site": doc["site"], "drivers": doc["drivers"], "spaces": _zone_spaces(),
                   "equipment": [{k: eq[k] for k in ("id", "type", "name", "space", "feeds", "tags", "points")
                                  if k in eq} for eq in doc["equipment"]] + sensors + meters + thermostats}
    return ordered_doc


HEADER = """\
# The demo site: the emulated office (openbms.sim.building) served over BACnet/IP on loopback.
#
# Start the building with `openbms sim serve` (devices at 127.0.20.1-25, port 47808, instance
# 2000 + host: AHU-1 2001, CHILLER-PLANT 2002, BOILER-PLANT 2003, METERS 2004, VAV boxes 2011-2025),
# then run this folder: `openbms run -d examples/demo`.
#
# The iaq-* equipment are the emulator's MQTT sensors (each zone's CO2 and people counter, on
# sensors/zone-ZONE/co2 and .../occupancy). Their driver (drivers: mqtt:) is disabled here: there
# is no broker unless `openbms demo` starts one, which it does when Mosquitto is installed, on
# 127.0.0.1:18830 (or a free port when that one is taken), enabling the driver and writing the
# port in the copy of this file it runs. See docs/mqtt.md, "In the demo".
#
# The elec-meter, gas-meter and sf-vfd equipment are the emulator's Modbus TCP devices (one
# server, unit ids 1-3, at 127.0.0.1:15020; their points are the shipped energy-meter and vfd
# profiles' (examples/profiles/), written out: a site of yours may say profile: modbus://DEVICE
# on the equipment instead, see docs/modbus.md), and the tstat-* equipment its zone thermostats
# behind an emulated vendor cloud (REST, OAuth2 client credentials, webhooks, at
# http://127.0.0.1:18081). Their drivers are disabled here too: `openbms demo` serves them,
# enables the drivers and writes the ports it took in its copy, and passes the thermostats'
# secrets in OPENBMS_DEMO_THERMOSTAT_SECRET and OPENBMS_DEMO_WEBHOOK_SECRET (kept in its data
# folder, never here). See docs/modbus.md, "The emulator's Modbus devices", and
# docs/rest-devices.md, "The emulated vendor service".
#
# How this file was produced: everything above the "Hand-written" line is written by
#   python -m openbms.sim.building.make_demo_site
# which serves the building, runs BACnet discovery against it (as `openbms bacnet discover`
# does: one equipment per device, point names and tags guessed from object names such as SA-T,
# ZN-T, CHWS-T, SF-S) and then applies the edits a person would make by hand, kept as tables in
# that script: the site, time zone and spaces; static device addresses (no broadcast needed);
# equipment types, names, spaces and feeds; names for points two objects would share; tags
# and Brick classes the name rules cannot know; write limits; relinquish defaults (the
# emulator's own defaults, as discovered); history deadbands. Do not edit that part here: change
# the script's tables and run it again. Everything below the "Hand-written" line (programs,
# calendars, schedules, alarms) is written by hand, and kept when the script runs.
"""


def render(doc: dict[str, Any], hand_written: str) -> str:
    """The site file: header, generated document, marker, hand-written tail."""
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    return f"{HEADER}\n{body}\n{HAND_WRITTEN}\n{hand_written.lstrip(chr(10))}"


async def discover(listen: float = 2.0) -> list[Any]:
    """Serve the demo building on a free loopback port and discover it."""
    import socket

    from openbms.drivers.bacnet import BACnetDriver
    from openbms.drivers.bacnet.discovery import read_objects, who_is
    from openbms.model import DriverSettings

    def free_port() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    port = free_port()
    # A fixed instant (a Monday, midnight) so the discovered values, and so the file, are reproducible.
    emulator = demo_emulator(speed=1.0, subnet=SUBNET, port=port, start=datetime(2025, 4, 7))
    async with emulator:
        driver = BACnetDriver(DriverSettings.model_validate({"address": f"127.0.0.1/8:{free_port()}"}))
        await driver.start()
        try:
            devices = await who_is(driver.app, [f"127.255.255.255:{port}"], listen=listen)
            for dev in devices:
                await read_objects(driver.app, dev)
        finally:
            await driver.stop()
    expected = len(emulator.face.devices) if emulator.face else 0
    if len(devices) != expected:
        raise RuntimeError(f"discovery found {len(devices)} of the {expected} devices")
    return devices


def main(argv: list[str] | None = None) -> None:
    """Write the demo site file (default ``src/openbms/examples/demo/site.yaml``)."""
    import argparse

    default = Path(__file__).parents[2] / "examples" / "demo" / "site.yaml"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("output", nargs="?", type=Path, default=default)
    args = parser.parse_args(argv)
    out: Path = args.output
    tail = ""
    if out.exists():
        text = out.read_text()
        if HAND_WRITTEN in text:
            tail = text.split(HAND_WRITTEN, 1)[1]
    devices = asyncio.run(discover())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(build_document(devices), tail))
    points = sum(len(d.objects) for d in devices)
    print(f"wrote {out}: {len(devices)} devices, {points} points")


if __name__ == "__main__":
    main()
