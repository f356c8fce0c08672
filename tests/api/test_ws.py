"""The ``/api/v1/ws`` stream over a real WebSocket against a running runtime and API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from openbms.api.auth.passwords import Passwords
from openbms.api.routes.ws import ws_hub
from openbms.api.ws.protocol import WsSettings, parse
from openbms.db.accounts import create_user, revoke_grant
from openbms.model.sample import OK, Sample
from tests.api.live import PASSWORD, Live, live  # noqa: F401
from tests.fixtures.waiting import eventually


def ws_url(live: Live, **query: str) -> str:  # noqa: F811
    return live.url.replace("http", "ws", 1) + "/api/v1/ws" + (f"?{urlencode(query)}" if query else "")


def token_of(live: Live, user: str) -> str:  # noqa: F811
    return live.clients[user].headers["Authorization"].split()[1]


class Stream:
    """A connected client whose messages a background task collects."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.closed: ConnectionClosed | None = None
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.messages.append(json.loads(raw))
        except ConnectionClosed as err:
            self.closed = err
        else:
            self.closed = ConnectionClosed(self.ws.close_rcvd, self.ws.close_sent)

    async def send(self, message: Any) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    def of_type(self, kind: str, since: int = 0) -> list[dict[str, Any]]:
        return [m for m in self.messages[since:] if m["type"] == kind]

    def samples(self, since: int = 0, *, snapshot: bool | None = None) -> list[list[Any]]:
        return [s for m in self.of_type("samples", since)
                if snapshot is None or m.get("snapshot", False) == snapshot for s in m["samples"]]

    def index_of(self, kind: str) -> int:
        return next(i for i, m in enumerate(self.messages) if m["type"] == kind)

    async def request(self, message: dict[str, Any], reply: str) -> dict[str, Any]:
        n = len(self.messages)
        await self.send(message)
        await eventually(lambda: self.of_type(reply, n) or self.of_type("error", n), f"a {reply!r}")
        return (self.of_type(reply, n) or self.of_type("error", n))[0]

    @property
    def code(self) -> int | None:
        rcvd = self.closed.rcvd if self.closed is not None else None
        return rcvd.code if rcvd is not None else None

    @property
    def reason(self) -> str:
        rcvd = self.closed.rcvd if self.closed is not None else None
        return rcvd.reason if rcvd is not None else ""


@contextlib.asynccontextmanager
async def stream(url: str, first: Any = None, **kw: Any) -> AsyncIterator[Stream]:
    async with connect(url, **kw) as ws:
        s = Stream(ws)
        if first is not None:
            await s.send(first)
        try:
            yield s
        finally:
            s._task.cancel()
            await asyncio.gather(s._task, return_exceptions=True)


@contextlib.asynccontextmanager
async def signed_in(live: Live, user: str) -> AsyncIterator[Stream]:  # noqa: F811
    async with stream(ws_url(live, token=token_of(live, user))) as s:
        await eventually(lambda: s.of_type("ready"), "the ready message")
        yield s


@pytest.fixture
def quick(live: Live) -> None:  # noqa: F811
    """Grants re-read every 0.2 s, a client stuck for 1 s dropped, short queues: tests wait less."""
    live.runtime.api.app.state.ws_settings = WsSettings(recheck_interval=0.2, stall_timeout=1.0,
                                                        queue_maxlen=500)


# ---------------------------------------------------------------------- authentication


async def test_no_token_or_a_bad_one_is_closed_4401_with_a_reason(live: Live):  # noqa: F811
    async with stream(ws_url(live), first={"type": "subscribe", "points": "*"}) as s:
        await eventually(lambda: s.closed is not None, "the refusal")
    assert s.code == 4401 and "authentication required" in s.reason
    async with stream(ws_url(live, token="obms_not-a-token")) as s:
        await eventually(lambda: s.closed is not None, "the refusal")
    assert (s.code, s.reason) == (4401, "invalid or expired token")
    async with stream(ws_url(live), first={"type": "auth", "token": token_of(live, "viewer") + "x"}) as s:
        await eventually(lambda: s.closed is not None, "the refusal")
    assert (s.code, s.messages) == (4401, [])
    async with stream(ws_url(live), first="{not json") as s:
        await eventually(lambda: s.closed is not None, "the refusal")
    assert s.code == 4401


