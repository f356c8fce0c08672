"""Backfill from the centre: the samples an edge holds and the centre does not, found by comparing
per-hour counts and fetched from the edge's historian over its MQTT command/response.

::

    Backfill.run(site, since, until)
        edge ──history {"counts": …}──▶ per point, per hour: samples at the edge (its hourly rollups)
        centre's PostgreSQL history ──▶ per point, per hour: samples here (the same rollups' count)
        each (point, hour) with fewer here ──▶ history {"samples": …} page by page (next cursor)
            ──▶ the samples whose (point, time) is not here ──▶ historian.ingest ──▶ flush
        then, with the centre's store, for kind alarm and command:
        edge ──history {"events": {kind, …}}──▶ the changes in [since, until), page by page
            ──▶ each checked as a bridged one (decode_event: the same key) ──▶ put_events
        ─▶ BackfillResult: hours checked, hours filled, samples written; alarm and command
           changes fetched, and of them written (the centre held no change of their key)

    AutoBackfill (the worker that dispatches commands):
        a site's retained status goes online after offline or unknown (so also once at the
        worker's start) ─▶ queued ─▶ one site at a time, the last ``hours`` ─▶ central_events
        (kind "backfill") and the worker's health

The edge answers with the samples it stored (its history policy decides which); what
the centre already holds for a (point, time) is left as it is, so a second run
writes nothing. Alarm and command changes come as the edge's bridge publishes them, so each has
the key a bridged copy has (``alarm_id:action@ts``, ``id:status``) and a change both bridged and
backfilled is kept once. The edge keeps each command's latest state only: a backfill brings a
command's latest change, not the ones before it. The requests are the edge's ``history``
(``openbms.api.mqtt_commands``), sent with the token the centre holds for the site, like its
commands; the run is its own task and its own connections, so command dispatch never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from openbms.central.commands import Ask
from openbms.central.decode import BadMessage, Event, decode_event, decode_sample
from openbms.errors import OpenBMSError
from openbms.historian import Historian
from openbms.historian.export import iso
from openbms.model.sample import Sample
from openbms.runtime.clock import Clock

if TYPE_CHECKING:
    from openbms.central.store import CentralStore

__all__ = ["AutoBackfill", "Backfill", "BackfillError", "BackfillResult"]

log = logging.getLogger(__name__)

HOUR = 3600.0
#: The longest range one counts request covers (the edge's limit is 31 days).
WINDOW_S = 86400.0
#: Points per counts request (× 24 hours: well below the edge's 200 000 point-hours).
POINTS_PER_REQUEST = 200
#: Samples per page of a samples request (the edge's most).
PAGE = 10_000
#: Changes per page of an events request (the edge's most), and the longest range one covers
#: (within the edge's 31 days).
EVENT_PAGE = 1_000
EVENT_WINDOW_S = 28 * 86400.0
#: The kinds of change backfilled, each with its fields in ``BackfillResult``.
EVENT_KINDS = ("alarm", "command")
#: Which of a page's keys the centre holds: a primary key lookup per key (with ``key =
#: ANY(array)`` a second run over 25 000 changes took 8.2 s instead of 1.6 s).
_HELD = ("SELECT e.key FROM unnest(%s::text[]) AS k(key) JOIN central_events e "
         "ON e.site = %s AND e.kind = %s AND e.key = k.key")

#: ``open_history()``: the centre's history, started, closed when the context ends.
OpenHistory = Callable[[], contextlib.AbstractAsyncContextManager[Historian]]
#: ``progress(done, total)``: (point, hour) cells compared so far, of the total known so far.
Progress = Callable[[int, int], None]


class BackfillError(OpenBMSError):
    """A backfill could not be made: no token for the site, no answer, or the edge refused
    (``code`` and ``field``: the edge's error)."""

    def __init__(self, message: str, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(slots=True)
class BackfillResult:
    """What one backfill of ``site`` over ``[since, until)`` did."""

    site: str
    since: float
    until: float
    started: float
    finished: float = 0.0
    #: (point, hour) pairs in which the edge holds samples: each compared with the centre.
    hours_checked: int = 0
    #: Those in which the centre had fewer and at least one sample was written.
    hours_filled: int = 0
    samples_written: int = 0
    #: Alarm and command changes the edge sent (every one in the range) and, of them, those
    #: written: the centre held no change of their key before (a second run writes none).
    alarm_changes: int = 0
    alarm_changes_written: int = 0
    command_changes: int = 0
    command_changes_written: int = 0
    error: str | None = None
    #: (point, hour start) of each hour filled, at most the first 100.
    filled: list[tuple[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backfill:
    """Fills the centre's ``history`` from the edges' historians, and with ``store`` its alarm
    and command changes too, asked with ``ask`` and each site's ``token`` (module docstring)."""

    def __init__(self, history: Historian, ask: Ask, token: Callable[[str], str | None],
                 clock: Clock, *, timeout: float = 30.0, store: CentralStore | None = None) -> None:
        self.history = history
        self.ask = ask
        self.token = token
        self.clock = clock
        self.timeout = timeout
        self.store = store
        self._n = 0

    async def _request(self, site: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        self._n += 1
        payload = orjson.dumps({"id": f"backfill-{self.clock.now():.0f}-{self._n}", **body})
        try:
            async with asyncio.timeout(self.timeout):
                raw = await self.ask(site, "history", payload, token)
        except TimeoutError:
            raise BackfillError(f"site {site}: its edge did not answer a history request within "
                                f"{self.timeout:g} s (offline, or an openbms without history "
                                "requests)") from None
        except OpenBMSError as err:  # the broker connection (DriverError)
            raise BackfillError(f"site {site}: cannot ask its edge: {err}") from err
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BackfillError(f"site {site}: its edge's answer is not JSON") from None
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            error = (answer.get("error") if isinstance(answer, dict) else None) or {}
            raise BackfillError(f"site {site}: its edge refused the history request: "
                                f"{error.get('code', '?')}: {error.get('message', raw[:200])}",
                                error.get("code"), error.get("field"))
        result = answer.get("result")
        if not isinstance(result, dict):
            raise BackfillError(f"site {site}: its edge's answer has no result")
        return result

    async def edge_counts(self, site: str, token: str, since: float, until: float,
                          points: Sequence[str] | None) -> AsyncIterator[tuple[str, list[Any]]]:
        """(point, [[hour start, samples], …]) as the edge counts them, window by window."""
        batches: list[list[str] | None] = (
            [list(points[i:i + POINTS_PER_REQUEST]) for i in range(0, len(points), POINTS_PER_REQUEST)]
            if points else [None])
        start, window = since, WINDOW_S
        while start < until:
            end = min(until, start + window)
            for batch in batches:
                body: dict[str, Any] = {"since": iso(start), "until": iso(end)}
                if batch is not None:
                    body["points"] = batch
                try:
                    result = await self._request(site, token, {"counts": body})
                except BackfillError as err:
                    # every point of a very large site for a day is more point-hours than the
                    # edge answers at once: an hour at a time then
                    if batch is None and window > HOUR and (err.code, err.field) == (
                            "invalid", "counts.points"):
                        window = HOUR
                        break
                    raise
                for row in result.get("points") or ():
                    yield _counts(site, row)
            else:
                start = end

    async def run(self, site: str, since: float, until: float, *,
                  points: Sequence[str] | None = None,
                  progress: Progress | None = None) -> BackfillResult:
        """Backfill ``site`` over ``[since, until)`` (widened to whole UTC hours); ``points``:
        only these (default: every point the edge has). Raises BackfillError when it cannot."""
        since = math.floor(since / HOUR) * HOUR
        until = math.ceil(until / HOUR) * HOUR
        result = BackfillResult(site, since, until, started=self.clock.now())
        token = self.token(site)
        if token is None:
            raise BackfillError(f"site {site}: the centre holds no API token for it")
        if points is not None:
            prefix = site + "/"
            points = [p if p.startswith(prefix) else prefix + p for p in points]
        done = total = 0
        history = self.history
        async for point, hours in self.edge_counts(site, token, since, until, points):
            if not point.startswith(site + "/"):  # never write another site's points
                continue
            total += len(hours)
            if not hours:
                continue
            here = await history.rollups(point, "hour", since, until)
            counts = dict(zip(here.start.tolist(), here.count.tolist(), strict=True))
            gaps = [float(start) for start, count in hours if counts.get(float(start), 0) < count]
            result.hours_checked += len(hours)
            for first, end in _ranges(gaps):
                for hour, written in sorted((await self._fill(site, token, point, first, end)).items()):
                    result.hours_filled += 1
                    result.samples_written += written
                    if len(result.filled) < 100:
                        result.filled.append((point, hour))
            done += len(hours)
            if progress is not None:
                progress(done, total)
        await history.flush()
        if self.store is not None:
            for kind in EVENT_KINDS:
                fetched, written = await self._changes(site, token, kind, since, until)
                setattr(result, f"{kind}_changes", fetched)
                setattr(result, f"{kind}_changes_written", written)
        result.finished = self.clock.now()
        return result

    async def _changes(self, site: str, token: str, kind: str, since: float,
                       until: float) -> tuple[int, int]:
        """Keep the edge's ``kind`` changes in ``[since, until)``: how many it sent, how many of
        them the centre did not hold (by key) and now does."""
        assert self.store is not None
        fetched = written = 0
        start = since
        while start < until:
            end = min(until, start + EVENT_WINDOW_S)
            after: str | None = None
            while True:
                body: dict[str, Any] = {"since": start, "until": end, "kind": kind,
                                        "limit": EVENT_PAGE}
                if after is not None:
                    body["after"] = after
                page = await self._request(site, token, {"events": body})
                events = _changes(site, kind, page, start, end)
                if events:
                    held = {row[0] for row in await self.store._execute(_HELD, (
                        list({e.key for e in events}), site, kind))}
                    # only what the centre lacks (a change bridged meanwhile is ignored there)
                    new = list({e.key: e for e in events if e.key not in held}.values())
                    if new:
                        await self.store.put_events(new, self.clock.now())
                    fetched += len(events)
                    written += len(new)
                after = page.get("next")
                if after is None:
                    break
                if not isinstance(after, str):
                    raise BackfillError(f"site {site}: its edge's {kind} changes: next "
                                        f"{str(after)[:60]}: expected a cursor (text) or null")
            start = end
        return fetched, written

    async def _fill(self, site: str, token: str, point: str, start: float,
                    end: float) -> dict[float, int]:
        """Write the edge's samples of ``point`` in ``[start, end)`` that the centre lacks; per
        hour, how many were written."""
        have = {row[0] for row in await self.history.raw_rows(point, start, end)}
        written: dict[float, int] = {}
        after: float | None = None
        while True:
            body: dict[str, Any] = {"point": point, "since": start, "until": end, "limit": PAGE}
            if after is not None:
                body["after"] = after
            page = await self._request(site, token, {"samples": body})
            new = [s for s in _samples(site, point, page, start, end) if s.ts not in have]
            if new:
                self.history.ingest(new)
                for sample in new:
                    hour = math.floor(sample.ts / HOUR) * HOUR
                    written[hour] = written.get(hour, 0) + 1
            after = page.get("next")
            if after is None:
                return written


def _counts(site: str, row: Any) -> tuple[str, list[tuple[float, int]]]:
    """A point's hourly counts in the edge's answer, checked: ``{"point", "hours": [[start, n]]}``."""
    hours = row.get("hours") if isinstance(row, dict) else None
    point = row.get("point") if isinstance(row, dict) else None
    if not isinstance(point, str) or not isinstance(hours, list) or not all(
            isinstance(h, list) and len(h) == 2 and h[0].__class__ in (int, float)
            and math.isfinite(h[0]) and h[1].__class__ is int and h[1] >= 0 for h in hours):
        raise BackfillError(f"site {site}: its edge's counts are not as expected: "
                            '{"point", "hours": [[hour start, count], ...]}, got ' + str(row)[:200])
    return point, [(float(h[0]), h[1]) for h in hours]


def _samples(site: str, point: str, page: dict[str, Any], start: float, end: float) -> list[Sample]:
    """The samples of a page of the edge's answer, each checked as the ingest checks a bridged one
    (a finite time after 2000, a known status, a plain value) and inside ``[start, end)``."""
    rows = page.get("samples")
    if not isinstance(rows, list):
        raise BackfillError(f"site {site}: its edge's samples page has no list of samples")
    out = []
    for i, row in enumerate(rows):
        where = f"site {site}: its edge's samples[{i}] of {point}"
        if not isinstance(row, list) or len(row) != 3:
            raise BackfillError(f"{where}: expected [time, value, status], got {str(row)[:100]}")
        try:
            sample = decode_sample(point, {"time": row[0], "value": row[1], "status": row[2]}, where)
        except BadMessage as err:
            raise BackfillError(str(err)) from None
        if not start <= sample.ts < end:
            raise BackfillError(f"{where}: time {sample.ts} is outside the range asked, "
                                f"[{start}, {end})")
        out.append(sample)
    return out


def _changes(site: str, kind: str, page: dict[str, Any], start: float, end: float) -> list[Event]:
    """The changes of a page of the edge's events answer, each checked as the ingest checks a
    bridged one (``decode_event``: the same key) and its time inside ``[start, end)``."""
    items = page.get("events")
    if not isinstance(items, list) or page.get("kind") != kind:
        raise BackfillError(f"site {site}: its edge's {kind} changes page is not as expected: "
                            f'{{"kind": "{kind}", "events": [...], "next"}}')
    out = []
    for i, item in enumerate(items):
        where = f"site {site}: its edge's {kind} changes, events[{i}]"
        if not isinstance(item, dict):
            raise BackfillError(f"{where}: expected an object, got {str(item)[:100]}")
        try:
            event = decode_event(site, kind, orjson.dumps(item), where)
        except (BadMessage, TypeError, orjson.JSONEncodeError) as err:
            raise BackfillError(str(err)) from None
        if event.ts is None or not start <= event.ts < end:
            name = "ts" if kind == "alarm" else "updated_at"
            raise BackfillError(f"{where}: {name} {item.get(name)!r}: expected a time inside the "
                                f"range asked, [{start}, {end})")
        out.append(event)
    return out


def _ranges(hours: Sequence[float]) -> list[tuple[float, float]]:
    """Runs of consecutive hour starts (in order) as ``[first, last + 1 h)`` ranges: one series of
    requests per gap, not per hour of it."""
    out: list[tuple[float, float]] = []
    for hour in hours:
        if out and out[-1][1] == hour:
            out[-1] = (out[-1][0], hour + HOUR)
        else:
            out.append((hour, hour + HOUR))
    return out


@dataclass(slots=True)
class _SiteRuns:
    runs: int = 0
    failed: int = 0
    last: dict[str, Any] | None = None


class AutoBackfill:
    """Backfills of the last ``hours`` for each site whose edge comes online, one at a time (with
    ``store``, its alarm and command changes too).

    ``request(site)`` never waits (the ingest calls it on a status message); the runs are this
    object's own task. A run that fails (the edge not yet answering, the database away) is tried
    again ``retries`` times, ``retry_s`` apart, while the site stays online. Each run's result is
    kept in ``central_events`` (kind ``backfill``) by ``record`` and in :meth:`health`.
    """

    def __init__(self, open_history: OpenHistory, ask: Ask, token: Callable[[str], str | None],
                 clock: Clock, *, hours: float = 24.0, online: Callable[[str], bool] | None = None,
                 record: Callable[[Sequence[Event], float], Awaitable[None]] | None = None,
                 retries: int = 3, retry_s: float = 10.0, timeout: float = 30.0,
                 store: CentralStore | None = None) -> None:
        if not hours > 0:
            raise ValueError(f"backfill hours {hours!r}: expected more than 0")
        self.open_history = open_history
        self.ask = ask
        self.token = token
        self.clock = clock
        self.hours = hours
        self.online = online or (lambda _site: True)
        self.record = record
        self.retries = retries
        self.retry_s = retry_s
        self.timeout = timeout
        #: Where the alarm and command changes go (None: samples only).
        self.store = store
        self.sites: dict[str, _SiteRuns] = {}
        self._queue: dict[str, None] = {}  # an ordered set: a site queued twice runs once
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.running: str | None = None

    def request(self, site: str) -> None:
        """Queue a backfill of ``site`` (its edge came online)."""
        self._queue[site] = None
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="central backfill")

    async def stop(self) -> None:
        """Stop the runs (a run under way is abandoned; what it wrote is kept)."""
        # The flag as well as the cancellation: a library that swallows a CancelledError (an
        # async context's exit awaiting under contextlib.suppress) would otherwise leave the
        # loop waiting for the next site for ever, and this stop with it.
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()  # again while it runs on: the next await takes it
            await asyncio.wait({task}, timeout=1.0)

    async def _loop(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self._stopping:
                site = next(iter(self._queue))
                del self._queue[site]
                self.running = site
                try:
                    await self._run(site)
                except Exception:  # a fault here must not end the backfills of every site
                    log.exception("central backfill of %s failed inside openbms", site)
                finally:
                    self.running = None

    async def _run(self, site: str) -> BackfillResult:
        runs = self.sites.setdefault(site, _SiteRuns())
        for attempt in range(self.retries + 1):
            now = self.clock.now()
            result = BackfillResult(site, now - self.hours * HOUR, now, started=now)
            try:
                async with self.open_history() as history:
                    backfill = Backfill(history, self.ask, self.token, self.clock,
                                        timeout=self.timeout, store=self.store)
                    result = await backfill.run(site, result.since, result.until)
            except (OpenBMSError, OSError) as err:
                result.error = str(err) or type(err).__name__
                result.finished = self.clock.now()
                if attempt < self.retries and self.online(site) and not self._stopping:
                    log.info("central backfill of %s: %s; tried again in %g s", site, err,
                             self.retry_s)
                    await asyncio.sleep(self.retry_s)
                    continue
                log.warning("central backfill of %s failed: %s", site, err)
            break
        done = result.as_dict()
        if result.error is None and (result.samples_written or result.alarm_changes_written
                                     or result.command_changes_written):
            log.info("central backfill of %s: %d samples the centre lacked in %d hours written, "
                     "%d alarm changes, %d command changes", site, result.samples_written,
                     result.hours_filled, result.alarm_changes_written,
                     result.command_changes_written)
        if self.record is not None:
            try:
                await self.record([Event(site, "backfill", f"{result.started:.6f}", result.started,
                                         done)], self.clock.now())
            except OpenBMSError as err:
                log.warning("central backfill of %s: its result could not be kept: %s", site, err)
        # counted once kept: whoever reads the health finds the run in central_events too
        runs.runs += 1
        runs.failed += result.error is not None
        runs.last = done
        return result

    def health(self) -> dict[str, Any]:
        """Per site: runs, failed runs and the last run's result; the site running now, the queue."""
        return {"running": self.running, "queued": list(self._queue),
                "sites": {site: {"runs": r.runs, "failed": r.failed, "last": r.last}
                          for site, r in sorted(self.sites.items())}}
