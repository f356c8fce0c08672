"""Alarm and command changes in a backfill, on a real Mosquitto, a real PostgreSQL and a real edge
Runtime: changes made at the edge while the centre did not listen arrive by backfill (the command
line's and the worker's) with the keys and bodies of bridged ones, field by field; a second run
writes nothing; a change both bridged and backfilled is kept once. The edge answers its
``history`` ``events`` form page by page and refuses a bad one naming the field; the centre
refuses a malformed answer and writes nothing of it."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from openbms.api.mqtt_schemas import REQUESTS, RESPONSES, ErrorResponse
from openbms.api.server import serve
from openbms.central.backfill import Backfill, BackfillError
from openbms.central.store import CentralStore
from openbms.cli.main import app
from openbms.config import load_sites
from openbms.db.accounts import create_api_token, create_user
from openbms.historian import open_historian
from openbms.model.command import CommandSource
from openbms.model.sample import Sample
from openbms.runtime.bus import EventSubscription
from openbms.runtime.clock import WallClock
from openbms.service.runtime import Runtime
from tests.central.test_backfill import ask, iso
from tests.central.test_commands import central_for
from tests.central.test_ingest import rows
from tests.fixtures.services import MosquittoBroker
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until

SITE = """\
site: {{id: hq, name: Headquarters, timezone: UTC}}
drivers:
  sim: {{poll_interval: 0.5}}
mqtt:
  host: 127.0.0.1
  port: {port}
  timeout: 5
  bridge: {{per_point: false, per_device: true}}
  commands: {{enabled: true}}
equipment:
  - id: ahu-1
    type: ahu
    points:
      - name: sat-sp
        unit: degC
        writable: true
        relinquish_default: 13
        limits: {{min: 10, max: 18}}
        binding: "sim://ahu-1/sat-sp?wave=constant&value=13"
      - {{name: zone-t, unit: degC}}
alarms:
  - {{id: hot, name: Zone too hot, type: high, point: hq/ahu-1/zone-t, limit: 26, deadband: 0.5,
     priority: 20}}
