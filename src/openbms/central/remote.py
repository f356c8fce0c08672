"""The centre's API commands: a command on a served site goes into the centre's queue.

::

    POST …/points/{equipment}/{point}/commands at ``openbms central serve``
        ─▶ api/routes/commands.py: the runtime is RemoteCommands and the site is remote
        ─▶ CentralCommands.submit_remote: writable at the edge? priority 9-16?
        ─▶ CommandQueue.submit (expires in ``expires_s``) ─▶ the Dispatcher sends it
    GET …/commands: the queue's commands of the site, newest first (``delivery`` says
        queued, sending, answered, unanswered or expired; ``answer`` the edge's)

The centre's copy of a site has no writable point (``central_site``): its runtime holds no
priority array and writes nothing. Which points the edge lets write is read from the
configuration the edge published, so the API refuses at once a command the edge would refuse for
that reason; the edge's arbiter checks the rest (limits, kind, minimum times) and its answer says.
``CentralServices`` is the running system the API sees: the centre's Runtime, and these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openbms.central.commands import DEFAULT_PRIORITY, MIN_PRIORITY, CommandQueue
from openbms.errors import CommandError
from openbms.model.sample import Value
from openbms.runtime.clock import Clock
from openbms.service.protocols import RemoteCommand, Services

__all__ = ["DEFAULT_EXPIRES_S", "CentralCommands", "CentralServices", "writable_points"]

#: Seconds an API command waits at the centre for its edge before it expires (never sent late).
DEFAULT_EXPIRES_S = 600.0
_PREFIX = "central-"


def writable_points(config: dict[str, Any]) -> set[str]:
    """The ids of the points an edge's published configuration lets write."""
    site = config.get("site")
    sid = site.get("id") if isinstance(site, dict) else None
    out: set[str] = set()
    for equip in config.get("equipment") or ():
        if not isinstance(equip, dict):
            continue
        for point in equip.get("points") or ():
            if isinstance(point, dict) and point.get("writable") is True:
                out.add(f"{sid}/{equip.get('id')}/{point.get('name')}")
    return out


def _edge_id(row: dict[str, Any]) -> str | None:
    """The id of the command the edge made of ``row`` (its answer names it)."""
    answer = row.get("answer")
    if not isinstance(answer, dict) or not answer.get("ok"):
        return None
    command = (answer.get("result") or {}).get("command")
    return str(command["id"]) if isinstance(command, dict) and command.get("id") else None


def _remote(row: dict[str, Any], edge: dict[str, Any] | None = None) -> RemoteCommand:
    return RemoteCommand(
        id=f"{_PREFIX}{row['id']}", point=row["point"], value=row["value"], release=row["release"],
        priority=row["priority"] if row["priority"] is not None else DEFAULT_PRIORITY,
        reason=row["reason"], requested_by=row["requested_by"], duration_s=row["duration_s"],
        created_at=row["created"], expires_at=row["expires"], delivery=row["status"],
        answer=row["answer"], updated_at=row["updated"], edge=edge)


class CentralCommands:
    """``RemoteCommands`` over the centre's queue (module docstring)."""

    def __init__(self, queue: CommandQueue, clock: Clock, *, expires_s: float = DEFAULT_EXPIRES_S,
                 poke: Callable[[], None] | None = None) -> None:
        self.queue = queue
        self.clock = clock
        self.expires_s = expires_s
        self.poke = poke
        self._sites: set[str] = set()
        self._writable: dict[str, set[str]] = {}

    def serve(self, site: str, config: dict[str, Any]) -> None:
        """The site's commands go to its edge; its writable points are those of ``config``."""
        self._sites.add(site)
        self._writable[site] = writable_points(config)

    def remote_site(self, site_id: str) -> bool:
        return site_id in self._sites

    async def submit_remote(self, point: str, value: Value, priority: int | None, *,
                            release: bool, duration: float | None, reason: str,
                            requested_by: str) -> RemoteCommand:
        site = point.split("/", 1)[0]
        if point not in self._writable.get(site, ()):
            raise CommandError(f"{point}: not writable at its edge (its published configuration)")
        priority = DEFAULT_PRIORITY if priority is None else priority
        if not MIN_PRIORITY <= priority <= 16:
            raise CommandError(
                f"{point}: priority {priority}: a command from the centre is {MIN_PRIORITY} to 16 "
                f"({DEFAULT_PRIORITY} unless given); 1 to {MIN_PRIORITY - 1} stay the edge's (life "
                "safety, its own operators)", field="priority")
        cid = await self.queue.submit(site, point, value, now=self.clock.now(),
                                      expires_s=self.expires_s, priority=priority, release=release,
                                      reason=reason, requested_by=requested_by,
                                      duration_s=None if release else duration)
        if self.poke is not None:
            self.poke()
        found = await self.queue.commands(site, command_id=cid)
        return _remote(found[0])

    async def _with_edge(self, site: str, rows: list[dict[str, Any]]) -> list[RemoteCommand]:
        """``rows`` with the newest change of each edge command (``central_events``)."""
        ids = [i for i in (_edge_id(r) for r in rows) if i is not None]
        changes: dict[str, dict[str, Any]] = {}
        if ids:
            found = await self.queue._run(
                "SELECT DISTINCT ON (body->>'id') body->>'id', body FROM central_events "
                "WHERE site = %s AND kind = 'command' AND body->>'id' = ANY(%s) "
                "ORDER BY body->>'id', ts DESC NULLS LAST, received DESC", (site, ids))
            changes = {str(i): body for i, body in found}
        return [_remote(r, changes.get(_edge_id(r) or "")) for r in rows]

    async def remote_commands(self, site_id: str, *, point: str | None = None) -> list[RemoteCommand]:
        rows = await self.queue.commands(site_id, point=point, newest_first=True, limit=10_000)
        return await self._with_edge(site_id, rows)

    async def remote_command(self, site_id: str, command_id: str) -> RemoteCommand | None:
        number = command_id.removeprefix(_PREFIX)
        if not command_id.startswith(_PREFIX) or not number.isdigit():
            return None
        rows = await self.queue.commands(site_id, command_id=int(number))
        return (await self._with_edge(site_id, rows))[0] if rows else None


class CentralServices:
    """The running system the centre's API sees: the Runtime's services, and ``RemoteCommands``
    for the sites the centre serves (the API's command routes queue on them)."""

    def __init__(self, runtime: Services, commands: CentralCommands) -> None:
        self._runtime = runtime
        self._remote = commands

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)

    def remote_site(self, site_id: str) -> bool:
        return self._remote.remote_site(site_id)

    async def submit_remote(self, point: str, value: Value, priority: int | None, *,
                            release: bool, duration: float | None, reason: str,
                            requested_by: str) -> RemoteCommand:
        return await self._remote.submit_remote(point, value, priority, release=release,
                                                duration=duration, reason=reason,
                                                requested_by=requested_by)

    async def remote_commands(self, site_id: str, *, point: str | None = None) -> list[RemoteCommand]:
        return await self._remote.remote_commands(site_id, point=point)

    async def remote_command(self, site_id: str, command_id: str) -> RemoteCommand | None:
        return await self._remote.remote_command(site_id, command_id)
