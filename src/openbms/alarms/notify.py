"""Alarm notifications: webhooks and e-mail, routed by class and priority, sent off the engine's path.

The engine calls ``Notifier.submit(event)`` synchronously; it only decides
whether anyone is to be told and queues the event. Each target (sender) has
its own bounded queue and worker task, so a slow SMTP server or a webhook
retrying with backoff never holds up samples, nor another target's
notifications. A target whose events keep failing trips a circuit breaker:
its worker stops trying for a cooldown that doubles while it stays down, the
events waiting meanwhile (up to the queue's bound), and the next event probes
it. Senders never raise: a failure is logged (the first of a run of failures,
and any failure of another kind, at warning; its recovery at info) and
counted in ``failed``.

What is sent: an alarm being raised (``raise``) or re-annunciated when its
shelving ends while it is still active (``reannunciate``), and, on routes
with ``on_return``, its condition clearing (``return``). Nothing is ever
sent for a shelved alarm.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.client
import importlib.util
import json
import logging
import math
import os
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal, Protocol

from openbms.alarms.engine import AlarmEvent
from openbms.model.alarm import NotificationsConfig, WebhookTarget
from openbms.runtime.clock import Clock, WallClock

#: httpx is the preferred client, imported when a webhook first posts (17 MB that every process
#: with alarms paid at its start); the standard library does the same job without it.
HAVE_HTTPX = importlib.util.find_spec("httpx") is not None

__all__ = [
    "EmailNotifier",
    "Notifier",
    "Route",
    "Sender",
    "WebhookNotifier",
]

log = logging.getLogger(__name__)

#: Actions that notify: a raise (or re-annunciation) always, a return only on routes that ask for it.
RAISE = "raise"
REANNUNCIATE = "reannunciate"
RETURN = "return"
_RAISES = frozenset({RAISE, REANNUNCIATE})


class _Failure(Exception):
    """A failed attempt. ``kind`` names the failure without its details ("HTTP 503", "ConnectError"):
    a run of failures of one kind is logged once."""

    def __init__(self, message: str, kind: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind or message
        self.retry_after = retry_after


class _Transient(_Failure):
    """A failure worth retrying (connection refused, timeout, 408, 429, 5xx, SMTP 4xx).

    ``retry_after`` is the wait the server asked for (``Retry-After``), in seconds.
    """


class _Permanent(_Failure):
    """A failure that retrying will not fix (4xx, SMTP 5xx, refused login)."""


class Sender(Protocol):
    """Something that delivers one alarm event somewhere."""

    name: str
    sent: int
    failed: int

    async def send(self, event: AlarmEvent) -> bool:
        """Deliver ``event``; True when delivered. Never raises."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def payload(event: AlarmEvent) -> dict[str, Any]:
    """The JSON body of a webhook: the event's fields."""
    return event.to_dict()


class _Retrying:
    """Retries with exponential backoff, counting and logging as the module docstring says."""

    def __init__(self, name: str, retries: int, backoff: float, max_backoff: float,
                 clock: Clock | None) -> None:
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff must not be negative")
        self.name = name
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.clock: Clock = clock or WallClock()
        self.sent = 0
        self.failed = 0
        self.attempts = 0
        self.last_error: str | None = None
        # The kind of failure last logged at warning, or None while delivering: a repeat of it goes to
        # debug, a different one (a real outage after a refused message, say) to warning again.
        self._failing: str | None = None

    async def _attempt(self, event: AlarmEvent) -> None:
        raise NotImplementedError

    async def send(self, event: AlarmEvent) -> bool:
        """Deliver ``event``, retrying transient failures; True when delivered. Never raises."""
        for attempt in range(self.retries + 1):
            self.attempts += 1
            retry_after: float | None = None
            try:
                await self._attempt(event)
            except _Transient as err:
                self.last_error, kind, retry_after = str(err), err.kind, err.retry_after
            except _Permanent as err:
                self.last_error, kind = str(err), err.kind
                break
            except Exception as err:  # a sender must never break the worker
                self.last_error, kind = f"{type(err).__name__}: {err}", type(err).__name__
                break
            else:
                self.sent += 1
                if self._failing is not None:
                    self._failing = None
                    log.info("notifier %s delivers again", self.name)
                return True
            if attempt < self.retries:
                delay = self.backoff * 2 ** attempt if retry_after is None else retry_after
                await self.clock.sleep(min(self.max_backoff, delay))
        self.failed += 1
        if self._failing != kind:
            self._failing = kind
            log.warning("notifier %s could not deliver alarm %s (%s): %s; later failures like it are "
                        "counted until it recovers", self.name, event.alarm_id, event.action, self.last_error)
        else:
            log.debug("notifier %s failed again: %s", self.name, self.last_error)
        return False

    async def aclose(self) -> None:
        """Nothing to release by default."""


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None


