"""Tariffs and energy settings of a site (the site file's ``tariffs:`` and ``energy:`` sections).

A tariff prices a meter's energy::

    tariffs:
      - id: elec
        currency: GBP
        meters: [main/energy]          # or commodity: elec (the site's main meters of it)
        holidays: [bank-holidays]      # site calendars whose days are holidays
        energy:                        # per kWh; the first rule that matches a moment prices it
          - {name: peak, rate: 0.32, days: [weekday], from: "07:00", to: "23:00"}
          - {name: off-peak, rate: 0.14}
        demand:                        # per kW of the month's highest 15- or 30-minute mean
          - {rate: 9.5, window: 15, days: [weekday], from: "07:00", to: "19:00"}
        fixed:
          - {amount: 0.45, per: day}

A moment's day is one of ``weekday``, ``weekend`` or ``holiday`` (a day of one
of the tariff's calendars, whatever its weekday); ``days`` may also name
weekdays (``monday``), which holidays do not match. ``from``/``to`` are local
wall-clock times (``to`` after ``from``, or before it to run past midnight;
``24:00`` is the day's end), ``months`` (1–12) make seasons. The energy rules
must price every moment: the last is usually one without conditions.

The ``energy:`` section says how the site's meters count (``counters``: a
register's rollover and its replacements), which day a week starts on, and
which virtual meters (sums and differences of meters) it has.

These are built when a site file loads, never per sample; references to
calendars and points are checked against the rest of the site (``site_refs``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from openbms.model.calendar import WEEKDAYS, Weekday
from openbms.model.fields import MAX_VALUE, Id
from openbms.model.units import lookup

__all__ = [
    "DAY_TYPES",
    "CounterSettings",
    "DemandCharge",
    "EnergyRate",
    "EnergySettings",
    "FixedCharge",
    "MeterReplacement",
    "Tariff",
    "VirtualMeter",
    "check_energy_refs",
    "check_tariff_refs",
    "day_kind",
    "meter_kind",
]

DayName = Literal["weekday", "weekend", "holiday", "monday", "tuesday", "wednesday", "thursday", "friday",
                  "saturday", "sunday"]
DAY_TYPES: tuple[str, ...] = ("weekday", "weekend", "holiday", *WEEKDAYS)
_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
#: A rate per kWh or kW, an amount: at most this (a price of a million a kWh is a typing mistake).
MAX_PRICE = 1_000_000.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              allow_inf_nan=False, populate_by_name=True)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _minutes(value: Any) -> Any:
    """``"07:30"`` → 450; YAML reads an unquoted 07:30 as a number of minutes (sexagesimal) already."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time of day: expected HH:MM such as \"07:00\"")
    if isinstance(value, int):
        if not 0 <= value <= 1440:  # YAML 1.1 reads an unquoted 25:00 as 1500
            raise ValueError(f"{value // 60}:{value % 60:02d} is not a time of day: expected HH:MM from "
                             "00:00 to 24:00, such as \"07:00\"")
        return value  # YAML 1.1's 07:30 is 450
    if isinstance(value, str):
        match = _CLOCK.match(value.strip())
        if match is None or (int(match[1]) == 24 and match[2] != "00"):
            raise ValueError(f"{value!r} is not a time of day: expected HH:MM from 00:00 to 24:00, "
                             "such as \"07:00\"")
        return int(match[1]) * 60 + int(match[2])
    raise ValueError(f"{value!r} is not a time of day: expected HH:MM such as \"07:00\"")


#: Minutes after local midnight, written "HH:MM" (0 to 1440).
Clock = Annotated[int, BeforeValidator(_minutes), Field(ge=0, le=1440)]
Price = Annotated[float, Field(ge=0, le=MAX_PRICE)]


_REGISTER = {"kwh": 1.0, "wh": 0.001, "mwh": 1000.0}
_DEMAND = {"kw": 1.0, "w": 0.001, "mw": 1000.0}
_METER_TAGS = ("elec", "gas", "meter", "energy")


def meter_kind(kind: str, unit: str | None,
               tags: Sequence[str]) -> tuple[Literal["register", "demand"], float] | None:
    """Whether a point is a meter: ``register`` (kWh, Wh, MWh) or ``demand`` (kW, W, MW tagged elec, gas,
    meter or energy) with its factor to kWh or kW; None for any other point."""
    if kind != "number":
        return None
    # The unit's symbol first ("kilowatt-hours" is kWh); a spelling the table does not know, in any case.
    known = lookup(unit) if unit else None
    u = (known.symbol if known is not None else unit or "").lower()
    if u in _REGISTER:
        return "register", _REGISTER[u]
    if u in _DEMAND and any(t in tags for t in _METER_TAGS):
        return "demand", _DEMAND[u]
    return None


