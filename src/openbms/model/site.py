"""The site model (pydantic v2): a site, its spaces, equipment and points, and what runs on it.

:class:`SiteConfig` is the one model of a site, whether it was loaded from a
file, built in code or changed through the API. Besides the building it
carries the site's supervisory control: holiday ``calendars`` and
``schedules`` (``openbms.model.calendar``, ``openbms.model.schedule``),
``alarms`` and their ``notifications`` (``openbms.model.alarm``) and the
logic ``programs`` files; each section is empty unless configured.

These are built once when a site file loads or the API changes it, never per
sample. Semantic checks that need the whole site (duplicate ids, references,
units, bindings) live in ``openbms.model.validate``; those that need control
behaviour (schedules against points, program files) in ``openbms.config``.

Every number here is finite (NaN and infinities are refused model-wide: a NaN
limit switches a limit off, since every comparison with NaN is false) and
bounded where a sane bound exists: values that may reach a device or limit one
(write limits, relinquish defaults, tolerances) are at most
:data:`MAX_VALUE` in magnitude, and intervals at most :data:`MAX_INTERVAL_S`.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

from openbms.model.alarm import AlarmRule, NotificationsConfig
from openbms.model.calendar import Calendar
from openbms.model.display import MAX_PRECISION, default_display_name, resolved_precision
from openbms.model.fields import (
    MAX_INTERVAL_S,
    MAX_RETENTION_DAYS,
    MAX_VALUE,
    Delay,
    Id,
    Interval,
    PointKind,
    Quantity,
    state_number,
    value_problem,
)
from openbms.model.mqtt import MqttSettings
from openbms.model.sample import Value
from openbms.model.schedule import Schedule
from openbms.model.tariff import EnergySettings, Tariff, check_energy_refs, check_tariff_refs

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


def _relinquish_in_bounds(value: object) -> object:
    # Checked before the union, so that a NaN or 1e300 gets one clear message, not one per member.
    problem = value_problem(value)
    if problem is not None:
        raise ValueError(f"relinquish_default {problem}")
    return value


#: A point's relinquish default: a number within bounds, a bool, a state label, or none.
RelinquishDefault = Annotated[float | bool | str | None, BeforeValidator(_relinquish_in_bounds)]

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


#: The sets of field names points were written with, one of each (a site has a handful).
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


class Point(_Strict):
    """One value of one thing in a building, as configured.

    ``name`` is unique within its equipment; the point's stable id is
    ``site/equipment/name`` (see :meth:`SiteConfig.point_id`). People read
    :attr:`label` and values rounded to :attr:`decimals` (``openbms.model.display``).
    """

    name: Id
    kind: PointKind = "number"
    unit: str | None = None
    display_name: str | None = Field(
        default=None, min_length=1, max_length=80,
        description="what people read; default: the name with its abbreviations spelled out")
    precision: int | None = Field(
        default=None, ge=0, le=MAX_PRECISION,
        description="decimals its values show; default: by unit (°C 1, % 0, kWh 0), else 2")
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
        # Points written alike set the same fields: one set of their names serves them all (the
        # set pydantic keeps per model was 23 MB at 100 000 points). Safe as a Point is frozen:
        # pydantic changes the set in place only on assignment, and model_copy copies it first.
        fields = self.__pydantic_fields_set__
        object.__setattr__(self, "__pydantic_fields_set__",
                           _FIELDS_SETS.setdefault(frozenset(fields), fields))
        return self

    @property
    def relinquish_value(self) -> Value:
        """The relinquish default as the point's values are: an enum's state label as its number."""
        default = self.relinquish_default
        if self.kind == "enum" and default is not None:
            number = state_number(self.states, default)
            return default if number is None else number  # not a state: checking the site says so
        return default

    @property
    def label(self) -> str:
        """The name people read: ``display_name``, else one derived from ``name``."""
        return self.display_name if self.display_name is not None else default_display_name(self.name)

    @property
    def decimals(self) -> int:
        """How many decimals its values show: ``precision``, else the unit's default."""
        return resolved_precision(self.precision, self.kind, self.unit)


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
    """A whole site: the building (site, drivers, spaces, equipment) and its supervisory control.

    The control sections (``calendars``, ``schedules``, ``alarms``,
    ``notifications``, ``programs``) are empty unless configured, so every site
    has them. A schedule need not repeat ``site:``; it is this site's.
    """

    site: Site
    control: ControlSettings = ControlSettings()
    drivers: dict[str, DriverSettings] = {}
    spaces: tuple[Space, ...] = ()
    equipment: tuple[Equipment, ...] = ()
    calendars: tuple[Calendar, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    alarms: tuple[AlarmRule, ...] = ()
    notifications: NotificationsConfig = NotificationsConfig()
    programs: tuple[str, ...] = Field(
        default=(), description="logic program files (JSON), relative to this file")
    mqtt: MqttSettings | None = Field(
        default=None, description="the site's broker: telemetry bridge, outbox, command/response")
    # After equipment and calendars: their references are checked against them (openbms.model.tariff).
    energy: Annotated[EnergySettings, AfterValidator(check_energy_refs)] = Field(
        default=EnergySettings(),
        description="week start, counters' rollovers and replacements, virtual meters")
    tariffs: Annotated[tuple[Tariff, ...], AfterValidator(check_tariff_refs)] = Field(
        default=(), description="energy prices: time-of-use rates, demand and fixed charges")
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _schedules_belong_to_the_site(cls, data: Any) -> Any:
        """A schedule in a site file need not repeat ``site:``; it is the file's site."""
        if not isinstance(data, dict):
            return data
        site = data.get("site")
        schedules = data.get("schedules")
        if isinstance(site, dict) and isinstance(schedules, list):
            data = dict(data)
            data["schedules"] = [{"site": site.get("id"), **s} if isinstance(s, dict) and "site" not in s
                                 else s for s in schedules]
        return data

    @property
    def source(self) -> Path | None:
        """The file this site was loaded from; None for a site built in code."""
        return self._source

    def with_source(self, path: Path | None) -> SiteConfig:
        """This site, as loaded from ``path`` (program files are found next to it)."""
        located = self.model_copy()
        located._source = path
        return located

    def program_paths(self) -> list[Path]:
        """The program files, resolved against the site file's folder (the working folder without one)."""
        base = self._source.parent if self._source is not None else Path.cwd()
        return [base / p for p in self.programs]

    def point_id(self, equipment: Equipment, point: Point) -> str:
        """The stable id of a point: ``site/equipment/name``.

        The same string object each time (interned): the manager, the cache, the historian,
        the alarms and the programs each keep the ids of every point, and at 100 000 points
        four copies of each took 21 MB more than one.
        """
        return sys.intern(f"{self.site.id}/{equipment.id}/{point.name}")

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
