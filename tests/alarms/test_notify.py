"""Notifications against real servers on loopback: webhook retries, e-mail, routing, shelving."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging

import pytest
from pydantic import ValidationError

from openbms.alarms import (
    AlarmEngine,
    AlarmEvent,
    EmailNotifier,
    Notifier,
    Route,
    WebhookNotifier,
    parse_rules,
)
from openbms.model.alarm import NotificationsConfig
from openbms.model.sample import Sample
from openbms.runtime.clock import ManualClock
from tests.alarms.servers import http_server, smtp_server
from tests.fixtures.services import free_port, require_service
from tests.fixtures.waiting import eventually

try:
    import httpx
except ImportError:  # the webhook falls back to the standard library
    httpx = None


def event(action: str = "raise", **kw) -> AlarmEvent:
    fields = {"alarm_id": "sat-high", "rule_id": "sat-high", "point": "hq/ahu-1/sat", "ts": 1_700_000_000.0,
              "action": action, "from_state": "normal", "to_state": "active-unacked", "value": 31.5,
              "message": "AHU-1 supply air high: 31.5 °C", "priority": 50, "alarm_class": "comfort"}
    fields.update(kw)
    return AlarmEvent(**fields)


class RecordingClock(ManualClock):
    """Sleeps return at once, and are recorded: the backoff schedule without waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture(params=["stdlib", "httpx"])
def client(request) -> str:
    """Both HTTP clients of the webhook notifier."""
    if request.param == "httpx" and httpx is None:
        require_service("httpx", "not installed (it belongs in the project's dependencies)")
    return request.param


# ---------------------------------------------------------------------- webhook


async def test_webhook_retries_503_with_exponential_backoff_and_the_third_attempt_succeeds(client):
    clock = RecordingClock()
    with http_server() as server:
        server.statuses = [503, 503]
        hook = WebhookNotifier(server.url, {"Authorization": "Bearer s3cret"}, timeout=5, retries=3,
                               backoff=0.5, clock=clock, client=client)
        assert await hook.send(event()) is True
        await hook.aclose()
    assert [r["status"] for r in server.requests] == [503, 503, 200]
    assert clock.slept == [0.5, 1.0]
    assert (hook.sent, hook.failed, hook.attempts) == (1, 0, 3)
    body = server.accepted[0]
    assert body["alarm_id"] == "sat-high" and body["action"] == "raise" and body["value"] == 31.5
    assert body["message"] == "AHU-1 supply air high: 31.5 °C"
    assert server.headers[-1]["Authorization"] == "Bearer s3cret"
    assert server.headers[-1]["Content-Type"] == "application/json"


async def test_webhook_does_not_retry_a_400(client, caplog):
    with http_server() as server:
        server.statuses = [400]
        hook = WebhookNotifier(server.url, retries=3, backoff=0, clock=RecordingClock(), client=client)
        with caplog.at_level(logging.WARNING, logger="openbms.alarms.notify"):
            assert await hook.send(event()) is False
        await hook.aclose()
    assert len(server.requests) == 1
    assert (hook.sent, hook.failed) == (0, 1)
    assert "HTTP 400" in caplog.text and "not retried" in caplog.text


async def test_webhook_gives_up_after_its_retries_without_raising_and_logs_once(client, caplog):
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    clock = RecordingClock()
    hook = WebhookNotifier(url, retries=2, backoff=1, clock=clock, client=client)
    with caplog.at_level(logging.DEBUG, logger="openbms.alarms.notify"):
        assert await hook.send(event()) is False
        assert await hook.send(event()) is False
    await hook.aclose()
    assert (hook.failed, hook.attempts) == (2, 6)
    assert clock.slept == [1, 2, 1, 2]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "could not deliver" in warnings[0].getMessage()


async def test_webhook_retries_429_and_408_waiting_as_retry_after_asks_within_the_cap(client):
    clock = RecordingClock()
    with http_server() as server:
        server.statuses = [429, 408, 429]
        server.response_headers = [{"Retry-After": "7"}, {}, {"Retry-After": "3600"}]
        hook = WebhookNotifier(server.url, retries=3, backoff=0.5, max_backoff=60, clock=clock, client=client)
        assert await hook.send(event()) is True
        await hook.aclose()
    assert [r["status"] for r in server.requests] == [429, 408, 429, 200]
    assert clock.slept == [7.0, 1.0, 60]  # Retry-After, else the backoff; never beyond max_backoff