async def test_a_user_without_any_site_is_closed_4403(live: Live):  # noqa: F811
    create_user(live.runtime.state, "nobody@example.com", Passwords().hash(PASSWORD), grants={})
    r = await live.clients["anonymous"].post("/api/v1/auth/login",
                                             json={"email": "nobody@example.com", "password": PASSWORD})
    async with stream(ws_url(live, token=r.json()["access_token"])) as s:
        await eventually(lambda: s.closed is not None, "the refusal")
    assert (s.code, s.reason) == (4403, "you have no role on any site")


async def test_token_in_the_first_message_or_a_header_and_api_tokens_work(live: Live):  # noqa: F811
    r = await live.post("viewer", "/api/v1/tokens", json={"name": "ws", "role": "viewer"})
    api_token = r.json()["token"]
    async with stream(ws_url(live), first={"type": "auth", "token": api_token}) as s:
        await eventually(lambda: s.of_type("ready"), "the ready message")
    assert s.of_type("ready")[0]["sites"] == ["hq"]
    headers = {"Authorization": f"Bearer {token_of(live, 'labviewer')}"}
    async with stream(ws_url(live), additional_headers=headers) as s:
        await eventually(lambda: s.of_type("ready"), "the ready message")
    assert s.of_type("ready")[0] == {"type": "ready", "user": "labviewer@example.com", "sites": ["lab"],
                                     "interval_ms": 100}


# ---------------------------------------------------------------------- samples


async def test_subscribe_sends_the_current_values_first_then_changes(live: Live):  # noqa: F811
    cache = live.runtime.cache
    await eventually(lambda: cache.get("hq/ahu-1/sat") is not None, "a first value of sat")
    async with signed_in(live, "viewer") as s:
        reply = await s.request({"type": "subscribe", "id": 7, "points": ["hq/ahu-1/*"]}, "subscribed")
        assert reply == {"type": "subscribed", "id": 7, "points": ["hq/ahu-1/*"], "alarms": [],
                         "commands": []}
        await eventually(lambda: len({p for p, *_ in s.samples(snapshot=False)
                                      if p == "hq/ahu-1/sat"}) and len(s.samples(snapshot=False)) > 6,
                         "live samples of sat")
    first = s.of_type("samples")[0]
    assert first["snapshot"] is True
    assert s.messages.index(first) == s.index_of("subscribed") + 1
    snapshot = {p: (ts, v, status) for p, ts, v, status in first["samples"]}
    assert set(snapshot) == {"hq/ahu-1/sat", "hq/ahu-1/sat-sp", "hq/ahu-1/fan-cmd"}
    assert snapshot["hq/ahu-1/sat-sp"][1:] == (13, "ok") or snapshot["hq/ahu-1/sat-sp"][1:] == (13.0, "ok")
    live_sat = [s_ for s_ in s.samples(snapshot=False) if s_[0] == "hq/ahu-1/sat"]
    assert all(12 <= v <= 16 and status == "ok" for _, _, v, status in live_sat)
    assert [ts for _, ts, _, _ in live_sat] == sorted(ts for _, ts, _, _ in live_sat)
    assert live_sat[0][1] >= snapshot["hq/ahu-1/sat"][0]
    assert {p for p, *_ in s.samples()} <= set(snapshot)


async def test_unsubscribe_stops_the_samples(live: Live):  # noqa: F811
    async with signed_in(live, "operator") as s:
        await s.request({"type": "subscribe", "sites": "hq"}, "subscribed")
        await eventually(lambda: len(s.samples(snapshot=False)) > 3, "live samples")
        reply = await s.request({"type": "unsubscribe", "sites": ["hq"]}, "unsubscribed")
        assert reply["points"] == []
        n = len(s.messages)
        await s.request({"type": "ping", "id": "a"}, "pong")  # a full batch interval later
        await asyncio.sleep(0.5)
    assert s.samples(n) == []