#: HTTP statuses worth retrying besides 5xx: request timeout, too many requests.
_RETRY_STATUSES = frozenset({408, 429})


class WebhookNotifier(_Retrying):
    """POSTs each event as JSON to ``url``; retries connection errors, 408, 429 and 5xx, no other 4xx.

    A ``Retry-After`` header on a retried response sets the wait before the
    next attempt (at most ``max_backoff``) in place of the exponential backoff.

    Uses ``httpx.AsyncClient`` when httpx is installed (``client="auto"``), the
    standard library in a thread otherwise.
    """

    def __init__(self, url: str, headers: Mapping[str, str] | None = None, timeout: float = 5.0,
                 retries: int = 3, backoff: float = 1.0, *, max_backoff: float = 60.0,
                 clock: Clock | None = None, name: str = "",
                 client: Literal["auto", "httpx", "stdlib"] = "auto") -> None:
        super().__init__(name or f"webhook {url}", retries, backoff, max_backoff, clock)
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"a webhook URL starts with http:// or https://, not {url!r}")
        if client == "httpx" and not HAVE_HTTPX:
            raise ValueError("client='httpx' but httpx is not installed")
        self.url = url
        self.headers = {"Content-Type": "application/json", "User-Agent": "openbms", **(headers or {})}
        self.timeout = timeout
        self._use_httpx = HAVE_HTTPX and client != "stdlib"
        self._client: Any = None

    async def _attempt(self, event: AlarmEvent) -> None:
        body = json.dumps(payload(event), default=str).encode()
        if self._use_httpx:
            status, retry_after = await self._post_httpx(body)
        else:
            status, retry_after = await asyncio.to_thread(self._post_stdlib, body)
        if 200 <= status < 300:
            return
        if status >= 500 or status in _RETRY_STATUSES:
            raise _Transient(f"HTTP {status} from {self.url}", f"HTTP {status}",
                             _retry_after(retry_after, self.clock.now()))
        raise _Permanent(f"HTTP {status} from {self.url} (not retried)", f"HTTP {status}")

    async def _post_httpx(self, body: bytes) -> tuple[int, str | None]:
        # The first post imports httpx, in a worker thread: 60-90 ms the event loop does not wait.
        httpx = await asyncio.to_thread(importlib.import_module, "httpx")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self._client.post(self.url, content=body, headers=self.headers)
        except httpx.TransportError as err:
            raise _Transient(f"{type(err).__name__}: {err}", type(err).__name__) from err
        return int(response.status_code), response.headers.get("Retry-After")

    def _post_stdlib(self, body: bytes) -> tuple[int, str | None]:
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), response.headers.get("Retry-After")
        except urllib.error.HTTPError as err:
            retry_after = err.headers.get("Retry-After") if err.headers is not None else None
            err.close()
            return int(err.code), retry_after
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            reason = getattr(err, "reason", err)  # URLError wraps what failed: refused, timed out…
            kind = type(reason).__name__ if isinstance(reason, BaseException) else type(err).__name__
            raise _Transient(f"{type(err).__name__}: {reason}", kind) from err

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


