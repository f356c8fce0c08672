"""The centre keeps a command done with (answered, unanswered, expired) for ``keep_s`` (90 days
unless told) and a superseded one for a day; the dispatcher prunes older ones once an hour, in
batches, on a real PostgreSQL. Queued and sending commands are never pruned, however old."""

from __future__ import annotations

from typing import Any

import pytest

from openbms.central import commands as commands_module
from openbms.central.commands import CommandQueue, Dispatcher
from openbms.runtime.clock import ManualClock
from tests.historian.conftest import fresh_postgres_database

T0 = 1_790_000_000.0
DAY = 86400.0


async def _never(*_args: Any) -> bytes:
    raise AssertionError("nothing is sent: no edge is online")


async def test_old_commands_done_with_are_pruned_and_the_rest_kept(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = CommandQueue(fresh_postgres_database(postgres_url))
    await queue.create()
    rows = [  # (status, days since its last change)
        ("answered", 91), ("answered", 89), ("unanswered", 120), ("expired", 95),
        ("expired", 10), ("superseded", 2), ("superseded", 0.5), ("queued", 400),
        ("sending", 400)]
    for status, age in rows:
        cid = await queue.submit("hq", "hq/ahu-1/sat-sp", 14.0, now=T0 - age * DAY,
                                 expires_s=1000 * DAY, requested_by="schedule:occ")
        await queue._run("UPDATE central_commands SET status = %s WHERE id = %s", (status, cid))
    monkeypatch.setattr(commands_module, "_PRUNE_BATCH", 2)  # several batches
    clock = ManualClock(T0)
    dispatcher = Dispatcher(queue, _never, lambda _site: False, lambda _site: "t", clock)
    for _ in range(4):  # a batch of each kind a pass (2 here): the backlog over passes
        assert await dispatcher.pass_once() == 0
    left = sorted((r["status"], round((T0 - r["updated"]) / DAY, 1))
                  for r in await queue.commands("hq"))
    assert left == [("answered", 89.0), ("expired", 10.0), ("queued", 400.0),
                    ("sending", 400.0), ("superseded", 0.5)]
    assert dispatcher.health()["pruned"] == 4
    await clock.advance(1800)
    await dispatcher.pass_once()  # not again within the hour
    assert len(await queue.commands("hq")) == 5
    await clock.advance(1800 + 2 * DAY)
    await dispatcher.pass_once()
    # two days on: the answered one is 91 days old, the superseded one 2.5 days
    assert sorted(r["status"] for r in await queue.commands("hq")) == [
        "expired", "queued", "sending"]


def test_a_keep_shorter_than_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="1 day or more"):
        Dispatcher(Any, _never, lambda _s: False, lambda _s: None,  # type: ignore[arg-type]
                   ManualClock(T0), keep_s=3600)
