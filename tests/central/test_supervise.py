"""The centre's schedules and programs write to ``CentralWriter``: commands queued in a real
PostgreSQL for the edges, one per point and priority each interval (the latest value wins, a
queued one is superseded), held with a lease that is renewed, refused at once for a point the
edge does not let write or a priority of the edge's; a database away loses no value."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from openbms.central.commands import CommandQueue
from openbms.central.supervise import CentralWriter
from openbms.errors import CommandError
from openbms.runtime.clock import ManualClock
from tests.historian.conftest import fresh_postgres_database

T0 = 1_790_000_000.0
SP = "hq/ahu-1/sat-sp"
WRITABLE = {SP, "hq/ahu-1/fan"}


async def _writer(postgres_url: str, **kwargs: Any) -> tuple[CentralWriter, CommandQueue, ManualClock]:
    queue = CommandQueue(fresh_postgres_database(postgres_url))
    await queue.create()
    clock = ManualClock(T0)
    pokes: list[int] = []
    writer = CentralWriter(queue, clock, WRITABLE.__contains__, poke=lambda: pokes.append(1),
                           **kwargs)
    return writer, queue, clock


def _rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["point"], r["value"], r["release"], r["priority"], r["requested_by"], r["status"],
             r["duration_s"], r["expires"] - r["created"]) for r in rows]


async def test_a_value_is_queued_at_once_with_its_lease_and_the_latest_value_wins_inside_the_interval(
        postgres_url: str) -> None:
    writer, queue, clock = await _writer(postgres_url, lease_s=900, min_interval_s=60)
    made = await writer.command(SP, 15.5, 12, source="logic", requested_by="program:reset",
                                reason="logic program")
    assert (made.status, made.error) == ("pending", "")  # taken: the edge's answer comes later
    assert await writer.send_due() == 1
    await clock.advance(10)
    for value in (16.0, 16.5, 17.0):  # inside the interval: held, only the latest is sent
        await writer.command(SP, value, 12, requested_by="program:reset", reason="logic program")
    assert await writer.send_due() == 0
    await clock.advance(50)
    assert await writer.send_due() == 1
    assert await writer.send_due() == 0  # nothing more is due
    assert _rows(await queue.commands("hq")) == [
        (SP, 15.5, False, 12, "program:reset", "superseded", 900.0, 450.0),  # never sent: edge away
        (SP, 17.0, False, 12, "program:reset", "queued", 900.0, 450.0)]
    assert writer.holder(SP, 12) == "program:reset"
    assert writer.health() == {"status": "ok", "reasons": [], "held": 1, "queued": 2,
                               "renewed": 0, "coalesced": 2}


async def test_a_held_value_is_renewed_each_half_lease_and_a_release_ends_it(postgres_url: str) -> None:
    writer, queue, clock = await _writer(postgres_url, lease_s=600, min_interval_s=30)
    await writer.command(SP, 14.0, 14, source="schedule", requested_by="schedule:occ",
                         reason="schedule Occupancy")
    await writer.send_due()
    await writer.command(SP, 14.0, 14, source="schedule", requested_by="schedule:occ")  # the same
    await clock.advance(299)
    assert await writer.send_due() == 0
    await clock.advance(1)
    assert await writer.send_due() == 1  # the renewal, before the edge's override ends
    await clock.advance(40)
    await writer.release(SP, 14, source="schedule", requested_by="schedule:occ",
                         reason="schedule deleted")
    assert await writer.send_due() == 1
    assert writer.holder(SP, 14) is None
    await clock.advance(600)
    assert await writer.send_due() == 0  # a release is not renewed
    got = _rows(await queue.commands("hq"))
    assert [(r[1], r[2], r[5], r[6]) for r in got] == [
        (14.0, False, "superseded", 600.0), (14.0, False, "superseded", 600.0),
        (None, True, "queued", None)]
    assert writer.health()["renewed"] == 1


async def test_each_point_and_priority_has_its_own_interval(postgres_url: str) -> None:
    writer, queue, _clock = await _writer(postgres_url, min_interval_s=60)
    await writer.command(SP, 15.0, 12, requested_by="program:a")
    await writer.command(SP, 13.0, 13, requested_by="program:b")
    await writer.command("hq/ahu-1/fan", True, 12, requested_by="program:a")
    assert await writer.send_due() == 3
    got = {(r["point"], r["priority"]): r["value"] for r in await queue.commands("hq")}
    assert got == {(SP, 12): 15.0, (SP, 13): 13.0, ("hq/ahu-1/fan", 12): True}


async def test_a_point_the_edge_does_not_let_write_or_an_edge_priority_is_refused_at_once(
        postgres_url: str) -> None:
    writer, queue, _clock = await _writer(postgres_url)
    with pytest.raises(CommandError, match="not writable at its edge"):
        await writer.command("hq/ahu-1/sat", 15.0, 12, requested_by="program:a")
    with pytest.raises(CommandError, match="9 to 16") as refused:
        await writer.command(SP, 15.0, 8, requested_by="program:a")
    assert refused.value.field == "priority"
    with pytest.raises(CommandError, match="names its priority"):
        await writer.release(SP, None, requested_by="schedule:x")
    assert await writer.send_due() == 0
    assert await queue.commands("hq") == []


async def test_a_value_the_database_did_not_take_stays_held_and_is_queued_later(
        postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    writer, queue, clock = await _writer(postgres_url, min_interval_s=60)
    good = queue.conninfo
    queue.conninfo = good.rsplit("/", 1)[0] + "/no_such_database_here"
    queue.connect_timeout = 2
    await writer.command(SP, 15.0, 12, requested_by="schedule:occ")
    with pytest.raises(Exception, match="central commands"):
        await writer.send_due()
    writer._failing = True  # as the loop marks it: the health says so
    assert writer.health()["status"] == "degraded" and writer.health()["held"] == 1
    queue.conninfo = good
    assert await writer.send_due() == 1  # not made to wait the interval: it was never sent
    assert [(r["value"], r["status"]) for r in await queue.commands("hq")] == [(15.0, "queued")]
    await clock.advance(1)
    assert await writer.send_due() == 0


def test_a_lease_or_interval_that_makes_no_sense_is_refused() -> None:
    queue: Any = object()
    for lease in (10, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="60 s or more"):
            CentralWriter(queue, ManualClock(T0), WRITABLE.__contains__, lease_s=lease)
    with pytest.raises(ValueError, match="half the lease"):
        CentralWriter(queue, ManualClock(T0), WRITABLE.__contains__, lease_s=600, min_interval_s=400)


async def test_a_value_that_is_no_plain_value_is_refused_and_holds_up_no_other(
        postgres_url: str) -> None:
    writer, queue, _clock = await _writer(postgres_url)
    for bad in (float("nan"), float("inf"), [1, 2], {"a": 1}, None):
        with pytest.raises(CommandError, match="expected a finite number") as refused:
            await writer.command(SP, bad, 13, requested_by="program:p")  # type: ignore[arg-type]
        assert refused.value.field == "value"
    await writer.command("hq/ahu-1/fan", True, 12, requested_by="program:p")
    assert await writer.send_due() == 1
    assert [(r["point"], r["value"]) for r in await queue.commands("hq")] == [("hq/ahu-1/fan", True)]


async def test_a_point_no_longer_writable_at_its_edge_drops_what_the_centre_held_there(
        postgres_url: str) -> None:
    writable = set(WRITABLE)
    queue = CommandQueue(fresh_postgres_database(postgres_url))
    await queue.create()
    clock = ManualClock(T0)
    writer = CentralWriter(queue, clock, writable.__contains__, lease_s=900, min_interval_s=60)
    await writer.command(SP, 14.0, 14, requested_by="schedule:occ")
    assert await writer.send_due() == 1
    writable.discard(SP)  # the edge published the point read-only
    # the schedule's release is taken (not refused), and nothing is renewed any more
    await writer.release(SP, 14, requested_by="schedule:occ", reason="schedule deleted")
    assert writer.holder(SP, 14) is None
    await writer.command("hq/ahu-1/fan", True, 12, requested_by="program:p")
    await clock.advance(900)
    assert await writer.send_due() == 1  # the fan only
    writable.add(SP)  # writable again: the deleted schedule's value does not come back
    await clock.advance(900)
    await writer.send_due()
    assert [(r["point"], r["value"]) for r in await queue.commands("hq")
            if r["point"] == SP] == [(SP, 14.0)]
    # a value the centre held when the point went read-only is dropped at the next pass
    await writer.command(SP, 15.0, 13, requested_by="program:p")
    await writer.send_due()
    writable.discard(SP)
    await clock.advance(450)
    await writer.send_due()
    assert writer.holder(SP, 13) is None
    writable.add(SP)
    await clock.advance(450)
    await writer.send_due()
    assert [r["value"] for r in await queue.commands("hq") if r["point"] == SP] == [14.0, 15.0]


async def test_a_release_keeps_the_interval_for_the_next_value(postgres_url: str) -> None:
    writer, queue, clock = await _writer(postgres_url, min_interval_s=60)
    sent = 0
    for step in range(10):  # value, release, value… every 31 s for 310 s
        if step % 2:
            await writer.release(SP, 12, requested_by="program:toggle")
        else:
            await writer.command(SP, 15.0 + step, 12, requested_by="program:toggle")
        sent += await writer.send_due()
        await clock.advance(31)
    sent += await writer.send_due()
    assert sent <= 310 // 60 + 1  # at most one command a minute, releases included
    rows = await queue.commands("hq")
    assert all(b["created"] - a["created"] >= 60 for a, b in itertools.pairwise(rows))
