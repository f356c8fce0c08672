"""The outbox where things go wrong: a second process on the same file, a bound the disk cannot
apply, a data folder that cannot hold it."""

from __future__ import annotations

import asyncio
import sqlite3
import sys

import pytest
from tests.fixtures.waiting import eventually

from openbms.drivers.mqtt.outbox import Outbox, outbox_path
from openbms.errors import DriverError
from openbms.model.mqtt import OutboxSettings
from openbms.runtime.clock import ManualClock

HOLD = """
import asyncio, sys
from pathlib import Path
from openbms.drivers.mqtt.outbox import Outbox
from openbms.model.mqtt import OutboxSettings
from openbms.runtime.clock import ManualClock

async def main():
    box = Outbox(Path(sys.argv[1]), OutboxSettings(), ManualClock(), name="hq")
    await box.open()
    print("open", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await box.close()

asyncio.run(main())
"""


def _outbox(tmp_path, **settings) -> Outbox:
    return Outbox(outbox_path(tmp_path, "hq"), OutboxSettings(**settings), ManualClock(), name="hq")


async def _drain(box: Outbox) -> list[str]:
    got: list[str] = []
    cursor = 0
    while box.available(cursor):
        batch = await box.take(cursor, 100)
        got += [m.key for m in batch]
        cursor = batch[-1].seq
    return got


async def test_a_second_process_on_the_same_outbox_is_refused_and_the_first_keeps_it(tmp_path):
    # Two openbms on one data folder numbered their rows alike (the second's inserts failed on the
    # first's sequence numbers, again and again) and each deleted what the other had not sent.
    path = outbox_path(tmp_path, "hq")
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD, str(path), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE)
    try:
        assert holder.stdout is not None and await holder.stdout.readline() == b"open\n"
        second = _outbox(tmp_path)
        with pytest.raises(DriverError, match=r"mqtt-outbox-hq\.db.*another process") as err:
            await second.open()
        assert f"pid {holder.pid}" in str(err.value)
        assert second._pool is None  # nothing left running
    finally:
        await asyncio.wait_for(holder.communicate(b"\n"), 30)
    assert holder.returncode == 0
    box = _outbox(tmp_path)  # free again once the first has closed it
    await box.open()
    box.put("t", b"p", 1, False, "k")
    await box.flush()
    assert await _drain(box) == ["k"]
    await box.close()


async def test_two_outboxes_of_one_file_in_one_process_are_refused_too(tmp_path):
    first = _outbox(tmp_path)
    await first.open()
    with pytest.raises(DriverError, match="another process"):
        await _outbox(tmp_path).open()
    await first.close()
    again = _outbox(tmp_path)
    await again.open()
    await again.close()


async def test_a_bound_the_disk_cannot_apply_does_not_wedge_the_writer(tmp_path):
    # The rows were committed, then deleting the oldest for max_mb failed (a full disk, a lock):
    # the batch went back to the queue and every later try failed on its own sequence numbers
    # (UNIQUE constraint): nothing was written again, ever.
    box = _outbox(tmp_path, max_mb=0.002)  # 2 000 bytes: about 10 of the messages below
    await box.open()
    db = sqlite3.connect(box.path)
    db.execute("CREATE TRIGGER no_delete BEFORE DELETE ON outbox BEGIN "
               "SELECT RAISE(ABORT, 'disk I/O error'); END")
    db.commit()
    for i in range(30):
        box.put("openbms/hq/ahu-1/sat", b"x" * 150, 1, False, f"k{i}")
    await eventually(lambda: box.stats().last_error is not None, "the failed write")
    db.execute("DROP TRIGGER no_delete")
    db.commit()
    db.close()
    await asyncio.wait_for(box.flush(), 20)  # a liveness bound, not a speed one
    st = box.stats()
    assert st.last_error is None and st.pending == 0
    keys = await _drain(box)
    assert keys == [f"k{i}" for i in range(30 - len(keys), 30)]  # the newest, in order, once each
    assert 0 < st.queued == len(keys) and st.dropped["size"] == 30 - len(keys)
    assert st.bytes <= 2000
    await box.close()


async def test_a_data_folder_that_cannot_be_made_is_a_driver_error(tmp_path):
    # An OSError went through start_bridge, which the assembly does not catch: the whole site
    # (its control) failed to start over its telemetry's outbox.
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    box = _outbox(blocker)
    with pytest.raises(DriverError, match=r"mqtt outbox .*mqtt-outbox-hq\.db"):
        await box.open()
    assert box._pool is None
