"""The units table: canonical symbols, tolerant aliases, suggestions and BACnet names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openbms.model.units import UNITS, Unit, close_matches, from_bacnet, known_units, lookup

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


@pytest.mark.parametrize("symbol", ["degC", "°C", "C", "deg C", "celsius", "DEG C", "°c"])
def test_celsius_spellings_all_mean_degc(symbol):
    assert lookup(symbol).symbol == "degC"


@pytest.mark.parametrize(
    "alias, symbol",
    [
        ("%RH", "%RH"), ("% rh", "%RH"), ("lux", "lx"), ("ton", "tonR"), ("delta-degC", "deltaK"),
        ("power-factor", "PF"), ("KVAR", "kVAr"), ("m³/h", "m3/h"), ("µg/m³", "ug/m3"),
        ("MBH", "kBtu/h"), ("Kilowatts", "kW"), ("inwc", "inH2O"), ("W/m²", "W/m2"),
    ],
)
def test_aliases_match_in_any_case_and_spacing(alias, symbol):
    assert lookup(alias).symbol == symbol


@pytest.mark.parametrize("symbol", ["kw", "KW", "mw", "pa", "KWH"])
def test_canonical_symbols_match_only_in_their_own_case(symbol):
    # 'mw' could be milliwatts or megawatts: a guess would silently scale values by 10^9.
    assert lookup(symbol) is None


def test_lookup_of_an_unknown_or_non_text_unit_is_none():
    assert lookup("furlongs/fortnight") is None
    assert lookup("") is None
    assert lookup(None) is None  # type: ignore[arg-type]


def test_a_miscased_symbol_is_suggested_first():
    assert close_matches("kwh")[0] == "kWh"
    assert close_matches("MWH")[0] == "MWh"
    assert close_matches("pa")[0] == "Pa"


def test_suggestions_are_canonical_symbols_without_repeats():
    found = close_matches("degree", n=5)
    assert found and len(found) == len(set(found))
    assert set(found) <= set(known_units())


def test_the_table_has_a_serious_list_of_building_units():
    symbols = set(known_units())
    assert len(UNITS) >= 60
    for needed in ("degC", "degF", "K", "deltaK", "%", "%RH", "W", "kW", "Wh", "kWh", "MWh", "Pa",
                   "kPa", "bar", "psi", "inH2O", "m3/h", "L/s", "cfm", "gpm", "ppm", "A", "V", "Hz",
                   "rpm", "lx", "m3", "kg/h", "s", "min", "h", "kVAr", "kVA", "PF", "W/m2", "m/s",
                   "g/kg", "kJ/kg", "tonR", "Btu/h", "therm", "kBtu"):
        assert needed in symbols, needed


def test_every_unit_names_its_quantity_and_a_readable_name():
    for unit in UNITS:
        assert isinstance(unit, Unit)
        assert re.fullmatch(r"[a-z-]+", unit.quantity), unit
        assert unit.name, unit


def test_quantities_group_units_that_can_be_compared():
    assert lookup("kW").quantity == lookup("Btu/h").quantity == lookup("tonR").quantity == "power"
    assert lookup("Pa").quantity == lookup("inH2O").quantity == "pressure"
    assert lookup("degC").quantity != lookup("deltaK").quantity


def test_bacnet_names_are_real_engineering_units():
    basetypes = pytest.importorskip("bacpypes3.basetypes")
    names = {str(v) for v in basetypes.EngineeringUnits._asn1_map.values()}
    assert lookup("degC").bacnet == "degrees-celsius" and lookup("kW").bacnet == "kilowatts"
    wrong = [(u.symbol, u.bacnet) for u in UNITS if u.bacnet is not None and u.bacnet not in names]
    assert wrong == []


def test_the_user_guide_lists_every_unit():
    text = DOCS.read_text(encoding="utf-8")
    missing = [u.symbol for u in UNITS if f"`{u.symbol}`" not in text]
    assert missing == []


def test_a_bacnet_unit_name_maps_back_to_its_symbol():
    assert from_bacnet("degrees-celsius").symbol == "degC"
    assert from_bacnet("inches-of-water").symbol == "inH2O"
    assert from_bacnet("no-units").symbol == "ratio"  # several rows share it: the first wins
    assert from_bacnet("furlongs") is None
