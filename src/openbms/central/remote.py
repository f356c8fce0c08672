"""The centre's API commands: a command on a served site goes into the centre's queue.

::

    POST …/points/{equipment}/{point}/commands at ``openbms central serve``
        ─▶ api/routes/commands.py: the runtime is RemoteCommands and the site is remote
        ─▶ CentralCommands.submit_remote: writable at the edge? priority 9-16?
        ─▶ CommandQueue.submit (expires in ``expires_s``) ─▶ the Dispatcher sends it
    GET …/commands: the queue's commands of the site, newest first (``delivery`` says
        queued, sending, answered, unanswered or expired; ``answer`` the edge's), paged in
        PostgreSQL by the API's cursor (created_at, id)

The centre's copy of a site has no writable point (``central_site``): its runtime holds no
priority array and writes nothing. Which points the edge lets write is read from the
configuration the edge published (``edge_writable``: the points API says so, and the dashboard
offers its command dialog), so the API refuses at once a command the edge would refuse for
that reason; the edge's arbiter checks the rest (limits, kind, minimum times) and its answer says.

What the edges sent besides samples is read back from ``central_events`` (``store.py``)::

    GET …/commands        the queue's commands, each joined to the changes of the command the
                          edge made of it (its answer names it), and the commands the edge made
                          itself (its operators, schedules), from their changes
    GET …/alarms          CentralView.remote_alarms: each alarm's latest changes folded into its
                          state (alarm_state); acknowledging is the edge's (refused here)
    GET …/alarms/history  the alarm changes, newest first
    GET /sites            CentralView.site_lag: the newest stored sample's time, per site

``CentralServices`` is the running system the API sees: the centre's Runtime, and these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from openbms.central.commands import DEFAULT_PRIORITY, MIN_PRIORITY, CommandQueue
from openbms.central.store import CentralStore
from openbms.errors import CommandError
from openbms.model.sample import Value
from openbms.runtime.clock import Clock
from openbms.service.protocols import EdgeCommand, RemoteCommand, Services, SiteLag

__all__ = ["DEFAULT_EXPIRES_S", "DEFAULT_LAG_WARNING_S", "CentralCommands", "CentralServices",
           "CentralView", "alarm_state", "writable_points"]

#: Seconds an API command waits at the centre for its edge before it expires (never sent late).
DEFAULT_EXPIRES_S = 600.0
#: A site is shown behind when its newest stored sample is older than this (seconds).
DEFAULT_LAG_WARNING_S = 300.0
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
    result = answer.get("result")  # as the edge sent it: not necessarily an object
    command = result.get("command") if isinstance(result, dict) else None
    return str(command["id"]) if isinstance(command, dict) and command.get("id") else None


def _remote(row: dict[str, Any], changes: Sequence[dict[str, Any]] = ()) -> RemoteCommand:
    return RemoteCommand(
        id=f"{_PREFIX}{row['id']}", point=row["point"], value=row["value"], release=row["release"],
        priority=row["priority"] if row["priority"] is not None else DEFAULT_PRIORITY,
        reason=row["reason"], requested_by=row["requested_by"], duration_s=row["duration_s"],
        created_at=row["created"], expires_at=row["expires"], delivery=row["status"],
        answer=row["answer"], updated_at=row["updated"], edge=changes[-1] if changes else None,
        changes=tuple(changes))


class CentralCommands:
    """``RemoteCommands`` over the centre's queue (module docstring)."""

    def __init__(self, queue: CommandQueue, store: CentralStore, clock: Clock, *,
                 expires_s: float = DEFAULT_EXPIRES_S,
                 poke: Callable[[], None] | None = None) -> None:
        self.queue = queue
        self.store = store
        self.clock = clock
        self.expires_s = expires_s
        self.poke = poke
        self._sites: set[str] = set()
        self._writable: dict[str, set[str]] = {}

    def serve(self, site: str, config: dict[str, Any]) -> None:
        """The site's commands go to its edge; its writable points are those of ``config``."""
        self._sites.add(site)
        self._writable[site] = writable_points(config)

    def forget(self, site: str) -> None:
        """``site`` is not served any more."""
        self._sites.discard(site)
        self._writable.pop(site, None)

    def remote_site(self, site_id: str) -> bool:
        return site_id in self._sites

    def edge_writable(self, point: str) -> bool:
        return point in self._writable.get(point.split("/", 1)[0], ())

    def edge_min_priority(self) -> int:
        return MIN_PRIORITY

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
        """``rows`` with the changes of the command the edge made of each (``central_events``)."""
        ids = [i for i in (_edge_id(r) for r in rows) if i is not None]
        found = await self.store.command_changes(site, ids=ids) if ids else []
        changes = {cid: made for cid, _first, made in found}
        return [_remote(r, changes.get(_edge_id(r) or "", ())) for r in rows]

    async def edge_commands(self, site_id: str, *, point: str | None = None,
                            command_id: str | None = None,
                            after: tuple[float, str] | None = None,
                            limit: int | None = None) -> list[EdgeCommand]:
        if command_id is not None:  # that one, also when the edge made it of the centre's
            found = await self.store.command_changes(site_id, ids=[command_id], point=point)
        else:
            found = await self.store.command_changes(site_id, point=point, after=after,
                                                     limit=limit, hide_sent=True)
        return [EdgeCommand(cid, tuple(changes), first) for cid, first, changes in found]

    async def remote_commands(self, site_id: str, *, point: str | None = None,
                              after: tuple[float, str] | None = None,
                              limit: int | None = None) -> list[RemoteCommand]:
        rows = await self.queue.commands(site_id, point=point, newest_first=True, after=after,
                                         limit=limit)
        return await self._with_edge(site_id, rows)

    async def remote_command(self, site_id: str, command_id: str) -> RemoteCommand | None:
        number = command_id.removeprefix(_PREFIX)
        if not command_id.startswith(_PREFIX) or not (number.isascii() and number.isdigit()):
            return None
        rows = await self.queue.commands(site_id, command_id=int(number))
        return (await self._with_edge(site_id, rows))[0] if rows else None


