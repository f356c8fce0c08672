"""The site file's tariffs: and energy: sections: loaded into the model, problems at file:line:column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from openbms.config import check_path, load_site

GOOD = """\
site: {id: hq, timezone: Europe/London, area_m2: 2400}
calendars:
  - {id: bank, entries: [12-25, 12-26]}
equipment:
  - id: main
    type: meter
    tags: [siteMeter]
    points:
      - {name: energy, unit: kWh, tags: [elec]}
  - id: chiller
    type: chiller
    points:
      - {name: energy, unit: kWh, tags: [elec]}
energy:
  week_start: Sunday
  counters:
    - point: main/energy
      rollover: 1000000
      replacements:
        - {at: "2026-03-02T10:30:00Z", old_final: 52004, new_initial: 2}
  virtual_meters:
    - {id: rest, name: Building less chillers, add: [main/energy], subtract: [hq/chiller/energy]}
tariffs:
  - id: elec
    currency: GBP
    meters: [main/energy, rest]
    holidays: [bank]
    energy:
      - {name: day, rate: 0.30, days: [weekday], from: "07:00", to: 23:00}
      - {name: rest, rate: 0.12}
    demand:
      - {rate: 9.5, window: 30, from: "07:00", to: "19:00"}
    fixed:
      - {amount: 0.45, per: day}
"""


def test_a_site_files_tariffs_and_energy_settings_load(tmp_path: Path):
    path = tmp_path / "hq.yaml"
    path.write_text(GOOD)
    assert check_path(path) == []
    config = load_site(path)
    (t,) = config.tariffs
    assert t.energy[0].bounds() == (7 * 60, 23 * 60)  # "07:00" and the unquoted 23:00 (YAML reads minutes)
    assert t.holidays == ("bank",) and t.demand[0].window == 30
    assert config.energy.week_start == "sunday"
    (counter,) = config.energy.counters
    assert counter.rollover == 1_000_000
    assert counter.replacements[0].at == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert config.energy.virtual_meters[0].subtract == ("hq/chiller/energy",)


def problems(tmp_path: Path, text: str) -> dict[tuple[int, int], str]:
    path = tmp_path / "hq.yaml"
    path.write_text(text)
    return {(i.line, i.column): i.message for i in check_path(path)}


def test_references_to_unknown_points_meters_and_calendars_are_reported_at_their_place(tmp_path: Path):
    found = problems(tmp_path, GOOD.replace("point: main/energy", "point: main/nope")
                     .replace("subtract: [hq/chiller/energy]", "subtract: [boiler/energy]")
                     .replace("holidays: [bank]", "holidays: [xmas]"))
    assert found == {
        (17, 14): "no point 'main/nope' in this site: expected equipment/point of one of its meters",
        (22, 79): "no point 'boiler/energy' in this site: expected equipment/point of one of its meters",
        (27, 16): "no calendar 'xmas' in this site: expected one of bank",
    }
    found = problems(tmp_path, GOOD.replace("meters: [main/energy, rest]", "meters: [main/energy, other]"))
    assert found == {(26, 27): "no meter 'other' in this site: expected equipment/point of a meter, or "
                               "the id of a virtual meter (energy: virtual_meters:)"}


def test_a_naive_replacement_time_and_a_window_of_20_minutes_are_refused(tmp_path: Path):
    found = problems(tmp_path, GOOD.replace('"2026-03-02T10:30:00Z"', '"2026-03-02T10:30:00"')
                     .replace("window: 30", "window: 20"))
    assert found[(20, 16)].startswith("2026-03-02T10:30:00 has no offset: give one")
    assert found[(32, 29)] == "20 is not allowed for 'window' (expected '15' or '30')"


def test_a_time_of_day_that_is_none_is_reported(tmp_path: Path):
    path = tmp_path / "hq.yaml"
    path.write_text(GOOD.replace('from: "07:00", to: 23:00', 'from: "7 am", to: 25:00'))
    messages = [(i.line, i.message) for i in check_path(path)]
    expected = 'expected HH:MM from 00:00 to 24:00, such as "07:00"'
    assert (29, f"'7 am' is not a time of day: {expected}") in messages
    assert (29, f"25:00 is not a time of day: {expected}") in messages


def test_a_point_that_is_no_meter_is_refused_where_a_meter_is_named(tmp_path: Path):
    # The chiller's point becomes a temperature: no meter to subtract, count or price.
    text = GOOD.replace("      - {name: energy, unit: kWh, tags: [elec]}\nenergy:",
                        "      - {name: energy, unit: degC}\nenergy:")
    text = text.replace("point: main/energy", "point: chiller/energy").replace(
        "meters: [main/energy, rest]", "meters: [chiller/energy, rest]")
    found = problems(tmp_path, text)
    assert found[(17, 14)] == "chiller/energy is not a register (a number in kWh, Wh or MWh)"
    meter = ("a meter: a number in kWh, Wh or MWh, or in kW, W or MW tagged elec, gas, meter or energy")
    assert found[(22, 79)] == f"hq/chiller/energy is not {meter}"
    assert len(found) == 2  # the tariff's meters are checked once the virtual meters are right
    found = problems(tmp_path, text.replace("subtract: [hq/chiller/energy]", "subtract: []")
                     .replace("point: chiller/energy", "point: main/energy"))
    assert found == {(26, 14): f"chiller/energy is not {meter}"}