async def test_webhook_logs_a_new_kind_of_failure_at_warning_even_while_failing(client, caplog):
    # The first failure used to set a flag that sent every later failure, a real outage too, to debug.
    with http_server() as server:
        server.statuses = [400]
        hook = WebhookNotifier(server.url, retries=0, clock=RecordingClock(), client=client)
        with caplog.at_level(logging.DEBUG, logger="openbms.alarms.notify"):
            assert await hook.send(event()) is False
            hook.url = f"http://127.0.0.1:{free_port()}/hook"  # the receiver goes down
            assert await hook.send(event()) is False
            assert await hook.send(event()) is False  # the same outage: counted, not logged again
        await hook.aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "HTTP 400" in warnings[0] and "HTTP 400" not in warnings[1]
    assert hook.failed == 3


def test_webhook_refuses_a_url_that_is_not_http():
    with pytest.raises(ValueError, match="http:// or https://"):
        WebhookNotifier("ftp://example.com/hook")


# ---------------------------------------------------------------------- e-mail


async def test_email_is_received_by_a_real_smtp_server():
    async with smtp_server() as server:
        mailer = EmailNotifier("127.0.0.1", server.port, "bms@example.com",
                               ["ops@example.com", "fm@example.com"], timeout=10)
        assert await mailer.send(event()) is True
    [(mail_from, rcpts, data)] = server.messages
    assert mail_from == "bms@example.com" and rcpts == ["ops@example.com", "fm@example.com"]
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Subject"] == "[comfort P50] ALARM: AHU-1 supply air high: 31.5 °C"
    body = msg.get_content()
    assert "point:    hq/ahu-1/sat" in body and "state:    normal -> active-unacked" in body


async def test_email_retries_a_421_but_not_a_550():
    clock = RecordingClock()
    async with smtp_server() as server:
        server.mail_replies = ["421 4.3.2 try again later"]
        mailer = EmailNotifier("127.0.0.1", server.port, "bms@example.com", ["ops@example.com"],
                               retries=2, backoff=3, clock=clock)
        assert await mailer.send(event()) is True
        assert clock.slept == [3] and len(server.messages) == 1
        server.mail_replies = ["550 5.7.1 relaying denied"]
        assert await mailer.send(event()) is False
    assert clock.slept == [3] and (mailer.sent, mailer.failed) == (1, 1)
    assert "550" in (mailer.last_error or "")


async def test_email_is_received_by_aiosmtpd():
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        require_service("aiosmtpd", "not installed (add it to the dev extra)")

    class Handler:
        def __init__(self) -> None:
            self.envelopes: list = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 Message accepted for delivery"

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mailer = EmailNotifier("127.0.0.1", controller.port, "bms@example.com", ["ops@example.com"])
        assert await mailer.send(event(action="return", from_state="active-acked", to_state="normal")) is True
    finally:
        controller.stop()
    [envelope] = handler.envelopes
    assert envelope.mail_from == "bms@example.com" and envelope.rcpt_tos == ["ops@example.com"]
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert msg["Subject"].startswith("[comfort P50] returned to normal:")


async def test_email_of_a_multi_line_message_has_a_one_line_subject():
    # A YAML block-scalar expression spans lines; a device's text value may carry CR/LF.
    multi = event(message="hot: `a/b/t1` > 30 and\n`a/b/t2` > 30", value="fault\r\nBcc: x@evil.example")
    async with smtp_server() as server:
        mailer = EmailNotifier("127.0.0.1", server.port, "bms@example.com", ["ops@example.com"], retries=0)
        assert await mailer.send(multi) is True
        assert await mailer.send(event(message="a\tb\x00\x1b[31mc\u2028d")) is True
    [(_, rcpts, data), (_, _, data2)] = server.messages
    assert rcpts == ["ops@example.com"]
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Subject"] == "[comfort P50] ALARM: hot: `a/b/t1` > 30 and `a/b/t2` > 30"
    assert msg["Bcc"] is None and "`a/b/t2` > 30" in msg.get_content()
    subject = email.message_from_bytes(data2, policy=email.policy.default)["Subject"]
    assert subject == "[comfort P50] ALARM: a b [31mc d"


def test_email_needs_a_recipient():
    with pytest.raises(ValueError, match="at least one recipient"):
        EmailNotifier("127.0.0.1", 25, "bms@example.com", [])


# ---------------------------------------------------------------------- routing


