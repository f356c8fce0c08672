"""Commands from the centre to an edge: queued in PostgreSQL with an expiry, sent over the edge's
MQTT command/response when the edge is online, executed by the edge's own arbiter.

::

    submit() ─▶ central_commands: queued (expires at created + expires_s)
    Dispatcher, every ``interval`` s, one row at a time (FOR UPDATE SKIP LOCKED: several
    workers never send one twice):
        expired ─────────────────────────────────────────▶ expired   (never sent)
        the edge online (its retained status) ─▶ sending ─▶ answered (the edge's answer: ok and
                                                            │          its command, or its error)
                                                            └────────▶ unanswered (no answer in
                                                                       time: it may have run;
                                                                       the edge's command changes
                                                                       in central_events say)
        the edge offline ───────────────────────────────▶ stays queued
    submit(supersede=True) (the centre's schedules and programs, ``supervise.py``): a queued
        command of the same point, priority and requester ────▶ superseded (never sent)

The edge keeps control authority: the request is the edge's ``write`` (or
``release``), checked by its API against the token the centre holds for the
site (one token per site, of a user with a role on that site only) and
written through its arbiter at the priority asked (``DEFAULT_PRIORITY``, 12,
unless given; never more urgent than ``MIN_PRIORITY``, 9: priorities 1-8, life
safety to the edge's own operators, stay the edge's); its limits, minimum times
and audit apply. A
command is only sent while its expiry is ahead, so an edge offline past it
never executes it late. The edge's command lifecycle (pending → executing →
completed | failed) comes back through its bridge's command changes
(``central_events``), joined by the edge's command id kept in ``answer``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from openbms.central.store import SENT_ID, _first_line
from openbms.errors import HistorianError
from openbms.runtime.clock import Clock

try:  # the ``postgres`` extra
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError:  # pragma: no cover - the CLI says what to install
    psycopg = None  # type: ignore[assignment]

__all__ = ["DEFAULT_PRIORITY", "MIN_PRIORITY", "CommandQueue", "Dispatcher"]

#: The most urgent priority the centre asks for: 1-8 stay the edge's (life safety, critical
#: equipment, its local operators at 8), so a central command never overrides them.
MIN_PRIORITY = 9
#: A central command's priority unless it names one.
DEFAULT_PRIORITY = 12

log = logging.getLogger(__name__)

DDL = (
    """CREATE TABLE IF NOT EXISTS central_commands (
        id bigserial PRIMARY KEY,
        site text NOT NULL,
        point text NOT NULL,
        value jsonb,
        release boolean NOT NULL DEFAULT false,
        priority int,
        reason text NOT NULL DEFAULT '',
        requested_by text NOT NULL DEFAULT '',
        created float8 NOT NULL,
        expires float8 NOT NULL,
        status text NOT NULL DEFAULT 'queued',
        answer jsonb,
        updated float8 NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS central_commands_queued ON central_commands (id) "
    "WHERE status = 'queued'",
    # a timed override (the API's duration_s), released by the edge's arbiter after this long
    "ALTER TABLE central_commands ADD COLUMN IF NOT EXISTS duration_s float8",
    # the API's command list, paged newest first (``commands(newest_first=True, after=...)``),
    # of a site and of a point; and the edge's commands made of these (hidden from that list)
    "CREATE INDEX IF NOT EXISTS central_commands_site_time ON central_commands "
    "(site, created, ('central-' || id::text) COLLATE \"C\")",
    "CREATE INDEX IF NOT EXISTS central_commands_point_time ON central_commands "
    "(point, created, ('central-' || id::text) COLLATE \"C\")",
    "CREATE INDEX IF NOT EXISTS central_commands_sent ON central_commands "
    f"(site, {SENT_ID.format(answer='answer')})",
    # the commands done with, by age: pruned (``Dispatcher.prune``)
    "CREATE INDEX IF NOT EXISTS central_commands_done ON central_commands (updated) "
    "WHERE status NOT IN ('queued', 'sending')",
)

#: Seconds a command done with (answered, unanswered, expired) is kept at the centre (the edge
#: keeps its own audit); ``openbms central run|serve --keep-commands-days``.
DEFAULT_KEEP_S = 90 * 86400.0
#: Seconds a superseded command (never sent: a newer value of a central schedule's or program's
#: was queued before its edge came back) is kept.
SUPERSEDED_KEEP_S = 86400.0
#: Rows deleted per statement when pruning (a short transaction each).
_PRUNE_BATCH = 10_000

#: A command's id as the API shows it (``central-N``), in the order Python compares str: the
#: second key of the API's (created_at, id) order (an index's expression: named alike).
_API_ID = "('central-' || id::text) COLLATE \"C\""

#: ask(site, request name, payload, token) → the edge's answer (TimeoutError: none in time).
Ask = Callable[[str, str, bytes, str], Awaitable[bytes]]


