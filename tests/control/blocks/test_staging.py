"""Staging: delays, minimum on/off times, no flapping."""

from __future__ import annotations

import math

import pytest

from openbms.control.blocks import create_block

BASE = {"stages": 3, "up": 80.0, "down": 20.0, "delay_up_s": 300.0, "delay_down_s": 300.0}


def drive(block, load, start, end, dt=10.0, **extra):
    """Step every dt seconds from start to end (exclusive); return [(t, stages)]."""
    out = []
    t = start
    while t < end:
        value = load(t) if callable(load) else load
        out.append((t, block.step(t, {"load": value, **extra})["stages"]))
        t += dt
    return out


def first_time(trace, stages):
    return next(t for t, s in trace if s == stages)


def test_stages_up_one_at_a_time_after_the_delay():
    block = create_block("staging", BASE)
    trace = drive(block, 95.0, 0.0, 1200.0)
    assert first_time(trace, 1) == 300.0
    assert first_time(trace, 2) == 600.0
    assert first_time(trace, 3) == 900.0
    assert trace[-1][1] == 3  # never beyond the last stage


def test_stages_down_in_reverse_order():
    block = create_block("staging", BASE)
    drive(block, 95.0, 0.0, 1000.0)
    out = block.step(1000.0, {"load": 5.0})
    assert out == {"stages": 3, "stage_1": True, "stage_2": True, "stage_3": True}
    trace = drive(block, 5.0, 1010.0, 2000.0)
    assert first_time(trace, 2) == 1300.0
    assert block.step(2000.0, {"load": 5.0}) == {
        "stages": 0,
        "stage_1": False,
        "stage_2": False,
        "stage_3": False,
    }


def test_minimum_on_time_delays_a_stage_down():
    block = create_block("staging", {**BASE, "delay_up_s": 0.0, "delay_down_s": 0.0, "min_on_s": 600.0})
    assert block.step(0.0, {"load": 90.0})["stages"] == 1
    trace = drive(block, 5.0, 10.0, 1000.0)
    assert first_time(trace, 0) == 600.0


def test_minimum_off_time_delays_a_restart():
    block = create_block("staging", {**BASE, "delay_up_s": 0.0, "delay_down_s": 0.0, "min_off_s": 900.0})
    block.step(0.0, {"load": 90.0})
    assert block.step(10.0, {"load": 5.0})["stages"] == 0
    trace = drive(block, 90.0, 20.0, 2000.0)
    assert first_time(trace, 1) == 910.0


def test_a_load_oscillating_around_a_threshold_does_not_flap_the_stages():
    block = create_block("staging", {**BASE, "min_on_s": 120.0, "min_off_s": 120.0})
    drive(block, 95.0, 0.0, 310.0)  # one stage on
    # ±10 % around the stage-up threshold, a 4-minute period: never above it for the 300 s delay
    trace = drive(block, lambda t: 80.0 + 10.0 * math.sin(2 * math.pi * t / 240.0), 310.0, 4 * 3600.0)
    assert {s for _, s in trace} == {1}
    trace = drive(block, lambda t: 20.0 + 10.0 * math.sin(2 * math.pi * t / 240.0), 4 * 3600.0, 8 * 3600.0)
    assert {s for _, s in trace} == {1}


def test_a_load_between_the_thresholds_changes_nothing():
    block = create_block("staging", BASE)
    drive(block, 95.0, 0.0, 610.0)
    trace = drive(block, lambda t: 50.0 + 25.0 * math.sin(t / 100.0), 610.0, 20_000.0)
    assert {s for _, s in trace} == {2}


def test_disable_drops_every_stage_and_unknown_load_holds():
    block = create_block("staging", BASE)
    drive(block, 95.0, 0.0, 700.0)
    assert block.step(700.0, {"load": None})["stages"] == 2
    assert block.step(710.0, {"load": 95.0, "enable": None})["stages"] == 2
    assert block.step(720.0, {"load": 95.0, "enable": False})["stages"] == 0


def test_unknown_load_restarts_the_delay():
    block = create_block("staging", BASE)
    drive(block, 95.0, 0.0, 250.0)
    block.step(250.0, {"load": None})
    trace = drive(block, 95.0, 260.0, 800.0)
    assert first_time(trace, 1) == 560.0


def test_only_the_configured_stages_are_outputs():
    out = create_block("staging", {"stages": 2}).step(0.0, {"load": 0.0})
    assert out == {"stages": 0, "stage_1": False, "stage_2": False}


def test_thresholds_must_leave_a_band():
    with pytest.raises(ValueError, match=r"down \(90.0\) must be below up \(80.0\)"):
        create_block("staging", {"stages": 2, "down": 90.0})


def test_a_clock_stepped_back_keeps_the_delay_already_counted():
    block = create_block("staging", BASE)
    drive(block, 90.0, 0.0, 200.0)  # above 'up' for 190 s (last step at 190) of the 300 s delay
    assert block.step(190.0 - 3600.0, {"load": 90.0})["stages"] == 0  # stepped back an hour: no time
    assert block.step(289.0 - 3600.0, {"load": 90.0})["stages"] == 0
    assert block.step(300.0 - 3600.0, {"load": 90.0})["stages"] == 1  # 190 s + 110 s: the delay is met
