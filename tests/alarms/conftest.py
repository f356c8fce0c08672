"""An alarm engine on a manual clock, recording every event it emits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openbms.alarms import AlarmEngine, AlarmEvent, parse_rules
from openbms.model.sample import OK, Sample
from openbms.runtime.clock import ManualClock


class Harness:
    """An engine, its clock and its events; ``at(...)`` feeds one sample at the current time."""

    def __init__(self, rules: list[dict[str, Any]]) -> None:
        self.clock = ManualClock()
        self.events: list[AlarmEvent] = []
        self.rules = parse_rules(rules)
        self.engine = AlarmEngine(self.rules, self.clock, self.events.append)

    def feed(self, point: str, value: Any, status: str = OK) -> None:
        self.engine.feed([Sample(point, self.clock.now(), value, status)])

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        self.engine.tick()

    def state(self, alarm_id: str) -> str:
        return self.engine.get(alarm_id).state

    def actions(self, alarm_id: str | None = None) -> list[str]:
        return [e.action for e in self.events if alarm_id is None or e.alarm_id == alarm_id]


@pytest.fixture
def harness() -> Callable[..., Harness]:
    """``harness(rule, ...)``: an engine with these rules (dicts as in a site file)."""
    return lambda *rules: Harness(list(rules))
