"""What the API is typed against: the services a running openbms offers.

The API (``openbms.api``) sits above the service layer and knows the running
system only through these protocols; :class:`~openbms.service.runtime.Runtime`
implements them. A route calls a service; it never reaches a driver, the
driver manager, a store's tables or another lock.

- :class:`SiteConfigs`: the running sites' configurations, and changing one
  under the one configuration lock (read, change, check, write, apply).
- :class:`Commands`: commands and priority arrays (every write to a point goes
  through the arbiter), the stored commands, and the overrides people hold.
- :class:`Devices`: the health of the devices serving a site's points.
- :class:`Alarms`: a site's running alarm engine and its stored events.
- :class:`Programs`: the program versions kept in the state database.
- :class:`Services`: all of them, with the clock, the bus, the latest-value
  cache and the historian (history queries: :class:`~openbms.historian.Historian`).

This module imports no driver (import-linter checks it: the API imports it).
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa

from openbms.alarms.engine import AlarmEngine
from openbms.control.programs import (
    Program,
    ProgramEngine,
    ProgramInfo,
    ProgramStatus,
    ProgramVersion,
    SavedVersion,
)
from openbms.control.programs.dryrun import DryRuns
from openbms.historian import Historian
from openbms.model.command import Command, CommandSource
from openbms.model.device import DeviceHealth
from openbms.model.sample import Value
from openbms.model.site import SiteConfig
from openbms.runtime.bus import Bus
from openbms.runtime.cache import CurrentValueCache
from openbms.runtime.clock import Clock
from openbms.service.faults import FaultControl

__all__ = [
    "MANUAL_SOURCES",
    "Alarms",
    "CommandRequest",
    "CommandRequestHandler",
    "CommandRequests",
    "Commands",
    "DeviceReport",
    "Devices",
    "EdgeCommand",
    "Override",
    "ProgramRepository",
    "ProgramStatus",
    "RemoteCommand",
    "RemoteCommands",
    "RemoteSites",
    "Services",
    "SiteConfigs",
    "SiteLag",
    "StatusCounters",
    "WebhookReceiver",
    "Webhooks",
]


class SiteConfigs(Protocol):
    """The running sites' configurations, and how one changes."""

    @property
    def sites(self) -> Sequence[SiteConfig]:
        """Every running site's configuration."""
        ...

    def site(self, site_id: str) -> SiteConfig | None:
        """The running configuration of ``site_id``; None: no such site runs."""
        ...

    async def change_site(self, site_id: str,
                          change: Callable[[SiteConfig], SiteConfig | Awaitable[SiteConfig]]) -> SiteConfig:
        """Apply ``change`` to the running configuration of ``site_id``; the configuration now running.

        Every change holds the one configuration lock from reading the site to
        applying the result, so two changes never start from the same
        configuration; the slots a changed or deleted schedule no longer writes
        are released. ``change`` may be a coroutine function, and may raise
        (nothing changes); a result the site rejects raises
        ``ConfigError`` (nothing changes); a result that cannot be applied raises
        ``OpenBMSError`` (the previous configuration is restored).
        """
        ...


#: The sources of an override: a person (operator) or a machine through the API, never
#: a schedule, a logic program or an optimiser (they are the building's own control).
MANUAL_SOURCES = frozenset({CommandSource.OPERATOR, CommandSource.API})


@dataclass(frozen=True, slots=True)
class Override:
    """A slot of a point's priority array held by a manual source (``MANUAL_SOURCES``).

    ``winning``: it is the highest slot held, so the point's effective value is its value.
    """

    command: Command
    winning: bool


