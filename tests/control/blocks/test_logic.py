"""Comparison and three-valued boolean logic."""

from __future__ import annotations

import pytest

from openbms.control.blocks import create_block

T, F, U = True, False, None


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("gt", 2, 1, T),
        ("gt", 1, 1, F),
        ("ge", 1, 1, T),
        ("lt", 0, 1, T),
        ("lt", 1, 1, F),
        ("le", 1, 1, T),
        ("eq", 1, 1, T),
        ("eq", 1, 2, F),
        ("ne", 1, 2, T),
        ("ne", 1, 1, F),
        ("gt", None, 1, U),
        ("gt", 2, None, U),
    ],
)
def test_compare_ops(op, a, b, expected):
    assert create_block("compare", {"op": op}).step(0.0, {"a": a, "b": b})["out"] is expected


def test_compare_with_hysteresis_holds_inside_the_band():
    block = create_block("compare", {"op": "gt", "b": 30.0, "deadband": 2.0})
    outs = [
        block.step(float(i), {"a": a})["out"] for i, a in enumerate([29, 30.5, 29, 28.5, 27.9, 29.9, 30.1])
    ]
    assert outs == [F, T, T, T, F, F, T]


def test_compare_lt_with_hysteresis_mirrors_gt():
    block = create_block("compare", {"op": "lt", "b": 5.0, "deadband": 1.0})
    outs = [block.step(float(i), {"a": a})["out"] for i, a in enumerate([6, 4.9, 5.5, 6.0, 6.1, 5.5])]
    assert outs == [F, T, T, T, F, F]


def test_compare_eq_uses_the_deadband_as_tolerance():
    block = create_block("compare", {"op": "eq", "deadband": 0.5})
    assert block.step(0.0, {"a": 10.4, "b": 10.0})["out"] is True
    assert block.step(1.0, {"a": 10.6, "b": 10.0})["out"] is False


def test_compare_b_input_overrides_parameter_and_falls_back_when_unknown():
    block = create_block("compare", {"op": "gt", "b": 10.0})
    assert block.step(0.0, {"a": 15.0, "b": 20.0})["out"] is False
    assert block.step(1.0, {"a": 15.0, "b": None})["out"] is True


def truth(kind, *values):
    return create_block(kind, {}).step(0.0, {f"in{i}": v for i, v in enumerate(values, 1)})["out"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [((T, T), T), ((T, F), F), ((F, U), F), ((T, U), U), ((U, U), U), ((T, T, T, F), F), ((T, T, T), T)],
)
def test_and_is_kleene(values, expected):
    assert truth("and", *values) is expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [((F, F), F), ((T, F), T), ((T, U), T), ((F, U), U), ((F, F, F, F, F, F, F, T), T)],
)
def test_or_is_kleene(values, expected):
    assert truth("or", *values) is expected


@pytest.mark.parametrize(
    ("values", "expected"), [((T, F), T), ((T, T), F), ((T, T, T), T), ((T, U), U), ((F, F), F)]
)
def test_xor_is_parity(values, expected):
    assert truth("xor", *values) is expected


def test_not():
    block = create_block("not", {})
    assert [block.step(0.0, {"x": x})["out"] for x in (T, F, U, 0, 2.5, "off", "maybe")] == [
        F,
        T,
        U,
        T,
        F,
        T,
        U,
    ]


def test_numbers_and_words_are_read_as_booleans():
    assert truth("and", 1, "on") is True
    assert truth("and", 1, "off") is False
    assert truth("or", 0, "nonsense") is None