#: Alarm actions that change its condition (their value and message are the alarm's).
_CONDITION = frozenset({"raise", "reactivate", "return", "repeat", "flapping", "reannunciate"})


def alarm_state(alarm_id: str, changes: Sequence[dict[str, Any]],
                rule: dict[str, Any] | None = None) -> dict[str, Any]:
    """An alarm as the edge's engine holds it (``Alarm.to_dict``'s fields), from its changes at
    the centre, oldest first (the latest 100 are kept per alarm); ``rule`` is its rule in the
    edge's published configuration (its name, whether it is an event). Fields are passed on as
    the edge sent them: the API's model says which are not what they should be."""
    last = changes[-1]
    out: dict[str, Any] = {
        "id": alarm_id, "rule_id": last.get("rule_id") or alarm_id, "point": last.get("point") or "",
        "name": (rule or {}).get("name") or alarm_id, "priority": last.get("priority", 100),
        "alarm_class": last.get("alarm_class") or "",
        "event_type": (rule or {}).get("type") == "change_of_state", "state": last.get("to_state"),
        "value": None, "message": "", "active_since": None, "changed_ts": None, "acked_by": None,
        "acked_ts": None, "shelved": bool(last.get("shelved")), "shelved_until": None,
        "shelved_by": None, "shelve_reason": None, "flapping": False,
        "flap_count": last.get("flap_count") or 0, "count": 0, "notes": [], "history": [],
        "source": "rule" if rule is not None else "service", "context": None}
    for c in changes:
        ts, action = c.get("ts"), c.get("action")
        before, after = c.get("from_state"), c.get("to_state")
        if action in _CONDITION or not out["message"]:
            out["value"], out["message"] = c.get("value"), c.get("message") or ""
        if before != after:
            out["changed_ts"] = ts
        if before == "normal" and after != "normal":
            out["active_since"], out["acked_by"], out["acked_ts"] = ts, None, None
        if action in ("raise", "reactivate", "repeat"):
            out["count"] += 1
        if action == "ack":
            out["acked_by"], out["acked_ts"] = c.get("who"), ts
        elif action == "note":
            out["notes"].append({"ts": ts, "who": c.get("who") or "", "text": c.get("note") or ""})
        elif action == "shelve":
            out["shelved_by"], out["shelve_reason"] = c.get("who"), c.get("note")
        elif action == "flapping":
            out["flapping"] = True
        if after == "normal":
            out["active_since"], out["flapping"] = None, False
        out["history"].append({"ts": ts, "action": action, "from_state": before,
                               "to_state": after, "value": c.get("value"), "who": c.get("who"),
                               "note": c.get("note")})
    if not out["shelved"]:
        out["shelved_by"] = out["shelve_reason"] = None
    return out


