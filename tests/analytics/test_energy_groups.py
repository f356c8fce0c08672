"""What an equipment, a space and the site add up: never a sub-meter with its parent; virtual meters."""

from __future__ import annotations

import pytest

from openbms.analytics.consumption import PointMeter, Virtual, configured, groups_of
from openbms.analytics.energy import Meter, MeterSeries, meter_groups, meter_of
from openbms.model.site import SiteConfig
from tests.analytics.test_energy import steady

SITE = SiteConfig.model_validate({
    "site": {"id": "hq", "area_m2": 2000},
    "spaces": [{"id": "building", "kind": "building", "area_m2": 2000},
               {"id": "basement", "kind": "floor", "parent": "building"},
               {"id": "plant", "kind": "room", "parent": "basement", "area_m2": 40}],
    "equipment": [
        {"id": "main", "type": "meter", "space": "building", "tags": ["siteMeter"],
         "points": [{"name": "elec-kwh", "unit": "kWh", "tags": ["elec"]},
                    {"name": "gas-kwh", "unit": "kWh", "tags": ["gas"]}]},
        {"id": "chiller", "type": "chiller", "space": "plant", "tags": ["submeterOf:main"],
         "points": [{"name": "kwh", "unit": "kWh", "tags": ["elec"]}]},
        {"id": "plant-db", "type": "meter", "space": "plant", "feeds": ["pump"],
         "points": [{"name": "kwh", "unit": "kWh", "tags": ["elec"]}]},
        {"id": "pump", "type": "pump", "space": "plant",
         "points": [{"name": "kw", "unit": "kW", "tags": ["elec"]}]},
    ],
    "energy": {"counters": [{"point": "main/elec-kwh", "rollover": 1000000}],
               "virtual_meters": [{"id": "rest", "add": ["main/elec-kwh"], "subtract": ["hq/chiller/kwh"]}]},
})


def meters():
    points = [(pid, e, p, m) for pid, e, p in SITE.points() if (m := meter_of(p.kind, p.unit, p.tags))]
    return meter_groups(points)


def test_the_site_is_its_main_meters_per_commodity():
    site = {g.id: g for g in groups_of(SITE, meters(), "site")}
    assert site["hq/elec"].members == ((1.0, "hq/main/elec-kwh"),)
    assert site["hq/gas"].members == ((1.0, "hq/main/gas-kwh"),)
    assert site["hq/elec"].area_m2 == 2000


def test_a_space_adds_its_meters_and_those_of_the_spaces_inside_it_without_sub_meters_twice():
    spaces = {g.id: g for g in groups_of(SITE, meters(), "space")}
    # The building holds every meter: the main meter only (the chiller and the plant board are behind it,
    # the board though nobody said so: a main meter measures the whole site).
    assert spaces["building/elec"].members == ((1.0, "hq/main/elec-kwh"),)
    # The plant room, inside the basement: the chiller and the plant board; the pump is fed by the board.
    assert sorted(pid for _s, pid in spaces["plant/elec"].members) == ["hq/chiller/kwh", "hq/plant-db/kwh"]
    assert sorted(pid for _s, pid in spaces["basement/elec"].members) == ["hq/chiller/kwh", "hq/plant-db/kwh"]
    assert spaces["plant/elec"].area_m2 == 40 and spaces["basement/elec"].area_m2 is None


def test_equipment_and_virtual_meters():
    equipment = {g.id: g.members for g in groups_of(SITE, meters(), "equipment")}
    assert equipment["pump/elec"] == ((1.0, "hq/pump/kw"),)
    assert equipment["main/gas"] == ((1.0, "hq/main/gas-kwh"),)
    by_meter = {g.id: g for g in groups_of(SITE, meters(), "meter", SITE.energy.virtual_meters)}
    assert by_meter["rest"].kind == "virtual"
    assert by_meter["rest"].members == ((1.0, "hq/main/elec-kwh"), (-1.0, "hq/chiller/kwh"))


def test_a_virtual_meter_is_unknown_where_one_of_its_meters_is():
    main_rows, _ = steady(30, 0, 4 * 3600)
    chiller_rows, _ = steady(10, 0, 2 * 3600)
    kwh = Meter("register", 1.0)
    rest = Virtual([(1.0, PointMeter(kwh, MeterSeries(kwh, main_rows))),
                    (-1.0, PointMeter(kwh, MeterSeries(kwh, chiller_rows)))])
    assert rest.energy(3600, 7200) == pytest.approx(20)
    assert rest.energy(3 * 3600, 4 * 3600) is None  # the chiller's data ends at 02:00


def test_counters_settings_reach_the_meter():
    meter = configured(SITE, "hq/main/elec-kwh", Meter("register", 1.0))
    assert meter.rollover == 1_000_000
    assert configured(SITE, "hq/chiller/kwh", Meter("register", 1.0)).rollover is None


def test_meters_named_after_their_part_in_two_equipment_say_whose_they_are():
    """The demo's two Modbus meters each hold a `kwh` and an `export` register without a
    description: the energy page showed two cards "kwh (kwh)" and two "export (export)"."""
    site = SiteConfig.model_validate({
        "site": {"id": "hq"},
        "equipment": [
            {"id": eq, "type": "meter", "name": name, "tags": ["elec"],
             "points": [{"name": "kwh", "unit": "kWh"}, {"name": "export", "unit": "kWh"}]}
            for eq, name in (("elec-meter", "Electricity meter"), ("pv-meter", "PV meter"))]})
    points = [(pid, e, p, m) for pid, e, p in site.points() if (m := meter_of(p.kind, p.unit, p.tags))]
    names = [g.name for g in meter_groups(points)]
    assert len(set(names)) == len(names) == 4
    assert {n.split(":")[0] for n in names} == {"Electricity meter", "PV meter"}