class Commands(Protocol):
    """Commands and priority arrays: the arbiter, and the commands it stored."""

    @property
    def version(self) -> int:
        """A number that changes whenever a priority array may have changed (for caches)."""
        ...

    async def command(self, point: str, value: Value, priority: int | None = None, *,
                      source: CommandSource | str = ..., requested_by: str = "", reason: str = "",
                      duration: float | None = None) -> Command:
        """Set ``point`` to ``value`` at ``priority``: the command once written, held back or failed.

        Raises ``CommandError`` for a request refused before anything is written.
        """
        ...

    async def release(self, point: str, priority: int | None = None, *,
                      source: CommandSource | str = ..., requested_by: str = "",
                      reason: str = "") -> Command:
        """Empty ``point``'s slot at ``priority``."""
        ...

    def controls(self, point: str) -> bool:
        """Whether ``point`` has a priority array (a writable point of a running site)."""
        ...

    def slots(self, point: str) -> list[Command | None]:
        """The 16 slots of ``point``'s priority array (None where empty)."""
        ...

    def effective(self, point: str) -> Value:
        """What ``point``'s priority array makes it: the highest slot held, else its default."""
        ...

    def overrides(self, site_id: str) -> list[Override]:
        """Every slot of ``site_id``'s points held by a manual source, by point then priority."""
        ...

    def override(self, point: str) -> Command | None:
        """The command of ``point``'s winning slot when a manual source holds it; else None
        (also for a point without a priority array)."""
        ...

    async def recent(self, site_id: str, *, point: str | None = None, status: str | None = None,
                     after: tuple[float, str] | None = None, limit: int = 100) -> list[Command]:
        """The site's stored commands, newest first (after the (created_at, id) ``after``), all
        changes stored first."""
        ...

    async def updated(self, site_id: str, since: float, until: float, *,
                      after: tuple[float, str] | None = None, limit: int = 100) -> list[Command]:
        """The site's stored commands last changed in ``[since, until)``, oldest change first (by
        updated_at, then id; after the (updated_at, id) ``after``), all changes stored first."""
        ...

    async def find(self, command_id: str) -> Command | None:
        """One stored command (its changes stored first); None: no such command."""
        ...


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """A device serving a site's points: its health and which of the site's points it serves."""

    id: str  # driver://device
    health: DeviceHealth
    points: tuple[str, ...]


class Devices(Protocol):
    """The health of the devices serving a site's points."""

    def site_devices(self, site_id: str) -> list[DeviceReport]:
        """The devices of ``site_id``'s points that the driver manager polls, by id."""
        ...


class Alarms(Protocol):
    """A site's alarms: the running engine, and the events it stored."""

    def alarm_engine(self, site_id: str) -> AlarmEngine | None:
        """The running alarm engine of ``site_id`` (None: its alarms do not run)."""
        ...

    async def alarm_events(self, site_id: str, *, alarm_id: str | None = None, action: str | None = None,
                           since: float | None = None, until: float | None = None,
                           after: tuple[float, int] | None = None,
                           limit: int = 100, oldest_first: bool = False) -> list[dict[str, Any]]:
        """The site's stored alarm events (rows of ``alarm_events``), newest first (by time, then
        id; ``oldest_first``: the other way, ``after`` then meaning later)."""
        ...


class ProgramRepository(Protocol):
    """Program versions in the state database (``openbms.control.programs.ProgramStore``).

    Saving the latest version's document again returns that version and stores
    nothing; ``deploy``, ``rollback``, ``disable`` and ``enable`` keep their
    ``reason`` in the audit row. Blocking: call from a worker thread.
    """

    def save(self, program: Program, created_by: str = "", comment: str = "") -> SavedVersion: ...

    def deploy(self, program_id: str, version: int, by: str = "", *, site: str | None = None,
               reason: str = "") -> None: ...

    def rollback(self, program_id: str, by: str = "", *, site: str | None = None,
                 reason: str = "") -> int: ...

    def disable(self, program_id: str, by: str = "", *, site: str | None = None,
                reason: str = "") -> None: ...

    def enable(self, program_id: str, by: str = "", *, site: str | None = None,
               reason: str = "") -> None: ...

    def get(self, program_id: str, version: int | None = None, *,
            site: str | None = None) -> ProgramVersion: ...

    def list(self, site: str | None = None) -> builtins.list[ProgramInfo]: ...

    def info(self, program_id: str, site: str) -> ProgramInfo | None: ...

    def versions(self, program_id: str, *, site: str | None = None) -> builtins.list[ProgramVersion]: ...


class Programs(Protocol):
    """Logic programs: the versions kept, the running engine, and how each program runs."""

    @property
    def program_store(self) -> ProgramRepository | None: ...

    @property
    def programs(self) -> ProgramEngine | None: ...

    @property
    def dry_runs(self) -> DryRuns | None:
        """Edited programs run live for a while, writing nothing; None until the programs start."""
        ...

    def program_status(self, program_id: str, site: str) -> ProgramStatus | None:
        """How ``site``'s program runs, or why it did not start; None: not run."""
        ...