class EmailNotifier(_Retrying):
    """Sends each event as a plain-text e-mail with the standard library's smtplib, in a thread.

    ``starttls`` upgrades a plain connection (port 587); ``use_ssl`` connects
    with TLS from the start (port 465). ``username``/``password`` log in.
    Connection failures and SMTP 4xx replies are retried; 5xx are not.
    """

    def __init__(self, host: str, port: int = 25, sender: str = "openbms@localhost",
                 recipients: Sequence[str] = (), *, starttls: bool = False, use_ssl: bool = False,
                 username: str | None = None, password: str | None = None, timeout: float = 10.0,
                 retries: int = 2, backoff: float = 2.0, max_backoff: float = 60.0,
                 clock: Clock | None = None, name: str = "") -> None:
        super().__init__(name or f"e-mail via {host}:{port}", retries, backoff, max_backoff, clock)
        if not recipients:
            raise ValueError("an e-mail notifier needs at least one recipient")
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = tuple(recipients)
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.username = username
        self.password = password
        self.timeout = timeout

    def message(self, event: AlarmEvent) -> EmailMessage:
        """The e-mail for ``event``."""
        what = {RAISE: "ALARM", REANNUNCIATE: "ALARM (unshelved)", RETURN: "returned to normal"}.get(
            event.action, event.action)
        msg = EmailMessage()
        # A header must be one line: a multi-line expression, or a device's text value with CR/LF in
        # it, would make EmailMessage refuse the subject (and could inject headers).
        msg["Subject"] = _one_line(f"[{event.alarm_class} P{event.priority}] {what}: {event.message}")[:200]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        lines = [event.message, "",
                 f"alarm:    {event.alarm_id}", f"point:    {event.point}", f"value:    {event.value}",
                 f"state:    {event.from_state} -> {event.to_state}", f"class:    {event.alarm_class}",
                 f"priority: {event.priority}", f"time:     {event.ts:.0f} (Unix time, UTC)"]
        if event.flap_count:
            lines.append(f"flapping: {event.flap_count} changes")
        msg.set_content("\n".join(lines) + "\n")
        return msg

    async def _attempt(self, event: AlarmEvent) -> None:
        await asyncio.to_thread(self._send_sync, self.message(event))

    def _send_sync(self, msg: EmailMessage) -> None:
        try:
            smtp: smtplib.SMTP
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg, self.sender, list(self.recipients))
        except smtplib.SMTPResponseException as err:
            text = f"SMTP {err.smtp_code}: {err.smtp_error!r}"
            kind = f"SMTP {err.smtp_code}"
            raise (_Transient(text, kind) if 400 <= err.smtp_code < 500 else _Permanent(text, kind)) from err
        except smtplib.SMTPRecipientsRefused as err:
            text = f"recipients refused: {', '.join(err.recipients)}"
            raise _Permanent(text, "recipients refused") from err
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as err:
            raise _Transient(f"{type(err).__name__}: {err}", type(err).__name__) from err
        except smtplib.SMTPException as err:
            raise _Permanent(f"{type(err).__name__}: {err}", type(err).__name__) from err


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: str) -> str:
    """``text`` with control characters and runs of white space (line breaks too) as single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


# ---------------------------------------------------------------------- routing


@dataclass(frozen=True, slots=True)
class Route:
    """Which alarms go to which senders.

    ``classes`` None means every class; ``max_priority`` keeps alarms at
    least that urgent (priority 1 is the most urgent); ``on_return`` also
    sends when the condition clears.
    """

    targets: tuple[str, ...]
    classes: frozenset[str] | None = None
    max_priority: int = 255
    on_return: bool = False

    def matches(self, event: AlarmEvent) -> bool:
        """True when this route sends ``event``."""
        if event.action not in _RAISES and not (self.on_return and event.action == RETURN):
            return False
        if self.classes is not None and event.alarm_class not in self.classes:
            return False
        return event.priority <= self.max_priority


class _Lane:
    """One target's queue, worker and circuit breaker: a slow or failing target delays only itself."""

    __slots__ = ("cooldown", "dropped", "failures", "name", "open_until", "queue", "queued", "sender", "task",
                 "trips")

    def __init__(self, name: str, sender: Sender, maxsize: int) -> None:
        self.name = name
        self.sender = sender
        self.queue: asyncio.Queue[AlarmEvent] = asyncio.Queue(maxsize)
        self.task: asyncio.Task[None] | None = None
        self.queued = 0
        self.dropped = 0
        self.failures = 0  # events failed in a row
        self.open_until: float | None = None  # the breaker is open until then
        self.cooldown = 0.0
        self.trips = 0

    def stats(self) -> dict[str, Any]:
        return {"backlog": self.queue.qsize(), "queued": self.queued, "dropped": self.dropped,
                "sent": self.sender.sent, "failed": self.sender.failed, "failures_in_a_row": self.failures,
                "breaker_open": self.open_until is not None, "breaker_trips": self.trips}


