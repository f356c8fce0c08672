"""One connection of the ``/api/v1/ws`` stream: its subscriptions, its sender and its watchdog.

Three tasks per connection, none of them ever called by the bus:

* the receiver reads client messages, changes subscriptions, queues replies;
* the sender, the only writer, wakes every ``interval`` and sends the queued
  replies, then the events and samples that arrived since (one ``samples``
  message per batch). A client that does not read blocks this task only;
* the monitor drops the client when one send has been blocked longer than
  ``stall_timeout``, and reads the user's grants again every
  ``recheck_interval`` so that a revoked site stops flowing on open streams.

The server's clock travels with the stream: a ``clock`` message after
``ready``, and ``now``/``now_ts``/``clock_rate`` (as in ``GET /health``) in
every snapshot and every idle ``ping``, so a client measures ranges and ages
from the building's time, never its own.

Samples come from one bus ``Subscription`` per connection: bounded, it keeps
only the newest value per point while its client is behind, and counts what
it dropped. Events come from bounded event subscriptions. So the runtime
never waits for a client, and a slow client receives the latest values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from openbms.api.auth.permissions import refusals
from openbms.api.auth.principal import Principal
from openbms.api.auth.refusals import Refusal
from openbms.api.auth.roles import ALL_SITES
from openbms.api.auth.websocket import reload_principal
from openbms.api.context import ApiContext
from openbms.api.ws.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHENTICATED,
    ProtocolError,
    Request,
    WsSettings,
    encode,
    literal_site,
    parse,
)
from openbms.model.sample import Sample
from openbms.runtime.bus import EventSubscription, Subscription
from openbms.service.protocols import Services

__all__ = ["WsHub", "WsSession"]

log = logging.getLogger(__name__)

#: Event topic → the permission a user needs on the event's site to receive it.
_EVENT_PERMISSION = {"alarm": "alarms:read", "command": "commands:read"}
_MAX_VISIBLE_CACHE = 200_000


class WsHub:
    """The open streams of one app, and counters (for tests and metrics)."""

    def __init__(self) -> None:
        self.sessions: set[WsSession] = set()
        self.opened = 0
        self.refused = 0
        self.dropped_slow = 0
        self.revoked = 0
        self._ids = 0

    def next_id(self) -> int:
        """A number naming the next connection (its bus subscription is ``ws:<n>``)."""
        self._ids += 1
        return self._ids

    def stats(self) -> dict[str, int]:
        """Counters: open, opened, refused, dropped for slowness, closed for lost access."""
        return {"open": len(self.sessions), "opened": self.opened, "refused": self.refused,
                "dropped_slow": self.dropped_slow, "revoked": self.revoked}


class WsSession:
    """One authenticated connection; ``run()`` serves it until either side closes."""

    def __init__(self, ws: WebSocket, ctx: ApiContext, runtime: Services, principal: Principal, token: str,
                 settings: WsSettings, hub: WsHub) -> None:
        self.ws = ws
        self.ctx = ctx
        self.runtime = runtime
        self.principal = principal
        self.token = token
        self.settings = settings
        self.hub = hub
        self.id = hub.next_id()
        self.close_code: int | None = None
        self.close_reason = ""
        self.sent_messages = 0
        self.sent_samples = 0
        self.events_dropped = 0
        self._points: list[str] = []
        self._alarms: list[str] = []
        self._commands: list[str] = []
        self.subscription: Subscription | None = None
        self._carry: dict[str, Sample] = {}
        self._events: deque[tuple[str, dict[str, Any]]] = deque()
        self._pumps: dict[str, tuple[EventSubscription, asyncio.Task[Any]]] = {}
        self._replies: deque[str] = deque()
        self._visible: dict[str, bool] = {}
        self._all_sites = ALL_SITES in principal.grants
        self._sending_since: float | None = None
        self._disconnected = False
        self._done = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Serve the connection; return once it is closed (by the client, or by us with a code)."""
        self.hub.sessions.add(self)
        self.hub.opened += 1
        self._reply({"type": "ready", "user": self.principal.email, "sites": self._sites(),
                     "interval_ms": round(self.settings.interval * 1000)})
        self._reply({"type": "clock", **self.ctx.clock_fields()})
        tasks = [asyncio.create_task(self._receiver(), name=f"ws {self.id} receiver"),
                 asyncio.create_task(self._sender(), name=f"ws {self.id} sender"),
                 asyncio.create_task(self._monitor(), name=f"ws {self.id} monitor")]
        done: asyncio.Task[Any] = asyncio.create_task(self._done.wait())
        try:
            await asyncio.wait([*tasks, done], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("WebSocket %d of %s failed", self.id, self.principal.email,
                              exc_info=task.exception())
                    self.close(1011, "internal error")
        finally:
            pending = [*tasks, done, *(t for _, t in self._pumps.values())]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._unsubscribe_all()
            self.hub.sessions.discard(self)
        if self.close_code is not None and not self._disconnected:
            with contextlib.suppress(Exception):
                # A client that reads nothing never drains our buffer: don't wait for it.
                await asyncio.wait_for(self.ws.close(self.close_code, self.close_reason),
                                       self.settings.close_timeout)

    def close(self, code: int, reason: str) -> None:
        """End the connection with ``code`` and ``reason`` (at most 123 bytes on the wire)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason.encode()[:120].decode(errors="ignore")
        self._done.set()

    # ------------------------------------------------------------------ receiving

    async def _receiver(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self._disconnected = True
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            try:
                await self._handle(parse(data, self.settings.max_message_bytes))
            except ProtocolError as err:
                self._reply(err.as_message())

    async def _handle(self, req: Request) -> None:
        if req.type == "ping":
            self._reply({"type": "pong", "id": req.id} if req.id is not None else {"type": "pong"})
        elif req.type == "subscribe":
            await self._subscribe(req)
        elif req.type == "unsubscribe":
            self._unsubscribe(req)
        elif req.type == "auth":
            raise ProtocolError("invalid", "already authenticated", req.id)

    async def _visible_site(self, site: str, permission: str) -> bool:
        return self.principal.can(permission, site) and await self.ctx.site_exists(site)

    async def _check(self, patterns: Iterable[str], permission: str, req: Request, *,
                     site_patterns: bool = False) -> None:
        """Refuse a pattern naming a site the user cannot see, exactly like one that does not exist."""
        for pattern in patterns:
            if site_patterns:
                if "/" in pattern:
                    raise ProtocolError("invalid", f"{pattern!r} is not a site id or pattern", req.id)
                site = pattern if literal_site(pattern) == pattern else None
            else:
                site = literal_site(pattern)
            if site is not None and not await self._visible_site(site, permission):
                if not self.principal.can(permission, site):
                    await self._audit_refusal(site, permission, req.type)
                raise ProtocolError("not_found", f"no site {site!r}", req.id)

    async def _audit_refusal(self, site: str, permission: str, kind: str) -> None:
        seen = self.principal.sees(site)
        reason = "lacks the permission on the site" if seen else "no role on the site"
        await refusals(self.ws).record(self.ctx, Refusal(
            actor=self.principal.actor, method="WEBSOCKET", route=f"/api/v1/ws {kind}",
            path=self.ws.url.path, site=site, reason=reason, status=404, permission=permission,
            via=self.principal.via, remote_addr=self.ws.client.host if self.ws.client else None))

    async def _subscribe(self, req: Request) -> None:
        wanted = list(dict.fromkeys([*(f"{s}/*" for s in req.sites), *req.points]))
        await self._check(wanted, "points:read", req)
        await self._check(req.alarms, "alarms:read", req, site_patterns=True)
        await self._check(req.commands, "commands:read", req, site_patterns=True)
        added = [p for p in wanted if p not in self._points]
        alarms = [p for p in req.alarms if p not in self._alarms]
        commands = [p for p in req.commands if p not in self._commands]
        total = len(self._points) + len(self._alarms) + len(self._commands)
        if total + len(added) + len(alarms) + len(commands) > self.settings.max_patterns:
            raise ProtocolError("too_many", f"at most {self.settings.max_patterns} subscriptions", req.id)
        self._points += added
        self._alarms += alarms
        self._commands += commands
        snapshot: list[Sample] = []
        if added:
            self._resubscribe()
            snapshot = self._snapshot(added)
        self._sync_events()
        self._reply({"type": "subscribed", "id": req.id, **self.subscriptions()})
        if added:
            # The current values first, then changes (the new subscription queues them from now on).
            clock = self.ctx.clock_fields()
            for chunk in self._chunks(snapshot) or [[]]:
                self._reply({"type": "samples", "snapshot": True, "samples": chunk, **clock})

    def _unsubscribe(self, req: Request) -> None:
        if req.all:
            gone_points, self._alarms, self._commands = set(self._points), [], []
        else:
            gone_points = {*(f"{s}/*" for s in req.sites), *req.points}
            self._alarms = [p for p in self._alarms if p not in req.alarms]
            self._commands = [p for p in self._commands if p not in req.commands]
        if gone_points & set(self._points):
            self._points = [p for p in self._points if p not in gone_points]
            self._resubscribe()
        self._sync_events()
        self._reply({"type": "unsubscribed", "id": req.id, **self.subscriptions()})

    def subscriptions(self) -> dict[str, list[str]]:
        """What the client is subscribed to: point patterns, and site patterns of alarms and commands."""
        return {"points": list(self._points), "alarms": list(self._alarms), "commands": list(self._commands)}

    # ------------------------------------------------------------------ samples

    def _resubscribe(self) -> None:
        """Replace the bus subscription by one of the current patterns, keeping what was waiting."""
        old = self.subscription
        if old is not None:
            for s in old.get_nowait():
                self._carry[s[0]] = s
            old.close()
        self.subscription = None
        if self._points:
            self.subscription = self.runtime.bus.subscribe(
                self._points, self.settings.queue_maxlen, name=f"ws:{self.id}")
        if self._carry:
            keep = self.subscription.matcher.matches if self.subscription is not None else None
            self._carry = {p: s for p, s in self._carry.items() if keep is not None and keep(p)}

    def _snapshot(self, patterns: list[str]) -> list[Sample]:
        values = self.runtime.cache.snapshot()
        out = sorted(
            (s for pid, s in values.items()
             if any(fnmatchcase(pid, p) for p in patterns) and self._allowed(pid)),
            key=lambda s: s[0],
        )
        for s in out:  # a waiting sample older than the snapshot would step a value back
            waiting = self._carry.get(s[0])
            if waiting is not None and waiting[1] <= s[1]:
                del self._carry[s[0]]
        return out

    def _allowed(self, point: str) -> bool:
        if self._all_sites:
            return True
        ok = self._visible.get(point)
        if ok is None:
            if len(self._visible) > _MAX_VISIBLE_CACHE:
                self._visible.clear()
            ok = self._visible[point] = self.principal.can("points:read", point.partition("/")[0])
        return ok

    def _take_samples(self) -> list[Sample]:
        batch = self.subscription.get_nowait() if self.subscription is not None else []
        if self._carry:
            batch = [*self._carry.values(), *batch]
            self._carry = {}
        if not batch or self._all_sites:
            return batch
        visible = self._visible
        allowed = self._allowed
        out = []
        for s in batch:
            ok = visible.get(s[0])
            if ok is None:
                ok = allowed(s[0])
            if ok:
                out.append(s)
        return out

    def _chunks(self, samples: list[Sample]) -> list[list[Sample]]:
        n = self.settings.max_samples_per_message
        return [samples[i:i + n] for i in range(0, len(samples), n)]

    # ------------------------------------------------------------------ events

    def _sync_events(self) -> None:
        """An event subscription per topic the client wants, none for the others."""
        for topic, wanted in (("alarm", self._alarms), ("command", self._commands)):
            pump = self._pumps.get(topic)
            if wanted and pump is None:
                sub = self.runtime.bus.subscribe_events(topic, self.settings.event_maxlen)
                task = asyncio.create_task(self._pump(sub), name=f"ws {self.id} {topic} events")
                self._pumps[topic] = (sub, task)
            elif not wanted and pump is not None:
                pump[0].close()
                pump[1].cancel()
                del self._pumps[topic]

    async def _pump(self, sub: EventSubscription) -> None:
        while True:
            topic, payload = await sub.get()
            self._on_event(topic, payload)

    def _on_event(self, topic: str, payload: dict[str, Any]) -> None:
        site = payload.get("site") or str(payload.get("point", "")).partition("/")[0]
        patterns = self._alarms if topic == "alarm" else self._commands
        permission = _EVENT_PERMISSION.get(topic)
        if permission is None or not any(fnmatchcase(site, p) for p in patterns):
            return
        if not self.principal.can(permission, site):
            return
        if len(self._events) >= self.settings.event_maxlen:
            self._events.popleft()
            self.events_dropped += 1
        self._events.append((topic, payload))

    # ------------------------------------------------------------------ sending

    def _reply(self, message: dict[str, Any]) -> None:
        self._replies.append(encode(message))

    def _collect(self) -> list[str]:
        """Everything to send now: replies in order, then events, then the samples that arrived."""
        out = list(self._replies)
        self._replies.clear()
        while self._events:
            topic, payload = self._events.popleft()
            out.append(encode({"type": topic, topic: payload}))
        samples = self._take_samples()
        if samples:
            self.sent_samples += len(samples)
            out.extend(encode({"type": "samples", "samples": chunk}) for chunk in self._chunks(samples))
        return out

    async def _sender(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        last_sent = loop.time()
        try:
            while True:
                await asyncio.sleep(settings.interval)
                messages = self._collect()
                if not messages:
                    if loop.time() - last_sent < settings.idle_ping:
                        continue
                    # keeps proxies from closing a quiet stream, and the client's clock in step
                    messages = [encode({"type": "ping", **self.ctx.clock_fields()})]
                for text in messages:
                    self._sending_since = loop.time()
                    await self.ws.send_text(text)
                    self.sent_messages += 1
                self._sending_since = None
                last_sent = loop.time()
        except (WebSocketDisconnect, OSError):
            self._disconnected = True

    # ------------------------------------------------------------------ watching

    async def _monitor(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        tick = max(0.02, min(0.5, settings.stall_timeout / 4, settings.recheck_interval))
        next_check = loop.time() + settings.recheck_interval
        while not self._done.is_set():
            await asyncio.sleep(tick)
            now = loop.time()
            since = self._sending_since
            if (since is not None and now - since > settings.stall_timeout) or (
                    len(self._replies) > settings.max_pending_replies):
                self.hub.dropped_slow += 1
                log.info("WebSocket %d of %s dropped: it read nothing for %g s", self.id,
                         self.principal.email, settings.stall_timeout)
                self.close(CLOSE_TOO_SLOW,
                           f"too slow: the client read nothing for {settings.stall_timeout:g} s")
                return
            if now >= next_check:
                next_check = now + settings.recheck_interval
                await self._recheck()

    async def _recheck(self) -> None:
        try:
            fresh = await reload_principal(self.ctx, self.principal, self.token)
        except Exception as err:  # the state database is away: keep serving what was granted
            log.warning("WebSocket %d: cannot re-read the grants of %s: %s", self.id,
                        self.principal.email, err)
            return
        if fresh is None:
            self.hub.revoked += 1
            self.close(CLOSE_UNAUTHENTICATED, "the session ended, or the user or token was disabled")
        elif fresh.grants != self.principal.grants:
            self._regrant(fresh)

    def _regrant(self, principal: Principal) -> None:
        """Take new grants: filter from now on, drop subscriptions naming sites no longer granted."""
        self.principal = principal
        self._visible = {}
        self._all_sites = ALL_SITES in principal.grants
        if not principal.grants:
            self.hub.revoked += 1
            self.close(CLOSE_FORBIDDEN, "access to every site was revoked")
            return

        def kept(patterns: list[str], permission: str, site_of: Any) -> list[str]:
            return [p for p in patterns if (site := site_of(p)) is None or principal.can(permission, site)]

        def site_id(pattern: str) -> str | None:
            return pattern if literal_site(pattern) == pattern else None

        points = kept(self._points, "points:read", literal_site)
        alarms = kept(self._alarms, "alarms:read", site_id)
        commands = kept(self._commands, "commands:read", site_id)
        if (points, alarms, commands) == (self._points, self._alarms, self._commands):
            return
        had_points = points != self._points
        self._points, self._alarms, self._commands = points, alarms, commands
        if had_points:
            self._resubscribe()
        self._sync_events()
        if not (points or alarms or commands):
            self.hub.revoked += 1
            self.close(CLOSE_FORBIDDEN, "access was revoked to everything subscribed")
            return
        self._reply({"type": "unsubscribed", "reason": "access revoked", **self.subscriptions()})

    # ------------------------------------------------------------------ helpers

    def _sites(self) -> list[str]:
        ids = [cfg.site.id for cfg in self.runtime.sites]
        return [s for s in ids if self.principal.can("points:read", s)]

    def _unsubscribe_all(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
        for sub, _task in self._pumps.values():
            sub.close()
        self._pumps.clear()