class StatusCounters(Protocol):
    """A snapshot of the process's counters (``openbms.service.runtime.RuntimeStatus``)."""

    @property
    def uptime(self) -> float: ...
    @property
    def points(self) -> int: ...
    @property
    def devices(self) -> int: ...
    @property
    def devices_offline(self) -> int: ...
    @property
    def samples(self) -> int: ...
    @property
    def stored(self) -> int: ...
    @property
    def backlog(self) -> int: ...
    @property
    def dropped(self) -> int: ...


class Services(SiteConfigs, Devices, Alarms, Programs, Protocol):
    """Everything the API serves from: a running openbms (``Runtime``)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def bus(self) -> Bus: ...

    @property
    def cache(self) -> CurrentValueCache: ...

    @property
    def historian(self) -> Historian: ...

    @property
    def commands(self) -> Commands:
        """Commands and priority arrays (a write raises ``RuntimeError`` before control starts)."""
        ...

    @property
    def state(self) -> sa.Engine | None:
        """The state database once started."""
        ...

    @property
    def faults(self) -> FaultControl | None:
        """The emulated building's faults, when the process runs one (``openbms demo``); else None."""
        ...

    def health(self) -> dict[str, dict[str, Any]]:
        """Disk, event loop and historian checks (status, reasons, figures)."""
        ...

    def status(self) -> StatusCounters:
        """Counters for a status line; cheap."""
        ...


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A command request that arrived over MQTT on ``{prefix}/{site}/command/{name}/request``.

    ``correlation`` is the MQTT v5 correlation data (None from an MQTT 3.1.1 client: the
    correlation id is then in the JSON body); ``authorization`` the value of the MQTT v5 user
    property ``authorization`` (``Bearer …``), if the client sent one.
    """

    site: str
    name: str
    payload: bytes
    topic: str
    correlation: bytes | None = None
    authorization: str | None = None


#: What answers a command request: its response's payload (``openbms.api.mqtt_commands``).
CommandRequestHandler = Callable[[CommandRequest], Awaitable[bytes]]


@runtime_checkable
class CommandRequests(Protocol):
    """Command/response over MQTT: the service keeps each site's connection; the API, when it
    runs, answers the requests (``serve_command_requests``)."""

    def serve_command_requests(self, handler: CommandRequestHandler | None) -> None:
        """Answer the sites' command requests with ``handler`` from now on (None: none answers;
        each request then gets an ``unavailable`` error)."""
        ...


class WebhookReceiver(Protocol):
    """A running driver that takes values a vendor pushes (the REST driver's webhooks)."""

    def verify(self, body: bytes, signature: str) -> bool:
        """Whether ``signature`` is the shared-secret signature of ``body`` (constant-time; False
        when no secret is configured)."""
        ...

    def deliver(self, payload: Any) -> int:
        """Hand the payload's values to the driver manager as samples now; how many points changed.

        Raises ``openbms.errors.DriverError`` when the payload does not say which device and
        values it carries."""
        ...


@runtime_checkable
class Webhooks(Protocol):
    """Values pushed to the API for a site's driver (``POST /api/v1/sites/{site}/webhooks/rest/{name}``)."""

    def webhook_receiver(self, site_id: str, name: str) -> WebhookReceiver | None:
        """The running driver of ``site_id`` that takes webhooks as ``name`` (its scheme, or its
        profile's name); None when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class RemoteCommand:
    """A command made at a central openbms for a site's edge, and how far it got (``delivery``).

    ``delivery``: ``queued`` (waiting for its edge), ``sending``, ``answered`` (``answer`` is the
    edge's: ``ok`` and its command, or its error), ``unanswered`` (sent, no answer in time: it
    may have run), ``expired`` (never sent) or ``superseded`` (a newer value of the same central
    schedule or program was queued before it was sent: never sent)."""

    id: str
    point: str
    value: Value
    release: bool
    priority: int
    reason: str
    requested_by: str
    duration_s: float | None
    created_at: float
    expires_at: float
    delivery: str
    answer: dict[str, Any] | None
    updated_at: float
    #: The edge's newest change of the command it made (its bridge's command changes), if any:
    #: what happened after the answer (a held-back write completed, a timed override expired).
    edge: dict[str, Any] | None = None
    #: Every change of that command the centre holds, oldest first (the edge's lifecycle).
    changes: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class EdgeCommand:
    """A command a site's edge made itself (its operators, schedules, programs), as a central
    openbms knows it: the changes its bridge sent, oldest first, each as the edge sent it
    (``id``, ``point``, ``value``, ``priority``, ``release``, ``status``, ``error``, ``source``,
    ``requested_by``, ``updated_at``)."""

    id: str
    changes: tuple[dict[str, Any], ...]
    #: Its first change's time (the centre's ``ts`` of it, 0 when it has none): what the command
    #: list is ordered and paged by, and the API's ``created_at``.
    created_at: float = 0.0


@runtime_checkable
class RemoteCommands(Protocol):
    """Commands executed by a site's edge (the central role, ``openbms central serve``): the API
    queues a command on such a site instead of writing to a local arbiter; the edge's own arbiter,
    limits and audit run it."""

    def remote_site(self, site_id: str) -> bool:
        """Whether ``site_id``'s commands go to its edge."""
        ...

    async def submit_remote(self, point: str, value: Value, priority: int | None, *,
                            release: bool, duration: float | None, reason: str,
                            requested_by: str) -> RemoteCommand:
        """Queue a command for the edge; ``openbms.errors.CommandError`` (with its field) when
        the centre refuses it (a point not writable at the edge, a priority the edge keeps)."""
        ...

    async def remote_commands(self, site_id: str, *, point: str | None = None,
                              after: tuple[float, str] | None = None,
                              limit: int | None = None) -> list[RemoteCommand]:
        """The site's commands made at the centre, newest first by (``created_at``, ``id``), ids
        compared as Python compares str; after the keyset ``after`` (created_at, id) and at most
        ``limit`` of them when given."""
        ...

    async def remote_command(self, site_id: str, command_id: str) -> RemoteCommand | None:
        """One of them, by its id."""
        ...

    def edge_writable(self, point: str) -> bool:
        """Whether the edge's published configuration lets ``point`` be written (from the centre)."""
        ...

    def edge_min_priority(self) -> int:
        """The most urgent priority the centre commands an edge at (its commands, schedules and
        programs): 1 up to it stay the edge's."""
        ...

    async def edge_commands(self, site_id: str, *, point: str | None = None,
                            command_id: str | None = None,
                            after: tuple[float, str] | None = None,
                            limit: int | None = None) -> list[EdgeCommand]:
        """The commands the site's edge made itself (not those it made of the centre's, whose
        answers name them), newest first by (``created_at``, ``id``) as ``remote_commands``, after
        ``after`` and at most ``limit`` when given; with ``command_id``, that one, whoever made it."""
        ...


@dataclass(frozen=True, slots=True)
class SiteLag:
    """How far behind a central openbms is on one site."""

    #: The time of the site's newest sample received or stored at the centre; None before the first.
    newest: float | None
    #: The centre's clock less ``newest`` (seconds); None before the first sample.
    lag_s: float | None
    #: Its edge's last bridge status (online / offline); None: never heard.
    online: bool | None
    #: ``lag_s`` is past ``warn_s``, or no sample has come yet.
    behind: bool
    #: The threshold ``behind`` is measured against (seconds).
    warn_s: float


@runtime_checkable
class RemoteSites(Protocol):
    """At a central openbms (``openbms central serve``): what each served site's edge sent besides
    its samples, read from the centre's tables: its alarm changes, and how far behind the centre
    is. The alarms are the edge's: acknowledged, noted and shelved there."""

    def remote_site(self, site_id: str) -> bool:
        """Whether ``site_id`` is a site of an edge."""
        ...

    def site_lag(self, site_id: str) -> SiteLag | None:
        """How far behind the centre is on ``site_id``; None for a site that is not an edge's."""
        ...

    async def remote_alarms(self, site_id: str) -> list[dict[str, Any]]:
        """Each alarm of the site the centre heard of, as its latest changes make it (the fields
        of ``Alarm.to_dict``), in any state."""
        ...

    async def remote_alarm_events(self, site_id: str, *, alarm_id: str | None = None,
                                  action: str | None = None, since: float | None = None,
                                  until: float | None = None,
                                  after: tuple[float, int] | None = None,
                                  limit: int = 100) -> list[dict[str, Any]]:
        """The site's alarm changes, newest first, as ``Runtime.alarm_events`` returns its rows
        (``id`` a stable number of the change)."""
        ...
