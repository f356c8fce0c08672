"""The store-and-forward outbox on a real SQLite file: order, durability, the size and age bounds."""

from __future__ import annotations

import logging

import pytest

from openbms.drivers.mqtt.outbox import ROW_OVERHEAD, Outbox, outbox_path
from openbms.model.mqtt import OutboxSettings
from openbms.runtime.clock import ManualClock


def _outbox(tmp_path, clock=None, **settings) -> Outbox:
    return Outbox(outbox_path(tmp_path, "hq"), OutboxSettings(**settings), clock or ManualClock(),
                  name="hq")


async def _drain(box: Outbox) -> list[str]:
    got: list[str] = []
    cursor = 0
    while box.available(cursor):
        batch = await box.take(cursor, 7)  # small takes: order across reads
        got += [m.key for m in batch]
        cursor = batch[-1].seq
    return got


async def test_messages_come_back_in_order_and_are_deleted_only_when_done(tmp_path):
    box = _outbox(tmp_path)
    await box.open()
    for i in range(50):
        box.put(f"openbms/hq/t{i % 3}", b"x" * i, 1, False, f"k{i}")
    await box.flush()
    assert box.stats().queued == 50
    assert await _drain(box) == [f"k{i}" for i in range(50)]
    first = await box.take(0, 10)
    assert [(m.topic, m.payload, m.qos, m.retain) for m in first[:2]] == [
        ("openbms/hq/t0", b"", 1, False), ("openbms/hq/t1", b"x", 1, False)]
    await box.done(first[-1].seq)
    assert box.stats().queued == 40 and box.stats().sent == 10
    assert (await box.take(0, 1))[0].key == "k10"  # the acknowledged are gone
    await box.close()


async def test_what_flush_confirmed_is_on_disk_for_the_next_process(tmp_path):
    box = _outbox(tmp_path)
    await box.open()
    for i in range(20):
        box.put("t", b"p", 1, True, f"k{i}")
    await box.flush()
    await box.done((await box.take(0, 5))[-1].seq)
    await box.close()

    again = _outbox(tmp_path)  # a restart (the reopened file; no memory of the first)
    await again.open()
    assert again.stats().queued == 15
    assert await _drain(again) == [f"k{i}" for i in range(5, 20)]
    again.put("t", b"p", 1, True, "k20")  # numbering continues after what is left
    await again.flush()
    assert (await _drain(again))[-2:] == ["k19", "k20"]
    await again.close()


async def test_past_max_mb_the_oldest_are_dropped_counted_and_logged(tmp_path, caplog):
    size = len("t") + 100 + len("k00") + ROW_OVERHEAD  # one message's bytes
    box = _outbox(tmp_path, max_mb=10 * size / 1e6)  # room for ten
    await box.open()
    with caplog.at_level(logging.WARNING, logger="openbms.drivers.mqtt.outbox"):
        for i in range(25):
            box.put("t", b"v" * 100, 1, False, f"k{i:02d}")
            await box.flush()  # one write each: the bound is kept at every write
    st = box.stats()
    assert st.dropped == {"size": 15, "age": 0, "memory": 0}
    assert st.queued == 10 and st.bytes == 10 * size
    assert await _drain(box) == [f"k{i:02d}" for i in range(15, 25)]  # the newest kept
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited: once, not per drop
    assert "size" in warnings[0].getMessage() and "max_mb" in warnings[0].getMessage()
    await box.close()


async def test_messages_older_than_max_age_are_dropped_oldest_first(tmp_path):
    clock = ManualClock()
    box = _outbox(tmp_path, clock, max_age=60)
    await box.open()
    for i in range(5):
        box.put("t", b"old", 1, False, f"old{i}")
    await box.flush()
    await clock.advance(61)
    box.put("t", b"new", 1, False, "new")
    await box.flush()
    assert box.stats().dropped["age"] == 5
    assert await _drain(box) == ["new"]
    await box.close()


async def test_messages_the_disk_cannot_take_in_time_are_bounded_in_memory(tmp_path):
    box = Outbox(outbox_path(tmp_path, "hq"), OutboxSettings(), ManualClock(), name="hq",
                 max_pending_mb=10 * 100 / 1e6)  # ten payloads of 100 bytes
    await box.open()
    for i in range(30):  # all put before the writer runs once
        box.put("t", b"p" * 100, 1, False, f"k{i}")
    await box.flush()
    assert box.stats().dropped["memory"] == 20
    assert await _drain(box) == [f"k{i}" for i in range(20, 30)]
    await box.close()


async def test_an_outbox_that_cannot_be_opened_says_where(tmp_path):
    (tmp_path / "mqtt-outbox-hq.db").mkdir()  # a folder where the file should be
    box = _outbox(tmp_path)
    with pytest.raises(Exception, match=r"mqtt outbox .*mqtt-outbox-hq.db: cannot open it"):
        await box.open()