class CommandQueue:
    """The ``central_commands`` table of the database ``conninfo`` names."""

    def __init__(self, conninfo: str, *, connect_timeout: int = 10) -> None:
        if psycopg is None:
            raise HistorianError("the psycopg driver is not installed (pip install 'openbms[postgres]')")
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout

    async def _conn(self) -> Any:
        return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True,
                                                     connect_timeout=self.connect_timeout)

    async def _run(self, query: str, args: Any = ()) -> list[Any]:
        try:
            async with await self._conn() as conn, conn.cursor() as cur:
                await cur.execute(query, args)
                return list(await cur.fetchall()) if cur.description else []
        except psycopg.Error as err:
            raise HistorianError(f"central commands: {_first_line(err)}") from err

    async def create(self) -> None:
        """Create the table (one process at a time)."""
        try:
            async with await self._conn() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('openbms.central'))")
                for ddl in DDL:
                    await conn.execute(ddl)
        except psycopg.Error as err:
            raise HistorianError(f"central commands: {_first_line(err)}") from err

    async def submit(self, site: str, point: str, value: Any, *, now: float, expires_s: float,
                     priority: int = DEFAULT_PRIORITY, release: bool = False, reason: str = "",
                     requested_by: str = "", duration_s: float | None = None,
                     supersede: bool = False) -> int:
        """Queue a command for ``site``'s ``point`` (``site/equipment/name``) at ``priority``
        (``MIN_PRIORITY`` to 16); its id. ``supersede``: the commands of the same point,
        priority and ``requested_by`` still queued are superseded by it (never sent), in the
        same transaction."""
        if not point.startswith(site + "/"):
            raise ValueError(f"point {point!r} is not of site {site!r} (site/equipment/name)")
        if not expires_s > 0:
            raise ValueError(f"expires_s {expires_s!r}: expected seconds above 0")
        if not MIN_PRIORITY <= priority <= 16:
            raise ValueError(f"priority {priority!r}: expected {MIN_PRIORITY} to 16 (1 to "
                             f"{MIN_PRIORITY - 1} are the edge's: life safety and its operators)")
        insert = ("INSERT INTO central_commands (site, point, value, release, priority, reason, "
                  "requested_by, created, expires, updated, duration_s) "
                  "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id")
        args = (site, point, None if release else Jsonb(value), release, priority, reason,
                requested_by, now, now + expires_s, now, duration_s)
        if not supersede:
            rows = await self._run(insert, args)
            return int(rows[0][0])
        try:
            async with await self._conn() as conn, conn.transaction(), conn.cursor() as cur:
                await cur.execute(
                    "UPDATE central_commands SET status = 'superseded', updated = %s "
                    "WHERE status = 'queued' AND site = %s AND point = %s AND priority = %s "
                    "AND requested_by = %s", (now, site, point, priority, requested_by))
                await cur.execute(insert, args)
                row = await cur.fetchone()
        except psycopg.Error as err:
            raise HistorianError(f"central commands: {_first_line(err)}") from err
        assert row is not None
        return int(row[0])

    async def commands(self, site: str | None = None, *, point: str | None = None,
                       command_id: int | None = None, newest_first: bool = False,
                       after: tuple[float, str] | None = None,
                       limit: int | None = None) -> list[dict[str, Any]]:
        """The commands (of ``site``, of ``point``, the one ``command_id``), oldest first (by id)
        unless ``newest_first``: then by (``created``, the API's id ``central-N`` compared as
        Python compares str) descending, the API's order, after the keyset ``after`` (created,
        API id) when given."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("site", site), ("point", point), ("id", command_id)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        if after is not None:
            if not newest_first:
                raise ValueError("after: a position in the newest-first order (newest_first=True)")
            where.append(f"(created, {_API_ID}) < (%s, %s COLLATE \"C\")")
            args += [after[0], after[1]]
        rows = await self._run(
            "SELECT id, site, point, value, release, priority, reason, requested_by, created, "
            "expires, status, answer, updated, duration_s FROM central_commands "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + (f"ORDER BY created DESC, {_API_ID} DESC" if newest_first else "ORDER BY id")
            + (f" LIMIT {int(limit)}" if limit is not None else ""), args)
        keys = ("id", "site", "point", "value", "release", "priority", "reason", "requested_by",
                "created", "expires", "status", "answer", "updated", "duration_s")
        return [dict(zip(keys, r, strict=True)) for r in rows]


class Dispatcher:
    """Sends the queued commands of online edges, expires the others' in time (module docstring).

    ``online(site)`` says whether the edge's bridge is connected (its retained status);
    ``token(site)`` is the API token the centre holds for the site (None: its commands wait);
    ``ask`` sends one request and returns the answer.
    """

    def __init__(self, queue: CommandQueue, ask: Ask, online: Callable[[str], bool],
                 token: Callable[[str], str | None], clock: Clock, *, interval: float = 1.0,
                 timeout: float = 10.0, keep_s: float = DEFAULT_KEEP_S,
                 prune_every: float = 3600.0) -> None:
        if not keep_s >= SUPERSEDED_KEEP_S:
            raise ValueError(f"keep {keep_s / 86400:g} days: expected 1 day or more")
        self.queue = queue
        self.keep_s = keep_s
        self.prune_every = prune_every
        self._next_prune = -math.inf
        self.pruned = 0
        self.ask = ask
        self.online = online
        self.token = token
        self.clock = clock
        self.interval = interval
        self.timeout = timeout
        self.sent = 0
        self.expired = 0
        self.unanswered = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._failing = False
        self._no_token: set[str] = set()

    async def start(self) -> None:
        await self.queue.create()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="central commands")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def poke(self) -> None:
        """Look at the queue now (an edge came online)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.pass_once()
            except HistorianError as err:
                if not self._failing:
                    self._failing = True
                    log.error("central commands: the queue cannot be read (%s); retried", err)
            else:
                if self._failing:
                    self._failing = False
                    log.warning("central commands: the queue is readable again")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def prune(self) -> bool:
        """Delete one batch of the commands done with and older than ``keep_s`` (superseded ones
        after a day); whether more may be left (the next pass takes the next batch: sending
        never waits for a whole backlog)."""
        now = self.clock.now()
        more = False
        for statuses, age in ((("answered", "unanswered", "expired"), self.keep_s),
                              (("superseded",), SUPERSEDED_KEEP_S)):
            rows = await self.queue._run(
                "DELETE FROM central_commands WHERE id IN (SELECT id FROM central_commands "
                "WHERE status NOT IN ('queued', 'sending') AND status = ANY(%s) "
                "AND updated < %s LIMIT %s) RETURNING 1", (list(statuses), now - age, _PRUNE_BATCH))
            self.pruned += len(rows)
            more = more or len(rows) == _PRUNE_BATCH
        return more

    async def pass_once(self) -> int:
        """Expire what is due, send what may be sent (and prune once each ``prune_every``); how
        many were sent."""
        now = self.clock.now()
        if now >= self._next_prune:
            more = await self.prune()
            self._next_prune = now if more else now + self.prune_every
        expired = await self.queue._run(
            "UPDATE central_commands SET status = 'expired', updated = %s "
            "WHERE status = 'queued' AND expires <= %s RETURNING id", (now, now))
        self.expired += len(expired)
        sent = 0
        while True:
            row = await self._claim()
            if row is None:
                return sent
            await self._send(row)
            sent += 1

    async def _claim(self) -> tuple[Any, ...] | None:
        """The oldest queued, unexpired command of an online site with a token, marked sending."""
        queued = await self.queue._run(
            "SELECT DISTINCT site FROM central_commands WHERE status = 'queued'")
        sites = []
        for (site,) in queued:
            if not self.online(site):
                continue
            if self.token(site) is None:
                if site not in self._no_token:
                    self._no_token.add(site)
                    log.warning("central commands: no API token for site %s: its commands wait "
                                "(and expire)", site)
                continue
            sites.append(site)
        if not sites:
            return None
        now = self.clock.now()
        rows = await self.queue._run(
            "UPDATE central_commands SET status = 'sending', updated = %(now)s WHERE id = ("
            " SELECT id FROM central_commands WHERE status = 'queued' AND site = ANY(%(sites)s)"
            " AND expires > %(now)s ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            "RETURNING id, site, point, value, release, priority, reason, requested_by, expires, "
            "duration_s", {"now": now, "sites": sites})
        return tuple(rows[0]) if rows else None

    async def _send(self, row: tuple[Any, ...]) -> None:
        cid, site, point, value, release, priority, reason, requested_by, _expires, duration = row
        # The edge's audit says why, and who at the centre asked (within its 500 characters).
        said = f"(from the centre: {(requested_by or 'central')[:120]})"
        body: dict[str, Any] = {"id": f"central-{cid}", "point": point,
                                "reason": f"{(reason or '')[:499 - len(said)]} {said}".strip()}
        if not release:
            body["value"] = value
            if duration is not None:
                body["duration_s"] = duration
        if priority is not None:
            body["priority"] = priority
        token = self.token(site) or ""
        try:
            async with asyncio.timeout(self.timeout):
                raw = await self.ask(site, "release" if release else "write",
                                     orjson.dumps(body), token)
            answer = orjson.loads(raw)
            status = "answered"
        except Exception as err:  # no answer in time, the broker gone, an answer not JSON
            answer = {"ok": False, "error": {"code": "unanswered", "message": str(err) or
                                             type(err).__name__}}
            status = "unanswered"
            self.unanswered += 1
        else:
            self.sent += 1
        await self.queue._run(
            "UPDATE central_commands SET status = %s, answer = %s, updated = %s WHERE id = %s",
            (status, Jsonb(answer), self.clock.now(), cid))

    def health(self) -> dict[str, int]:
        return {"sent": self.sent, "expired": self.expired, "unanswered": self.unanswered,
                "pruned": self.pruned}