def day_kind(day: dt.date, holiday: bool) -> tuple[str, str]:
    """The day's type (weekday, weekend or holiday) and its weekday's name."""
    name = WEEKDAYS[day.weekday()]
    return ("holiday" if holiday else "weekend" if day.weekday() >= 5 else "weekday"), name


class _When(_Strict):
    """When a rule holds: ``days``, ``months`` and local ``from``–``to`` (every moment if none)."""

    days: tuple[Annotated[DayName, BeforeValidator(_lower)], ...] = ()
    months: tuple[Annotated[int, Field(ge=1, le=12)], ...] = ()
    start: Clock = Field(default=0, alias="from", description="local time, HH:MM")
    end: Clock = Field(default=1440, alias="to", description="local time, HH:MM; before from: past midnight")

    def holds(self, kind: str, weekday: str, month: int, minute: float) -> bool:
        """Whether the rule holds at ``minute`` after local midnight of a day of ``kind`` in ``month``."""
        if self.months and month not in self.months:
            return False
        if self.days and kind not in self.days and (kind == "holiday" or weekday not in self.days):
            return False
        if self.start <= self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def bounds(self) -> tuple[int, int]:
        """Its from and to, in minutes after midnight."""
        return self.start, self.end


class EnergyRate(_When):
    """A price per kWh (``rate``) at the moments it holds."""

    name: str = ""
    rate: Price


class DemandCharge(_When):
    """A price per kW of the month's highest mean demand over ``window`` minutes, in windows it holds at."""

    name: str = ""
    rate: Price
    window: Literal[15, 30] = 15


class FixedCharge(_Strict):
    """A fixed ``amount`` a day or a month."""

    name: str = ""
    amount: Price
    per: Literal["day", "month"]


class Tariff(_Strict):
    """How a meter's energy is priced: energy rates, demand charges, fixed charges, holidays."""

    id: Id
    name: str = ""
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, such as EUR, GBP, USD")
    commodity: Literal["elec", "gas", "water", "steam", "heat", "chilled"] | None = Field(
        default=None, description="priced meters when none are named: the site's main meters of it")
    meters: tuple[str, ...] = Field(
        default=(), description="equipment/point of registers or demand points, or ids of virtual meters")
    holidays: tuple[Id, ...] = Field(default=(), description="ids of the site's calendars")
    energy: tuple[EnergyRate, ...] = Field(min_length=1)
    demand: tuple[DemandCharge, ...] = ()
    fixed: tuple[FixedCharge, ...] = ()

    @model_validator(mode="after")
    def _every_moment_priced(self) -> Tariff:
        gap = _unpriced(self.energy)
        if gap is not None:
            raise ValidationError.from_exception_data("Tariff", [_problem(gap, ("energy",), None)])
        return self


def _unpriced(rates: tuple[EnergyRate, ...]) -> str | None:
    """The first moment no rate prices, in words, or None when every moment has one."""
    cuts = sorted({0, 1440} | {m for r in rates for m in r.bounds()})
    kinds = [("holiday", "monday"), *[("weekday", d) for d in WEEKDAYS[:5]],
             *[("weekend", d) for d in WEEKDAYS[5:]]]
    for month in range(1, 13):
        for kind, weekday in kinds:
            for a in cuts[:-1]:
                if not any(r.holds(kind, weekday, month, a) for r in rates):
                    day = "holidays" if kind == "holiday" else f"{weekday.capitalize()}s"
                    return (f"no energy rate prices {day} in {dt.date(2000, month, 1):%B} from "
                            f"{a // 60:02d}:{a % 60:02d}: add a last rule without days, months, "
                            "from or to (the rest of the time)")
    return None


class MeterReplacement(_Strict):
    """A register replaced: when, the old one's last reading and the new one's first."""

    at: dt.datetime = Field(description="ISO 8601 with its offset, such as 2026-03-02T10:30:00+00:00")
    old_final: float = Field(ge=0, le=MAX_VALUE)
    new_initial: float = Field(default=0.0, ge=0, le=MAX_VALUE)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no offset: give one, such as "
                             "2026-03-02T10:30:00+00:00 (or Z); without it the time is ambiguous")
        return value


class CounterSettings(_Strict):
    """How a register counts: where it wraps, and when it was replaced."""

    point: str = Field(description="equipment/point of a register")
    rollover: float | None = Field(
        default=None, gt=0, le=MAX_VALUE,
        description="the reading at which it starts again from 0 (1000000 for six digits), in its unit")
    replacements: tuple[MeterReplacement, ...] = ()


class VirtualMeter(_Strict):
    """A meter made of others: the sum of ``add`` minus that of ``subtract`` (building minus chillers)."""

    id: Id
    name: str = ""
    commodity: Literal["elec", "gas", "water", "steam", "heat", "chilled"] | None = None
    add: tuple[str, ...] = Field(min_length=1, description="equipment/point of meters")
    subtract: tuple[str, ...] = ()


