"""Linear reset and hysteresis."""

from __future__ import annotations

import math

import pytest

from openbms.control.blocks import create_block

BOILER = {"x1": -10.0, "y1": 82.0, "x2": 15.0, "y2": 60.0}


def reset_out(params, x):
    return create_block("reset", params).step(0.0, {"x": x})["out"]


@pytest.mark.parametrize(
    ("oat", "supply"),
    [(-10.0, 82.0), (15.0, 60.0), (2.5, 71.0), (-30.0, 82.0), (40.0, 60.0), (0.0, 82.0 - 22.0 * 10 / 25)],
)
def test_boiler_reset_endpoints_midpoint_and_clamping(oat, supply):
    assert reset_out(BOILER, oat) == pytest.approx(supply)


def test_reset_with_points_given_in_reverse_order_is_the_same_line():
    flipped = {"x1": 15.0, "y1": 60.0, "x2": -10.0, "y2": 82.0}
    for oat in (-20.0, -10.0, 0.0, 7.3, 15.0, 25.0):
        assert reset_out(flipped, oat) == pytest.approx(reset_out(BOILER, oat))


def test_rising_reset_clamps_at_both_ends():
    # a rising line: 13 °C at 0 %, 18 °C at 100 %
    rising = {"x1": 0.0, "y1": 13.0, "x2": 100.0, "y2": 18.0}
    assert reset_out(rising, -5.0) == 13.0
    assert reset_out(rising, 50.0) == pytest.approx(15.5)
    assert reset_out(rising, 150.0) == 18.0


def test_reset_of_unknown_input_is_unknown():
    assert reset_out(BOILER, None) is None
    assert reset_out(BOILER, math.nan) is None


def test_reset_rejects_a_vertical_line():
    with pytest.raises(ValueError, match="x1 and x2 must differ"):
        create_block("reset", {"x1": 5, "y1": 1, "x2": 5, "y2": 2})


def run(block, xs, **extra):
    return [block.step(float(t), {"x": x, **extra})["out"] for t, x in enumerate(xs)]


def test_hysteresis_direct_switches_at_the_band_edges_only():
    block = create_block("hysteresis", {"setpoint": 24.0, "deadband": 2.0, "action": "direct"})
    outs = run(block, [23.0, 24.9, 25.1, 24.0, 23.1, 22.9, 24.9])
    assert outs == [False, False, True, True, True, False, False]


def test_hysteresis_does_not_chatter_inside_the_deadband():
    block = create_block("hysteresis", {"setpoint": 24.0, "deadband": 2.0, "action": "direct"})
    block.step(0.0, {"x": 26.0})  # on
    noisy = [24.0 + 0.99 * math.sin(k * 0.7) for k in range(500)]
    assert set(run(block, noisy)) == {True}
    block.step(1000.0, {"x": 22.0})  # off
    assert set(run(block, noisy)) == {False}


def test_hysteresis_reverse_heats_below_the_band():
    block = create_block("hysteresis", {"on": 19.0, "off": 21.0, "action": "reverse"})
    assert run(block, [20.0, 18.9, 20.0, 20.9, 21.1, 20.0]) == [False, True, True, True, False, False]


def test_hysteresis_takes_its_setpoint_from_the_input_when_connected():
    block = create_block("hysteresis", {"setpoint": 10.0, "deadband": 1.0, "action": "direct"})
    assert block.step(0.0, {"x": 12.0, "sp": 20.0})["out"] is False
    assert block.step(1.0, {"x": 12.0, "sp": None})["out"] is True  # unknown sp: parameter


def test_hysteresis_holds_on_unknown_input():
    block = create_block("hysteresis", {"setpoint": 24.0, "deadband": 2.0, "action": "direct"})
    assert run(block, [26.0, None, None]) == [True, True, True]


def test_hysteresis_without_any_setpoint_holds_its_initial_off():
    block = create_block("hysteresis", {"action": "direct"})
    assert run(block, [100.0]) == [False]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"on": 1.0, "action": "direct"}, "give both 'on' and 'off'"),
        ({"on": 1.0, "off": 2.0, "action": "direct"}, r"direct action needs on \(1.0\) above off \(2.0\)"),
        ({"on": 3.0, "off": 2.0, "action": "reverse"}, "reverse action needs on"),
        ({"on": 3.0, "off": 2.0, "setpoint": 1.0, "action": "direct"}, "not both"),
        ({"setpoint": 1.0}, "parameter 'action' is required"),
    ],
)
def test_hysteresis_rejects_inconsistent_thresholds(params, message):
    with pytest.raises(ValueError, match=message):
        create_block("hysteresis", params)
