"""Modbus device profiles: each problem of a profile file at its line and column, the shipped
examples valid, and a site's equipment expanded from its device's profile."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openbms.config._yaml import parse
from openbms.drivers.modbus.profiles import SHIPPED, expand_site, load_profile
from openbms.drivers.modbus.settings import read_devices, settings_problems
from openbms.model.site import SiteConfig

BAD = """\
name: bad
order: XYZW
colour: red
points:
  - {name: a, table: input, address: 0, type: float32}
  - {name: b, table: input, address: 1, type: uint16}
  - {name: c, table: holding, address: 0, type: int16, count: 3}
  - {name: d, table: holding, address: 5, type: float33}
  - {name: e, table: holding, address: 6, order: QQ, type: float32}
  - {name: f, table: input, address: 9, writable: true}
  - {name: g, table: holding, address: 20, kind: enum}
  - {name: h, table: holding, address: 30, bit: 2, kind: bool}
  - {name: i, table: holding, address: 30, bit: 2, kind: bool}
  - {name: i, table: tank, address: 40, wat: 1}
  - {name: status, table: holding, address: 30}
  - {name: j, table: coil, address: 0, type: float32}
"""


def test_every_problem_of_a_profile_is_reported_at_its_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    profile, issues = load_profile(path, parse)
    assert profile is None
    found = [(i.file, i.line, i.column, i.message) for i in issues]
    f = str(path)
    assert found == [
        (f, 2, 8, "order: 'XYZW'; expected one of ABCD, CDAB, BADC, DCBA"),
        (f, 3, 1, "unknown key colour; expected one of name, description, order, gap, "
                  "max_registers, max_bits, delay, points"),
        (f, 6, 38, "point 'b': overlaps point 'a' at input 1; expected registers used by one "
                   "point each (bits of a register may be points of their own)"),
        (f, 7, 63, "point 'c': count= is the length of a string; an int16 takes 1 register"),
        (f, 8, 49, "point 'd': type='float33'; expected one of bool, int16, uint16, int32, "
                   "uint32, int64, uint64, float32, float64, string"),
        (f, 9, 50, "point 'e': order='QQ'; expected one of ABCD, CDAB, BADC, DCBA"),
        (f, 10, 51, "point 'f': input is read-only; expected writable points on coil or holding"),
        (f, 11, 5, "point 'g': an enum point needs 'states', the list of its state labels"),
        (f, 13, 40, "point 'i': overlaps point 'h' at bit 2 of holding 30; expected registers "
                    "used by one point each (bits of a register may be points of their own)"),
        (f, 14, 12, "point 'i' is already points[8]: expected each name once"),
        (f, 14, 22, "point 'i': unknown table 'tank'; expected modbus://DEVICE/TABLE/ADDRESS "
                    "with TABLE one of coil, discrete, input, holding"),
        (f, 14, 41, "point 'i': unknown key wat; expected name, table, address, type, order, "
                    "scale, offset, bit, count, kind, unit, display_name, precision, description, "
                    "tags, brick, states, writable, limits, relinquish_default, command, poll, "
                    "history"),
        (f, 16, 46, "point 'j': a coil holds one bit: type must be bool, not float32"),
    ]


@pytest.mark.parametrize("name", ["energy-meter", "vfd", "heat-pump"])
def test_the_shipped_profiles_are_valid(name):
    profile, issues = load_profile(SHIPPED / f"{name}.yaml", parse)
    assert issues == []
    assert profile is not None and profile.name == name and len(profile.points) >= 10


def test_a_profile_that_is_not_yaml_or_empty_is_a_problem_at_its_place(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\npoints: [\n")
    assert load_profile(broken, parse)[1][0].line >= 2
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert [i.message for i in load_profile(empty, parse)[1]] == [
        "the profile is empty: expected name, description, order and points",
        "a profile is a mapping: expected name, description, order and points"]


SITE = {
    "site": {"id": "hq"},
    "drivers": {"modbus": {"gap": 2, "devices": {
        "vfd-1": {"host": "10.0.0.5", "unit": 1, "profile": "vfd", "max_registers": 20},
        "vfd-2": {"host": "10.0.0.5", "unit": 2, "profile": "vfd"},
        "plain": {"host": "10.0.0.6"}}}},
    "equipment": [
        {"id": "fan-1", "type": "fan", "profile": "modbus://vfd-1"},
        {"id": "fan-2", "type": "fan", "profile": "modbus://vfd-2",
         "points": [{"name": "extra", "binding": "modbus://vfd-2/holding/99"}]},
    ],
}


def test_a_site_s_equipment_takes_its_device_s_profile_points():
    data, problems, issues = expand_site(SITE, None, parse)
    assert (problems, issues) == ([], [])
    site = SiteConfig.model_validate(data)
    points = {pid: p for pid, _e, p in site.points()}
    assert points["hq/fan-1/speed-sp"].binding == "modbus://vfd-1/holding/1?scale=0.01"
    assert points["hq/fan-1/speed-sp"].limits is not None
    assert points["hq/fan-1/speed-sp"].limits.max == 100
    assert points["hq/fan-2/fault"].binding == "modbus://vfd-2/input/0?bit=3"
    assert points["hq/fan-2/run-hours"].binding == "modbus://vfd-2/input/10?type=uint32&order=ABCD"
    assert "hq/fan-2/extra" in points and len(points) == 14 + 15
    devices = read_devices(data["drivers"]["modbus"])
    # The device's own setting wins over its profile's (40), the site's default over nothing.
    assert (devices["vfd-1"].max_registers, devices["vfd-2"].max_registers) == (20, 40)
    assert devices["vfd-1"].gap == devices["plain"].gap == 2
    assert devices["plain"].max_registers == 125
    assert SITE["equipment"][0]["profile"] == "modbus://vfd-1"  # the input is left as it was


def test_a_profile_reference_that_does_not_resolve_is_a_problem_at_its_key(tmp_path):
    site = {
        "site": {"id": "hq"},
        "drivers": {"modbus": {"devices": {"m1": {"host": "h", "profile": "no-such"},
                                           "m2": {"host": "h"}}}},
        "equipment": [{"id": "a", "profile": "modbus://m9"}, {"id": "b", "profile": "modbus://m2"},
                      {"id": "c", "profile": "bacnet://1"}, {"id": "d", "profile": "modbus://m1"}],
    }
    _data, problems, issues = expand_site(site, tmp_path / "site.yaml", parse)
    assert issues == []
    assert [loc for loc, _ in problems] == [
        ("drivers", "modbus", "devices", "m1", "profile"), ("equipment", 0, "profile"),
        ("equipment", 1, "profile"), ("equipment", 2, "profile")]
    assert "no profile 'no-such'; expected profiles/no-such.yaml beside the site file, or a " \
           "shipped one (energy-meter, heat-pump, vfd)" in problems[0][1]
    assert "no Modbus device 'm9'" in problems[1][1]
    assert "the device has no profile" in problems[2][1]
    assert "expected modbus://DEVICE" in problems[3][1]


def test_a_profile_beside_the_site_file_wins_and_its_problems_are_in_its_file(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "vfd.yaml").write_text(
        "name: vfd\npoints:\n  - {name: speed, table: input, address: 0, type: int16}\n"
        "  - {name: speed2, table: input, address: 0}\n")
    _data, problems, issues = expand_site(SITE, tmp_path / "site.yaml", parse)
    assert problems == []
    assert [(i.file, i.line, i.column) for i in issues] == [
        (str(tmp_path / "profiles" / "vfd.yaml"), 4, 43)]


def test_a_device_s_profile_setting_is_checked_as_text():
    assert settings_problems({"devices": {"m": {"host": "h", "profile": 3}}}) == [
        (("devices", "m", "profile"), "drivers: modbus: devices: m: profile: 3; expected text")]
    assert read_devices({"devices": {"m": {"host": "h", "profile": "vfd"}}})["m"].profile == "vfd"


def test_an_equipment_s_points_that_are_not_a_list_are_left_for_the_schema_to_refuse():
    site = {**SITE, "equipment": [{"id": "fan-1", "profile": "modbus://vfd-1", "points": "x"}]}
    data, problems, issues = expand_site(site, None, parse)
    assert (problems, issues) == ([], [])
    assert data["equipment"][0]["points"] == "x"
    with pytest.raises(ValidationError, match="points"):
        SiteConfig.model_validate(data)