class CentralView:
    """``RemoteSites``: the served sites' alarms and lag, from the centre's tables (module
    docstring). ``online`` tells an edge's last bridge status and ``received`` the time of each
    site's newest sample this process's ingest worker received (both the worker's, in memory).

    A site's newest sample is the later of what this process received (its live feed) and what
    every worker took (``refresh_lag``: ``central_newest``, one row a site, which each worker
    writes every 5 s; the first read also takes every point's latest value once, for the sites
    no worker has written yet: 2.4 s for 1 000 sites of 1 000 points on the loaded development
    machine)."""

    def __init__(self, store: CentralStore, clock: Clock, *,
                 warn_s: float = DEFAULT_LAG_WARNING_S,
                 online: Callable[[str], bool | None] | None = None,
                 received: Callable[[], dict[str, float]] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.warn_s = warn_s
        self.online = online
        self.received = received
        self._rules: dict[str, dict[str, dict[str, Any]]] = {}  # site → alarm rules by id
        #: site → the time of its newest stored sample (``refresh_lag``).
        self.newest: dict[str, float] = {}
        self._scanned = False  # every point's latest value read once

    def serve(self, site: str, config: dict[str, Any]) -> None:
        """``site`` is an edge's; its alarm rules are those of ``config``."""
        rules = config.get("alarms") or ()
        self._rules[site] = {str(r.get("id")): r for r in rules if isinstance(r, dict)}

    def forget(self, site: str) -> None:
        """``site`` is not served any more."""
        self._rules.pop(site, None)

    def remote_site(self, site_id: str) -> bool:
        return site_id in self._rules

    async def refresh_lag(self) -> None:
        """Read each site's newest stored sample again (a HistorianError when it cannot)."""
        now = self.clock.now()
        found = await self.store.newest_times()
        if not self._scanned:
            # Once: every point's latest value (the slow query), for the sites no worker has
            # written a time for yet (an upgrade, or a site silent since before it); kept in the
            # table for the next reads.
            scanned = {site: ts for site, ts in (await self.store.newest_samples()).items()
                       if ts > found.get(site, -1.0) and ts <= now}
            await self.store.put_newest(scanned, now=now)
            found.update(scanned)
            self._scanned = True
        # A stored time ahead of the centre's clock (an edge whose clock runs fast) would show its
        # site 0 s behind long after the edge died: it is left out (what was received counts).
        self.newest = {site: ts for site, ts in found.items() if ts <= now}

    def site_lag(self, site_id: str) -> SiteLag | None:
        if site_id not in self._rules:
            return None
        stored = self.newest.get(site_id)
        here = self.received().get(site_id) if self.received is not None else None
        known = [t for t in (stored, here) if t is not None]
        newest = max(known) if known else None
        lag = None if newest is None else max(0.0, self.clock.now() - newest)
        online = self.online(site_id) if self.online is not None else None
        return SiteLag(newest=newest, lag_s=lag, online=online,
                       behind=lag is None or lag > self.warn_s, warn_s=self.warn_s)

    async def remote_alarms(self, site_id: str) -> list[dict[str, Any]]:
        by_alarm: dict[str, list[dict[str, Any]]] = {}
        for change in await self.store.alarm_changes(site_id):
            by_alarm.setdefault(str(change.get("alarm_id")), []).append(change)
        rules = self._rules.get(site_id, {})
        return [alarm_state(aid, changes, rules.get(str(changes[-1].get("rule_id"))))
                for aid, changes in by_alarm.items()]

    async def remote_alarm_events(self, site_id: str, *, alarm_id: str | None = None,
                                  action: str | None = None, since: float | None = None,
                                  until: float | None = None,
                                  after: tuple[float, int] | None = None,
                                  limit: int = 100) -> list[dict[str, Any]]:
        rows = await self.store.alarm_history(site_id, alarm_id=alarm_id, action=action,
                                              since=since, until=until, after=after, limit=limit)
        return [{"id": n, "alarm_id": str(c.get("alarm_id")), "rule_id": str(c.get("rule_id") or ""),
                 "point_id": str(c.get("point") or ""), "ts": ts, "action": str(c.get("action")),
                 "from_state": str(c.get("from_state")), "to_state": str(c.get("to_state")),
                 "value": c.get("value"), "message": str(c.get("message") or ""),
                 "who": str(c.get("who") or ""), "note": str(c.get("note") or ""),
                 # as sent (the API's model refuses one that is no number); 0 is a priority
                 "priority": 100 if c.get("priority") is None else c.get("priority"),
                 "alarm_class": str(c.get("alarm_class") or "")} for n, ts, c in rows]


class CentralServices:
    """The running system the centre's API sees: the Runtime's services, ``RemoteCommands``
    for the sites the centre serves (the API's command routes queue on them), and
    ``RemoteSites`` (their alarms and lag)."""

    def __init__(self, runtime: Services, commands: CentralCommands, view: CentralView) -> None:
        self._runtime = runtime
        self._remote = commands
        self._view = view

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

    async def remote_commands(self, site_id: str, *, point: str | None = None,
                              after: tuple[float, str] | None = None,
                              limit: int | None = None) -> list[RemoteCommand]:
        return await self._remote.remote_commands(site_id, point=point, after=after, limit=limit)

    async def remote_command(self, site_id: str, command_id: str) -> RemoteCommand | None:
        return await self._remote.remote_command(site_id, command_id)

    def edge_writable(self, point: str) -> bool:
        return self._remote.edge_writable(point)

    def edge_min_priority(self) -> int:
        return self._remote.edge_min_priority()

    async def edge_commands(self, site_id: str, *, point: str | None = None,
                            command_id: str | None = None,
                            after: tuple[float, str] | None = None,
                            limit: int | None = None) -> list[EdgeCommand]:
        return await self._remote.edge_commands(site_id, point=point, command_id=command_id,
                                                after=after, limit=limit)

    def site_lag(self, site_id: str) -> SiteLag | None:
        return self._view.site_lag(site_id)

    async def remote_alarms(self, site_id: str) -> list[dict[str, Any]]:
        return await self._view.remote_alarms(site_id)

    async def remote_alarm_events(self, site_id: str, *, alarm_id: str | None = None,
                                  action: str | None = None, since: float | None = None,
                                  until: float | None = None,
                                  after: tuple[float, int] | None = None,
                                  limit: int = 100) -> list[dict[str, Any]]:
        return await self._view.remote_alarm_events(site_id, alarm_id=alarm_id, action=action,
                                                     since=since, until=until, after=after,
                                                     limit=limit)
