"""What people read for a point: its display name and how many decimals its values show.

A site file may say both (``display_name``, ``precision``); where it does not,
they are derived here, once per configuration, never per sample:

- the name from the point's slug, word by word through :data:`WORDS`, the
  abbreviations of the trade (``eff-clg-sp`` → "Effective cooling setpoint",
  ``chwst`` → "Chilled water supply temperature"); a word the table does not
  know is kept as it is. Adding an abbreviation is adding a row.
- the precision from the unit (:func:`openbms.model.units.default_precision`:
  °C 1, % 0, kWh 0 …), else :data:`~openbms.model.units.NUMBER_PRECISION`
  for numbers and 0 for booleans and enums.
"""

from __future__ import annotations

from openbms.model.units import NUMBER_PRECISION, default_precision

__all__ = ["MAX_PRECISION", "WORDS", "default_display_name", "resolved_precision"]

#: The most decimals a point may ask for.
MAX_PRECISION = 6

#: Abbreviations of point names and what they say, lower case (a phrase of two words first).
WORDS: dict[str, str] = {
    # phrases: "occ" is "occupied" before a mode of control, "occupancy" elsewhere
    "occ-htg": "occupied heating", "occ-clg": "occupied cooling",
    "unocc-htg": "unoccupied heating", "unocc-clg": "unoccupied cooling",
    "oa-min": "minimum outdoor air", "hwr-t": "hot water return temperature",
    "eff-htg": "effective heating", "eff-clg": "effective cooling",
    # single words
    "sp": "setpoint", "stpt": "setpoint", "clg": "cooling", "htg": "heating", "occ": "occupancy",
    "unocc": "unoccupied", "eff": "efficiency", "temp": "temperature", "t": "temperature",
    "rh": "relative humidity", "vlv": "valve", "pos": "position", "cmd": "command",
    "en": "enable", "ena": "enable", "sts": "status", "stat": "status", "alm": "alarm",
    "sat": "supply air temperature", "sa": "supply air", "rat": "return air temperature",
    "ra": "return air", "mat": "mixed air temperature", "ma": "mixed air",
    "dat": "discharge air temperature", "da": "discharge air", "oat": "outdoor air temperature",
    "oa": "outdoor air", "ea": "exhaust air", "dsp": "duct static pressure",
    "hw": "hot water", "hws": "hot water supply", "hwst": "hot water supply temperature",
    "hwr": "hot water return", "hwrt": "hot water return temperature", "hwp": "hot water pump",
    "chw": "chilled water", "chws": "chilled water supply", "chwst": "chilled water supply temperature",
    "chwr": "chilled water return", "chwrt": "chilled water return temperature",
    "chwp": "chilled water pump", "cw": "condenser water", "ch": "chiller", "blr": "boiler",
    "kw": "power", "kwh": "energy", "elec": "electricity", "ltg": "lighting", "econ": "economiser",
    "cap": "capacity", "cop": "COP", "hvac": "HVAC", "ahu": "AHU", "vav": "VAV", "fcu": "FCU",
    "rtu": "RTU", "co2": "CO₂", "min": "minimum", "max": "maximum", "avg": "average",
    "diff": "differential", "press": "pressure", "zn": "zone", "flw": "flow", "spd": "speed",
    "vfd": "VFD", "dp": "differential pressure", "wb": "wet bulb", "db": "dry bulb",
}

#: The first word when a point's name starts with it (``eff-clg-sp``: effective, not efficiency).
_FIRST: dict[str, str] = {"eff": "effective"}


def default_display_name(name: str) -> str:
    """A readable name for a point's slug: ``eff-clg-sp`` → "Effective cooling setpoint"."""
    words = [w for w in name.replace("_", "-").replace(".", "-").split("-") if w]
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = "-".join(words[i:i + 2]).lower() if i + 1 < len(words) else None
        if pair is not None and pair in WORDS:
            out.append(WORDS[pair])
            i += 2
            continue
        word = words[i].lower()
        out.append(_FIRST[word] if i == 0 and word in _FIRST else WORDS.get(word, words[i]))
        i += 1
    if not out:
        return name
    text = " ".join(out)
    return text[0].upper() + text[1:]


def resolved_precision(precision: int | None, kind: str, unit: str | None) -> int:
    """Decimals a point's values show: its own, else its unit's default; 0 for booleans and enums."""
    if precision is not None:
        return precision
    if kind != "number":
        return 0
    return default_precision(unit) if unit else NUMBER_PRECISION
