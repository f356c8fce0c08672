"""Engineering units used in buildings: one declarative table.

Each row gives the canonical symbol used in site files and the API, the
aliases accepted when reading (BACnet names, Haystack spellings, common
typing), the physical quantity (for unit checks in logic programs) and the
BACnet EngineeringUnits name the BACnet driver maps to.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = ["UNITS", "Unit", "close_matches", "known_units", "lookup"]


@dataclass(frozen=True, slots=True)
class Unit:
    """One engineering unit."""

    symbol: str
    quantity: str
    aliases: tuple[str, ...] = ()
    bacnet: str | None = None


UNITS: tuple[Unit, ...] = (
    # temperature
    Unit("degC", "temperature", ("°C", "C", "celsius", "deg C"), "degrees-celsius"),
    Unit("degF", "temperature", ("°F", "F", "fahrenheit", "deg F"), "degrees-fahrenheit"),
    Unit("K", "temperature", ("kelvin",), "degrees-kelvin"),
    Unit("deltaK", "temperature-difference", ("Δ°C", "delta-degC", "ΔK"), "delta-degrees-kelvin"),
    Unit("deltaF", "temperature-difference", ("Δ°F", "delta-degF"), "delta-degrees-fahrenheit"),
    # fractions and ratios
    Unit("%", "fraction", ("percent", "pct"), "percent"),
    Unit("%RH", "humidity", ("RH", "%rh", "percent-relative-humidity"), "percent-relative-humidity"),
    Unit("ratio", "fraction", ("-", "1"), "no-units"),
    Unit("PF", "power-factor", ("power-factor", "cos-phi"), "power-factor"),
    Unit("g/kg", "humidity-ratio", ("gw/kgda",), "grams-of-water-per-kilogram-dry-air"),
    # power and energy
    Unit("W", "power", ("watt", "watts"), "watts"),
    Unit("kW", "power", ("kilowatt", "kilowatts"), "kilowatts"),
    Unit("MW", "power", ("megawatt",), "megawatts"),
    Unit("kVA", "apparent-power", (), "kilovolt-amperes"),
    Unit("kVAr", "reactive-power", ("kvar",), "kilovolt-amperes-reactive"),
    Unit("Btu/h", "power", ("BTU/h", "btuh"), "btus-per-hour"),
    Unit("kBtu/h", "power", ("MBH", "kBTU/h"), "kilo-btus-per-hour"),
    Unit("tonR", "power", ("ton", "tons", "TR", "ton-refrigeration"), "tons-refrigeration"),
    Unit("W/m2", "irradiance", ("W/m²",), "watts-per-square-meter"),
    Unit("Wh", "energy", ("watt-hours",), "watt-hours"),
    Unit("kWh", "energy", ("kilowatt-hours",), "kilowatt-hours"),
    Unit("MWh", "energy", ("megawatt-hours",), "megawatt-hours"),
    Unit("kVArh", "reactive-energy", ("kvarh",), "kilovolt-ampere-hours-reactive"),
    Unit("MJ", "energy", ("megajoules",), "megajoules"),
    Unit("GJ", "energy", ("gigajoules",), "gigajoules"),
    Unit("kBtu", "energy", ("kBTU",), "kilo-btus"),
    Unit("therm", "energy", ("therms",), "therms"),
    Unit("kJ/kg", "enthalpy", (), "kilojoules-per-kilogram-dry-air"),
    Unit("Btu/lb", "enthalpy", (), "btus-per-pound-dry-air"),
    # electrical
    Unit("V", "voltage", ("volt", "volts"), "volts"),
    Unit("kV", "voltage", (), "kilovolts"),
    Unit("A", "current", ("amp", "amps", "ampere"), "amperes"),
    Unit("mA", "current", (), "milliamperes"),
    Unit("Hz", "frequency", ("hertz",), "hertz"),
    Unit("ohm", "resistance", ("Ω",), "ohms"),
    # pressure
    Unit("Pa", "pressure", ("pascal",), "pascals"),
    Unit("kPa", "pressure", (), "kilopascals"),
    Unit("bar", "pressure", (), "bars"),
    Unit("psi", "pressure", (), "pounds-force-per-square-inch"),
    Unit("inH2O", "pressure", ("inwc", "in. w.c.", "inH₂O"), "inches-of-water"),
    Unit("mmH2O", "pressure", (), "millimeters-of-water"),
    # flow
    Unit("L/s", "volume-flow", ("l/s", "lps"), "liters-per-second"),
    Unit("m3/h", "volume-flow", ("m³/h", "cmh"), "cubic-meters-per-hour"),
    Unit("m3/s", "volume-flow", ("m³/s",), "cubic-meters-per-second"),
    Unit("cfm", "volume-flow", ("CFM", "ft3/min"), "cubic-feet-per-minute"),
    Unit("gpm", "volume-flow", ("GPM",), "us-gallons-per-minute"),
    Unit("L/min", "volume-flow", ("l/min",), "liters-per-minute"),
    Unit("kg/s", "mass-flow", (), "kilograms-per-second"),
    Unit("kg/h", "mass-flow", (), "kilograms-per-hour"),
    # volume, mass, length, area, speed
    Unit("m3", "volume", ("m³",), "cubic-meters"),
    Unit("L", "volume", ("l", "liters"), "liters"),
    Unit("ft3", "volume", ("ft³",), "cubic-feet"),
    Unit("gal", "volume", ("gallons",), "us-gallons"),
    Unit("kg", "mass", (), "kilograms"),
    Unit("m", "length", ("meters",), "meters"),
    Unit("mm", "length", (), "millimeters"),
    Unit("m2", "area", ("m²",), "square-meters"),
    Unit("ft2", "area", ("ft²", "sqft"), "square-feet"),
    Unit("m/s", "speed", (), "meters-per-second"),
    Unit("fpm", "speed", ("ft/min",), "feet-per-minute"),
    Unit("km/h", "speed", (), "kilometers-per-hour"),
    # air quality, light, sound
    Unit("ppm", "concentration", (), "parts-per-million"),
    Unit("ppb", "concentration", (), "parts-per-billion"),
    Unit("ug/m3", "concentration", ("µg/m³", "μg/m3"), "micrograms-per-cubic-meter"),
    Unit("lx", "illuminance", ("lux",), "luxes"),
    Unit("dB", "sound", ("dBA",), "decibels-a"),
    # time and rotation
    Unit("s", "time", ("sec", "seconds"), "seconds"),
    Unit("min", "time", ("minutes",), "minutes"),
    Unit("h", "time", ("hr", "hours"), "hours"),
    Unit("d", "time", ("days",), "days"),
    Unit("rpm", "rotation", ("RPM",), "revolutions-per-minute"),
    Unit("count", "count", ("#",), "no-units"),
    # money (tariffs)
    Unit("$/kWh", "price", (), None),
    Unit("EUR/kWh", "price", ("€/kWh",), None),
    Unit("GBP/kWh", "price", ("£/kWh",), None),
)

_BY_NAME: dict[str, Unit] = {}
for _u in UNITS:
    for _name in (_u.symbol, *_u.aliases):
        if _name in _BY_NAME:  # pragma: no cover - guards the table itself
            raise RuntimeError(f"unit name {_name!r} is listed twice")
        _BY_NAME[_name] = _u


def lookup(symbol: str) -> Unit | None:
    """The unit a symbol or alias names, or None."""
    return _BY_NAME.get(symbol)


def known_units() -> tuple[str, ...]:
    """Every canonical symbol."""
    return tuple(u.symbol for u in UNITS)


def close_matches(symbol: str, n: int = 3) -> list[str]:
    """Known names that look like ``symbol``, for 'did you mean' messages."""
    names = list(_BY_NAME)
    found = difflib.get_close_matches(symbol, names, n=n, cutoff=0.5)
    low = symbol.lower()
    found += [x for x in names if x.lower() == low and x not in found]
    return found[:n]
