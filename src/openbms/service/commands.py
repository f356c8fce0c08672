"""Commands and priority arrays as a service (``openbms.service.protocols.Commands``).

Writes go to the arbiter that runs now (a configuration change may replace
its points, never the arbiter); queries read the ``commands`` table after the
arbiter stored its pending changes, in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from openbms.control.arbiter import Arbiter
from openbms.control.commands import CommandStore
from openbms.model.command import Command, CommandSource
from openbms.model.sample import Value

__all__ = ["CommandDesk"]


class CommandDesk:
    """The arbiter's writes and priority arrays, and the commands it stored."""

    def __init__(self, arbiter: Callable[[], Arbiter | None], store: CommandStore | None = None) -> None:
        self._arbiter = arbiter
        #: Where the commands are kept (set once the state database is open); None: nowhere yet.
        self.store = store

    @property
    def arbiter(self) -> Arbiter:
        arbiter = self._arbiter()
        if arbiter is None:
            raise RuntimeError("control has not started: there is no arbiter yet")
        return arbiter

    async def command(self, point: str, value: Value, priority: int | None = None, *,
                      source: CommandSource | str = CommandSource.OPERATOR, requested_by: str = "",
                      reason: str = "", duration: float | None = None) -> Command:
        return await self.arbiter.command(point, value, priority, source=source,
                                          requested_by=requested_by, reason=reason, duration=duration)

    async def release(self, point: str, priority: int | None = None, *,
                      source: CommandSource | str = CommandSource.OPERATOR, requested_by: str = "",
                      reason: str = "") -> Command:
        return await self.arbiter.release(point, priority, source=source, requested_by=requested_by,
                                          reason=reason)

    def controls(self, point: str) -> bool:
        arbiter = self._arbiter()
        return arbiter is not None and point in arbiter.controlled()

    def slots(self, point: str) -> list[Command | None]:
        return self.arbiter.slots(point)

    def effective(self, point: str) -> Value:
        return self.arbiter.effective(point)

    async def recent(self, site_id: str, *, point: str | None = None, status: str | None = None,
                     after: tuple[float, str] | None = None, limit: int = 100) -> list[Command]:
        if self.store is None:
            return []
        await self.arbiter.flush()  # status changes are stored in batches: read the latest
        return await asyncio.to_thread(self.store.query, point, status, limit, site=site_id, after=after)

    async def find(self, command_id: str) -> Command | None:
        if self.store is None:
            return None
        await self.arbiter.flush()
        return await asyncio.to_thread(self.store.get, command_id)