async def test_engine_to_webhook_routes_by_class_and_priority_and_never_for_shelved_alarms():
    clock = ManualClock()
    rules = parse_rules([
        {"id": "fire", "type": "state", "point": "hq/fire/alarm", "alarm_states": [True], "class": "critical",
         "priority": 1},
        {"id": "sat", "type": "high", "point": "hq/ahu-1/sat", "limit": 30, "class": "comfort",
         "priority": 150},
        {"id": "zone", "type": "high", "point": "hq/vav-1/zat", "limit": 26, "class": "comfort",
         "priority": 80},
        {"id": "pump", "type": "state", "point": "hq/p-1/fault", "alarm_states": [True], "class": "critical"},
    ])
    with http_server("/critical") as critical, http_server("/comfort") as comfort:
        notifier = Notifier(
            {"critical": WebhookNotifier(critical.url, backoff=0, clock=clock),
             "comfort": WebhookNotifier(comfort.url, backoff=0, clock=clock)},
            [Route(("critical",), classes=frozenset({"critical"}), on_return=True),
             Route(("comfort",), classes=frozenset({"comfort"}), max_priority=100)])
        engine = AlarmEngine(rules, clock, notifier.submit)
        async with notifier:
            engine.shelve("pump", clock.now() + 3600, "alice", "pump replaced")

            def feed(point, value):
                engine.feed([Sample(point, clock.now(), value)])

            feed("hq/fire/alarm", True)
            feed("hq/ahu-1/sat", 35.0)   # comfort, but priority 150 > 100: not sent
            feed("hq/vav-1/zat", 28.0)
            feed("hq/p-1/fault", True)   # shelved: never sent
            feed("hq/vav-1/zat", 20.0)   # the comfort route does not send returns
            feed("hq/fire/alarm", False)  # the critical route does
            engine.acknowledge("fire", "alice")  # acknowledgements are not notified
            await eventually(lambda: len(critical.requests) == 2 and len(comfort.requests) == 1,
                             "the three notifications")
            await notifier.join()
        assert [(r["body"]["alarm_id"], r["body"]["action"]) for r in critical.requests] == \
            [("fire", "raise"), ("fire", "return")]
        assert [r["body"]["alarm_id"] for r in comfort.requests] == ["zone"]
        assert notifier.suppressed == 1 and notifier.sent == 3 and notifier.failed == 0


class FakeSender:
    """A sender that records events; ``gate`` (when set) holds each send until released."""

    def __init__(self, name: str, ok: bool = True) -> None:
        self.name, self.ok = name, ok
        self.sent = self.failed = 0
        self.events: list[AlarmEvent] = []
        self.gate: asyncio.Event | None = None

    async def send(self, e: AlarmEvent) -> bool:
        self.events.append(e)
        if self.gate is not None:
            await self.gate.wait()
        if self.ok:
            self.sent += 1
        else:
            self.failed += 1
        return self.ok

    async def aclose(self) -> None:
        pass


async def test_a_hanging_target_does_not_hold_up_another_targets_notifications():
    hook, mail = FakeSender("hook"), FakeSender("mail")
    hook.gate = asyncio.Event()  # the webhook hangs
    notifier = Notifier({"hook": hook, "mail": mail},
                        [Route(("hook",)), Route(("mail",), classes=frozenset({"life-safety"}))])
    async with notifier:
        notifier.submit(event(alarm_id="ahu-filter"))
        notifier.submit(event(alarm_id="boiler-flame-fail", alarm_class="life-safety", priority=1))
        await eventually(lambda: mail.sent == 1, "the life-safety e-mail")
        assert hook.sent == 0 and len(hook.events) == 1  # still hanging on the first event
        assert notifier.stats()["mail"]["sent"] == 1 and notifier.stats()["hook"]["backlog"] == 1
        hook.gate.set()
        await notifier.join()
    assert [e.alarm_id for e in mail.events] == ["boiler-flame-fail"]
    assert (notifier.sent, notifier.queued) == (3, 3)


async def test_a_target_that_keeps_failing_trips_its_breaker_and_backs_off():
    clock = ManualClock()
    down = FakeSender("hook", ok=False)
    notifier = Notifier({"hook": down}, [Route(("hook",))], failure_threshold=2, cooldown=10,
                        max_cooldown=15, clock=clock)
    async with notifier:
        for i in range(6):
            notifier.submit(event(alarm_id=f"a{i}"))
        await eventually(lambda: notifier.stats()["hook"]["breaker_open"], "the breaker to open")
        await asyncio.sleep(0.05)
        assert len(down.events) == 2  # no attempt while open: the other events wait
        stats = notifier.stats()["hook"]
        assert (stats["backlog"], stats["breaker_trips"], stats["failures_in_a_row"]) == (3, 1, 2)
        await clock.advance(10)
        await eventually(lambda: len(down.events) == 3, "a probe after the cooldown")
        await clock.advance(10)  # the cooldown doubled (at most 15 s): no probe yet
        await asyncio.sleep(0.05)
        assert len(down.events) == 3
        down.ok = True
        await clock.advance(5)
        await eventually(lambda: len(down.events) == 6, "the backlog after recovery")
        await notifier.join()
    stats = notifier.stats()["hook"]
    assert (stats["sent"], stats["failed"], stats["breaker_open"], stats["backlog"]) == (3, 3, False, 0)


