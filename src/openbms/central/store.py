"""What the centre keeps besides history, in the same PostgreSQL database: each site's newest
configuration and every site's alarm and command changes.

::

    central_sites   (site) ─ hash, version, received, config (jsonb)   newest version wins
    central_events  (site, kind, key) ─ ts, received, body (jsonb)     a resend is ignored

Both writes are idempotent: an edge's outbox resends after an outage, and two
ingest workers may each receive a copy of the same retained configuration.

What ``openbms central serve`` reads back for its API (``remote.py``): each alarm's latest
changes (its state), the alarm changes as a history, each command's changes (its lifecycle at the
edge), and the time of each site's newest stored sample (from the historian's ``latest`` and
``series`` tables in the same database), which is how far behind the centre is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import orjson

from openbms.central.decode import Event, SiteDocument
from openbms.errors import HistorianError

try:  # the ``postgres`` extra
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError:  # pragma: no cover - the CLI says what to install
    psycopg = None  # type: ignore[assignment]

__all__ = ["CentralStore", "StoredSite"]

DDL = (
    """CREATE TABLE IF NOT EXISTS central_sites (
        site text PRIMARY KEY,
        hash text NOT NULL,
        version float8 NOT NULL,
        received float8 NOT NULL,
        config jsonb NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS central_events (
        site text NOT NULL,
        kind text NOT NULL,
        key text NOT NULL,
        ts float8,
        received float8 NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (site, kind, key)
    )""",
    "CREATE INDEX IF NOT EXISTS central_events_ts ON central_events (site, kind, ts)",
)

# A version replaces the stored one only when it is newer (two workers, a late retained copy).
_PUT_SITE = """
INSERT INTO central_sites AS c (site, hash, version, received, config)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (site) DO UPDATE SET hash = excluded.hash, version = excluded.version,
    received = excluded.received, config = excluded.config
WHERE excluded.version > c.version AND excluded.hash <> c.hash
"""
_PUT_EVENTS = """
INSERT INTO central_events (site, kind, key, ts, received, body)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], %s::jsonb[])
ON CONFLICT DO NOTHING
"""


class StoredSite(tuple[str, str, float, float, dict[str, Any]]):
    """(site, hash, version, received, config) of one stored configuration."""

    __slots__ = ()

    @property
    def site(self) -> str:
        return self[0]

    @property
    def hash(self) -> str:
        return self[1]

    @property
    def version(self) -> float:
        return self[2]

    @property
    def config(self) -> dict[str, Any]:
        return self[4]


class CentralStore:
    """The centre's own tables in the database ``conninfo`` names (a libpq URL)."""

    def __init__(self, conninfo: str, *, connect_timeout: int = 10) -> None:
        if psycopg is None:
            raise HistorianError("the psycopg driver is not installed (pip install 'openbms[postgres]')")
        self.conninfo = conninfo
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect and create the tables (one process at a time)."""
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=self.connect_timeout)
            async with self._conn.transaction():
                await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('openbms.central'))")
                for ddl in DDL:
                    await self._conn.execute(ddl)
        except psycopg.Error as err:
            await self.stop()
            raise HistorianError(f"central: cannot open its tables in PostgreSQL: "
                                 f"{_first_line(err)}") from None

    async def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def _execute(self, query: str, args: Sequence[Any]) -> list[Any]:
        """A statement, on a connection made again (once) when the server dropped it."""
        async with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed or self._conn.broken:
                        self._conn = await psycopg.AsyncConnection.connect(
                            self.conninfo, autocommit=True, connect_timeout=self.connect_timeout)
                    async with self._conn.cursor() as cur:
                        await cur.execute(query, args)
                        return list(await cur.fetchall()) if cur.description else []
                except psycopg.OperationalError as err:
                    if attempt == 2:
                        raise HistorianError(f"central store: {_first_line(err)}") from err
                except psycopg.Error as err:
                    raise HistorianError(f"central store: {_first_line(err)}") from err
        raise AssertionError("unreachable")  # pragma: no cover

    async def put_site(self, doc: SiteDocument, received: float) -> bool:
        """Keep ``doc`` when it is newer than the stored version of its site; whether it was."""
        rows = await self._execute(_PUT_SITE + " RETURNING site",
                                   (doc.site, doc.hash, doc.version, received, Jsonb(doc.config)))
        return bool(rows)

    async def put_events(self, events: Sequence[Event], received: float) -> None:
        """Keep alarm and command changes (one statement; a change already kept is ignored)."""
        if not events:
            return
        await self._execute(_PUT_EVENTS, (
            [e.site for e in events], [e.kind for e in events], [e.key for e in events],
            [e.ts for e in events], [received] * len(events),
            [orjson.dumps(e.body).decode() for e in events]))

    async def sites(self) -> list[StoredSite]:
        """Every site's newest configuration, by site id."""
        rows = await self._execute(
            "SELECT site, hash, version, received, config FROM central_sites ORDER BY site", ())
        return [StoredSite(tuple(r)) for r in rows]

    async def events(self, site: str, kind: str) -> list[dict[str, Any]]:
        """A site's alarm or command changes, oldest first (each body as its edge sent it)."""
        rows = await self._execute(
            "SELECT body FROM central_events WHERE site = %s AND kind = %s "
            "ORDER BY ts NULLS FIRST, key", (site, kind))
        return [r[0] for r in rows]


    # ------------------------------------------------------------------ reads for the API

    async def alarm_changes(self, site: str, *, per_alarm: int = 100) -> list[dict[str, Any]]:
        """The newest ``per_alarm`` changes of each alarm of ``site``, oldest first."""
        rows = await self._execute(
            "SELECT body FROM (SELECT body, ts, received, key, row_number() OVER ("
            "PARTITION BY body->>'alarm_id' ORDER BY ts DESC NULLS LAST, received DESC, key DESC) "
            "AS n FROM central_events WHERE site = %s AND kind = 'alarm') e WHERE n <= %s "
            "ORDER BY ts NULLS FIRST, received, key", (site, per_alarm))
        return [r[0] for r in rows]

    async def alarm_history(self, site: str, *, alarm_id: str | None = None,
                            action: str | None = None, since: float | None = None,
                            until: float | None = None, after: tuple[float, int] | None = None,
                            limit: int = 100) -> list[tuple[int, float, dict[str, Any]]]:
        """``site``'s alarm changes, newest first: (a stable number of the change, its time, the
        change), after the keyset ``after`` (time, number) when given."""
        where = ["site = %s", "kind = 'alarm'", "ts IS NOT NULL"]
        args: list[Any] = [site]
        for clause, value in (("body->>'alarm_id' = %s", alarm_id), ("body->>'action' = %s", action),
                              ("ts >= %s", since), ("ts < %s", until)):
            if value is not None:
                where.append(clause)
                args.append(value)
        if after is not None:
            where.append("(ts, hashtext(key)::int8) < (%s, %s)")
            args += [after[0], after[1]]
        rows = await self._execute(
            "SELECT hashtext(key)::int8 AS n, ts, body FROM central_events WHERE "
            + " AND ".join(where) + " ORDER BY ts DESC, n DESC LIMIT %s", (*args, limit))
        return [(int(n), float(ts), body) for n, ts, body in rows]

    async def command_changes(self, site: str, *, ids: Sequence[str] | None = None,
                              point: str | None = None,
                              limit: int = 10_000) -> dict[str, list[dict[str, Any]]]:
        """The changes of ``site``'s commands (those ``ids``, of ``point``, or all), oldest
        first, by command id; the commands newest first (by their first change), ``limit`` of
        them."""
        where = ["site = %s", "kind = 'command'"]
        args: list[Any] = [site]
        if ids is not None:
            where.append("body->>'id' = ANY(%s)")
            args.append(list(ids))
        if point is not None:
            where.append("body->>'point' = %s")
            args.append(point)
        cond = " AND ".join(where)
        rows = await self._execute(
            f"WITH c AS (SELECT body->>'id' AS id, min(ts) AS first FROM central_events WHERE {cond} "
            "GROUP BY 1 ORDER BY first DESC NULLS LAST LIMIT %s) "
            "SELECT c.id, e.body FROM central_events e JOIN c ON e.body->>'id' = c.id "
            "WHERE e.site = %s AND e.kind = 'command' "
            "ORDER BY c.first DESC NULLS LAST, c.id, e.ts NULLS FIRST, e.received",
            (*args, limit, site))
        out: dict[str, list[dict[str, Any]]] = {}
        for cid, body in rows:
            out.setdefault(str(cid), []).append(body)
        return out

    async def newest_samples(self) -> dict[str, float]:
        """Per site, the time of its newest sample stored (the historian's latest values)."""
        rows = await self._execute(
            "SELECT split_part(s.point, '/', 1), max(l.ts) FROM latest l JOIN series s USING (pid) "
            "GROUP BY 1", ())
        return {str(site): float(ts) for site, ts in rows if ts is not None}


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
