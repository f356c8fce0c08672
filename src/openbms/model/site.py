"""Configuration models: a site, its spaces, equipment and points (pydantic v2).

These describe a building. They are built once when a site file loads or the
API changes it, never per sample. Semantic checks that need the whole site
(duplicate ids, references, units, bindings) live in ``openbms.model.validate``.

Every number here is finite (NaN and infinities are refused model-wide: a NaN
limit switches a limit off, since every comparison with NaN is false) and
bounded where a sane bound exists: values that may reach a device or limit one
(write limits, relinquish defaults, tolerances) are at most
:data:`MAX_VALUE` in magnitude, and intervals at most :data:`MAX_INTERVAL_S`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "MAX_INTERVAL_S",
    "MAX_RETENTION_DAYS",
    "MAX_VALUE",
    "CommandPolicy",
    "ControlSettings",
    "DriverSettings",
    "Equipment",
    "EquipmentType",
    "HistoryPolicy",
    "Point",
    "PointKind",
    "RelinquishDefault",
    "Site",
    "SiteConfig",
    "Space",
    "WriteLimits",
    "value_problem",
]

#: Ids are short, URL-safe and lower-case: they become parts of point ids and URLs.
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]

PointKind = Literal["number", "bool", "enum"]

#: The largest magnitude of a value that may be written to a device, limit one, or be a
#: point's default: far beyond any physical setpoint, far below where a float stops
#: being exact to a unit (so a typo of 1e300 is refused, not sent).
MAX_VALUE = 1e9
#: The longest interval (poll, write spacing, minimum on/off, history interval): a week.
MAX_INTERVAL_S = 7 * 86400.0
#: The longest retention: a century.
MAX_RETENTION_DAYS = 36500.0

def value_problem(value: object) -> str | None:
    """Why ``value`` is a number that no device may be given, or None when it is not one.

    Booleans, text and None pass (whether they fit a point is another question).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return (f"{value!r} is not a finite number: expected a number from {-MAX_VALUE:g} to "
                f"{MAX_VALUE:g}")
    if not -MAX_VALUE <= value <= MAX_VALUE:
        # A huge int has no float and (past 4 300 digits) no str: say how big it is instead.
        shown = (f"{value:g}" if isinstance(value, float) else
                 f"{value}" if value.bit_length() < 64 else
                 f"a whole number of about {int(value.bit_length() * 0.30103) + 1} digits")
        return f"{shown} is out of bounds: expected a number from {-MAX_VALUE:g} to {MAX_VALUE:g}"
    return None


def _relinquish_in_bounds(value: object) -> object:
    # Checked before the union, so that a NaN or 1e300 gets one clear message, not one per member.
    problem = value_problem(value)
    if problem is not None:
        raise ValueError(f"relinquish_default {problem}")
    return value


#: A point's relinquish default: a number within bounds, a bool, a state label, or none.
RelinquishDefault = Annotated[float | bool | str | None, BeforeValidator(_relinquish_in_bounds)]

#: A value bound for a device or its limits: finite, ``|x| <= MAX_VALUE``.
Quantity = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_VALUE, le=MAX_VALUE)]
#: Seconds: finite, positive (or zero where said), at most a week.
Interval = Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_INTERVAL_S)]
Delay = Annotated[float, Field(allow_inf_nan=False, ge=0, le=MAX_INTERVAL_S)]

EquipmentType = Literal[
    "ahu", "vav", "fcu", "rtu", "chiller", "boiler", "pump", "fan", "cooling-tower",
    "heat-exchanger", "meter", "thermostat", "sensor", "lighting", "plant", "weather", "other",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              allow_inf_nan=False)


class HistoryPolicy(_Strict):
    """What of a point's samples the historian keeps.

    A sample is stored when it differs from the last stored value by more than
    ``deadband`` (change of value), or when ``max_interval`` seconds have passed
    since the last stored sample, or when its status changes. With neither set,
    every sample is kept. ``raw_days`` and ``rollup_days`` bound retention
    (``None`` keeps forever).
    """

    enabled: bool = True
    deadband: float | None = Field(default=None, ge=0, le=MAX_VALUE)
    max_interval: Interval | None = None
    raw_days: float | None = Field(default=None, gt=0, le=MAX_RETENTION_DAYS)
    rollup_days: float | None = Field(default=None, gt=0, le=MAX_RETENTION_DAYS)