async def test_a_lab_viewer_never_receives_hq_samples(live: Live):  # noqa: F811
    async with signed_in(live, "labviewer") as s:
        reply = await s.request({"type": "subscribe", "points": ["*"]}, "subscribed")
        assert reply["points"] == ["*"]
        await eventually(lambda: len(s.samples(snapshot=False)) >= 10, "live lab samples")
        hq = await s.request({"type": "subscribe", "id": 1, "points": ["hq/ahu-1/*"]}, "subscribed")
        annex = await s.request({"type": "subscribe", "id": 1, "points": ["annex/ahu-1/*"]}, "subscribed")
        sites = await s.request({"type": "subscribe", "id": 1, "sites": ["hq"], "alarms": True}, "subscribed")
    # A site not granted answers exactly like a site that does not exist.
    assert hq == {**annex, "message": "no site 'hq'"} and hq["error"] == "not_found"
    assert sites == hq
    assert {p.split("/")[0] for p, *_ in s.samples()} == {"lab"}


@pytest.mark.usefixtures("quick")
async def test_revoking_a_grant_stops_that_site_on_the_open_connection(live: Live):  # noqa: F811
    user = create_user(live.runtime.state, "both@example.com", Passwords().hash(PASSWORD),
                       grants={"hq": "viewer", "lab": "viewer"})
    r = await live.clients["anonymous"].post("/api/v1/auth/login",
                                             json={"email": "both@example.com", "password": PASSWORD})
    async with stream(ws_url(live, token=r.json()["access_token"])) as s:
        await s.request({"type": "subscribe", "points": ["*", "hq/ahu-1/*"]}, "subscribed")
        await eventually(lambda: {p[:3] for p, *_ in s.samples(snapshot=False)} == {"hq/", "lab"},
                         "samples of both sites")
        revoke_grant(live.runtime.state, user["id"], "hq")
        await eventually(lambda: s.of_type("unsubscribed"), "the subscriptions to hq dropped")
        dropped = s.index_of("unsubscribed")
        await eventually(lambda: len(s.samples(dropped)) >= 10, "more lab samples")
    assert s.messages[dropped] == {"type": "unsubscribed", "reason": "access revoked", "points": ["*"],
                                   "alarms": [], "commands": []}
    assert {p.split("/")[0] for p, *_ in s.samples(dropped)} == {"lab"}


@pytest.mark.usefixtures("quick")
async def test_revoking_the_only_grant_closes_the_connection_4403(live: Live):  # noqa: F811
    users = (await live.get("admin", "/api/v1/users")).json()["items"]
    uid = next(u["id"] for u in users if u["email"] == "viewer@example.com")
    async with signed_in(live, "viewer") as s:
        await s.request({"type": "subscribe", "points": ["hq/*"]}, "subscribed")
        r = await live.delete("admin", f"/api/v1/users/{uid}/grants/hq")
        assert r.status_code == 204
        await eventually(lambda: s.closed is not None, "the connection closed")
    assert (s.code, s.reason) == (4403, "access to every site was revoked")


@pytest.mark.usefixtures("quick")
async def test_logging_out_closes_the_stream_4401(live: Live):  # noqa: F811
    async with signed_in(live, "operator") as s:
        assert (await live.post("operator", "/api/v1/auth/logout")).status_code == 204
        await eventually(lambda: s.closed is not None, "the connection closed")
    assert s.code == 4401


# ---------------------------------------------------------------------- events


