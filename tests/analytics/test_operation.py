"""What the building is doing, from tags and current values (issue 14, item 3)."""

from __future__ import annotations

import yaml

from openbms.analytics.operation import site_operation
from openbms.model.command import Command, CommandSource
from openbms.model.sample import OFFLINE, OK, Sample
from openbms.model.site import SiteConfig

SITE = """\
site: {id: s, timezone: UTC}
drivers:
  sim: {poll_interval: 1}
equipment:
  - id: ahu
    type: ahu
    points:
      - {name: fan-cmd, kind: bool, writable: true, relinquish_default: false, tags: [fan, run, cmd],
         binding: "sim://ahu/fan-cmd"}
      - {name: fan-status, kind: bool, tags: [fan, run, sensor], binding: "sim://ahu/fan-status"}
      - {name: sat, unit: degC, tags: [discharge, air, temp, sensor], binding: "sim://ahu/sat"}
      - {name: htg-valve, unit: "%", tags: [heat, valve, sensor], binding: "sim://ahu/htg"}
      - {name: clg-valve, unit: "%", tags: [cool, valve, sensor], binding: "sim://ahu/clg"}
  - id: vav
    type: vav
    points:
      - {name: zone-temp, unit: degC, tags: [zone, air, temp, sensor], binding: "sim://vav/t"}
      - {name: occ-mode, kind: bool, writable: true, relinquish_default: true, tags: [occupied, cmd],
         binding: "sim://vav/occ"}
      - {name: occ-sensor, kind: bool, tags: [occupied, sensor], binding: "sim://vav/occs"}
      - {name: eff-htg-sp, unit: degC, tags: [zone, air, temp, heating, effective, sp], binding: "sim://vav/eh"}
      - {name: eff-clg-sp, unit: degC, tags: [zone, air, temp, cooling, effective, sp], binding: "sim://vav/ec"}
      - {name: unocc-htg-sp, unit: degC, tags: [zone, air, temp, heating, unocc, sp], binding: "sim://vav/uh"}
  - id: boilers
    type: boiler
    tags: [hot, water, plant]
    points:
      - {name: blr-status, kind: bool, tags: [run, sensor], binding: "sim://b/s"}
      - {name: hwst, unit: degC, tags: [hot, water, leaving, temp, sensor], binding: "sim://b/t"}
  - id: meter
    type: meter
    points:
      - {name: kw, unit: kW, tags: [elec, power, sensor], binding: "sim://m/kw"}
"""


CFG = SiteConfig.model_validate(yaml.safe_load(SITE))


def _run(values: dict[str, object], slots: dict[str, list[Command | None]] | None = None,
         offline: tuple[str, ...] = ()):
    samples = {f"s/{k}": Sample(f"s/{k}", 1.0, v, OFFLINE if k in offline else OK) for k, v in values.items()}
    held = slots or {}
    return {op.id: op for op in site_operation(CFG, samples.get, lambda p: held.get(p, [None] * 16))}


def _slot(point: str, value: object, priority: int, source: CommandSource, by: str) -> Command:
    return Command(id=f"c{priority}", point=point, value=value, priority=priority, source=source,
                   requested_by=by)


def test_modes_come_from_tags_occupancy_from_the_mode_command_before_the_sensor():
    ops = _run({"ahu/fan-status": True, "ahu/htg-valve": 40.0, "ahu/clg-valve": 0.0,
                "vav/occ-mode": True, "vav/occ-sensor": False, "boilers/blr-status": True, "meter/kw": 3.0})
    assert (ops["ahu"].running, ops["ahu"].conditioning, ops["ahu"].occupancy) == (True, "heating", None)
    assert ops["vav"].occupancy == "occupied"  # the mode it runs in, though nobody is seen
    # A hot-water plant that runs heats.
    assert (ops["boilers"].running, ops["boilers"].conditioning) == (True, "heating")
    assert (ops["meter"].running, ops["meter"].conditioning, ops["meter"].occupancy) == (None, None, None)
    assert _run({"ahu/htg-valve": 2.0, "ahu/clg-valve": 60.0})["ahu"].conditioning == "cooling"
    assert _run({"ahu/htg-valve": 20.0, "ahu/clg-valve": 60.0})["ahu"].conditioning == "heating and cooling"
    assert _run({"ahu/htg-valve": 0.0, "ahu/clg-valve": 1.0})["ahu"].conditioning == "idle"
    assert _run({"boilers/blr-status": False})["boilers"].conditioning == "idle"
    # Without the command's value, the sensor tells; an offline value tells nothing.
    assert _run({"vav/occ-sensor": False})["vav"].occupancy == "unoccupied"
    assert _run({"vav/occ-sensor": True}, offline=("vav/occ-sensor",))["vav"].occupancy is None
    assert _run({"ahu/htg-valve": 40.0}, offline=("ahu/htg-valve",))["ahu"].conditioning is None


