"""Backfill from the centre on a real Mosquitto, a real PostgreSQL and a real edge Runtime (sim
points, its SQLite historian, its bridge and command/response): samples that never reached the
centre (stored at the edge past its bridge) are found by per-hour counts and written, once; the
edge answers history requests page by page and refuses bad ones with a clear error; an edge
coming online again is backfilled by the worker on its own."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from openbms.api import mqtt_commands
from openbms.api.mqtt_schemas import RESPONSES, ErrorResponse
from openbms.api.server import serve
from openbms.central import IngestWorker
from openbms.central.backfill import AutoBackfill, Backfill, BackfillError
from openbms.central.commands import CommandQueue
from openbms.cli.main import app
from openbms.config import load_sites
from openbms.db.accounts import create_api_token, create_user
from openbms.drivers.mqtt.requests import Requester
from openbms.historian import open_historian
from openbms.model.sample import OFFLINE, Sample
from openbms.runtime.clock import WallClock
from openbms.service.runtime import Runtime
from tests.central.test_commands import central_for
from tests.central.test_ingest import connect_for, rows
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
      - {{name: sat, unit: degC, binding: "sim://ahu-1/sat?wave=constant&value=14"}}
      - {{name: rat, unit: degC, binding: "sim://ahu-1/rat?wave=constant&value=21"}}
"""
HOUR = 3600.0
SAT, RAT = "hq/ahu-1/sat", "hq/ahu-1/rat"


@dataclass
class Edge:
    runtime: Runtime
    tokens: dict[str, str]  # user → API token at the edge


