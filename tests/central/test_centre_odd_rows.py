"""What the centre's API reads back of an edge, when the edge sent something odd: an answer to a
command that is no object, an alarm change whose priority is no number, a command id that only
looks like a number. Each is shown as what it is (or left out), never a 500 for the site's whole
list. On a real PostgreSQL (the centre's tables)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from openbms.api.routes.alarms import AlarmEventOut
from openbms.api.routes.commands import _edge_ids, _remote_out
from openbms.central.commands import CommandQueue
from openbms.central.remote import CentralCommands, CentralView
from openbms.central.store import CentralStore
from openbms.runtime.clock import ManualClock
from tests.historian.conftest import fresh_postgres_database

T0 = 1_765_000_000.0


async def _centre(postgres_url: str) -> tuple[str, CommandQueue, CentralStore]:
    url = fresh_postgres_database(postgres_url).replace("+psycopg", "")
    queue = CommandQueue(url)
    await queue.create()
    store = CentralStore(url)
    await store.start()
    return url, queue, store


async def test_an_edges_answer_that_is_no_object_shows_the_command_failed_not_a_500(postgres_url):
    url, queue, store = await _centre(postgres_url)
    try:
        commands = CentralCommands(queue, store, ManualClock(T0))
        commands.serve("hq", {"site": {"id": "hq"}, "equipment": [
            {"id": "ahu-1", "points": [{"name": "sp", "writable": True}]}]})
        answers: list[Any] = [[1, 2], "boom", {"ok": True, "result": "done"},
                              {"ok": False, "error": "no such point"},
                              {"ok": True, "result": {"command": {"id": "e1", "status": "completed"}}}]
        ids = [await queue.submit("hq", "hq/ahu-1/sp", 20.0 + i, now=T0 + i, expires_s=60)
               for i in range(len(answers))]
        with psycopg.connect(url, autocommit=True) as conn:
            for cid, answer in zip(ids, answers, strict=True):
                conn.execute("UPDATE central_commands SET status = 'answered', answer = %s "
                             "WHERE id = %s", (Jsonb(answer), cid))
        listed = await commands.remote_commands("hq")  # raised AttributeError on a str result
        outs = {c.id: _remote_out(c) for c in listed}  # raised AttributeError on a list answer
        made = _edge_ids(listed)
    finally:
        await store.stop()
    by_answer = [outs[f"central-{cid}"] for cid in ids]
    assert [o.status for o in by_answer] == ["failed", "failed", "failed", "failed", "completed"]
    assert by_answer[0].error == "the edge's answer is not an object: [1, 2]"
    assert by_answer[0].answer is None and by_answer[1].answer is None
    assert by_answer[1].error == "the edge's answer is not an object: boom"
    assert by_answer[2].error.startswith("the edge refused it")
    assert by_answer[2].answer == {"ok": True, "result": "done"}
    assert by_answer[3].error == "the edge refused it: ?: no such point"
    assert made == {"e1"}


async def test_an_alarm_change_whose_priority_is_no_number_is_left_out_and_0_stays_0(postgres_url):
    _url, _queue, store = await _centre(postgres_url)
    try:
        def change(alarm: str, ts: float, priority: Any) -> dict[str, Any]:
            return {"alarm_id": alarm, "rule_id": alarm, "point": "hq/ahu-1/t", "ts": ts,
                    "action": "raise", "from_state": "normal", "to_state": "active-unacked",
                    "priority": priority, "message": "hot"}

        url = store.conninfo
        with psycopg.connect(url, autocommit=True) as conn:
            for key, body in (("a", change("odd", T0, "high")), ("b", change("zero", T0 + 1, 0)),
                              ("c", change("none", T0 + 2, None))):
                conn.execute("INSERT INTO central_events (site, kind, key, ts, received, body) "
                             "VALUES ('hq', 'alarm', %s, %s, %s, %s)",
                             (key, body["ts"], T0, Jsonb(body)))
        view = CentralView(store, ManualClock(T0 + 10))
        view.serve("hq", {})
        rows = await view.remote_alarm_events("hq")  # int('high') raised ValueError: a 500
    finally:
        await store.stop()
    by_alarm = {r["alarm_id"]: r for r in rows}
    assert (by_alarm["zero"]["priority"], by_alarm["none"]["priority"]) == (0, 100)
    assert AlarmEventOut(**{**by_alarm["zero"], "point": by_alarm["zero"]["point_id"]}).priority == 0
    with pytest.raises(ValidationError):  # the route leaves it out (and says so once)
        AlarmEventOut(**{**by_alarm["odd"], "point": by_alarm["odd"]["point_id"]})


async def test_a_command_id_of_digits_that_are_not_ascii_is_no_command_not_a_500(postgres_url):
    _url, queue, store = await _centre(postgres_url)
    try:
        commands = CentralCommands(queue, store, ManualClock(T0))
        commands.serve("hq", {})
        cid = await queue.submit("hq", "hq/ahu-1/sp", 20.0, now=T0, expires_s=60)
        superscript = await commands.remote_command("hq", "central-²")  # int('²') raised ValueError
        found = await commands.remote_command("hq", f"central-{cid}")
        other_site = await commands.remote_command("lab", f"central-{cid}")
    finally:
        await store.stop()
    assert superscript is None and other_site is None
    assert found is not None and found.point == "hq/ahu-1/sp"
