"""The core model: sites, spaces, equipment, points, samples and commands. No I/O."""

from openbms.model.binding import Binding, parse_binding
from openbms.model.command import Command, CommandSource, CommandStatus
from openbms.model.sample import FAULT, OFFLINE, OK, OVERRIDDEN, STALE, STATUSES, Sample, Value
from openbms.model.site import (
    CommandPolicy,
    ControlSettings,
    DriverSettings,
    Equipment,
    HistoryPolicy,
    Point,
    Site,
    SiteConfig,
    Space,
    WriteLimits,
)

__all__ = [
    "FAULT",
    "OFFLINE",
    "OK",
    "OVERRIDDEN",
    "STALE",
    "STATUSES",
    "Binding",
    "Command",
    "CommandPolicy",
    "CommandSource",
    "CommandStatus",
    "ControlSettings",
    "DriverSettings",
    "Equipment",
    "HistoryPolicy",
    "Point",
    "Sample",
    "Site",
    "SiteConfig",
    "Space",
    "Value",
    "WriteLimits",
    "parse_binding",
]