async def start_edge(broker: MosquittoBroker, tmp_path: Path) -> Runtime:
    folder = tmp_path / "sites"
    folder.mkdir(exist_ok=True)
    (folder / "hq.yaml").write_text(SITE.format(port=broker.port))
    runtime = Runtime(load_sites(folder), tmp_path / "edge", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    return runtime


@asynccontextmanager
async def an_edge(broker: MosquittoBroker, tmp_path: Path) -> AsyncIterator[Edge]:
    runtime = await start_edge(broker, tmp_path)
    try:
        assert runtime.state is not None
        tokens = {}
        for user, grants in {"central": {"hq": "viewer"}, "other": {"lab": "admin"}}.items():
            row = create_user(runtime.state, f"{user}@example.com", "x", grants=grants)
            tokens[user] = create_api_token(runtime.state, row["id"], "central")[0]
        yield Edge(runtime, tokens)
    finally:
        await runtime.stop()


def past_hour(hours_ago: int) -> float:
    """The start of the UTC hour ``hours_ago`` hours before the current one (no live sample in it)."""
    return math.floor(WallClock().now() / HOUR) * HOUR - hours_ago * HOUR


def at_the_edge_only(edge: Runtime, point: str, times: list[float], value: float = 20.0) -> None:
    """Samples stored by the edge's historian that its bridge never sent (as while it was off)."""
    edge.historian.ingest([Sample(point, ts, value + i * 0.1) for i, ts in enumerate(times)])


def central_count(url: str, point: str, since: float, until_: float) -> int:
    return int(rows(url, "SELECT count(*) FROM samples h JOIN series s USING (pid) WHERE s.point = %s "
                         "AND h.ts >= %s AND h.ts < %s", point, since, until_)[0][0])


def central_rows(url: str, point: str, since: float, until_: float) -> list[tuple[float, Any]]:
    return [(ts, v) for ts, v in rows(
        url, "SELECT h.ts, h.value FROM samples h JOIN series s USING (pid) WHERE s.point = %s "
             "AND h.ts >= %s AND h.ts < %s ORDER BY h.ts", point, since, until_)]


async def ask(broker: MosquittoBroker, token: str, body: dict[str, Any]) -> dict[str, Any]:
    async with Requester(broker.host, broker.port, "openbms", "hq", timeout=10) as requester:
        answer = await requester.ask("history", orjson.dumps({"id": "t", **body}),
                                     user_properties=[("authorization", f"Bearer {token}")])
    return dict(orjson.loads(answer))


def iso(ts: float, zone: bool = True) -> str:
    text = datetime.fromtimestamp(ts, UTC).isoformat()
    return text if zone else text.replace("+00:00", "")


async def test_samples_that_never_reached_the_centre_are_filled_once(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    h0 = past_hour(5)
    async with an_edge(mosquitto, tmp_path) as edge:
        worker = central_for(mosquitto, url, {"hq": edge.tokens["central"]}, [], WallClock())
        await worker.start()
        try:
            assert worker.ingest is not None and worker.historian is not None
            ingest = worker.ingest
            await until(lambda: ingest.is_online("hq"), within=30, what="the edge online")
            # hour h0: half through the bus (the bridge sends them), half at the edge only;
            # hour h0 + 1: all at the edge only, one of them offline without a value
            first = [h0 + 60.0 * k for k in range(60)]
            bridged = first[0::2]
            edge.runtime.bus.publish([Sample(SAT, ts, 12.0 + i) for i, ts in enumerate(bridged)])
            at_the_edge_only(edge.runtime, SAT, first[1::2])
            second = [h0 + HOUR + 60.0 * k for k in range(59)]
            at_the_edge_only(edge.runtime, SAT, second)
            edge.runtime.historian.ingest([Sample(SAT, h0 + HOUR + 3590.0, None, OFFLINE)])
            await edge.runtime.historian.flush()

            async def bridged_here() -> bool:
                await worker.historian.flush()  # type: ignore[union-attr]
                return central_count(url, SAT, h0, h0 + HOUR) == 30

            for _ in range(600):
                if await bridged_here():
                    break
                await asyncio.sleep(0.05)
            assert central_count(url, SAT, h0, h0 + 2 * HOUR) == 30
        finally:
            await worker.stop()
        tokens = tmp_path / "tokens"
        tokens.mkdir()
        (tokens / "hq").write_text(edge.tokens["central"] + "\n")
        env = {**os.environ, "OPENBMS_HISTORY_URL": url, "COLUMNS": "200"}
        args = ["central", "backfill", "--site", "hq", "--since", iso(h0 - 2 * HOUR),
                "--until", iso(h0 + 2 * HOUR), "--tokens", str(tokens), "--broker",
                f"{mosquitto.host}:{mosquitto.port}"]
        first_run = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
        second_run = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
        unknown = await asyncio.to_thread(CliRunner().invoke, app, [*args, "--point", "ahu-1/nope"],
                                          env=env)
        backwards = await asyncio.to_thread(CliRunner().invoke, app, [*args, "--until", iso(h0 - 3 * HOUR)],
                                            env=env)
        at_edge = [(s.ts, s.value) for s in await edge.runtime.historian.raw(SAT, h0, h0 + 2 * HOUR)]
    assert first_run.exit_code == 0, first_run.output
    assert "2 hours checked, 2 filled, 90 samples written" in first_run.output, first_run.output
    assert second_run.exit_code == 0, second_run.output
    assert "2 hours checked, 0 filled, 0 samples written" in second_run.output, second_run.output
    assert unknown.exit_code == 1 and "refused the history request: unknown_point: no point " \
        "'hq/ahu-1/nope'" in " ".join(unknown.output.split()), unknown.output
    assert backwards.exit_code == 1 and "--until must be after --since" in backwards.output
    here = central_rows(url, SAT, h0, h0 + 2 * HOUR)
    assert len(at_edge) == 120 and here == at_edge  # the bridged 30 kept, the 90 others added
    assert here[-1] == (h0 + HOUR + 3590.0, None)
    assert central_count(url, RAT, h0 - 2 * HOUR, h0 + 2 * HOUR) == 0


async def test_the_edge_answers_history_page_by_page_and_refuses_bad_requests(
        mosquitto, postgres_url, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    h0 = past_hour(3)
    async with an_edge(mosquitto, tmp_path) as edge:
        token = edge.tokens["central"]  # a viewer of hq: any role may ask
        times = [h0 + 10.0 * k for k in range(25)]
        at_the_edge_only(edge.runtime, SAT, times)
        at_the_edge_only(edge.runtime, RAT, [h0 + 2 * HOUR + 1.5])
        await edge.runtime.historian.flush()
        counts = await ask(mosquitto, token, {"counts": {"since": iso(h0 + 1800), "until": h0 + 3 * HOUR}})
        pages, after = [], None
        while True:
            body: dict[str, Any] = {"point": "ahu-1/sat", "since": iso(h0), "until": iso(h0 + HOUR),
                                    "limit": 10}
            if after is not None:
                body["after"] = after
            page = await ask(mosquitto, token, {"samples": body})
            pages.append(page)
            after = page["result"]["next"]
            if after is None or len(pages) > 5:
                break
        bad = {
            "too long": {"counts": {"since": iso(h0 - 32 * 86400), "until": iso(h0)}},
            "backwards": {"samples": {"point": "ahu-1/sat", "since": iso(h0), "until": iso(h0 - 1)}},
            "no zone": {"counts": {"since": iso(h0, zone=False), "until": iso(h0 + HOUR)}},
            "not a time": {"counts": {"since": "yesterday", "until": iso(h0)}},
            "both": {"counts": {"since": iso(h0), "until": iso(h0 + HOUR)},
                     "samples": {"point": "ahu-1/sat", "since": iso(h0), "until": iso(h0 + HOUR)}},
            "neither": {},
            "too many": {"samples": {"point": "ahu-1/sat", "since": iso(h0), "until": iso(h0 + HOUR),
                                     "limit": 10_001}},
            "unknown point": {"counts": {"since": iso(h0), "until": iso(h0 + HOUR),
                                         "points": ["ahu-1/nope"]}},
            "unknown field": {"samples": {"point": "ahu-1/sat", "since": iso(h0),
                                          "until": iso(h0 + HOUR), "step": 60}},
        }
        refused = {name: await ask(mosquitto, token, body) for name, body in bad.items()}
        other = await ask(mosquitto, edge.tokens["other"],
                          {"counts": {"since": iso(h0), "until": iso(h0 + HOUR)}})
        backfill = Backfill(open_historian(fresh_postgres_database(postgres_url), clock=WallClock()),
                            _asker(mosquitto), {"hq": token}.get, WallClock())
        with pytest.raises(BackfillError) as refused_run:
            await backfill.run("hq", h0, h0 + HOUR, points=["ahu-1/nope"])
        with pytest.raises(BackfillError) as no_token:
            await backfill.run("lab", h0, h0 + HOUR)
        # a site with more point-hours a day than the edge counts at once: asked an hour at a time
        monkeypatch.setattr(mqtt_commands, "MAX_COUNT_CELLS", 10)
        too_many = await ask(mosquitto, token, {"counts": {"since": iso(h0), "until": iso(h0 + 6 * HOUR)}})
        history = open_historian(fresh_postgres_database(postgres_url), clock=WallClock())
        await history.start()
        try:
            hourly = await Backfill(history, _asker(mosquitto), {"hq": token}.get, WallClock()).run(
                "hq", h0 - 12 * HOUR, h0 + 3 * HOUR)  # up to the current hour: no live sample
        finally:
            await history.stop()
        running = edge.runtime.command_links.servers["hq"].connected
    assert running  # every bad request answered, the edge still serving
    assert counts["ok"] is True, counts
    RESPONSES["history"].model_validate_json(orjson.dumps(counts), strict=True)
    result = counts["result"]
    assert (result["since"], result["until"]) == (h0, h0 + 3 * HOUR)  # widened to whole hours
    by_point = {p["point"]: p["hours"] for p in result["points"]}
    assert set(by_point) == {SAT, RAT}  # every point of the site, asked with none
    assert by_point[SAT] == [[h0, 25]] and by_point[RAT] == [[h0 + 2 * HOUR, 1]]
    for page in pages:
        RESPONSES["history"].model_validate_json(orjson.dumps(page), strict=True)
    assert [len(p["result"]["samples"]) for p in pages] == [10, 10, 5]
    assert [s[0] for p in pages for s in p["result"]["samples"]] == times
    assert pages[0]["result"]["samples"][0] == [h0, 20.0, "ok"]
    assert pages[0]["result"]["next"] == times[9] and pages[-1]["result"]["next"] is None
    for name, answer in refused.items():
        ErrorResponse.model_validate_json(orjson.dumps(answer), strict=True)
        assert answer["ok"] is False, name
    error = {name: (a["error"]["code"], a["error"]["field"], a["error"]["message"])
             for name, a in refused.items()}
    assert error["too long"][:2] == ("invalid", "counts.until")
    assert "covers 32.0 days; at most 31 in one request" in error["too long"][2]
    assert error["backwards"][:2] == ("invalid", "samples.until") and "after since" in error["backwards"][2]
    assert error["no zone"][:2] == ("invalid", "counts.since") and "no time zone" in error["no zone"][2]
    assert error["not a time"][:2] == ("invalid", "counts.since")
    assert "expected an ISO 8601 time" in error["not a time"][2]
    assert error["both"][0] == "invalid" and "exactly one of counts" in error["both"][2]
    assert error["neither"][0] == "invalid" and "exactly one of counts" in error["neither"][2]
    assert error["too many"][:2] == ("invalid", "samples.limit") and "1 to 10000" in error["too many"][2]
    assert error["unknown point"][:2] == ("unknown_point", "counts.points")
    assert error["unknown field"][:2] == ("invalid", "samples.step")
    assert other["error"]["code"] == "forbidden"
    assert "refused the history request: unknown_point: no point 'hq/ahu-1/nope'" in str(
        refused_run.value)
    assert "holds no API token" in str(no_token.value)
    assert too_many["error"]["field"] == "counts.points"
    assert "2 points × 6 hours is more than 10 point-hours" in too_many["error"]["message"]
    assert (hourly.hours_checked, hourly.hours_filled, hourly.samples_written) == (2, 2, 26)


def _asker(broker: MosquittoBroker) -> Any:
    async def ask_(site: str, name: str, payload: bytes, token: str) -> bytes:
        async with Requester(broker.host, broker.port, "openbms", site, timeout=10) as requester:
            return await requester.ask(name, payload,
                                       user_properties=[("authorization", f"Bearer {token}")])
    return ask_


async def test_an_edge_coming_back_online_is_backfilled_by_the_worker(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    h3, h4 = past_hour(3), past_hour(4)
    edge = await start_edge(mosquitto, tmp_path)
    try:
        assert edge.state is not None
        user = create_user(edge.state, "central@example.com", "x", grants={"hq": "operator"})
        tokens = {"hq": create_api_token(edge.state, user["id"], "central")[0]}
        at_the_edge_only(edge, SAT, [h3 + 30.0 * k for k in range(40)])
        await edge.historian.flush()
        worker: IngestWorker = central_for(mosquitto, url, tokens, [], WallClock(), backfill_hours=24)
        await worker.start()
        try:
            def runs() -> int:
                assert worker.backfill is not None
                site = worker.backfill.health()["sites"].get("hq")
                return 0 if site is None else int(site["runs"])

            # once at the start: the edge's retained status says online
            await until(lambda: runs() == 1, within=120, what="the backfill at the start")
            assert worker.backfill is not None
            first = worker.backfill.health()["sites"]["hq"]["last"]
            filled_at_start = central_count(url, SAT, h3, h3 + HOUR)
            # what the edge stores past its bridge while the centre hears it, then it goes away
            at_the_edge_only(edge, RAT, [h4 + 60.0 * k for k in range(20)])
            await edge.historian.flush()
            await edge.stop()
            assert worker.ingest is not None
            ingest = worker.ingest
            await until(lambda: not ingest.is_online("hq"), within=30, what="the edge offline")
            assert runs() == 1 and central_count(url, RAT, h4, h4 + HOUR) == 0
            edge = await start_edge(mosquitto, tmp_path)  # back again: the same data folder
            await until(lambda: runs() == 2, within=120, what="the backfill after coming back")
            second = worker.backfill.health()["sites"]["hq"]["last"]
            health = worker.health()
        finally:
            await worker.stop()
    finally:
        await edge.stop()
    assert first["error"] is None and second["error"] is None, (first, second)
    assert first["samples_written"] >= 40 and (SAT, h3) in [tuple(f) for f in first["filled"]]
    assert filled_at_start == 40
    assert second["samples_written"] >= 20 and (RAT, h4) in [tuple(f) for f in second["filled"]]
    assert central_count(url, RAT, h4, h4 + HOUR) == 20
    assert second["until"] - second["since"] >= 24 * HOUR
    kept = rows(url, "SELECT body->>'samples_written', body->>'error' FROM central_events "
                     "WHERE site = 'hq' AND kind = 'backfill' ORDER BY ts")
    assert [(int(n), e) for n, e in kept] == [(first["samples_written"], None),
                                              (second["samples_written"], None)]
    assert health["backfill"]["sites"]["hq"]["failed"] == 0 and health["commands"]["sent"] == 0


async def test_commands_are_sent_while_a_backfill_waits_for_the_edge(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    edge = await start_edge(mosquitto, tmp_path)
    gate = asyncio.Event()
    real = _asker(mosquitto)

    async def ask_(site: str, name: str, payload: bytes, token: str) -> bytes:
        if name == "history":  # the backfill's first request waits until the command is answered
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gate.wait(), 60)
        return bytes(await real(site, name, payload, token))

    try:
        assert edge.state is not None
        user = create_user(edge.state, "central@example.com", "x", grants={"hq": "operator"})
        tokens = {"hq": create_api_token(edge.state, user["id"], "central")[0]}
        worker = IngestWorker(url, connect_for(mosquitto, "central-backfill-dispatch"), ask=ask_,
                              token=tokens.get, backfill_hours=24, flush_interval=0.05)
        await worker.start()
        try:
            assert worker.backfill is not None and worker.dispatcher is not None
            backfill, dispatcher = worker.backfill, worker.dispatcher
            await until(lambda: backfill.running == "hq", within=30, what="the backfill running")
            queue = CommandQueue(worker.history_url)
            await queue.submit("hq", "hq/ahu-1/sat", 15.0, now=WallClock().now(), expires_s=600)
            dispatcher.poke()
            for _ in range(1200):
                if (await queue.commands("hq"))[0]["status"] not in ("queued", "sending"):
                    break
                await asyncio.sleep(0.025)
            (command,) = await queue.commands("hq")
            waiting = backfill.running
            gate.set()
            await until(lambda: "hq" in backfill.sites and backfill.sites["hq"].runs == 1,
                        within=120, what="the backfill's end")
            last = backfill.sites["hq"].last
        finally:
            await worker.stop()
    finally:
        await edge.stop()
    assert command["status"] == "answered" and waiting == "hq"  # sent while the backfill waited
    assert last is not None and last["error"] is None


async def test_a_run_is_counted_in_the_health_only_once_its_result_is_kept(tmp_path: Path):
    kept: list[Any] = []

    async def record(events: Any, _now: float) -> None:
        await asyncio.sleep(0.3)  # a busy database
        kept.extend(events)

    @asynccontextmanager
    async def history() -> AsyncIterator[Any]:
        async with open_historian(tmp_path / "history.db", clock=WallClock()) as store:
            yield store

    async def never(*_args: Any) -> bytes:
        raise AssertionError("no request without a token")

    auto = AutoBackfill(history, never, lambda _site: None, WallClock(), retries=0, record=record)
    await auto.start()
    try:
        auto.request("hq")
        await until(lambda: "hq" in auto.sites and auto.sites["hq"].runs == 1, within=30,
                    what="the run")
        seen = list(kept)
    finally:
        await auto.stop()
    assert [(e.site, e.kind, e.body["error"]) for e in seen] == [
        ("hq", "backfill", "site hq: the centre holds no API token for it")]
    assert auto.health()["sites"]["hq"]["failed"] == 1


async def test_stop_ends_the_backfills_even_when_a_request_swallows_the_cancellation(tmp_path: Path):
    """A request that swallows the stop's CancelledError (as an async context's exit awaiting its
    reader under contextlib.suppress does) must not keep the worker from stopping."""
    asked = asyncio.Event()

    async def swallowing(*_args: Any) -> bytes:
        asked.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(30)
        return orjson.dumps({"id": "x", "ok": False, "error": {"code": "unavailable",
                                                              "message": "busy", "field": None}})

    @asynccontextmanager
    async def history() -> AsyncIterator[Any]:
        async with open_historian(tmp_path / "history.db", clock=WallClock()) as store:
            yield store

    auto = AutoBackfill(history, swallowing, lambda _site: "a token", WallClock(), retry_s=0.05)
    await auto.start()
    auto.request("hq")
    await asyncio.wait_for(asked.wait(), 30)
    stopped = asyncio.create_task(auto.stop())
    done, _ = await asyncio.wait({stopped}, timeout=20)
    assert stopped in done, "stop() still waiting for the backfill task"
