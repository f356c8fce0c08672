"""An alarm event is stored with what it was published with: read back from ``alarm_events`` it
gives every field of the published change (``shelved`` and ``flap_count`` too; an empty note or
name published as none, as the table keeps none)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from openbms.alarms.service import AlarmService, alarm_history
from openbms.db import migrate, open_state
from openbms.model.alarm import NotificationsConfig
from openbms.runtime.bus import Bus
from openbms.runtime.clock import ManualClock


async def test_a_stored_alarm_event_keeps_every_field_it_was_published_with(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    state = open_state(url)
    clock, bus = ManualClock(), Bus()
    published = bus.subscribe_events("alarm")
    service = AlarmService("hq", [], NotificationsConfig(), clock, bus, state)
    await service.start()
    engine = service.engine
    engine.raise_external("leak", source="test", message="water", point="hq/ahu-1/zone-t", priority=5)
    await clock.advance(1.5)
    engine.shelve("leak", clock.now() + 600, "ann@example.com")  # no reason
    await clock.advance(1.25)
    engine.add_note("leak", "ann@example.com", "shelved for the plumber")
    await clock.advance(1.0)
    engine.acknowledge("leak", "ann@example.com", "")  # an empty note
    await service.stop()
    sent: list[dict[str, Any]] = [
        orjson.loads(orjson.dumps((await asyncio.wait_for(published.get(), 10))[1])) for _ in range(4)]
    rows = alarm_history(state, "hq", oldest_first=True)
    state.dispose()
    assert [p["action"] for p in sent] == ["raise", "shelve", "note", "ack"]
    assert [(p["shelved"], p["note"], p["who"]) for p in sent] == [
        (False, None, None), (True, None, "ann@example.com"),
        (True, "shelved for the plumber", "ann@example.com"), (True, None, "ann@example.com")]
    assert len(rows) == 4
    for p, row in zip(sent, rows, strict=True):
        assert (row["alarm_id"], row["action"], row["ts"], row["shelved"], row["flap_count"]) == (
            p["alarm_id"], p["action"], p["ts"], p["shelved"], p["flap_count"])
        assert (row["who"] or None, row["note"] or None) == (p["who"], p["note"])
