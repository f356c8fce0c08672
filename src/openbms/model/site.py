"""Configuration models: a site, its spaces, equipment and points (pydantic v2).

These describe a building. They are built once when a site file loads or the
API changes it, never per sample. Semantic checks that need the whole site
(duplicate ids, references, units, bindings) live in ``openbms.model.validate``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "CommandPolicy",
    "ControlSettings",
    "DriverSettings",
    "Equipment",
    "EquipmentType",
    "HistoryPolicy",
    "Point",
    "PointKind",
    "Site",
    "SiteConfig",
    "Space",
    "WriteLimits",
]

#: Ids are short, URL-safe and lower-case: they become parts of point ids and URLs.
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]

PointKind = Literal["number", "bool", "enum"]

EquipmentType = Literal[
    "ahu", "vav", "fcu", "rtu", "chiller", "boiler", "pump", "fan", "cooling-tower",
    "heat-exchanger", "meter", "thermostat", "sensor", "lighting", "plant", "weather", "other",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class HistoryPolicy(_Strict):
    """What of a point's samples the historian keeps.

    A sample is stored when it differs from the last stored value by more than
    ``deadband`` (change of value), or when ``max_interval`` seconds have passed
    since the last stored sample, or when its status changes. With neither set,
    every sample is kept. ``raw_days`` and ``rollup_days`` bound retention
    (``None`` keeps forever).
    """

    enabled: bool = True
    deadband: float | None = Field(default=None, ge=0)
    max_interval: float | None = Field(default=None, gt=0)
    raw_days: float | None = Field(default=None, gt=0)
    rollup_days: float | None = Field(default=None, gt=0)


class WriteLimits(_Strict):
    """Safety limits the arbiter enforces before anything reaches equipment."""

    min: float | None = None
    max: float | None = None
    min_interval: float | None = Field(default=None, ge=0, description="seconds between writes")
    min_on: float | None = Field(default=None, ge=0, description="seconds, binary outputs")
    min_off: float | None = Field(default=None, ge=0, description="seconds, binary outputs")

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
    tolerance: float | None = Field(default=None, ge=0,
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
    relinquish_default: float | bool | str | None = None
    command: CommandPolicy = CommandPolicy()
    binding: str | None = None
    poll: float | None = Field(default=None, gt=0, description="seconds; default from the driver")
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
    area_m2: float | None = Field(default=None, gt=0)


class Site(_Strict):
    """A building."""

    id: Id
    name: str = ""
    timezone: str = "UTC"
    area_m2: float | None = Field(default=None, gt=0)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class DriverSettings(BaseModel):
    """Settings of one driver. Common keys are typed; driver-specific ones pass through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    enabled: bool = True
    poll_interval: float = Field(default=10.0, gt=0, description="seconds, default for points")
    timeout: float = Field(default=3.0, gt=0, description="seconds per request")
    retries: int = Field(default=2, ge=0)
    max_backoff: float = Field(default=60.0, gt=0, description="seconds")


class ControlSettings(_Strict):
    """Supervisory control settings of a site."""

    dry_run: bool = Field(default=False, description="log what would be written; write nothing")
    reassert_interval: float = Field(
        default=300.0, gt=0,
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