async def test_alarm_and_command_events_of_granted_sites_arrive(live: Live):  # noqa: F811
    alarms = live.runtime.alarms["hq"].engine
    await eventually(lambda: bool(alarms.active()), "the zone-hot alarm")
    async with signed_in(live, "operator") as op, signed_in(live, "labviewer") as lab:
        await op.request({"type": "subscribe", "alarms": ["hq"], "commands": True}, "subscribed")
        await lab.request({"type": "subscribe", "alarms": "*", "commands": "*"}, "subscribed")
        alarms.add_note(alarms.active()[0].id, "operator@example.com", "looking at it")
        assert live.runtime.arbiter is not None
        await live.runtime.arbiter.command("hq/ahu-1/sat-sp", 14.5, 8, requested_by="operator@example.com")
        await eventually(lambda: op.of_type("alarm") and op.of_type("command"), "both events")
        await op.request({"type": "ping"}, "pong")
        await lab.request({"type": "ping"}, "pong")
    alarm = op.of_type("alarm")[0]["alarm"]
    assert (alarm["site"], alarm["action"], alarm["note"]) == ("hq", "note", "looking at it")
    command = op.of_type("command")[-1]["command"]
    assert (command["point"], command["value"], command["priority"]) == ("hq/ahu-1/sat-sp", 14.5, 8)
    assert lab.of_type("alarm") == lab.of_type("command") == []


# ---------------------------------------------------------------------- slow clients


async def _flood(live: Live, stop: asyncio.Event) -> None:  # noqa: F811
    """100 changing hq points with long text values, 50 batches a second: a client not reading fills up."""
    ids = [f"hq/flood/p{i:03d}" for i in range(100)]
    padding = "x" * 1000
    k = 0
    while not stop.is_set():
        now = time.time()
        live.runtime.bus.publish([Sample(p, now, f"{k}{padding}", OK) for p in ids])
        k += 1
        await asyncio.sleep(0.02)


