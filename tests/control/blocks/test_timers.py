"""Timers and the value delay, with time given only through ``now``."""

from __future__ import annotations

import json

import pytest

from openbms.control.blocks import BLOCKS, create_block


def run(block, steps):
    """steps: [(now, x)] → outputs."""
    return [block.step(now, {"x": x})["out"] for now, x in steps]


def test_delay_on_turns_true_after_the_input_held_true_for_t():
    block = create_block("delay_on", {"t": 30})
    assert run(
        block, [(0, False), (10, True), (39, True), (40, True), (41, False), (42, True), (71, True)]
    ) == [
        False,
        False,
        False,
        True,
        False,
        False,
        False,
    ]
    assert run(block, [(72, True)]) == [True]


def test_delay_on_treats_unknown_as_false():
    block = create_block("delay_on", {"t": 10})
    assert run(block, [(0, True), (5, None), (10, True), (19, True), (20, True)]) == [
        False,
        False,
        False,
        False,
        True,
    ]


def test_delay_on_of_zero_follows_the_input():
    assert run(create_block("delay_on", {"t": 0}), [(0, True), (1, False)]) == [True, False]


def test_delay_off_holds_true_for_t_after_the_input_falls():
    block = create_block("delay_off", {"t": 60})
    assert run(block, [(0, False), (1, True), (10, False), (69, False), (70, False)]) == [
        False,
        True,
        True,
        True,
        False,
    ]
    # a short return to true restarts the off-delay
    assert run(block, [(100, True), (110, False), (150, True), (160, False), (219, False), (220, False)]) == [
        True,
        True,
        True,
        True,
        True,
        False,
    ]


def test_pulse_on_rising_edge_only():
    block = create_block("pulse", {"t": 5})
    steps = [
        (0, False),
        (1, True),
        (3, True),
        (5.9, True),
        (6, True),
        (7, False),
        (8, True),
        (12.9, False),
        (13, False),
    ]
    assert run(block, steps) == [False, True, True, True, False, False, True, True, False]


def test_pulse_is_not_retriggered_unless_asked():
    plain = create_block("pulse", {"t": 10})
    retrig = create_block("pulse", {"t": 10, "retrigger": True})
    steps = [(0, True), (4, False), (5, True), (12, True), (14.9, True), (15, True)]
    assert run(plain, steps) == [True, True, True, False, False, False]
    assert run(retrig, steps) == [True, True, True, True, True, False]


def test_pulse_ignores_unknown_inputs_for_edges():
    block = create_block("pulse", {"t": 5})
    assert run(block, [(0, True), (10, None), (11, True), (12, False), (13, None), (14, True)]) == [
        True,
        False,
        False,
        False,
        False,
        True,
    ]


def test_pulse_fires_when_the_first_input_is_true():
    assert run(create_block("pulse", {"t": 1}), [(0, True)]) == [True]


def test_pulse_needs_a_length():
    with pytest.raises(ValueError, match="parameter 't'"):
        create_block("pulse", {"t": 0})


def test_one_step_delay():
    block = create_block("delay", {"initial": 0.0})
    assert run(block, [(0, 1.0), (0, 2.0), (5, "x"), (6, None), (7, True)]) == [0.0, 1.0, 2.0, "x", None]


def test_time_delay_returns_the_value_from_t_seconds_ago():
    block = create_block("delay", {"t": 30})
    outs = run(block, [(t, float(t)) for t in range(0, 200, 10)])
    assert outs[:3] == [None, None, None]
    assert outs[3:] == [float(t - 30) for t in range(30, 200, 10)]


def test_time_delay_with_irregular_steps_holds_the_latest_due_value():
    block = create_block("delay", {"t": 10, "initial": -1})
    assert run(block, [(0, 1), (3, 2), (11, 3), (12.5, 4), (13, 5), (40, 6)]) == [-1, -1, 1, 1, 2, 5]


def test_time_delay_history_is_bounded():
    block = create_block("delay", {"t": 1000, "max_samples": 5})
    run(block, [(t, t) for t in range(100)])
    assert len(json.loads(str(block.state()["history"]))) == 5


def test_delay_breaks_cycles_and_timers_are_time_based():
    assert BLOCKS["delay"].breaks_cycles
    assert [k for k, cls in BLOCKS.items() if cls.breaks_cycles] == ["delay"]
    for kind in ("delay_on", "delay_off", "pulse", "delay", "pid", "rate_limit", "staging", "leadlag"):
        assert BLOCKS[kind].time_based, kind


def test_time_delay_survives_a_redeploy():
    block = create_block("delay", {"t": 20})
    run(block, [(t, t) for t in range(0, 50, 5)])
    again = create_block("delay", {"t": 20})
    again.restore(json.loads(json.dumps(block.state())))
    assert run(again, [(50, 50), (55, 55)]) == run(block, [(50, 50), (55, 55)]) == [30, 35]


def test_a_clock_stepped_back_does_not_stall_the_timers():
    # Timers kept absolute instants: an hour's step back blocked them for an hour.
    on = create_block("delay_on", {"t": 60})
    assert on.step(1000.0, {"x": True})["out"] is False
    assert on.step(1030.0, {"x": True})["out"] is False
    assert on.step(1030.0 - 3600.0, {"x": True})["out"] is False  # the clock steps back an hour: no time
    assert on.step(1060.0 - 3600.0, {"x": True})["out"] is True  # 30 s before + 30 s after the step

    pulse = create_block("pulse", {"t": 60})
    assert pulse.step(1000.0, {"x": True})["out"] is True
    assert pulse.step(1030.0, {"x": True})["out"] is True
    assert pulse.step(1030.0 - 3600.0, {"x": True})["out"] is True
    assert pulse.step(1060.0 - 3600.0, {"x": False})["out"] is False  # ended after its 60 s, not an hour on

    delay = create_block("delay", {"t": 60})
    delay.step(1000.0, {"x": 1})
    delay.step(1030.0, {"x": 2})
    assert delay.step(1030.0 - 3600.0, {"x": 3})["out"] is None
    assert delay.step(1060.0 - 3600.0, {"x": 4})["out"] == 1
