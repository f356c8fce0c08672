"""Alarms a service raises and clears itself (anomaly detection's): the lifecycle of a rule's alarm."""

from __future__ import annotations

import json

import pytest

from openbms.alarms import (
    ACTIVE_ACKED,
    ACTIVE_UNACKED,
    NORMAL,
    RETURNED_UNACKED,
    AlarmEngine,
    AlarmError,
    parse_rules,
)
from openbms.runtime.clock import ManualClock

SAT = "hq/ahu-1/sat"
HIGH = {"id": "sat-high", "type": "high", "point": SAT, "limit": 30}
ID = "anomaly:hq/meter/kwh:consumption"
EVIDENCE = {"kind": "consumption", "expected_kwh": 1400.0, "actual_kwh": 2100.0,
            "chart": "/sites/hq/energy?meter=hq/meter/kwh"}


def _raise(engine: AlarmEngine, message: str = "Main meter used 2,100 kWh") -> None:
    engine.raise_external(ID, source="analytics", message=message, point="hq/meter/kwh",
                          name="Consumption anomaly: Main meter", priority=120, alarm_class="energy",
                          value=2100.0, context=EVIDENCE)


async def test_an_external_alarm_is_raised_acknowledged_and_cleared_with_its_evidence(harness) -> None:
    h = harness(HIGH)
    _raise(h.engine)
    a = h.engine.get(ID)
    assert (a.state, a.source, a.context, a.message) == (ACTIVE_UNACKED, "analytics", EVIDENCE,
                                                         "Main meter used 2,100 kWh")
    assert (a.point, a.name, a.priority, a.alarm_class) == ("hq/meter/kwh", "Consumption anomaly: Main meter",
                                                          120, "energy")
    assert [x.id for x in h.engine.active()] == [ID]
    assert h.events[-1].action == "raise" and h.events[-1].message == "Main meter used 2,100 kWh"
    h.engine.acknowledge(ID, "ops", "checking the AHU")
    assert h.state(ID) == ACTIVE_ACKED
    # Found again while active: the new evidence is recorded, the state kept.
    await h.advance(86400)
    _raise(h.engine, "Main meter used 2,300 kWh")
    assert h.state(ID) == ACTIVE_ACKED and h.engine.get(ID).message == "Main meter used 2,300 kWh"
    h.engine.clear_external(ID, note="the next day was normal")
    assert h.state(ID) == NORMAL
    assert h.actions(ID) == ["raise", "ack", "repeat", "return"]
    # Raised again, cleared before anyone acknowledged: returned-unacked, then an ack ends it.
    _raise(h.engine)
    h.engine.clear_external(ID)
    assert h.state(ID) == RETURNED_UNACKED
    h.engine.acknowledge(ID, "ops")
    assert h.state(ID) == NORMAL
    assert [t.action for t in h.engine.history(ID)][-3:] == ["raise", "return", "ack"]
    # The rule's alarms are untouched.
    assert h.state("sat-high") == NORMAL and h.engine.stats()["rules"] == 1


def test_an_external_alarm_survives_a_restart_through_the_snapshot(harness) -> None:
    h = harness(HIGH)
    _raise(h.engine)
    h.engine.shelve(ID, h.clock.now() + 3600, "ops", "known fault")
    snap = json.loads(json.dumps(h.engine.snapshot()))
    again = harness(HIGH)
    again.engine.restore(snap)
    a = again.engine.get(ID)
    assert (a.state, a.source, a.context, a.shelved) == (ACTIVE_UNACKED, "analytics", EVIDENCE, True)
    again.engine.acknowledge(ID, "ops")
    assert again.state(ID) == ACTIVE_ACKED


def test_a_service_cannot_raise_or_clear_a_rules_alarm_and_needs_a_source() -> None:
    engine = AlarmEngine([], ManualClock())
    assert engine.clear_external("nothing") is None
    with pytest.raises(AlarmError, match="source must name the service"):
        engine.raise_external(ID, source="rule", message="x")
    with pytest.raises(AlarmError, match="priority must be a whole number from 1"):
        engine.raise_external(ID, source="analytics", message="x", priority=0)
    engine = AlarmEngine(parse_rules([HIGH]), ManualClock())
    with pytest.raises(AlarmError, match="is a rule's"):
        engine.raise_external("sat-high", source="analytics", message="x")
    with pytest.raises(AlarmError, match="is a rule's"):
        engine.clear_external("sat-high")
