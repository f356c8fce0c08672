"""The catalogue: metadata every block must carry, errors, and the shared step/state contract."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pydantic
import pytest

from openbms.control.blocks import BLOCKS, Block, Port, create_block
from openbms.control.blocks.base import BlockParams, Value

Inputs = Callable[[int], dict[str, Value]]


def wave(k: int, scale: float = 50.0, offset: float = 50.0) -> float:
    return offset + scale * math.sin(k / 7.0)


# For every kind: valid params and an input sequence that exercises its state.
SAMPLES: dict[str, tuple[dict[str, object], Inputs]] = {
    "pid": (
        {"kp": 2.0, "ti": 60.0, "td": 5.0, "action": "reverse"},
        lambda k: {"pv": wave(k, 5, 20), "sp": 21.0},
    ),
    "reset": ({"x1": -10, "y1": 82, "x2": 15, "y2": 60}, lambda k: {"x": wave(k, 20, 0)}),
    "hysteresis": ({"setpoint": 50, "deadband": 10, "action": "direct"}, lambda k: {"x": wave(k)}),
    "leadlag": ({"n": 3, "threshold_h": 0.01}, lambda k: {"demand": k % 4, "fault_2": k % 9 == 0}),
    "staging": (
        {"stages": 3, "delay_up_s": 20, "delay_down_s": 20, "min_on_s": 30},
        lambda k: {"load": wave(k, 60)},
    ),
    "min": ({}, lambda k: {"in1": wave(k), "in3": 40.0, "in5": None}),
    "max": ({}, lambda k: {"in1": wave(k), "in3": 40.0, "in5": None}),
    "average": ({}, lambda k: {"in1": wave(k), "in3": 40.0, "in5": None}),
    "select": ({}, lambda k: {"index": k % 3 + 1, "in1": 1.0, "in2": "b", "in3": None}),
    "compare": ({"op": "gt", "b": 50.0, "deadband": 5.0}, lambda k: {"a": wave(k)}),
    "and": ({}, lambda k: {"in1": k % 2 == 0, "in2": k % 3 != 0}),
    "or": ({}, lambda k: {"in1": k % 2 == 0, "in2": None}),
    "not": ({}, lambda k: {"x": k % 2 == 0}),
    "xor": ({}, lambda k: {"in1": k % 2 == 0, "in2": k % 3 == 0}),
    "delay_on": ({"t": 25}, lambda k: {"x": k % 10 < 6}),
    "delay_off": ({"t": 25}, lambda k: {"x": k % 10 < 3}),
    "pulse": ({"t": 25}, lambda k: {"x": k % 7 < 2}),
    "delay": ({"t": 30}, lambda k: {"x": wave(k)}),
    "rate_limit": ({"rate_up": 0.5, "rate_down": 1.0}, lambda k: {"x": wave(k)}),
    "add": ({}, lambda k: {"in1": wave(k), "in2": 1.0}),
    "subtract": ({}, lambda k: {"in1": wave(k), "in2": 1.0}),
    "multiply": ({}, lambda k: {"in1": wave(k), "in2": 2.0}),
    "divide": ({}, lambda k: {"in1": wave(k), "in2": float(k % 3)}),
    "limit": ({"lo": 20, "hi": 80}, lambda k: {"x": wave(k)}),
    "expression": (
        {"formula": "max(a, b) / 2 if on else -a"},
        lambda k: {"a": wave(k), "b": 3.0, "on": k % 4 < 2},
    ),
}

STEP_S = 10.0


def run(block: Block, start: int, end: int, inputs: Inputs) -> list[dict[str, Value]]:
    return [block.step(1_700_000_000.0 + k * STEP_S, inputs(k)) for k in range(start, end)]


def test_every_block_has_a_sample_here():
    assert set(SAMPLES) == set(BLOCKS)


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_block_metadata_is_complete(kind):
    cls = BLOCKS[kind]
    assert cls.kind == kind
    assert cls.__doc__
    assert issubclass(cls.Params, BlockParams)
    assert cls.Params.model_config.get("extra") == "forbid"
    assert (cls.inputs or cls.dynamic_inputs in cls.Params.model_fields) and cls.outputs
    for port in (*cls.inputs.values(), *cls.outputs.values()):
        assert isinstance(port, Port)
        assert port.type in ("number", "bool", "any")
    for port in cls.outputs.values():
        assert port.required and port.default is None
    assert isinstance(cls.time_based, bool) and isinstance(cls.breaks_cycles, bool)


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_step_returns_every_output_and_only_outputs(kind):
    params, inputs = SAMPLES[kind]
    block = create_block(kind, params)
    for outputs in run(block, 0, 40, inputs):
        assert set(outputs) == set(block.active_outputs())
        assert set(outputs) <= set(block.outputs)
        json.dumps(outputs)


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_state_round_trips_through_json_and_continues_identically(kind):
    params, inputs = SAMPLES[kind]
    original = create_block(kind, params)
    run(original, 0, 23, inputs)
    state = json.loads(json.dumps(original.state()))
    redeployed = create_block(kind, params)
    redeployed.restore(state)
    assert run(redeployed, 23, 60, inputs) == run(original, 23, 60, inputs)


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_reset_returns_to_the_initial_behaviour(kind):
    params, inputs = SAMPLES[kind]
    fresh = run(create_block(kind, params), 0, 40, inputs)
    block = create_block(kind, params)
    run(block, 0, 17, inputs)
    block.reset()
    assert run(block, 0, 40, inputs) == fresh


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_all_inputs_unknown_is_not_an_error(kind):
    params, _ = SAMPLES[kind]
    block = create_block(kind, params)
    for k in range(3):
        outputs = block.step(float(k), dict.fromkeys(block.active_inputs()))
        assert set(outputs) == set(block.active_outputs())


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_restore_of_an_empty_state_is_a_fresh_block(kind):
    params, inputs = SAMPLES[kind]
    block = create_block(kind, params)
    run(block, 0, 10, inputs)
    block.restore({})
    assert run(block, 0, 30, inputs) == run(create_block(kind, params), 0, 30, inputs)


def test_optional_inputs_take_their_port_default():
    pid = create_block("pid", {"kp": 1.0, "action": "reverse"})
    assert pid.inputs["enable"].default is True
    # enable missing → enabled; enable given as None → unknown → hold (no output yet)
    assert pid.step(0.0, {"pv": 19.0, "sp": 20.0})["out"] == 1.0
    assert (
        create_block("pid", {"kp": 1.0, "action": "reverse"}).step(
            0.0, {"pv": 19.0, "sp": 20.0, "enable": None}
        )["out"]
        is None
    )


def test_unknown_kind_lists_known_kinds_and_suggests_a_close_one():
    with pytest.raises(ValueError, match="unknown block kind 'hysterisis'") as info:
        create_block("hysterisis", {})
    message = str(info.value)
    assert "Did you mean 'hysteresis'?" in message
    for kind in BLOCKS:
        assert kind in message


def test_unknown_kind_without_a_close_match_has_no_suggestion():
    with pytest.raises(ValueError, match="Known kinds: add, and") as info:
        create_block("zzzzzz", {})
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("kind", "params", "fragments"),
    [
        (
            "pid",
            {"kp": "fast", "action": "reverse"},
            ["block 'pid'", "parameter 'kp'", "valid number", "'fast'"],
        ),
        ("pid", {"kp": 1.0}, ["parameter 'action' is required"]),
        ("pid", {"kp": -1.0, "action": "reverse"}, ["parameter 'kp'", "greater than 0"]),
        ("pid", {"kp": 1.0, "action": "sideways"}, ["parameter 'action'", "'direct' or 'reverse'"]),
        ("pid", {"kp": 1.0, "action": "direct", "Ti": 60}, ["unknown parameter 'Ti'", "did you mean 'ti'?"]),
        ("delay_on", {}, ["parameter 't' is required"]),
        ("staging", {"stages": 12}, ["parameter 'stages'", "less than or equal to 8"]),
        ("compare", {"op": "gte"}, ["parameter 'op'", "'gt', 'ge', 'lt', 'le', 'eq' or 'ne'"]),
        ("min", {"x": 1}, ["unknown parameter 'x'", "known parameters: none"]),
    ],
)
def test_invalid_params_give_a_clear_error(kind, params, fragments):
    with pytest.raises(ValueError) as info:
        create_block(kind, params)
    assert not isinstance(info.value, pydantic.ValidationError)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_params_must_be_an_object():
    with pytest.raises(ValueError, match="params must be an object"):
        create_block("min", [1, 2])  # type: ignore[arg-type]


def test_params_are_validated_once_and_frozen():
    block = create_block("pid", {"kp": 1.0, "action": "reverse"})
    with pytest.raises(pydantic.ValidationError):
        block.params.kp = 2.0  # type: ignore[misc]


def test_first_step_has_no_elapsed_time():
    rate = create_block("rate_limit", {"rate_up": 1.0})
    rate.step(1_000_000.0, {"x": 0.0})
    # the first dt is 0, the second is 10 s: the ramp starts only from the second step
    assert rate.step(1_000_000.0, {"x": 50.0})["out"] == 0.0
    assert rate.step(1_000_010.0, {"x": 50.0})["out"] == 10.0
