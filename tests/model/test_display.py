"""Display names and precision: the site file's when given, else derived from the name and the unit."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openbms.model.display import default_display_name, resolved_precision
from openbms.model.site import Point
from openbms.model.units import NUMBER_PRECISION, default_precision, unit_symbol


@pytest.mark.parametrize(("name", "expected"), [
    ("eff-clg-sp", "Effective cooling setpoint"),
    ("occ-mode", "Occupancy mode"),
    ("occ-htg-sp", "Occupied heating setpoint"),
    ("zone-temp", "Zone temperature"),
    ("sat", "Supply air temperature"),
    ("chwst", "Chilled water supply temperature"),
    ("hwp-1-status", "Hot water pump 1 status"),
    ("blr-2-eff", "Boiler 2 efficiency"),
    ("elec-kwh", "Electricity energy"),
    ("damper", "Damper"),
    ("Room_42", "Room 42"),
])
def test_a_default_display_name_spells_out_the_abbreviations(name: str, expected: str):
    assert default_display_name(name) == expected


@pytest.mark.parametrize(("unit", "expected"), [
    ("degC", 1), ("degF", 1), ("%", 0), ("%RH", 0), ("kW", 1), ("kWh", 0), ("Pa", 0), ("l/s", 0),
    ("ppm", 0), ("kPa", 1), ("°C", 1), (None, NUMBER_PRECISION), ("furlongs", NUMBER_PRECISION),
])
def test_the_default_precision_goes_by_unit(unit: str | None, expected: int):
    assert default_precision(unit) == expected


def test_unit_symbols_are_written_for_people():
    assert unit_symbol("degC") == "°C"
    assert unit_symbol("deg C") == "°C"
    assert unit_symbol("m3/h") == "m³/h"
    assert unit_symbol("kW") == "kW"
    assert unit_symbol("furlongs") == "furlongs"
    assert unit_symbol(None) == ""


def test_a_point_s_own_display_name_and_precision_win():
    point = Point(name="eff-clg-sp", unit="degC", display_name="Cooling setpoint in force", precision=2)
    assert point.label == "Cooling setpoint in force"
    assert point.decimals == 2


def test_without_them_the_point_derives_both():
    assert Point(name="eff-clg-sp", unit="degC").label == "Effective cooling setpoint"
    assert Point(name="eff-clg-sp", unit="degC").decimals == 1
    assert Point(name="count", unit=None).decimals == NUMBER_PRECISION
    assert Point(name="fan", kind="bool").decimals == 0
    assert resolved_precision(None, "enum", "degC") == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("precision", 7, "less than or equal to 6"),
    ("precision", -1, "greater than or equal to 0"),
    ("display_name", "", "at least 1 character"),
    ("display_name", "x" * 81, "at most 80 characters"),
])
def test_a_bad_display_name_or_precision_is_refused(field: str, value: object, message: str):
    with pytest.raises(ValidationError) as err:
        Point.model_validate({"name": "sat", "unit": "degC", field: value})
    assert field in str(err.value) and message in str(err.value)