class WriteLimits(_Strict):
    """Safety limits the arbiter enforces before anything reaches equipment."""

    min: Quantity | None = None
    max: Quantity | None = None
    min_interval: Delay | None = Field(default=None, description="seconds between writes")
    min_on: Delay | None = Field(default=None, description="seconds, binary outputs")
    min_off: Delay | None = Field(default=None, description="seconds, binary outputs")

    @model_validator(mode="after")
    def _ordered(self) -> WriteLimits:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class CommandPolicy(_Strict):
    """How the arbiter writes a point to its device.

    ``effective`` (the default): openbms arbitrates the 16 priority slots and
    writes the winning value to the device at ``priority`` (for devices with
    a priority array; ignored by protocols without one). ``passthrough``: each
    slot's value goes to the device at its own priority and the device
    arbitrates (BACnet commandable objects), so a local override at the panel
    still wins.
    """

    mode: Literal["effective", "passthrough"] = "effective"
    priority: int = Field(default=16, ge=1, le=16, description="device priority in effective mode")
    verify: bool = Field(default=True, description="read back after each write")
    tolerance: float | None = Field(default=None, ge=0, le=MAX_VALUE,
                                    description="read-back difference accepted (numbers)")


class Point(_Strict):
    """One value of one thing in a building, as configured.

    ``name`` is unique within its equipment; the point's stable id is
    ``site/equipment/name`` (see :meth:`SiteConfig.point_id`).
    """

    name: Id
    kind: PointKind = "number"
    unit: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    brick: str | None = None
    states: tuple[str, ...] | None = Field(default=None, description="labels of an enum point")
    writable: bool = False
    limits: WriteLimits | None = None
    relinquish_default: RelinquishDefault = None
    command: CommandPolicy = CommandPolicy()
    binding: str | None = None
    poll: Interval | None = Field(default=None, description="seconds; default from the driver")
    history: HistoryPolicy = HistoryPolicy()

    @model_validator(mode="after")
    def _kind_rules(self) -> Point:
        if self.kind == "enum" and not self.states:
            raise ValueError("an enum point needs 'states', the list of its state labels")
        if self.kind != "enum" and self.states:
            raise ValueError(f"'states' is only for enum points, not {self.kind}")
        if not self.writable and (self.limits is not None or self.relinquish_default is not None):
            raise ValueError("'limits' and 'relinquish_default' need 'writable: true'")
        return self


class Equipment(_Strict):
    """A piece of plant: AHU, VAV box, chiller, meter… with its points."""

    id: Id
    type: EquipmentType = "other"
    name: str = ""
    space: Id | None = None
    feeds: tuple[Id, ...] = ()
    tags: tuple[str, ...] = ()
    points: tuple[Point, ...] = ()


class Space(_Strict):
    """A floor, zone or room; nested through ``parent``."""

    id: Id
    name: str = ""
    kind: Literal["building", "floor", "zone", "room", "outdoor"] = "zone"
    parent: Id | None = None
    area_m2: float | None = Field(default=None, gt=0, le=MAX_VALUE)


class Site(_Strict):
    """A building."""

    id: Id
    name: str = ""
    timezone: str = "UTC"
    area_m2: float | None = Field(default=None, gt=0, le=MAX_VALUE)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class DriverSettings(BaseModel):
    """Settings of one driver. Common keys are typed; driver-specific ones pass through."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    enabled: bool = True
    poll_interval: Interval = Field(default=10.0, description="seconds, default for points")
    timeout: Interval = Field(default=3.0, description="seconds per request")
    retries: int = Field(default=2, ge=0, le=100)
    max_backoff: Interval = Field(default=60.0, description="seconds")

    @model_validator(mode="after")
    def _finite_extras(self) -> DriverSettings:
        # Driver-specific keys are not typed here, but no setting is NaN or infinite.
        for key, value in (self.model_extra or {}).items():
            where = _non_finite(value)
            if where is not None:
                raise ValueError(f"driver setting '{key}{where}' must be a finite number "
                                 "(NaN and infinities are not numbers a setting can use)")
        return self


class ControlSettings(_Strict):
    """Supervisory control settings of a site."""

    dry_run: bool = Field(default=False, description="log what would be written; write nothing")
    reassert_interval: Interval = Field(
        default=300.0,
        description="seconds; at most one re-assertion per point when its device drifts")


class SiteConfig(_Strict):
    """A whole site file: the site, its drivers, spaces and equipment."""

    site: Site
    control: ControlSettings = ControlSettings()
    drivers: dict[str, DriverSettings] = {}
    spaces: tuple[Space, ...] = ()
    equipment: tuple[Equipment, ...] = ()

    def point_id(self, equipment: Equipment, point: Point) -> str:
        """The stable id of a point: ``site/equipment/name``."""
        return f"{self.site.id}/{equipment.id}/{point.name}"

    def points(self) -> list[tuple[str, Equipment, Point]]:
        """Every point of the site as ``(point id, equipment, point)``."""
        return [(self.point_id(e, p), e, p) for e in self.equipment for p in e.points]


def _non_finite(value: object) -> str | None:
    """Where in ``value`` (a setting: scalar, list or mapping) a NaN or infinity is; None if nowhere."""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, dict):
        items: list[tuple[str, object]] = [(f".{k}", v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        return None
    for step, item in items:
        inner = _non_finite(item)
        if inner is not None:
            return step + inner
    return None