class EnergySettings(_Strict):
    """The site file's ``energy:`` section."""

    week_start: Annotated[Weekday, BeforeValidator(_lower)] = "monday"
    counters: tuple[CounterSettings, ...] = ()
    virtual_meters: tuple[VirtualMeter, ...] = ()


# --- references to the rest of the site, checked by SiteConfig's fields ----------------------------


def _points(info: ValidationInfo) -> tuple[str, dict[str, str | None]] | None:
    """The site's id and its points as ``equipment/point`` → meter kind (None: no meter); None when
    those did not validate."""
    site = info.data.get("site")
    equipment = info.data.get("equipment")
    if site is None or equipment is None:
        return None
    return site.id, {f"{e.id}/{p.name}": (m[0] if (m := meter_kind(p.kind, p.unit, p.tags)) else None)
                     for e in equipment for p in e.points}


def _short(ref: str, site: str) -> str:
    return ref[len(site) + 1:] if ref.startswith(site + "/") and ref.count("/") == 2 else ref


def _problem(message: str, loc: tuple[str | int, ...], value: object) -> InitErrorDetails:
    """A problem at ``loc`` in the site file's words (a value error: the loader prints it as it is)."""
    return InitErrorDetails(type="value_error", loc=loc, input=value, ctx={"error": ValueError(message)})


def _raise(errors: list[InitErrorDetails], title: str) -> None:
    if errors:
        raise ValidationError.from_exception_data(title, errors)


def _not_a_meter(ref: str, points: dict[str, str | None], site: str, register: bool = False) -> str | None:
    """What is wrong with ``ref`` as a meter (a register with ``register``), or None."""
    short = _short(ref, site)
    if short not in points:
        return f"no point {ref!r} in this site: expected equipment/point of one of its meters"
    kind = points[short]
    if kind is None or (register and kind != "register"):
        what = "a register (a number in kWh, Wh or MWh)" if register else (
            "a meter: a number in kWh, Wh or MWh, or in kW, W or MW tagged elec, gas, meter or energy")
        return f"{ref} is not {what}"
    return None


def check_energy_refs(value: EnergySettings, info: ValidationInfo) -> EnergySettings:
    """Counters and virtual meters name points of the site; virtual meters have ids of their own."""
    known = _points(info)
    if known is None:
        return value
    site, points = known
    errors: list[InitErrorDetails] = []
    for i, c in enumerate(value.counters):
        if (why := _not_a_meter(c.point, points, site, register=True)) is not None:
            errors.append(_problem(why, ("counters", i, "point"), c.point))
    seen: set[str] = set()
    for i, v in enumerate(value.virtual_meters):
        if v.id in seen:
            errors.append(_problem(f"a second virtual meter {v.id!r}: ids are unique",
                                   ("virtual_meters", i, "id"), v.id))
        seen.add(v.id)
        for side in ("add", "subtract"):
            for j, ref in enumerate(getattr(v, side)):
                if (why := _not_a_meter(ref, points, site)) is not None:
                    errors.append(_problem(why, ("virtual_meters", i, side, j), ref))
    _raise(errors, "EnergySettings")
    return value


def check_tariff_refs(value: tuple[Tariff, ...], info: ValidationInfo) -> tuple[Tariff, ...]:
    """Tariffs name the site's calendars and meters (points or virtual meters); ids are unique."""
    calendars = info.data.get("calendars")
    known = _points(info)
    energy = info.data.get("energy")
    virtual = {v.id for v in energy.virtual_meters} if isinstance(energy, EnergySettings) else set()
    errors: list[InitErrorDetails] = []
    seen: set[str] = set()
    for i, t in enumerate(value):
        if t.id in seen:
            errors.append(_problem(f"a second tariff {t.id!r}: ids are unique", (i, "id"), t.id))
        seen.add(t.id)
        if calendars is not None:
            ids = {c.id for c in calendars}
            for j, ref in enumerate(t.holidays):
                if ref not in ids:
                    errors.append(_problem(
                        f"no calendar {ref!r} in this site: expected one of "
                        f"{', '.join(sorted(ids)) or 'none (define it under calendars:)'}",
                        (i, "holidays", j), ref))
        if known is not None and isinstance(energy, EnergySettings):  # else virtual meters are unknown
            site, points = known
            for j, ref in enumerate(t.meters):
                if ref in virtual:
                    continue
                why = _not_a_meter(ref, points, site)
                if why is not None and _short(ref, site) not in points:
                    why = (f"no meter {ref!r} in this site: expected equipment/point of a meter, or the "
                           "id of a virtual meter (energy: virtual_meters:)")
                if why is not None:
                    errors.append(_problem(why, (i, "meters", j), ref))
    _raise(errors, "Tariffs")
    return value