@pytest.mark.usefixtures("quick")
async def test_a_client_that_never_reads_is_dropped_and_others_keep_receiving(live: Live):  # noqa: F811
    hub = ws_hub(live.runtime.api.app)
    bus = live.runtime.bus
    url = urlsplit(live.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client's window stays small
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
    stop = asyncio.Event()
    flood = asyncio.create_task(_flood(live, stop))
    try:
        async with signed_in(live, "operator") as fast, \
                connect(ws_url(live, token=token_of(live, "viewer")), sock=sock, max_queue=1,
                        compression=None, close_timeout=0.5) as slow:
            await fast.request({"type": "subscribe", "points": "hq/ahu-1/sat"}, "subscribed")
            await slow.send(json.dumps({"type": "subscribe", "sites": "hq"}))
            # The slow client reads nothing from now on.
            await eventually(lambda: len(hub.sessions) == 2, "both connections served")
            slow_session = next(x for x in hub.sessions if x.principal.email == "viewer@example.com")
            await eventually(lambda: slow_session.subscription is not None
                             and slow_session.subscription.coalescing, "the slow client's values coalesced")
            waiting = len(slow_session.subscription)
            published = bus.published
            await eventually(lambda: hub.dropped_slow == 1 and slow_session not in hub.sessions,
                             "the slow client dropped")
            n = len(fast.messages)
            await eventually(lambda: len(fast.samples(n)) >= 5, "more samples for the other client")
    finally:
        stop.set()
        await flood
    assert slow_session.close_code == 4008 and slow_session.close_reason.startswith("too slow")
    assert waiting <= slow_session.settings.queue_maxlen + 105  # coalesced: bounded, never growing
    stats = bus.stats()
    assert stats.published > published  # publishing went on meanwhile, never waiting for the client
    assert stats.subscribers["cache"]["delivered"] == stats.published  # and the cache saw every sample
    assert fast.closed is None or fast.code == 1000
    assert {p for p, *_ in fast.samples()} == {"hq/ahu-1/sat"}


# ---------------------------------------------------------------------- malformed messages


async def test_malformed_messages_get_an_error_reply_and_the_connection_stays(live: Live):  # noqa: F811
    async with signed_in(live, "viewer") as s:
        for bad in ("{oops", "[1, 2]", '{"type": "dance"}', '{"type": "subscribe"}',
                    '{"type": "subscribe", "points": 5}', '{"type": "subscribe", "sites": ["hq/*"]}',
                    '{"type": "subscribe", "points": ["a b"], "id": 3}',
                    '{"type": "auth", "token": "x"}', '{"type": "subscribe", "bogus": 1, "points": "*"}'):
            n = len(s.messages)
            await s.send(bad)
            await eventually(lambda n=n: s.of_type("error", n), f"an error for {bad!r}")
        pong = await s.request({"type": "ping", "id": 9}, "pong")
    errors = s.of_type("error")
    assert [e["error"] for e in errors] == ["bad_json", "invalid", "unknown_type", "invalid", "invalid",
                                            "invalid", "invalid", "invalid", "invalid"]
    assert errors[6]["id"] == 3 and all(e["message"] for e in errors)
    assert pong == {"type": "pong", "id": 9} and s.closed is None


def test_parse_reads_subscriptions_and_names_what_is_wrong():
    req = parse('{"type": "subscribe", "points": "hq/*", "alarms": true, "commands": ["hq", "hq"]}')
    assert (req.points, req.alarms, req.commands) == (("hq/*",), ("*",), ("hq",))
    assert parse('{"type": "unsubscribe", "all": true}').all


# ---------------------------------------------------------------------- hostile messages


async def test_a_deeply_nested_or_huge_message_is_an_error_reply_and_the_connection_stays(
        live: Live, caplog: pytest.LogCaptureFixture):  # noqa: F811
    async with signed_in(live, "viewer") as s:
        for bad in ("[" * 100_000, "[" * 60_000, '{"type": "ping", "x": ' + "[" * 50 + "]" * 50 + "}",
                    json.dumps({"type": "subscribe", "points": ["x" * 200] * 400}),
                    b"\xff" + b"[" * 1000):
            n = len(s.messages)
            await s.ws.send(bad)
            await eventually(lambda n=n: s.of_type("error", n), f"an error for {bad[:20]!r}")
        pong = await s.request({"type": "ping", "id": 1}, "pong")
    assert [e["error"] for e in s.of_type("error")] == ["too_large", "too_deep", "too_deep", "too_large",
                                                         "bad_json"]
    assert pong == {"type": "pong", "id": 1} and s.closed is None
    assert all(len(e["message"]) < 300 for e in s.of_type("error"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_hostile_first_message_is_refused_4401_without_an_error_logged(
        live: Live, caplog: pytest.LogCaptureFixture):  # noqa: F811
    for first in ("[" * 100_000, "x" * 120_000, b"\x00\xff" * 10):
        async with stream(ws_url(live)) as s:
            await s.ws.send(first)
            await eventually(lambda s=s: s.closed is not None, "the refusal")
        assert s.code == 4401 and "authentication required" in s.reason
    # A frame over the server's limit (128 KiB) is refused by the server before it is read: 1009.
    async with stream(ws_url(live)) as s:
        await s.ws.send("x" * 200_000)
        await eventually(lambda s=s: s.closed is not None, "the refusal")
    assert s.code == 1009
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert ws_hub(live.runtime.api.app).refused == 3


async def test_a_subscription_to_a_site_not_granted_is_audited(live: Live):  # noqa: F811
    async with signed_in(live, "labviewer") as s:
        for _ in range(3):
            reply = await s.request({"type": "subscribe", "id": 1, "points": ["hq/ahu-1/*"]}, "subscribed")
            assert reply["error"] == "not_found"
    r = await live.get("admin", "/api/v1/audit", params={"action": "access.denied"})
    [row] = r.json()["items"]
    assert row["actor"] == "labviewer@example.com" and row["target"] == "hq"
    assert {k: row["details"][k] for k in ("method", "route", "reason", "count")} == {
        "method": "WEBSOCKET", "route": "/api/v1/ws subscribe", "reason": "no role on the site", "count": 3}
