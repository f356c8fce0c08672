"""Engineering units used in buildings: one declarative table.

Each row gives the canonical symbol written in site files and shown by the
API, a name for people, the physical quantity (logic programs refuse to wire
a pressure into a temperature input), the aliases accepted when reading, and
the BACnet ``EngineeringUnits`` name the BACnet driver maps to and from.

Canonical symbols match exactly: ``MW`` is not ``mW`` and ``Pa`` is not
``pa``, so guessing at case would be wrong. Aliases are the spellings people
and devices actually use (``°C``, ``deg C``, ``kvar``, ``lux``), so they match
tolerantly: any case, any spacing, ``²``/``³`` for ``2``/``3``, ``µ`` for
``u``. Adding a unit is adding a row.

How many decimals a value of a unit is shown with (:func:`default_precision`)
is a second small table, by physical quantity with a few units apart:
temperatures to a tenth of a degree, percentages and pressures in Pa whole.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = [
    "NUMBER_PRECISION",
    "UNITS",
    "Unit",
    "close_matches",
    "default_precision",
    "from_bacnet",
    "known_units",
    "lookup",
    "unit_symbol",
]


@dataclass(frozen=True, slots=True)
class Unit:
    """One engineering unit.

    ``bacnet`` is the name of the BACnet ``EngineeringUnits`` value as the
    BACnet library spells it, or ``None`` where BACnet has no such unit.
    """

    symbol: str
    name: str
    quantity: str
    aliases: tuple[str, ...] = ()
    bacnet: str | None = None


UNITS: tuple[Unit, ...] = (
    # temperature
    Unit("degC", "degrees Celsius", "temperature", ("°C", "C", "celsius", "deg C", "deg-C"),
         "degrees-celsius"),
    Unit("degF", "degrees Fahrenheit", "temperature", ("°F", "F", "fahrenheit", "deg F", "deg-F"),
         "degrees-fahrenheit"),
    Unit("K", "kelvin", "temperature", ("kelvin", "degK", "°K"), "degrees-kelvin"),
    Unit("deltaK", "temperature difference, kelvin (= °C)", "temperature-difference",
         ("delta-degC", "Δ°C", "ΔK", "delta-K", "deltaC"), "delta-degrees-kelvin"),
    Unit("deltaF", "temperature difference, °F", "temperature-difference",
         ("delta-degF", "Δ°F"), "delta-degrees-fahrenheit"),
    Unit("degC/h", "degrees Celsius per hour", "temperature-rate", ("°C/h",),
         "degrees-celsius-per-hour"),
    Unit("degC-day", "degree days, Celsius", "degree-days", ("°C-day", "°Cd"),
         "degree-days-celsius"),
    Unit("degF-day", "degree days, Fahrenheit", "degree-days", ("°F-day", "°Fd"),
         "degree-days-fahrenheit"),
    # fractions, ratios, humidity
    Unit("%", "percent", "fraction", ("percent", "pct"), "percent"),
    Unit("%RH", "percent relative humidity", "humidity",
         ("RH", "% RH", "percent RH", "percent-relative-humidity"), "percent-relative-humidity"),
    Unit("ratio", "ratio (no unit)", "fraction", ("-", "1", "none", "no-units"), "no-units"),
    Unit("PF", "power factor", "power-factor", ("power-factor", "cos-phi", "cosφ"), "power-factor"),
    Unit("g/kg", "grams of water per kilogram of dry air", "humidity-ratio", ("gw/kgda",),
         "grams-of-water-per-kilogram-dry-air"),
    Unit("kJ/kg", "kilojoules per kilogram of dry air (enthalpy)", "enthalpy", ("kj/kgda",),
         "kilojoules-per-kilogram-dry-air"),
    Unit("Btu/lb", "Btu per pound of dry air (enthalpy)", "enthalpy", ("btu/lbda",),
         "btus-per-pound-dry-air"),
    # power
    Unit("W", "watts", "power", ("watt", "watts"), "watts"),
    Unit("kW", "kilowatts", "power", ("kilowatt", "kilowatts"), "kilowatts"),
    Unit("MW", "megawatts", "power", ("megawatt", "megawatts"), "megawatts"),
    Unit("VA", "volt-amperes", "apparent-power", ("volt-amperes",), "volt-amperes"),
    Unit("kVA", "kilovolt-amperes", "apparent-power", ("kilovolt-amperes",), "kilovolt-amperes"),
    Unit("kVAr", "kilovolt-amperes reactive", "reactive-power", ("kvar",),
         "kilovolt-amperes-reactive"),
    Unit("Btu/h", "Btu per hour", "power", ("btuh", "btu/hr"), "btus-per-hour"),
    Unit("kBtu/h", "thousand Btu per hour", "power", ("MBH", "kbtuh", "kbtu/hr"),
         "kilo-btus-per-hour"),
    Unit("tonR", "tons of refrigeration", "power", ("ton", "tons", "TR", "RT", "ton-refrigeration"),
         "tons-refrigeration"),
    Unit("hp", "horsepower", "power", ("horsepower",), "horsepower"),
    Unit("W/m2", "watts per square metre", "power-density", ("W/m²", "w/sqm"),
         "watts-per-square-meter"),
    Unit("W/ft2", "watts per square foot", "power-density", ("W/ft²", "w/sqft"),
         "watts-per-square-foot"),
    Unit("kW/tonR", "kilowatts per ton of refrigeration (chiller efficiency)", "specific-power",
         ("kW/ton",), None),
    Unit("COP", "coefficient of performance", "efficiency", ("cop",), "no-units"),
    # energy
    Unit("J", "joules", "energy", ("joule", "joules"), "joules"),
    Unit("kJ", "kilojoules", "energy", ("kilojoule", "kilojoules"), "kilojoules"),
    Unit("MJ", "megajoules", "energy", ("megajoule", "megajoules"), "megajoules"),
    Unit("Wh", "watt-hours", "energy", ("watt-hour", "watt-hours"), "watt-hours"),
    Unit("kWh", "kilowatt-hours", "energy", ("kilowatt-hour", "kilowatt-hours"), "kilowatt-hours"),
    Unit("MWh", "megawatt-hours", "energy", ("megawatt-hour", "megawatt-hours"), "megawatt-hours"),
    Unit("kVAh", "kilovolt-ampere-hours", "apparent-energy", (), "kilovolt-ampere-hours"),
    Unit("kVArh", "kilovolt-ampere-hours reactive", "reactive-energy", ("kvarh",),
         "kilovolt-ampere-hours-reactive"),
    Unit("Btu", "British thermal units", "energy", ("btus",), "btus"),
    Unit("kBtu", "thousand Btu", "energy", ("kbtus",), "kilo-btus"),
    Unit("MMBtu", "million Btu", "energy", ("mmbtus",), "mega-btus"),
    Unit("therm", "therms", "energy", ("therms", "thm"), "therms"),
    Unit("tonR-h", "ton-hours of refrigeration", "energy", ("ton-hours", "ton-h"), "ton-hours"),
    Unit("kWh/m2", "kilowatt-hours per square metre (energy use intensity)", "energy-intensity",
         ("kWh/m²",), "kilowatt-hours-per-square-meter"),
    Unit("kWh/ft2", "kilowatt-hours per square foot", "energy-intensity", ("kWh/ft²",),
         "kilowatt-hours-per-square-foot"),
    # electrical
    Unit("V", "volts", "voltage", ("volt", "volts"), "volts"),
    Unit("mV", "millivolts", "voltage", ("millivolts",), "millivolts"),
    Unit("kV", "kilovolts", "voltage", ("kilovolts",), "kilovolts"),
    Unit("A", "amperes", "current", ("amp", "amps", "ampere", "amperes"), "amperes"),
    Unit("mA", "milliamperes", "current", ("milliamps", "milliamperes"), "milliamperes"),
    Unit("Hz", "hertz", "frequency", ("hertz",), "hertz"),
    Unit("ohm", "ohms", "resistance", ("Ω", "ohms"), "ohms"),
    Unit("kohm", "kilohms", "resistance", ("kΩ", "kilohms"), "kilohms"),
    # pressure
    Unit("Pa", "pascals", "pressure", ("pascal", "pascals"), "pascals"),
    Unit("hPa", "hectopascals", "pressure", ("hectopascals",), "hectopascals"),
    Unit("kPa", "kilopascals", "pressure", ("kilopascals",), "kilopascals"),
    Unit("mbar", "millibars", "pressure", ("millibar", "millibars"), "millibars"),
    Unit("bar", "bars", "pressure", ("bars",), "bars"),
    Unit("psi", "pounds per square inch", "pressure", ("lbf/in2", "psig"),
         "pounds-force-per-square-inch"),
    Unit("inH2O", "inches of water column", "pressure", ("inwc", "in. w.c.", "inH₂O", "in wc"),
         "inches-of-water"),
    Unit("mmH2O", "millimetres of water column", "pressure", ("mmwc", "mmH₂O"),
         "millimeters-of-water"),
    Unit("inHg", "inches of mercury", "pressure", ("in Hg",), "inches-of-mercury"),
    # volume flow and mass flow
    Unit("L/s", "litres per second", "volume-flow", ("l/s", "lps", "l/sec"), "liters-per-second"),
    Unit("L/min", "litres per minute", "volume-flow", ("l/min", "lpm"), "liters-per-minute"),
    Unit("L/h", "litres per hour", "volume-flow", ("l/h", "lph"), "liters-per-hour"),
    Unit("m3/h", "cubic metres per hour", "volume-flow", ("m³/h", "cmh"), "cubic-meters-per-hour"),
    Unit("m3/s", "cubic metres per second", "volume-flow", ("m³/s",), "cubic-meters-per-second"),
    Unit("cfm", "cubic feet per minute", "volume-flow", ("ft3/min", "ft³/min"),
         "cubic-feet-per-minute"),
    Unit("gpm", "US gallons per minute", "volume-flow", ("gal/min",), "us-gallons-per-minute"),
    Unit("kg/s", "kilograms per second", "mass-flow", (), "kilograms-per-second"),
    Unit("kg/h", "kilograms per hour", "mass-flow", ("kg/hr",), "kilograms-per-hour"),
    Unit("lb/h", "pounds per hour", "mass-flow", ("lb/hr", "pph"), "pounds-mass-per-hour"),
    # volume, mass, length, area, speed
    Unit("m3", "cubic metres", "volume", ("m³", "cubic-meters"), "cubic-meters"),
    Unit("L", "litres", "volume", ("l", "liter", "liters", "litre", "litres"), "liters"),
    Unit("ft3", "cubic feet", "volume", ("ft³", "cf"), "cubic-feet"),
    Unit("gal", "US gallons", "volume", ("gallon", "gallons"), "us-gallons"),
    Unit("kg", "kilograms", "mass", ("kilogram", "kilograms"), "kilograms"),
    Unit("lb", "pounds", "mass", ("lbs", "pound", "pounds"), "pounds-mass"),
    Unit("m", "metres", "length", ("meter", "meters", "metre", "metres"), "meters"),
    Unit("mm", "millimetres", "length", ("millimeters", "millimetres"), "millimeters"),
    Unit("ft", "feet", "length", ("feet", "foot"), "feet"),
    Unit("m2", "square metres", "area", ("m²", "sqm"), "square-meters"),
    Unit("ft2", "square feet", "area", ("ft²", "sqft", "sf"), "square-feet"),
    Unit("m/s", "metres per second", "speed", ("mps",), "meters-per-second"),
    Unit("fpm", "feet per minute", "speed", ("ft/min",), "feet-per-minute"),
    Unit("km/h", "kilometres per hour", "speed", ("kph", "kmh"), "kilometers-per-hour"),
    Unit("mph", "miles per hour", "speed", ("mi/h",), "miles-per-hour"),
    # air and water quality, light, sound
    Unit("ppm", "parts per million", "concentration", (), "parts-per-million"),
    Unit("ppb", "parts per billion", "concentration", (), "parts-per-billion"),
    Unit("ug/m3", "micrograms per cubic metre", "concentration", ("µg/m³", "μg/m³", "µg/m3"),
         "micrograms-per-cubic-meter"),
    Unit("pH", "pH", "acidity", (), "pH"),
    Unit("lx", "lux", "illuminance", ("lux", "luxes"), "luxes"),
    Unit("fc", "foot-candles", "illuminance", ("foot-candles", "footcandles"), "foot-candles"),
    Unit("lm", "lumens", "luminous-flux", ("lumen", "lumens"), "lumens"),
    Unit("dBA", "decibels, A-weighted", "sound", ("dB(A)", "decibels-a"), "decibelsA"),
    Unit("dB", "decibels", "sound", ("decibels",), "decibels"),
    # time, rotation, counts
    Unit("ms", "milliseconds", "time", ("milliseconds",), "milliseconds"),
    Unit("s", "seconds", "time", ("sec", "secs", "second", "seconds"), "seconds"),
    Unit("min", "minutes", "time", ("minute", "minutes", "mins"), "minutes"),
    Unit("h", "hours", "time", ("hr", "hrs", "hour", "hours"), "hours"),
    Unit("d", "days", "time", ("day", "days"), "days"),
    Unit("rpm", "revolutions per minute", "rotation", ("rev/min",), "revolutions-per-minute"),
    Unit("count", "a count of things", "count", ("#", "counts"), "no-units"),
    Unit("/h", "per hour (e.g. starts per hour)", "rate", ("per-hour", "1/h"), "per-hour"),
    # prices, for tariffs and costs
    Unit("$/kWh", "dollars per kilowatt-hour", "price", ("USD/kWh",), None),
    Unit("EUR/kWh", "euros per kilowatt-hour", "price", ("€/kWh",), None),
    Unit("GBP/kWh", "pounds sterling per kilowatt-hour", "price", ("£/kWh",), None),
)

_TRANSLATE = str.maketrans({"²": "2", "³": "3", "₂": "2", "µ": "u", "μ": "u"})


def _fold(text: str) -> str:
    """The tolerant form of an alias: no case, no spaces, plain digits."""
    return "".join(text.translate(_TRANSLATE).casefold().split())


def _index() -> tuple[dict[str, Unit], dict[str, Unit]]:
    exact: dict[str, Unit] = {}
    folded: dict[str, Unit] = {}
    for unit in UNITS:
        if unit.symbol in exact:
            raise RuntimeError(f"unit symbol {unit.symbol!r} is listed twice")
        exact[unit.symbol] = unit
    for unit in UNITS:
        for alias in unit.aliases:
            key = _fold(alias)
            # An alias that would shadow another unit makes a file's meaning depend on luck.
            other = folded.get(key) or exact.get(alias)
            if other is not None and other is not unit:
                raise RuntimeError(f"alias {alias!r} of {unit.symbol} also names {other.symbol}")
            folded[key] = unit
    return exact, folded


_EXACT, _FOLDED = _index()
#: BACnet name → unit; where several rows share one (no-units), the first row wins.
_BY_BACNET: dict[str, Unit] = {}
for _unit in UNITS:
    if _unit.bacnet is not None:
        _BY_BACNET.setdefault(_unit.bacnet, _unit)


def lookup(symbol: str) -> Unit | None:
    """The unit a symbol names: a canonical symbol exactly, or an alias in any case or spacing."""
    if not isinstance(symbol, str):
        return None
    return _EXACT.get(symbol) or _FOLDED.get(_fold(symbol))


def from_bacnet(name: str) -> Unit | None:
    """The unit of a BACnet ``EngineeringUnits`` name such as ``degrees-celsius``, or None."""
    return _BY_BACNET.get(name)


def known_units() -> tuple[str, ...]:
    """Every canonical symbol, in table order."""
    return tuple(u.symbol for u in UNITS)


def close_matches(symbol: str, n: int = 3) -> list[str]:
    """Canonical symbols that look like ``symbol``, best first, for 'did you mean' messages."""
    folded = _fold(symbol)
    # The same letters in another case come first: 'kwh' is surely 'kWh'.
    found = [u.symbol for u in UNITS if _fold(u.symbol) == folded]
    # Names too: 'degrees' is closer to 'degrees Celsius' than to any symbol.
    names = {_fold(u.name): u.symbol for u in UNITS}
    names.update({k: u.symbol for k, u in _FOLDED.items()})
    names.update({_fold(u.symbol): u.symbol for u in UNITS})
    for match in difflib.get_close_matches(folded, list(names), n=n * 3, cutoff=0.6):
        if names[match] not in found:
            found.append(names[match])
    return found[:n]


#: Decimals of a number with no unit, or a unit the tables below do not name.
NUMBER_PRECISION = 2

#: Decimals shown for a value, by the physical quantity of its unit.
_PRECISION_BY_QUANTITY: dict[str, int] = {
    "temperature": 1, "temperature-difference": 1, "temperature-rate": 1, "degree-days": 0,
    "fraction": 0, "humidity": 0, "humidity-ratio": 1, "enthalpy": 1, "power-factor": 2,
    "power": 1, "apparent-power": 1, "reactive-power": 1, "power-density": 1, "specific-power": 2,
    "efficiency": 2, "energy": 0, "apparent-energy": 0, "reactive-energy": 0, "energy-intensity": 1,
    "voltage": 0, "current": 1, "frequency": 1, "resistance": 0, "pressure": 0,
    "volume-flow": 0, "mass-flow": 2, "volume": 0, "mass": 0, "length": 2, "area": 0, "speed": 1,
    "concentration": 0, "acidity": 1, "illuminance": 0, "luminous-flux": 0, "sound": 0,
    "time": 0, "rotation": 0, "count": 0, "rate": 1, "price": 3,
}

#: Units whose size makes their quantity's decimals wrong (a kPa or a bar is not a Pa).
_PRECISION_BY_SYMBOL: dict[str, int] = {
    "ratio": 2, "kPa": 1, "bar": 2, "mbar": 0, "psi": 1, "inH2O": 2, "inHg": 2, "hPa": 0,
    "m3/s": 2, "L/s": 0, "MW": 2, "MWh": 1, "kV": 1, "mA": 0, "h": 1, "d": 1, "kg/s": 2, "tonR": 1,
}


def default_precision(symbol: str | None) -> int:
    """Decimals a value of ``symbol`` is shown with when its point says nothing: 1 for °C, 0 for %."""
    unit = lookup(symbol) if symbol else None
    if unit is None:
        return NUMBER_PRECISION
    found = _PRECISION_BY_SYMBOL.get(unit.symbol)
    if found is None:
        found = _PRECISION_BY_QUANTITY.get(unit.quantity, NUMBER_PRECISION)
    return found


#: How a canonical symbol is written for people where it differs from the symbol itself.
_WRITTEN: dict[str, str] = {
    "degC": "°C", "degF": "°F", "deltaK": "K", "deltaF": "°F", "degC/h": "°C/h",
    "degC-day": "°C·d", "degF-day": "°F·d", "m3/h": "m³/h", "m3/s": "m³/s", "m3": "m³",
    "ft3": "ft³", "m2": "m²", "ft2": "ft²", "W/m2": "W/m²", "W/ft2": "W/ft²", "kWh/m2": "kWh/m²",
    "kWh/ft2": "kWh/ft²", "ug/m3": "µg/m³", "ohm": "Ω", "kohm": "kΩ", "inH2O": "inH₂O",
    "mmH2O": "mmH₂O", "ratio": "", "count": "", "tonR": "TR", "tonR-h": "TR·h",
}


def unit_symbol(symbol: str | None) -> str:
    """How a unit is written in text for people: ``degC`` → ``°C``; an unknown unit as it is."""
    if not symbol:
        return ""
    unit = lookup(symbol)
    if unit is None:
        return symbol
    return _WRITTEN.get(unit.symbol, unit.symbol)
