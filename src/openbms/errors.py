"""The one error tree of openbms.

::

    OpenBMSError
    ├── ConfigError            a site file or setting is wrong (carries every issue found)
    ├── BindingError           a binding URI is malformed or names an unknown driver
    ├── DriverError            a driver could not do what was asked
    │   ├── DeviceUnreachable  the device did not answer (timeout, refused, no route)
    │   ├── PointError         the device answered, but not for this point (unknown object…)
    │   └── WriteRefused       the device refused a write (access denied, out of range…)
    ├── HistorianError         the history store failed (disk, schema, corrupt file)
    ├── CommandError           a command was refused before anything was written
    └── BackupError            a backup or restore could not be made (the message says what to do)

Libraries' exceptions are translated at the boundary where they are caught
(``raise DriverError(...) from err``); users read what failed and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BackupError",
    "BindingError",
    "CommandError",
    "ConfigError",
    "ConfigIssue",
    "DeviceUnreachable",
    "DriverError",
    "HistorianError",
    "OpenBMSError",
    "PointError",
    "WriteRefused",
]


class OpenBMSError(Exception):
    """Base of every error openbms raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ConfigError(OpenBMSError):
    """A configuration could not be loaded; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        noun = "problem" if len(issues) == 1 else "problems"
        super().__init__(f"{len(issues)} {noun}:\n" + "\n".join(str(i) for i in issues))


class BindingError(OpenBMSError, ValueError):
    """A binding URI is malformed."""


class DriverError(OpenBMSError):
    """A driver could not complete a read, write or discovery."""


class DeviceUnreachable(DriverError):
    """The device did not answer: its points go offline until it answers again."""


class PointError(DriverError):
    """The device answered but could not serve this point (unknown object, bad register)."""


class WriteRefused(DriverError):
    """The device refused a write (access denied, value out of range, not commandable)."""


class HistorianError(OpenBMSError):
    """The history store failed."""


class CommandError(OpenBMSError):
    """A command was refused before anything was written to equipment.

    ``field`` names what it is about when one thing is (``value``, ``priority``,
    ``duration_s``, ``expires_at``), so a form can show it beside that field.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BackupError(OpenBMSError):
    """A backup or restore could not be made; the message says what to do."""