class Notifier:
    """Chooses senders by route and sends from one worker task per target: ``submit`` never blocks.

    Use as ``async with Notifier(...)`` or ``await start()`` / ``await stop()``.
    Each target's queue holds at most ``maxsize`` events; a full one drops
    the newest event for that target and counts it in ``dropped``. After
    ``failure_threshold`` events in a row fail on a target, its breaker opens:
    the worker waits ``cooldown`` seconds (doubling, at most ``max_cooldown``,
    while the target keeps failing) before it tries the next event.
    """

    def __init__(self, senders: Mapping[str, Sender], routes: Sequence[Route], *,
                 maxsize: int = 1000, failure_threshold: int = 3, cooldown: float = 30.0,
                 max_cooldown: float = 600.0, clock: Clock | None = None) -> None:
        for route in routes:
            unknown = [t for t in route.targets if t not in senders]
            if unknown:
                raise ValueError(f"a notification route names unknown targets: {', '.join(unknown)}")
        if failure_threshold < 1 or cooldown < 0 or max_cooldown < cooldown:
            raise ValueError("failure_threshold must be at least 1 and 0 <= cooldown <= max_cooldown")
        self.senders = dict(senders)
        self.routes = tuple(routes)
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.clock: Clock = clock or WallClock()
        self._lanes = {name: _Lane(name, sender, maxsize) for name, sender in self.senders.items()}
        self._started = False
        self.suppressed = 0  # events of shelved alarms

    @classmethod
    def from_config(cls, config: NotificationsConfig, clock: Clock | None = None) -> Notifier:
        """Build senders and routes from the ``notifications:`` section of a site file."""
        senders: dict[str, Sender] = {}
        for name, target in config.targets.items():
            if isinstance(target, WebhookTarget):
                senders[name] = WebhookNotifier(target.url, target.headers, target.timeout, target.retries,
                                                target.backoff, clock=clock, name=name)
            else:
                password = target.password
                if target.password_env:
                    password = os.environ.get(target.password_env, password)
                senders[name] = EmailNotifier(
                    target.host, target.port, target.sender, target.recipients, starttls=target.starttls,
                    use_ssl=target.use_ssl, username=target.username, password=password,
                    timeout=target.timeout, retries=target.retries, backoff=target.backoff,
                    clock=clock, name=name)
        routes = [Route(tuple(r.notify), frozenset(r.classes) if r.classes is not None else None,
                        r.max_priority, r.on_return) for r in config.routes]
        return cls(senders, routes, clock=clock)

    def _target_names(self, event: AlarmEvent) -> tuple[str, ...]:
        if event.shelved:
            return ()
        names: dict[str, None] = {}
        for route in self.routes:
            if route.matches(event):
                names.update(dict.fromkeys(route.targets))
        return tuple(names)

    def targets_for(self, event: AlarmEvent) -> tuple[Sender, ...]:
        """The senders that ``event`` goes to (none for a shelved alarm)."""
        return tuple(self.senders[n] for n in self._target_names(event))

    def submit(self, event: AlarmEvent) -> None:
        """Queue ``event`` for each target it goes to; usable as the engine's ``on_event``."""
        if event.shelved:
            if event.action in (RAISE, REANNUNCIATE, RETURN):
                self.suppressed += 1
            return
        for name in self._target_names(event):
            lane = self._lanes[name]
            try:
                lane.queue.put_nowait(event)
            except asyncio.QueueFull:
                lane.dropped += 1
                if lane.dropped == 1 or lane.dropped % 1000 == 0:
                    log.warning("alarm notification queue of %s full: %d notifications dropped so far",
                                name, lane.dropped)
                continue
            lane.queued += 1

    @property
    def queued(self) -> int:
        """Notifications queued so far (one per event and target)."""
        return sum(lane.queued for lane in self._lanes.values())

    @property
    def dropped(self) -> int:
        """Notifications dropped because a target's queue was full."""
        return sum(lane.dropped for lane in self._lanes.values())

    @property
    def backlog(self) -> int:
        """Notifications waiting to be sent, all targets together."""
        return sum(lane.queue.qsize() for lane in self._lanes.values())

    @property
    def sent(self) -> int:
        """Deliveries, all senders together."""
        return sum(s.sent for s in self.senders.values())

    @property
    def failed(self) -> int:
        """Failed deliveries (after retries), all senders together."""
        return sum(s.failed for s in self.senders.values())

    def stats(self) -> dict[str, dict[str, Any]]:
        """Counters per target: backlog, queued, dropped, sent, failed, and the breaker's state."""
        return {name: lane.stats() for name, lane in self._lanes.items()}

    async def start(self) -> None:
        """Start one worker per target."""
        if self._started:
            return
        self._started = True
        for lane in self._lanes.values():
            lane.task = asyncio.create_task(self._run(lane), name=f"alarm-notifier {lane.name}")

    async def join(self) -> None:
        """Wait until everything queued so far has been sent (or has failed)."""
        await asyncio.gather(*(lane.queue.join() for lane in self._lanes.values()))

    async def stop(self, drain: float = 5.0) -> None:
        """Send what is queued (for at most ``drain`` seconds), then stop and close the senders."""
        if self._started:
            try:
                await asyncio.wait_for(self.join(), drain)
            except TimeoutError:
                log.warning("alarm notifier stopped with %d notifications unsent", self.backlog)
            tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for lane in self._lanes.values():
                lane.task = None
            self._started = False
        for sender in self.senders.values():
            await sender.aclose()

    async def __aenter__(self) -> Notifier:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self, lane: _Lane) -> None:
        queue = lane.queue
        while True:
            event = await queue.get()
            try:
                if lane.open_until is not None:
                    wait = lane.open_until - self.clock.now()
                    if wait > 0:
                        await self.clock.sleep(wait)
                try:
                    ok = await lane.sender.send(event)
                except Exception as err:  # a Sender is not to raise; one that does must not stop the lane
                    log.debug("notifier %s raised %s: %s", lane.name, type(err).__name__, err)
                    ok = False
                self._outcome(lane, ok)
            finally:
                queue.task_done()

    def _outcome(self, lane: _Lane, ok: bool) -> None:
        """Close the breaker on a delivery; open it (or keep it open, longer) on failures in a row."""
        if ok:
            if lane.open_until is not None:
                log.info("notifier %s delivers again: its circuit breaker is closed", lane.name)
            lane.failures, lane.open_until, lane.cooldown = 0, None, 0.0
            return
        lane.failures += 1
        if lane.open_until is None and lane.failures < self.failure_threshold:
            return
        if lane.open_until is None:
            lane.trips += 1
            lane.cooldown = self.cooldown
            log.warning("notifier %s: %d notifications in a row failed; trying again in %g s, its "
                        "notifications wait meanwhile", lane.name, lane.failures, lane.cooldown)
        else:
            lane.cooldown = min(self.max_cooldown, max(lane.cooldown * 2, self.cooldown))
        lane.open_until = self.clock.now() + lane.cooldown
