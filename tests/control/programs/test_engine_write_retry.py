"""A program's output whose write failed is written again, with a backoff (issue: never retried).

The engine used to record a value as sent before writing it, and kept it so
when the write failed: the value was not written again until the computed
value changed, and the program's status showed a value its slot did not hold.
Through the real arbiter, driver manager and SimDriver (``Rig``), with the
SimDriver's writes made to fail as a device's do (``DriverError``).
"""

from __future__ import annotations

from typing import Any

import pytest

from openbms.errors import DriverError
from openbms.model.sample import Value
from tests.control.programs.rig import Rig, pid, program

A, OUT1 = pid("a"), pid("out1")
PERIOD = 5.0  # the programs' period: a retry comes at the first evaluation after its time


class WriteFaults:
    """The rig's SimDriver, whose next ``fail`` writes of a value raise ``DriverError`` (a device's
    refusal that is not "unreachable": the arbiter gives the value back); the clock's time of every
    attempt to write a value noted (releases, the arbiter's writes of the relinquish default, pass)."""

    def __init__(self, rig: Rig, monkeypatch: pytest.MonkeyPatch, fail: int = 0) -> None:
        self.real = rig.driver.write
        self.clock = rig.clock
        self.fail = fail
        self.attempts: list[float] = []
        monkeypatch.setattr(rig.driver, "write", self.write)

    async def write(self, binding: Any, value: Value, priority: int | None) -> None:
        if value is None:
            await self.real(binding, value, priority)
            return
        self.attempts.append(self.clock.now())
        if self.fail > 0:
            self.fail -= 1
            raise DriverError(f"{binding}: the device answered with an error")
        await self.real(binding, value, priority)


def _follow(rig: Rig) -> None:
    """a → out1, evaluated every PERIOD seconds."""
    rig.engine.load(program(period_s=PERIOD, inputs=[{"id": "x", "point": A}],
                            outputs=[{"id": "o", "point": OUT1}], wires=[{"from": "x", "to": "o"}]), 1)


async def _ticks_until(rig: Rig, t: float) -> None:
    """Tick period by period until the clock reaches ``t`` (seconds after now)."""
    end = rig.clock.now() + t
    while rig.clock.now() + PERIOD <= end + 1e-9:
        await rig.tick(PERIOD)


async def test_a_device_write_that_failed_once_is_written_again_without_the_value_changing(monkeypatch):
    rig = Rig()
    faults = WriteFaults(rig, monkeypatch, fail=1)
    _follow(rig)
    await rig.publish({A: 20.0})
    status = rig.engine.status("p1", "hq")["p1"]
    assert (status.state, status.errors, status.writes) == ("running", 1, 0)
    assert "the device answered with an error" in status.last_error
    assert rig.slot(OUT1) is None  # the arbiter gave the refused value back
    assert status.outputs == {"o": None}  # not 20: the slot does not hold it
    assert len(faults.attempts) == 1
    await _ticks_until(rig, 25)  # evaluations, the value unchanged: too soon to try again
    assert len(faults.attempts) == 1
    await _ticks_until(rig, 10)  # 35 s after the failure: the next evaluation writes it again
    assert len(faults.attempts) == 2
    assert rig.slot(OUT1) == 20.0 and rig.device(OUT1) == 20.0
    status = rig.engine.status("p1", "hq")["p1"]
    assert (status.state, status.writes, status.outputs) == ("running", 1, {"o": 20.0})
    await _ticks_until(rig, 120)  # written: nothing more to retry
    assert len(faults.attempts) == 2


async def test_a_device_that_keeps_failing_is_retried_less_and_less_often_until_it_takes_the_value(
        monkeypatch):
    rig = Rig()
    faults = WriteFaults(rig, monkeypatch, fail=10**6)
    _follow(rig)
    start = rig.clock.now()
    await rig.publish({A: 20.0})
    await _ticks_until(rig, 1540)  # failures at 0, 30, 90, 210, 450, 930 and 1530 s
    gaps = [b - a for a, b in zip(faults.attempts, faults.attempts[1:], strict=False)]
    # 30 s, doubling while it fails, to at most 10 minutes; each at the first evaluation after its time.
    assert len(gaps) == 6, faults.attempts
    for gap, backoff in zip(gaps, (30, 60, 120, 240, 480, 600), strict=True):
        assert backoff <= gap < backoff + PERIOD + 1e-6, (gaps, backoff)
    status = rig.engine.status("p1", "hq")["p1"]
    assert (status.state, status.errors, status.writes) == ("running", 7, 0)  # errors do not fail it
    assert faults.attempts[0] == start
    faults.fail = 0  # the device takes writes again: the next retry succeeds
    await _ticks_until(rig, 600)
    assert rig.slot(OUT1) == 20.0 and rig.device(OUT1) == 20.0
    assert rig.engine.status("p1", "hq")["p1"].outputs == {"o": 20.0}
    # A success resets the backoff: the next failure is tried again after 30 s, not 10 minutes.
    faults.fail = 1
    await rig.publish({A: 21.0})
    failed_at = faults.attempts[-1]
    await _ticks_until(rig, 40)
    assert faults.attempts[-1] - failed_at < 30 + PERIOD + 1e-6
    assert rig.slot(OUT1) == 21.0


async def test_a_changed_value_is_written_at_once_even_while_a_retry_waits(monkeypatch):
    rig = Rig()
    faults = WriteFaults(rig, monkeypatch, fail=1)
    _follow(rig)
    await rig.publish({A: 20.0})
    assert rig.slot(OUT1) is None
    await rig.publish({A: 22.0})  # a new value is a new write, not a retry
    assert len(faults.attempts) == 2 and rig.slot(OUT1) == 22.0
    await _ticks_until(rig, 120)
    assert len(faults.attempts) == 2  # nothing left to retry


async def test_a_value_refused_by_the_points_limits_is_retried_with_the_same_backoff():
    rig = Rig()
    _follow(rig)
    await rig.publish({A: 80.0})  # out1 takes 0–50: refused before anything is written
    status = rig.engine.status("p1", "hq")["p1"]
    assert (status.errors, status.outputs) == (1, {"o": None})
    assert "80 is above the point's maximum 50 degC" in status.last_error
    await _ticks_until(rig, 25)
    assert rig.engine.status("p1", "hq")["p1"].errors == 1  # not every period
    await _ticks_until(rig, 10)
    assert rig.engine.status("p1", "hq")["p1"].errors == 2  # after 30 s
    await _ticks_until(rig, 50)
    assert rig.engine.status("p1", "hq")["p1"].errors == 2  # then 60 s
    await _ticks_until(rig, 15)
    status = rig.engine.status("p1", "hq")["p1"]
    assert (status.state, status.errors, rig.slot(OUT1)) == ("running", 3, None)


async def test_a_device_that_does_not_answer_is_left_to_the_arbiter(monkeypatch):
    """Unreachable, the arbiter keeps the command and writes it when the device answers: the
    program counts it as written and does not send it again."""
    rig = Rig()
    _follow(rig)
    rig.driver.set_offline("plant")
    await rig.publish({A: 20.0})
    assert rig.slot(OUT1) == 20.0
    status = rig.engine.status("p1", "hq")["p1"]
    assert (status.errors, status.writes, status.outputs) == (0, 1, {"o": 20.0})
    writes = len(rig.io.writes)
    await _ticks_until(rig, 120)
    assert len(rig.io.writes) == writes