def test_key_values_follow_the_table_of_roles():
    ops = _run({})
    assert [(k.label, k.point) for k in ops["ahu"].key_values] == [("supply air", "s/ahu/sat")]
    assert [k.label for k in ops["vav"].key_values] == ["zone temperature"]
    # A VAV box's discharge air is not the building's supply air.
    box = CFG.model_copy(update={"equipment": (CFG.equipment[0].model_copy(update={"type": "vav"}),)})
    (op,) = site_operation(box, lambda p: None, lambda p: [None] * 16)
    assert [(k.label, k.point) for k in op.key_values] == [("discharge air", "s/ahu/sat")]
    assert [k.label for k in ops["boilers"].key_values] == ["hot water"]
    assert [k.point for k in ops["meter"].key_values] == ["s/meter/kw"]


def test_a_zone_is_outside_its_band_only_past_the_tolerance():
    def comfort(t: float, **extra: object):
        values = {"vav/zone-temp": t, "vav/eff-htg-sp": 21.0, "vav/eff-clg-sp": 24.0, **extra}
        return _run(values)["vav"].comfort

    assert comfort(20.5).state == "within"  # being heated to its setpoint
    below = comfort(11.6)
    assert (below.state, below.low, below.high) == ("below", 21.0, 24.0)
    assert (below.point, below.value) == ("s/vav/zone-temp", 11.6)
    assert comfort(25.5).state == "above"
    # Without the effective setpoints, the unoccupied one (the zone is unoccupied).
    c = _run({"vav/zone-temp": 12.0, "vav/occ-mode": False, "vav/unocc-htg-sp": 15.0})["vav"].comfort
    assert (c.state, c.low, c.high) == ("below", 15.0, None)
    assert _run({"vav/zone-temp": 12.0})["vav"].comfort is None  # no band known
    lost = _run({"vav/zone-temp": 12.0, "vav/eff-htg-sp": 21.0}, offline=("vav/zone-temp",))
    assert lost["vav"].comfort is None


def test_a_value_that_is_not_finite_tells_nothing():
    # A device may say ok with a NaN: no comfort verdict on it, and nothing JSON cannot carry.
    assert _run({"vav/zone-temp": float("nan"), "vav/eff-htg-sp": 21.0})["vav"].comfort is None
    c = _run({"vav/zone-temp": 12.0, "vav/eff-htg-sp": float("inf"), "vav/eff-clg-sp": 24.0})["vav"].comfort
    assert c is not None and c.low is None and c.high == 24.0


def test_equipment_off_while_a_schedule_holds_it_on_names_what_wins():
    on = _slot("s/ahu/fan-cmd", True, 12, CommandSource.SCHEDULE, "schedule:occupancy")
    off = _slot("s/ahu/fan-cmd", False, 8, CommandSource.OPERATOR, "ann")
    slots = [None] * 16
    slots[11] = on
    ops = _run({"ahu/fan-status": False}, {"s/ahu/fan-cmd": slots})
    (miss,) = ops["ahu"].scheduled_on_but_off
    assert (miss.point, miss.schedule, miss.priority, miss.winning_priority, miss.winning_source) == (
        "s/ahu/fan-cmd", "schedule:occupancy", 12, 12, "schedule")
    held = list(slots)
    held[7] = off
    (miss,) = _run({"ahu/fan-status": False}, {"s/ahu/fan-cmd": held})["ahu"].scheduled_on_but_off
    assert (miss.winning_priority, miss.winning_source) == (8, "operator")  # an override keeps it off
    assert _run({"ahu/fan-status": True}, {"s/ahu/fan-cmd": slots})["ahu"].scheduled_on_but_off == ()
    assert _run({}, {"s/ahu/fan-cmd": slots})["ahu"].scheduled_on_but_off == ()  # running unknown
    slots[11] = _slot("s/ahu/fan-cmd", False, 12, CommandSource.SCHEDULE, "schedule:occupancy")
    assert _run({"ahu/fan-status": False}, {"s/ahu/fan-cmd": slots})["ahu"].scheduled_on_but_off == ()
