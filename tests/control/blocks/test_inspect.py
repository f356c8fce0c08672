"""What the live view shows of a block's insides: PID terms, timers' remaining time, lead-lag order."""

from __future__ import annotations

import json

import pytest

from openbms.control.blocks import BLOCKS, create_block
from tests.control.blocks.test_registry import SAMPLES

T = 1_780_000_000.0


def test_a_pids_terms_add_up_to_its_output():
    pid = create_block("pid", {"kp": 2.0, "ti": 100.0, "action": "reverse", "out_max": 1000})
    assert pid.inspect(T)["p"] is None  # never run
    for k in range(5):
        pid.step(T + 10 * k, {"pv": 18.0, "sp": 20.0})
    terms = pid.inspect(T + 40)
    assert terms["p"] == 4.0 and terms["i"] == pytest.approx(2 * 2 * 40 / 100)
    assert terms["p"] + terms["i"] + terms["d"] == pytest.approx(terms["out"])


@pytest.mark.parametrize(("kind", "x"), [("delay_on", True), ("delay_off", False)])
def test_a_running_timer_says_how_long_it_still_runs(kind, x):
    timer = create_block(kind, {"t": 60})
    timer.step(T, {"x": not x})
    timer.step(T + 1, {"x": x})
    assert timer.inspect(T + 21)["remaining_s"] == 40.0
    assert timer.inspect(T + 90)["remaining_s"] == 0.0
    timer.step(T + 100, {"x": not x})
    if kind == "delay_on":
        assert timer.inspect(T + 100) == {"since": None, "remaining_s": None}


def test_a_pulse_counts_down():
    pulse = create_block("pulse", {"t": 30})
    pulse.step(T, {"x": True})
    assert pulse.inspect(T + 10)["remaining_s"] == 20.0


def test_lead_lag_shows_its_rotation_order_without_the_faulted_unit():
    leadlag = create_block("leadlag", {"n": 3})
    leadlag.step(T, {"demand": 2, "fault_1": True})
    state = leadlag.inspect(T)
    assert state["order"] == "2, 3" and state["running_2"] is True and state["running_1"] is False


def test_a_delays_history_is_counted_not_shown():
    delay = create_block("delay", {"t": 60})
    for k in range(5):
        delay.step(T + k, {"x": float(k)})
    assert delay.inspect(T + 5) == {"out": None, "held": 5}


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_every_blocks_insides_are_plain_json_values(kind):
    params, inputs = SAMPLES[kind]
    block = create_block(kind, params)
    for k in range(30):
        block.step(T + 10 * k, inputs(k))
    shown = block.inspect(T + 300)
    assert json.loads(json.dumps(shown)) == shown
    assert all(v is None or isinstance(v, bool | int | float | str) for v in shown.values())