async def test_an_alarm_raised_while_shelved_is_notified_when_shelving_expires():
    clock = ManualClock()
    hook = FakeSender("hook")
    notifier = Notifier({"hook": hook}, [Route(("hook",), on_return=True)])
    engine = AlarmEngine(parse_rules([{"id": "hi", "type": "high", "point": "a/b/t", "limit": 30}]), clock,
                         notifier.submit)
    async with notifier:
        engine.shelve("hi", clock.now() + 3600, "ops", "sensor being replaced")
        engine.feed([Sample("a/b/t", clock.now(), 45.0)])
        await clock.advance(3600)
        engine.tick()
        await notifier.join()
    assert [(e.action, e.value) for e in hook.events] == [("reannunciate", 45.0)]
    assert notifier.suppressed == 1


async def test_submit_never_blocks_and_counts_what_a_full_queue_drops():
    notifier = Notifier({"hook": WebhookNotifier("http://127.0.0.1:9/hook")}, [Route(("hook",))], maxsize=2)
    for _ in range(5):
        notifier.submit(event())  # the worker is not running: nothing is sent, nothing blocks
    assert (notifier.queued, notifier.dropped, notifier.backlog) == (2, 3, 2)
    notifier.submit(event(action="ack"))  # not a notified action: not even queued
    assert notifier.backlog == 2


def test_routes_naming_unknown_targets_are_refused():
    with pytest.raises(ValueError, match="unknown targets: pager"):
        Notifier({}, [Route(("pager",))])


async def test_notifications_config_builds_the_notifier():
    config = NotificationsConfig.model_validate({
        "targets": {
            "ops-hook": {"type": "webhook", "url": "https://hooks.example.com/bms",
                         "headers": {"Authorization": "Bearer x"}, "retries": 5},
            "fm-mail": {"type": "email", "host": "smtp.example.com", "port": 587, "starttls": True,
                        "sender": "bms@example.com", "recipients": ["fm@example.com"], "username": "bms",
                        "password_env": "OPENBMS_TEST_SMTP_PASSWORD"},
        },
        "routes": [{"notify": ["ops-hook", "fm-mail"], "classes": ["critical"], "on_return": True},
                   {"notify": ["ops-hook"], "max_priority": 100}],
    })
    notifier = Notifier.from_config(config)
    hook, mail = notifier.senders["ops-hook"], notifier.senders["fm-mail"]
    assert isinstance(hook, WebhookNotifier) and hook.retries == 5
    assert hook.headers["Authorization"] == "Bearer x"
    assert isinstance(mail, EmailNotifier) and mail.starttls and mail.port == 587
    assert [t.name for t in notifier.targets_for(event(alarm_class="critical"))] == ["ops-hook", "fm-mail"]
    assert [t.name for t in notifier.targets_for(event(alarm_class="comfort", priority=150))] == []
    assert [t.name for t in notifier.targets_for(event(action="return", alarm_class="critical"))] == \
        ["ops-hook", "fm-mail"]
    await notifier.stop()


def test_notifications_config_refuses_a_route_to_an_unknown_target():
    with pytest.raises(ValidationError, match="unknown target 'pager'"):
        NotificationsConfig.model_validate({"routes": [{"notify": ["pager"]}]})


@pytest.mark.parametrize("field,value", [
    ("timeout", float("inf")), ("timeout", float("nan")), ("timeout", 3601.0), ("backoff", float("inf")),
    ("backoff", 86400.0), ("retries", 10**9),
])
@pytest.mark.parametrize("kind", ["webhook", "email"])
def test_notification_targets_refuse_infinite_nan_and_absurd_delivery_settings(kind, field, value):
    target = ({"type": "webhook", "url": "http://127.0.0.1:9/hook"} if kind == "webhook" else
              {"type": "email", "host": "127.0.0.1", "sender": "a@b.c", "recipients": ["d@e.f"]})
    with pytest.raises(ValidationError, match=field):
        NotificationsConfig.model_validate({"targets": {"t": {**target, field: value}}})
    NotificationsConfig.model_validate({"targets": {"t": target}})  # the defaults are fine
