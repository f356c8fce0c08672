"""Commands and priority arrays as a service (``openbms.service.protocols.Commands``).

Writes go to the arbiter that runs now (a configuration change may replace
its points, never the arbiter); queries read the ``commands`` table after the
arbiter stored its pending changes, in a worker thread. Overrides (slots held
by an operator or through the API) are read from the priority arrays in memory;
``version`` changes with every command the arbiter reports (``changed``) so a
cache of what the arrays say knows when it is stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from openbms.control.arbiter import Arbiter
from openbms.control.commands import CommandStore
from openbms.errors import CommandError
from openbms.model.command import Command, CommandSource
from openbms.model.sample import Value
from openbms.service.protocols import MANUAL_SOURCES, Override

__all__ = ["CommandDesk"]


class CommandDesk:
    """The arbiter's writes and priority arrays, and the commands it stored."""

    def __init__(self, arbiter: Callable[[], Arbiter | None], store: CommandStore | None = None) -> None:
        self._arbiter = arbiter
        #: Where the commands are kept (set once the state database is open); None: nowhere yet.
        self.store = store
        self._version = 0

    @property
    def version(self) -> int:
        return self._version

    def changed(self, cmd: Command | None = None) -> None:
        """A command changed (the arbiter's ``on_command``): what the arrays say may have too."""
        self._version += 1

    @property
    def arbiter(self) -> Arbiter:
        arbiter = self._arbiter()
        if arbiter is None:
            raise RuntimeError("control has not started: there is no arbiter yet")
        return arbiter

    async def command(self, point: str, value: Value, priority: int | None = None, *,
                      source: CommandSource | str = CommandSource.OPERATOR, requested_by: str = "",
                      reason: str = "", duration: float | None = None) -> Command:
        try:
            return await self.arbiter.command(point, value, priority, source=source,
                                              requested_by=requested_by, reason=reason,
                                              duration=duration)
        finally:
            self.changed()  # the slot has its new holder now (the arbiter reported it before)

    async def release(self, point: str, priority: int | None = None, *,
                      source: CommandSource | str = CommandSource.OPERATOR, requested_by: str = "",
                      reason: str = "") -> Command:
        try:
            return await self.arbiter.release(point, priority, source=source,
                                              requested_by=requested_by, reason=reason)
        finally:
            self.changed()

    def controls(self, point: str) -> bool:
        arbiter = self._arbiter()
        return arbiter is not None and point in arbiter.controlled()

    def slots(self, point: str) -> list[Command | None]:
        return self.arbiter.slots(point)

    def effective(self, point: str) -> Value:
        return self.arbiter.effective(point)

    def overrides(self, site_id: str) -> list[Override]:
        arbiter = self._arbiter()
        if arbiter is None:
            return []
        prefix = f"{site_id}/"
        found: list[Override] = []
        for point in sorted(p for p in arbiter.controlled() if p.startswith(prefix)):
            slots = arbiter.slots(point)
            winner = next((c for c in slots if c is not None), None)
            found.extend(Override(c, c is winner) for c in slots
                         if c is not None and c.source in MANUAL_SOURCES)
        return found

    def override(self, point: str) -> Command | None:
        arbiter = self._arbiter()
        if arbiter is None:
            return None
        try:
            slots = arbiter.slots(point)
        except CommandError:  # no priority array
            return None
        winner = next((c for c in slots if c is not None), None)
        return winner if winner is not None and winner.source in MANUAL_SOURCES else None

    async def recent(self, site_id: str, *, point: str | None = None, status: str | None = None,
                     after: tuple[float, str] | None = None, limit: int = 100) -> list[Command]:
        if self.store is None:
            return []
        await self.arbiter.flush()  # status changes are stored in batches: read the latest
        return await asyncio.to_thread(self.store.query, point, status, limit, site=site_id, after=after)

    async def updated(self, site_id: str, since: float, until: float, *,
                      after: tuple[float, str] | None = None, limit: int = 100) -> list[Command]:
        if self.store is None:
            return []
        await self.arbiter.flush()
        return await asyncio.to_thread(self.store.updated, site_id, since, until, after, limit)

    async def find(self, command_id: str) -> Command | None:
        if self.store is None:
            return None
        await self.arbiter.flush()
        return await asyncio.to_thread(self.store.get, command_id)
