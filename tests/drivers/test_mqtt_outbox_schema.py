"""The outbox's schema across versions: a file of the previous version (no ``props`` column) opens
in place and keeps its rows; properties and counters survive a restart."""

from __future__ import annotations

import sqlite3

import pytest

from openbms.drivers.mqtt.outbox import SCHEMA_VERSION, Outbox, outbox_path
from openbms.errors import DriverError
from openbms.model.mqtt import OutboxSettings
from openbms.runtime.clock import ManualClock

#: The outbox table as the previous version (schema 1, user_version 0) created it.
_V1 = """
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL
)
"""


def _outbox(tmp_path) -> Outbox:
    return Outbox(outbox_path(tmp_path, "hq"), OutboxSettings(), ManualClock(100.0), name="hq")


async def test_an_outbox_file_of_the_previous_version_opens_and_keeps_its_rows(tmp_path):
    path = outbox_path(tmp_path, "hq")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(_V1)
    db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [(seq, 99.0, f"openbms/hq/t{seq}", b"p%d" % seq, 1, 0, f"k{seq}", 40)
                    for seq in (4, 5, 6)])
    db.commit()
    db.close()

    box = _outbox(tmp_path)
    await box.open()
    assert box.stats().queued == 3
    rows = await box.take(0, 10)
    assert [(m.seq, m.topic, m.payload, m.key, m.props) for m in rows] == [
        (4, "openbms/hq/t4", b"p4", "k4", None), (5, "openbms/hq/t5", b"p5", "k5", None),
        (6, "openbms/hq/t6", b"p6", "k6", None)]
    box.put("openbms/hq/command/read/response", b"{}", 1, False, "r1", props=b"\x09\x00\x02ab")
    await box.flush()
    await box.close()

    again = _outbox(tmp_path)
    await again.open()
    rows = await again.take(0, 10)
    assert [(m.seq, m.props) for m in rows] == [(4, None), (5, None), (6, None),
                                                (7, b"\x09\x00\x02ab")]
    await again.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


async def test_a_file_of_a_newer_version_is_refused_saying_so(tmp_path):
    path = outbox_path(tmp_path, "hq")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(DriverError, match=r"newer openbms.*schema 3"):
        await _outbox(tmp_path).open()


async def test_counters_go_on_across_a_restart_and_wrap(tmp_path):
    box = _outbox(tmp_path)
    await box.open()
    assert [await box.next_number("bdSeq", 3) for _ in range(4)] == [0, 1, 2, 0]
    await box.close()
    again = _outbox(tmp_path)
    await again.open()
    assert await again.next_number("bdSeq", 3) == 1
    assert await again.next_number("other") == 0
    await again.close()