"""
SP, ZONE = "hq/ahu-1/sat-sp", "hq/ahu-1/zone-t"


@asynccontextmanager
async def an_edge(broker: MosquittoBroker, tmp_path: Path) -> AsyncIterator[tuple[Runtime, str]]:
    """The edge, and the API token of its viewer (the centre's user there)."""
    folder = tmp_path / "sites"
    folder.mkdir(exist_ok=True)
    (folder / "hq.yaml").write_text(SITE.format(port=broker.port))
    runtime = Runtime(load_sites(folder), tmp_path / "edge", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    try:
        assert runtime.state is not None
        user = create_user(runtime.state, "central@example.com", "x", grants={"hq": "viewer"})
        yield runtime, create_api_token(runtime.state, user["id"], "central")[0]
    finally:
        await runtime.stop()


async def drained(sub: EventSubscription) -> list[dict[str, Any]]:
    """What the edge's bus published so far (what its bridge sends), as JSON carries it."""
    out: list[dict[str, Any]] = []
    while True:
        try:
            async with asyncio.timeout(0.5):
                _topic, payload = await sub.get()
        except TimeoutError:
            return out
        out.append(orjson.loads(orjson.dumps(payload)))


def alarm_key(p: dict[str, Any]) -> str:
    return f"{p['alarm_id']}:{p['action']}@{p['ts']!r}"


def stored(url: str, kind: str) -> dict[str, tuple[float, dict[str, Any]]]:
    """The centre's changes of ``kind``: key → (received, body); each key once (the table's key)."""
    found = rows(url, "SELECT key, received, body FROM central_events WHERE site = 'hq' AND kind = %s",
                 kind)
    assert len(found) == len({k for k, _r, _b in found})
    return {k: (r, b) for k, r, b in found}


async def eventually(check: Any, what: str) -> None:
    for _ in range(600):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_changes_the_centre_missed_arrive_by_backfill_with_the_keys_of_bridged_ones(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    async with an_edge(mosquitto, tmp_path) as (edge, token):
        engine = edge.alarm_engine("hq")
        assert engine is not None
        alarms, commands = edge.bus.subscribe_events("alarm"), edge.bus.subscribe_events("command")
        # 1. while the centre listens: bridged
        worker = central_for(mosquitto, url, {"hq": token}, [], WallClock())
        await worker.start()
        try:
            assert worker.ingest is not None
            ingest = worker.ingest
            await until(lambda: ingest.is_online("hq"), within=30, what="the edge online")
            edge.bus.publish([Sample(ZONE, edge.clock.now(), 30.0)])
            await eventually(lambda: bool(engine.active()), "the alarm raised")
            engine.acknowledge("hot", "local@example.com", "seen on site")
            first = await edge.commands.command(SP, 15.0, 8, source=CommandSource.OPERATOR,
                                                requested_by="local@example.com", reason="bridged")
            await eventually(lambda: len(stored(url, "alarm")) == 2
                             and f"{first.id}:completed" in stored(url, "command"),
                             "the bridged changes at the centre")
        finally:
            await worker.stop()
        bridged = {kind: stored(url, kind) for kind in ("alarm", "command")}
        # 2. while it does not: the bridge sends them to nobody (no worker subscribed)
        engine.add_note("hot", "local@example.com", "a filter to change")
        engine.shelve("hot", edge.clock.now() + 3600, "local@example.com")  # no reason: no note
        engine.add_note("hot", "local@example.com", "noted while shelved")
        engine.unshelve("hot", "local@example.com", "")
        second = await edge.commands.command(SP, 16.0, 8, source=CommandSource.OPERATOR,
                                             requested_by="local@example.com", reason="missed")
        edge.bus.publish([Sample(ZONE, edge.clock.now(), 20.0)])  # back to normal: a return
        await eventually(lambda: not engine.active(), "the alarm returned")
        await edge.commands.arbiter.flush()
        published = {"alarm": await drained(alarms), "command": await drained(commands)}
        # 3. the command line's backfill, twice
        tokens = tmp_path / "tokens"
        tokens.mkdir()
        (tokens / "hq").write_text(token + "\n")
        env = {**os.environ, "OPENBMS_HISTORY_URL": url, "COLUMNS": "300"}
        args = ["central", "backfill", "--site", "hq", "--since", iso(edge.clock.now() - 7200),
                "--tokens", str(tokens), "--broker", f"{mosquitto.host}:{mosquitto.port}"]
        first_run = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
        after_first = {kind: stored(url, kind) for kind in ("alarm", "command")}
        second_run = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
        after_second = {kind: stored(url, kind) for kind in ("alarm", "command")}
        # 4. the worker's, on a fresh database, as the edge comes online
        fresh = fresh_postgres_database(postgres_url)
        auto = central_for(mosquitto, fresh, {"hq": token}, [], WallClock(), backfill_hours=24)
        await auto.start()
        try:
            def runs() -> int:
                assert auto.backfill is not None
                site = auto.backfill.health()["sites"].get("hq")
                return 0 if site is None else int(site["runs"])

            await until(lambda: runs() == 1, within=120, what="the worker's backfill")
            assert auto.backfill is not None
            last = auto.backfill.health()["sites"]["hq"]["last"]
        finally:
            await auto.stop()
        by_fresh = {kind: stored(fresh, kind) for kind in ("alarm", "command")}

    actions = [p["action"] for p in published["alarm"]]
    assert actions == ["raise", "ack", "note", "shelve", "note", "unshelve", "reannunciate",
                       "return"], actions
    assert [p["shelved"] for p in published["alarm"]] == [False] * 3 + [True, True] + [False] * 3
    alarm_bodies = {alarm_key(p): p for p in published["alarm"]}
    assert len(alarm_bodies) == 8
    # each command's latest change (the edge keeps a command's latest state)
    latest = {p["id"]: p for p in published["command"]}
    assert set(latest) == {first.id, second.id}
    # the first superseded by the second after the centre stopped listening: a change it missed
    assert (latest[first.id]["status"], latest[second.id]["status"]) == ("superseded", "completed")
    command_bodies = {f"{p['id']}:{p['status']}": p for p in published["command"]}

    assert first_run.exit_code == 0, first_run.output
    said = " ".join(first_run.output.split())
    assert "8 alarm changes, 6 written; 2 command changes, 2 written" in said, said
    assert second_run.exit_code == 0, second_run.output
    said = " ".join(second_run.output.split())
    assert "8 alarm changes, 0 written; 2 command changes, 0 written" in said, said
    # the same keys as bridged ones, and each body exactly as the bridge publishes it
    assert set(after_first["alarm"]) == set(alarm_bodies)
    for key, (_received, body) in after_first["alarm"].items():
        assert body == alarm_bodies[key], key
    assert set(after_first["command"]) == set(bridged["command"]) | {
        f"{first.id}:superseded", f"{second.id}:completed"}
    for key, (_received, body) in after_first["command"].items():
        assert body == command_bodies[key], key
    # what was bridged is kept as it was (received when bridged), not written again
    for kind in ("alarm", "command"):
        for key, (received, body) in bridged[kind].items():
            assert after_first[kind][key] == (received, body), key
    assert after_second == after_first
    # the worker's run: every alarm change and each command's latest, as the bridge sends them
    assert last["error"] is None, last
    assert (last["alarm_changes"], last["command_changes"]) == (8, 2), last
    assert {k: b for k, (_r, b) in by_fresh["alarm"].items()} == alarm_bodies
    assert {k: b for k, (_r, b) in by_fresh["command"].items()} == {
        f"{p['id']}:{p['status']}": p for p in latest.values()}
    assert Counter(k.split(":")[1] for k in by_fresh["command"]) == {"completed": 1, "superseded": 1}


async def test_the_edge_answers_events_page_by_page_and_refuses_a_bad_form(
        mosquitto, tmp_path: Path):
    async with an_edge(mosquitto, tmp_path) as (edge, token):
        engine = edge.alarm_engine("hq")
        assert engine is not None
        alarms, changes = edge.bus.subscribe_events("alarm"), edge.bus.subscribe_events("command")
        since = edge.clock.now() - 60
        edge.bus.publish([Sample(ZONE, edge.clock.now(), 30.0)])
        await eventually(lambda: bool(engine.active()), "the alarm raised")
        for i in range(4):
            engine.add_note("hot", "local@example.com", f"note {i}")
        cmd = await edge.commands.command(SP, 15.0, 8, source=CommandSource.OPERATOR,
                                          requested_by="local@example.com", reason="paged")
        await edge.commands.arbiter.flush()
        published = await drained(alarms)
        cmd_published = await drained(changes)
        span = {"since": iso(since), "until": iso(edge.clock.now() + 60)}
        pages: list[dict[str, Any]] = []
        after = None
        while len(pages) < 10:
            body: dict[str, Any] = {**span, "kind": "alarm", "limit": 2}
            if after is not None:
                body["after"] = after
            REQUESTS["history"].model_validate({"id": "t", "events": body}, strict=True)
            pages.append(await ask(mosquitto, token, {"events": body}))
            after = pages[-1]["result"]["next"]
            if after is None:
                break
        commands = await ask(mosquitto, token, {"events": {**span, "kind": "command"}})
        outside = await ask(mosquitto, token, {"events": {"since": iso(since - 7200),
                                                          "until": iso(since), "kind": "alarm"}})
        bad: dict[str, dict[str, Any]] = {
            "no kind": {"events": span},
            "kind": {"events": {**span, "kind": "sample"}},
            "limit 0": {"events": {**span, "kind": "alarm", "limit": 0}},
            "limit": {"events": {**span, "kind": "command", "limit": 1001}},
            "cursor": {"events": {**span, "kind": "alarm", "after": "yesterday"}},
            "cursor id": {"events": {**span, "kind": "alarm", "after": "1765000000.5|abc"}},
            "cursor type": {"events": {**span, "kind": "alarm", "after": 12.5}},
            "field": {"events": {**span, "kind": "alarm", "point": "ahu-1/sat-sp"}},
            "long": {"events": {"since": iso(since - 32 * 86400), "until": iso(since),
                                "kind": "alarm"}},
            "backwards": {"events": {"since": iso(since), "until": iso(since - 1), "kind": "alarm"}},
            "not an object": {"events": ["alarm"]},
            "two forms": {"events": {**span, "kind": "alarm"}, "counts": span},
        }
        refused = {name: await ask(mosquitto, token, body) for name, body in bad.items()}
        running = edge.command_links.servers["hq"].connected
    assert running
    assert len(published) == 5
    for page in pages:
        assert page["ok"] is True, page
        RESPONSES["history"].model_validate_json(orjson.dumps(page), strict=True)
    assert [len(p["result"]["events"]) for p in pages] == [2, 2, 1]
    assert [e for p in pages for e in p["result"]["events"]] == published  # in time order
    assert commands["ok"] is True and commands["result"]["next"] is None
    RESPONSES["history"].model_validate_json(orjson.dumps(commands), strict=True)
    (change,) = commands["result"]["events"]
    assert change == cmd_published[-1] and change["id"] == cmd.id  # its latest change
    assert change["status"] == "completed" and change["value"] == 15.0
    assert outside["ok"] is True and outside["result"]["events"] == []
    for name, answer in refused.items():
        assert answer["ok"] is False, name
        ErrorResponse.model_validate_json(orjson.dumps(answer), strict=True)
    error = {name: (a["error"]["code"], a["error"]["field"], a["error"]["message"])
             for name, a in refused.items()}
    assert error["no kind"][:2] == ("invalid", "events.kind") and "required" in error["no kind"][2]
    assert error["kind"][:2] == ("invalid", "events.kind")
    assert "'sample'; expected one of alarm, command" in error["kind"][2]
    assert error["limit 0"][:2] == ("invalid", "events.limit")
    assert error["limit"][:2] == ("invalid", "events.limit") and "1 to 1000" in error["limit"][2]
    for name in ("cursor", "cursor id", "cursor type"):
        assert error[name][:2] == ("invalid", "events.after"), name
        assert "the next of the previous answer" in error[name][2]
    assert error["field"][:2] == ("invalid", "events.point")
    assert error["long"][:2] == ("invalid", "events.until") and "at most 31" in error["long"][2]
    assert error["backwards"][:2] == ("invalid", "events.until")
    assert error["not an object"][:2] == ("invalid", "events")
    assert error["two forms"][0] == "invalid" and "exactly one of" in error["two forms"][2]


T0 = 1_765_000_800.0


def edge_answering(events: Any, kind: str = "alarm", next_: Any = None) -> Any:
    """An ``ask`` answering as told (a misbehaving edge: a real one does not)."""
    async def ask_(site: str, name: str, payload: bytes, token: str) -> bytes:
        body = orjson.loads(payload)
        if "counts" in body:
            return orjson.dumps({"ok": True, "result": {"points": []}})
        asked = body["events"]["kind"]
        return orjson.dumps({"ok": True, "result": {
            "kind": asked, "since": T0, "until": T0 + 3600,
            "events": events if asked == kind else [], "next": next_ if asked == kind else None}})
    return ask_


GOOD = {"alarm_id": "hot", "rule_id": "hot", "point": "a/e/p", "ts": T0 + 10, "action": "raise",
        "from_state": "normal", "to_state": "active-unacked", "value": 30.0, "message": "hot",
        "who": None, "note": None, "priority": 20, "alarm_class": "", "shelved": False,
        "flap_count": 0, "site": "a"}


@pytest.mark.parametrize(("events", "kind", "next_", "said"), [
    ([GOOD, {**GOOD, "site": "b"}], "alarm", None, "events[1]: an alarm of site 'b': refused"),
    ([GOOD, {**GOOD, "alarm_id": None}], "alarm", None, "events[1]: expected an object with alarm_id"),
    ([GOOD, "raise"], "alarm", None, "events[1]: expected an object"),
    ([{**GOOD, "ts": T0 - 10}], "alarm", None, "events[0]: ts 1765000790.0: expected a time inside"),
    ([{**GOOD, "ts": "noon"}], "alarm", None, "events[0]: ts 'noon': expected a time inside"),
    ([{"id": "c1", "point": "b/e/p", "status": "completed", "updated_at": T0}], "command", None,
     "events[0]: a command of point 'b/e/p', not of site 'a'"),
    ([GOOD], "alarm", 12, "next 12: expected a cursor"),
    ({"x": 1}, "alarm", None, "alarm changes page is not as expected"),
])
async def test_a_malformed_events_answer_is_refused_and_writes_nothing(
        postgres_url, tmp_path: Path, events: Any, kind: str, next_: Any, said: str):
    url = fresh_postgres_database(postgres_url)
    store = CentralStore(url)
    await store.start()
    try:
        async with open_historian(tmp_path / "history.db", clock=WallClock()) as history:
            backfill = Backfill(history, edge_answering(events, kind, next_), lambda _s: "token",
                                WallClock(), store=store)
            with pytest.raises(BackfillError) as refused:
                await backfill.run("a", T0, T0 + 3600)
            good = await Backfill(history, edge_answering([GOOD]), lambda _s: "token", WallClock(),
                                  store=store).run("a", T0, T0 + 3600)
    finally:
        await store.stop()
    assert said in str(refused.value) and "site a" in str(refused.value)
    # nothing of a bad page; the good run's change once (with a bad cursor, the good page before
    # it was kept already)
    assert rows(url, "SELECT key, body FROM central_events") == [("hot:raise@1765000810.0", GOOD)]
    assert (good.alarm_changes, good.alarm_changes_written) == (1, 0 if said.startswith("next") else 1)


async def test_without_the_centres_store_a_backfill_asks_no_events(tmp_path: Path):
    asked: list[str] = []

    async def ask_(site: str, name: str, payload: bytes, token: str) -> bytes:
        asked.extend(orjson.loads(payload))
        return orjson.dumps({"ok": True, "result": {"points": []}})

    async with open_historian(tmp_path / "history.db", clock=WallClock()) as history:
        result = await Backfill(history, ask_, lambda _s: "token", WallClock()).run("a", T0, T0 + 3600)
    assert "events" not in asked and "counts" in asked
    assert (result.alarm_changes, result.command_changes) == (0, 0)

